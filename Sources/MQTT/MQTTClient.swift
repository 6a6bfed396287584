import CMosquitto
import CReadBuffer

#if canImport(Glibc)
import Glibc
#endif

/// The relocation slots for read(2) pointed at the read buffer, in libmosquitto and in OpenSSL's libcrypto
/// (which reads the socket under TLS); done once, when the first buffered client is made.
private let readBufferHooks = (mosquitto: celldrift_read_buffer_install("libmosquitto.so"),
                               crypto: celldrift_read_buffer_install("libcrypto.so"))

public struct MQTTError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String, _ code: Int32) {
        description = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }
}

/// The one place that talks to libmosquitto: a client with a persistent session (clean_session false,
/// a fixed client id), QoS 1, a Last Will, reconnects with exponential backoff and jitter. The caller's
/// loop drives the network (`wait`, `service`): no thread of libmosquitto's own. With its thread, every
/// message woke two threads (its select, then ours through a pipe); at 8,000 messages a second those
/// wake-ups and task switches were most of the daemon's CPU. Driven from one loop, a busy socket is
/// read at most once per `coalescing` interval, everything buffered at once.
public final class MQTTClient {
    /// What libmosquitto's callbacks (run inside `service`, on the caller's thread) hand over.
    final class Shared {
        /// A received message: its topic (an index into `topics`) and where its payload lies in `payloads`
        /// (copied out of libmosquitto's callback, whose memory is freed on return). Plain integers, so
        /// that a turn's inbox is emptied without a release per message.
        struct Received {
            let topic: Int32
            let start: Int32
            let end: Int32
        }
        // The callbacks run inside `service`, on the one thread that drives the client: the per-message
        // properties skip the runtime's exclusivity checks, which perf showed among the daemon's costliest calls.
        @exclusivity(unchecked) var inbox: [Received] = []
        @exclusivity(unchecked) var payloads: [UInt8] = []
        /// The topics of the messages in `inbox`; the latest is also kept NUL-terminated and as a string
        /// beyond the turn, so that a message on the previous message's topic reuses its string.
        @exclusivity(unchecked) var topics: [String] = []
        @exclusivity(unchecked) var lastTopic: (cString: [CChar], string: String) = ([0], "")
        /// Message ids the broker has acknowledged (PUBACK for QoS 1).
        var acknowledged: [Int32] = []
        /// Connects, refusals and losses since the owner last asked, with their reasons.
        var events: [MQTTClient.ConnectionEvent] = []
        var connected = false
        var connections = 0
        var lost = false
        let subscriptions: [String]
        let qos: Int32
        /// Whether this client's socket is the one read through CReadBuffer.
        var buffered: Bool
        init(subscriptions: [String], qos: Int32, buffered: Bool) {
            self.subscriptions = subscriptions
            self.qos = qos
            self.buffered = buffered
        }
    }

    private let handle: OpaquePointer
    private let shared: Shared
    private let box: Unmanaged<Shared>
    private var started = false
    private var usesTLS = false
    /// Reconnect backoff: 1 s doubling to 30 s, each wait drawn between half and all of it.
    private var backoff = 1.0
    private var nextAttempt = Double.infinity
    private var lastRead = 0.0
    private var takenInbox: [Shared.Received] = []
    private var takenPayloads: [UInt8] = []
    private var takenTopics: [String] = []
    private var pollSet = UnsafeMutablePointer<pollfd>.allocate(capacity: 20)
    private var pollCapacity = 20
    /// The longest a readable socket waits so that what arrives meanwhile is read in the same turn; a
    /// turn costs ~100 µs here (wake-up, reads, their ACKs) whatever it carries. 12 ms: at 8,000 one-frame
    /// messages a second, alternating 30-s runs measured 1.77-1.80 % CPU at 10 ms, 1.67-1.73 % at 12 ms and
    /// 1.53 % at 15 ms, alarm latency p99 12, 14-15 and 17 ms (docs/BENCHMARKS.md; the target is 20 ms).
    let coalescing = 0.012

    public var isConnected: Bool { shared.connected }
    /// Whether libmosquitto reads this client's socket through the read buffer.
    public var readsBuffered: Bool { shared.buffered }
    /// Successful connections so far (a reconnect counts).
    public var connections: Int { shared.connections }

    /// `will`: topic and payload the broker publishes (retained, QoS 1) if the client vanishes.
    /// `bufferedReads`: libmosquitto reads this client's socket through the one read buffer (CReadBuffer):
    /// for the client that carries the sources' traffic. Unbuffered when libmosquitto could not be hooked
    /// (linked statically, say).
    public init(clientID: String, subscriptions: [String], will: (topic: String, payload: String)?, username: String? = nil,
                password: String? = nil, bufferedReads: Bool = false) throws(MQTTError) {
        mosquitto_lib_init()
        shared = Shared(subscriptions: subscriptions, qos: 1, buffered: bufferedReads && readBufferHooks.mosquitto > 0)
        box = Unmanaged.passRetained(shared)
        guard let handle = mosquitto_new(clientID, false, box.toOpaque()) else {
            box.release()
            throw MQTTError("mosquitto_new", MOSQ_ERR_NOMEM.rawValue)
        }
        self.handle = handle
        if let will {
            let code = mosquitto_will_set(handle, will.topic, Int32(will.payload.utf8.count), will.payload, 1, true)
            guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("will", code) }
        }
        if let username { mosquitto_username_pw_set(handle, username, password) }
        mosquitto_connect_callback_set(handle) { handle, userdata, result in
            guard let userdata else { return }
            let shared = Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue()
            guard result == 0 else {
                shared.lost = true  // refused (bad credentials, ...): try again later
                shared.events.append(.refused(String(cString: mosquitto_connack_string(result))))
                return
            }
            shared.events.append(.connected)
            for topic in shared.subscriptions { mosquitto_subscribe(handle, nil, topic, shared.qos) }
            shared.connected = true
            shared.connections += 1
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, code in
            guard let userdata else { return }
            let shared = Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue()
            // Also called when an attempt fails before the CONNACK (a TLS handshake that fails verification).
            shared.events.append(shared.connected ? .lost(MQTTClient.reason(code)) : .failed(MQTTClient.reason(code)))
            shared.connected = false
            shared.lost = true
            // The socket is closed: what is buffered belongs to a dead connection.
            if shared.buffered { celldrift_read_buffer_attach(-1) }
        }
        mosquitto_publish_callback_set(handle) { _, userdata, messageID in
            guard let userdata else { return }
            Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue().acknowledged.append(messageID)
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let userdata, let message else { return }
            let shared = Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue()
            // Sources publish on a handful of topics, mostly the previous message's: reuse its string.
            if strcmp(shared.lastTopic.cString, message.pointee.topic) != 0 {
                let topic = String(cString: message.pointee.topic)
                shared.lastTopic = (Array(topic.utf8CString), topic)
                shared.topics.append(topic)
            } else if shared.topics.isEmpty {
                shared.topics.append(shared.lastTopic.string)
            }
            let start = shared.payloads.count
            shared.payloads.append(contentsOf: UnsafeRawBufferPointer(start: message.pointee.payload, count: Int(message.pointee.payloadlen)))
            shared.inbox.append(Shared.Received(topic: Int32(shared.topics.count - 1), start: Int32(start), end: Int32(shared.payloads.count)))
        }
    }

    /// TLS with a CA to check the broker against and, optionally, a client certificate and key
    /// (mutual TLS, as IoT Core endpoints require). Call before `start`.
    public func useTLS(caFile: String, certificateFile: String?, keyFile: String?) throws(MQTTError) {
        // Under TLS OpenSSL reads the socket: buffered only if its reads go through the buffer too.
        if shared.buffered, readBufferHooks.crypto == 0 { shared.buffered = false }
        usesTLS = true
        let code = mosquitto_tls_set(handle, caFile, nil, certificateFile, keyFile, nil)
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("TLS (CA \(caFile))", code) }
    }

    /// Starts connecting; `service` finishes the handshake and retries with backoff until the broker answers.
    public func start(host: String, port: Int) throws(MQTTError) {
        started = true
        let code = mosquitto_connect_async(handle, host, Int32(port), 30)
        // Only arguments libmosquitto refuses are the caller's mistake. Anything the network or the peer
        // causes (no broker yet, a certificate that fails verification) is retried by `service`.
        guard code != MOSQ_ERR_INVAL.rawValue else { throw MQTTError("connect to \(host):\(port)", code) }
        if code == MOSQ_ERR_SUCCESS.rawValue {
            attachReadBuffer()
        } else {
            shared.events.append(.failed(Self.reason(code)))
            scheduleReconnect(now: Self.now())
        }
    }

    /// Publishes at QoS 1; while offline libmosquitto queues it in memory (the outbox is the truth).
    @discardableResult
    public func publish(_ topic: String, _ payload: String, retain: Bool = false) -> Bool {
        mosquitto_publish(handle, nil, topic, Int32(payload.utf8.count), payload, 1, retain) == MOSQ_ERR_SUCCESS.rawValue
    }

    /// Publishes at QoS 1 and returns the message id whose PUBACK `drainAcknowledged` will report; nil
    /// if libmosquitto refused it.
    public func publishTracked(_ topic: String, _ payload: String) -> Int32? {
        var messageID: Int32 = 0
        let code = mosquitto_publish(handle, &messageID, topic, Int32(payload.utf8.count), payload, 1, false)
        return code == MOSQ_ERR_SUCCESS.rawValue ? messageID : nil
    }

    /// What happened to the connection, for the owner's log.
    public enum ConnectionEvent: Equatable, Sendable {
        case connected
        /// The broker answered the CONNECT with a refusal (the reason from its CONNACK).
        case refused(String)
        /// A connection that was up went away.
        case lost(String)
        /// A connection attempt failed before the broker answered (refused, unreachable, TLS).
        case failed(String)
    }

    /// The connection's events since the last call, oldest first.
    public func drainEvents() -> [ConnectionEvent] {
        guard !shared.events.isEmpty else { return [] }
        defer { shared.events.removeAll(keepingCapacity: true) }
        return shared.events
    }

    /// libmosquitto's words for a result code; for a system error, the system's.
    static func reason(_ code: Int32) -> String {
        if code == MOSQ_ERR_ERRNO.rawValue { return String(cString: strerror(errno)) }
        if code == MOSQ_ERR_TLS.rawValue { return "TLS handshake failed (certificate not trusted, wrong host name, or no client certificate)" }
        return String(cString: mosquitto_strerror(code))
    }

    /// OpenSSL's SSL_pending, found once in the process (libmosquitto has loaded libssl), so that this file
    /// needs no OpenSSL header: bytes decrypted and not yet taken.
    private static let sslPending: (@convention(c) (UnsafeMutableRawPointer?) -> Int32)? = {
        guard let symbol = dlsym(nil, "SSL_pending") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutableRawPointer?) -> Int32).self)
    }()

    /// Whether `topic` is one a message can be published on (no wildcards, valid UTF-8, not too long).
    public static func isPublishable(_ topic: String) -> Bool {
        mosquitto_pub_topic_check(topic) == MOSQ_ERR_SUCCESS.rawValue
    }

    /// The ids of messages the broker has acknowledged since the last call.
    public func drainAcknowledged() -> [Int32] {
        defer { shared.acknowledged.removeAll(keepingCapacity: true) }
        return shared.acknowledged
    }

    /// Sleeps until a message arrives, one of `others` is readable, or `milliseconds` pass, then services
    /// the connection.
    public func wait(milliseconds: Int32, alsoFor others: [Int32] = []) {
        // Read lately: let what arrives meanwhile gather first, so that a busy socket costs one wake-up
        // per interval instead of one per message.
        let socket = mosquitto_socket(handle)
        let since = Self.now() - lastRead
        if since < coalescing {
            // A broker that leaves Nagle on (mosquitto does by default) holds its next small packet until we
            // acknowledge the last one, and a delayed ACK waits for us to read: what arrived since the last
            // read is acknowledged now, so that the broker sends what it holds while we gather (without
            // this, alarm latency with batched payloads was 13-34 ms instead of a few).
            if shared.buffered, socket >= 0 {
                var on: Int32 = 1
                _ = setsockopt(socket, Int32(IPPROTO_TCP), TCP_QUICKACK, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            usleep(useconds_t((coalescing - since) * 1_000_000))
        }
        // A stored set rather than an array per call: this runs a hundred times a second.
        if others.count + 1 > pollCapacity {
            pollSet.deallocate()
            pollCapacity = others.count + 1
            pollSet = .allocate(capacity: pollCapacity)
        }
        pollSet[0] = pollfd(fd: socket, events: Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0), revents: 0)
        for (index, other) in others.enumerated() { pollSet[index + 1] = pollfd(fd: other, events: Int16(POLLIN), revents: 0) }
        let count = others.count + 1
        var timeout = milliseconds
        if socket < 0, started { timeout = min(timeout, Int32(max(0, min(1.0, nextAttempt - Self.now())) * 1000)) }
        if pendingBytes > 0 { timeout = 0 }
        _ = poll(pollSet, nfds_t(count), timeout)
        service()
    }

    /// Reads everything buffered, writes what is queued, keeps the session alive and reconnects when
    /// the connection was lost. Never blocks.
    public func service() {
        guard started else { return }
        let now = Self.now()
        var socket = mosquitto_socket(handle)
        if socket < 0 || shared.lost {
            shared.lost = false
            shared.connected = false
            if nextAttempt == .infinity { scheduleReconnect(now: now) }
            guard now >= nextAttempt else { return }
            let code = mosquitto_reconnect_async(handle)
            scheduleReconnect(now: now)
            guard code == MOSQ_ERR_SUCCESS.rawValue else {
                shared.events.append(.failed(Self.reason(code)))
                return
            }
            attachReadBuffer()
            socket = mosquitto_socket(handle)
        }
        lastRead = now
        // One packet per call (libmosquitto's own loop reads one per select): read on while bytes wait.
        // Then once more: a broker with Nagle on (mosquitto's default) holds what it has until what it
        // sent is acknowledged; reading acknowledged it, and on loopback the held data is queued before
        // read returns. Without the second pass it waited a turn (measured: alarm latency p50 19 ms
        // instead of 4 at 1,000 messages a second).
        for _ in 0..<(shared.buffered ? 2 : 1) where !shared.lost {
            for _ in 0..<100_000 {
                let code = mosquitto_loop_read(handle, 1)
                noteHandshakeFailure(code)
                guard code == MOSQ_ERR_SUCCESS.rawValue, !shared.lost, moreToRead(socket) else { break }
            }
        }
        if !shared.lost, mosquitto_want_write(handle) { noteHandshakeFailure(mosquitto_loop_write(handle, 1)) }
        if !shared.lost { _ = mosquitto_loop_misc(handle) }
        if shared.connected { backoff = 1; nextAttempt = .infinity }
    }

    /// A TLS handshake that fails while it goes on (a certificate that fails verification) is returned by
    /// the read or write call, without the disconnect callback: noted here, and retried like a loss.
    private func noteHandshakeFailure(_ code: Int32) {
        guard code == MOSQ_ERR_TLS.rawValue else { return }
        shared.events.append(.failed(Self.reason(code)))
        shared.lost = true
    }

    private var pendingBytes: Int { shared.buffered ? celldrift_read_buffer_pending() : 0 }

    /// Whether a packet may wait after the one just read: in the buffer, or in the kernel (a buffered
    /// socket knows from its last fill; any other asks the kernel).
    private func moreToRead(_ socket: Int32) -> Bool {
        // Under TLS a record read whole may hold more packets than the one taken, decrypted and waiting
        // in OpenSSL with nothing left on the socket: poll would not wake for them.
        if usesTLS, let ssl = mosquitto_ssl_get(handle), let pending = Self.sslPending, pending(ssl) > 0 { return true }
        if shared.buffered { return pendingBytes > 0 || celldrift_read_buffer_kernel_drained() == 0 }
        var available: Int32 = 0
        return ioctl(socket, UInt(FIONREAD), &available) == 0 && available > 0
    }

    private func attachReadBuffer() {
        if shared.buffered { celldrift_read_buffer_attach(mosquitto_socket(handle)) }
    }

    private func scheduleReconnect(now: Double) {
        nextAttempt = now + backoff * Double.random(in: 0.5...1)
        backoff = min(backoff * 2, 30)
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Hands every message the last `wait` or `service` received to `each` (topic, payload; the payload's
    /// memory is valid during the call only) and returns how many there were. Nothing is copied or
    /// allocated per message, and nothing is read: call it after `wait`.
    @discardableResult
    public func drain(_ each: (_ topic: String, _ payload: UnsafeBufferPointer<UInt8>) -> Void) -> Int {
        guard !shared.inbox.isEmpty else { return 0 }
        // Handed over from a pair of spares, so that `each` may use the client (publish, service) while
        // this batch is read.
        swap(&shared.inbox, &takenInbox)
        swap(&shared.payloads, &takenPayloads)
        swap(&shared.topics, &takenTopics)
        defer {
            takenInbox.removeAll(keepingCapacity: true)
            takenPayloads.removeAll(keepingCapacity: true)
            takenTopics.removeAll(keepingCapacity: true)
        }
        takenPayloads.withUnsafeBufferPointer { payloads in
            for message in takenInbox {
                each(takenTopics[Int(message.topic)], UnsafeBufferPointer(rebasing: payloads[Int(message.start)..<Int(message.end)]))
            }
        }
        return takenInbox.count
    }

    /// Sends what is queued (up to `seconds`), disconnects cleanly (no Last Will).
    public func stop(flushing seconds: Double = 0.5) {
        guard started else { return }
        let deadline = Self.now() + seconds
        while shared.connected, mosquitto_want_write(handle), Self.now() < deadline {
            var watched = pollfd(fd: mosquitto_socket(handle), events: Int16(POLLOUT), revents: 0)
            _ = poll(&watched, 1, 50)
            _ = mosquitto_loop_write(handle, 1)
        }
        mosquitto_disconnect(handle)
        if shared.buffered { celldrift_read_buffer_attach(-1) }
        started = false
    }

    deinit {
        stop()
        mosquitto_destroy(handle)
        box.release()
        pollSet.deallocate()
    }
}
