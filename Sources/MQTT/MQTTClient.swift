import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One received message, copied out of libmosquitto's callback (its memory is freed on return).
public struct MQTTMessage: Sendable {
    public let topic: String
    public let payload: [UInt8]
}

public struct MQTTError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String, _ code: Int32) {
        description = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }
}

/// The one place that talks to libmosquitto: a client with a persistent session (clean_session false,
/// a fixed client id), QoS 1, a Last Will, reconnects with exponential backoff, and its own network
/// thread. Received messages queue in a lock-protected buffer that the caller drains. Unchecked
/// Sendable: libmosquitto locks internally in threaded mode, and the Swift state is behind a Mutex.
public final class MQTTClient: @unchecked Sendable {
    /// What the callbacks share with the caller.
    final class Shared: Sendable {
        let inbox = Mutex<[MQTTMessage]>([])
        /// Message ids the broker has acknowledged (PUBACK for QoS 1).
        let acknowledged = Mutex<[Int32]>([])
        let connected = Atomic<Bool>(false)
        let connections = Atomic<Int>(0)
        let subscriptions: [String]
        let qos: Int32
        /// Signalled when a message lands in an empty inbox: the caller sleeps in poll(2) on it instead of
        /// waking on a timer, and a burst costs one signal.
        let wakeup: (read: Int32, write: Int32)
        init(subscriptions: [String], qos: Int32) {
            self.subscriptions = subscriptions
            self.qos = qos
            var ends: [Int32] = [-1, -1]
            if pipe(&ends) == 0 {
                for end in ends {
                    _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                    _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                }
            }
            wakeup = (ends[0], ends[1])
        }
        deinit {
            close(wakeup.read)
            close(wakeup.write)
        }
    }

    private let handle: OpaquePointer
    private let shared: Shared
    private let box: Unmanaged<Shared>
    private var started = false

    public var isConnected: Bool { shared.connected.load(ordering: .acquiring) }
    /// Successful connections so far (a reconnect counts).
    public var connections: Int { shared.connections.load(ordering: .acquiring) }

    /// `will`: topic and payload the broker publishes (retained, QoS 1) if the client vanishes.
    public init(clientID: String, subscriptions: [String], will: (topic: String, payload: String)?, username: String? = nil,
                password: String? = nil) throws(MQTTError) {
        mosquitto_lib_init()
        shared = Shared(subscriptions: subscriptions, qos: 1)
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
        mosquitto_reconnect_delay_set(handle, 1, 30, true)
        mosquitto_connect_callback_set(handle) { handle, userdata, result in
            guard let userdata, result == 0 else { return }
            let shared = Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue()
            for topic in shared.subscriptions { mosquitto_subscribe(handle, nil, topic, shared.qos) }
            shared.connected.store(true, ordering: .releasing)
            shared.connections.add(1, ordering: .relaxed)
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, _ in
            guard let userdata else { return }
            Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue().connected.store(false, ordering: .releasing)
        }
        mosquitto_publish_callback_set(handle) { _, userdata, messageID in
            guard let userdata else { return }
            Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue().acknowledged.withLock { $0.append(messageID) }
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let userdata, let message else { return }
            let topic = String(cString: message.pointee.topic)
            let count = Int(message.pointee.payloadlen)
            let payload = count > 0 ? [UInt8](UnsafeRawBufferPointer(start: message.pointee.payload, count: count)) : []
            let shared = Unmanaged<Shared>.fromOpaque(userdata).takeUnretainedValue()
            let wasEmpty = shared.inbox.withLock { inbox in
                defer { inbox.append(MQTTMessage(topic: topic, payload: payload)) }
                return inbox.isEmpty
            }
            var byte: UInt8 = 1
            if wasEmpty { _ = write(shared.wakeup.write, &byte, 1) }
        }
    }

    /// TLS with a CA to check the broker against and, optionally, a client certificate and key
    /// (mutual TLS, as IoT Core endpoints require). Call before `start`.
    public func useTLS(caFile: String, certificateFile: String?, keyFile: String?) throws(MQTTError) {
        let code = mosquitto_tls_set(handle, caFile, nil, certificateFile, keyFile, nil)
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("TLS (CA \(caFile))", code) }
    }

    /// Connects in the background (the network thread retries until the broker answers).
    public func start(host: String, port: Int) throws(MQTTError) {
        // The network thread first: started after a refused connect_async it would never retry.
        let loop = mosquitto_loop_start(handle)
        guard loop == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("network thread", loop) }
        started = true
        let code = mosquitto_connect_async(handle, host, Int32(port), 30)
        // Refused at once (no broker yet) is fine: the thread reconnects with backoff.
        guard code == MOSQ_ERR_SUCCESS.rawValue || code == MOSQ_ERR_ERRNO.rawValue else { throw MQTTError("connect to \(host):\(port)", code) }
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

    /// The ids of messages the broker has acknowledged since the last call.
    public func drainAcknowledged() -> [Int32] {
        shared.acknowledged.withLock { ids in
            defer { ids.removeAll(keepingCapacity: true) }
            return ids
        }
    }

    /// Sleeps until a message arrives, one of `descriptors` is readable, or `milliseconds` pass.
    public func wait(milliseconds: Int32, alsoFor descriptors: [Int32] = []) {
        var watched = [pollfd(fd: shared.wakeup.read, events: Int16(POLLIN), revents: 0)]
        for descriptor in descriptors { watched.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        guard poll(&watched, nfds_t(watched.count), milliseconds) > 0, watched[0].revents != 0 else { return }
        var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &bytes, { read(shared.wakeup.read, $0.baseAddress, $0.count) }) == 32 {}
    }

    /// Takes every message received since the last call.
    public func drain() -> [MQTTMessage] {
        shared.inbox.withLock { messages in
            defer { messages.removeAll(keepingCapacity: true) }
            return messages
        }
    }

    /// Disconnects cleanly (no Last Will), stops the network thread.
    public func stop() {
        guard started else { return }
        mosquitto_disconnect(handle)
        mosquitto_loop_stop(handle, false)
        started = false
    }

    deinit {
        stop()
        mosquitto_destroy(handle)
        box.release()
    }
}
