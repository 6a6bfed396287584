import JSON
import Outbox

/// What went wrong setting up an uplink.
public struct UplinkError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A way to the cloud for outbox records, driven by the daemon's loop.
public protocol CloudUplink: AnyObject {
    /// One turn at `now` (seconds, monotonic).
    func step(now: Double) throws(SQLiteError)
    /// Records the cloud has acknowledged since start.
    var delivered: Int { get }
    /// The link is up: connected (MQTT), or the last request was accepted (HTTPS).
    var isUp: Bool { get }
    func stop()
}

/// Delivers outbox records to a cloud endpoint by HTTPS POST: a batch of leased records as one JSON
/// object, `{"gateway": ..., "records": [<record>, ...]}`, each record with its id (the idempotency key:
/// a batch sent twice carries the same ids) and inference events in the seed's event schema. Records
/// are acknowledged in the outbox only on a 2xx answer; any other answer, or none, puts the batch back
/// and waits, doubling from 1 s up to `maximumBackoff` with ±50 % jitter. A backlog drains oldest first,
/// with the newest pending record in every batch so that it does not wait behind hours of backlog.
public final class HTTPUplink: CloudUplink {
    public let poster: HTTPPoster
    private let outbox: Outbox
    private let batch: Int
    /// The gateway's name as a JSON string, for every batch.
    private let gateway: String
    private var inFlight: [String] = []
    private var nextAttempt = 0.0
    private var failures = 0
    public var maximumBackoff = 300.0
    public private(set) var delivered = 0
    /// The last answer or failure that was not a 2xx, while the endpoint keeps refusing; nil once it accepts.
    public private(set) var lastError: String?

    public init(poster: HTTPPoster, outbox: Outbox, batch: Int = 50, gateway: String) throws(SQLiteError) {
        self.poster = poster
        self.outbox = outbox
        self.batch = batch
        self.gateway = String(decoding: JSONText.quoted(gateway), as: UTF8.self)
        try outbox.recoverInFlight()
    }

    public var isUp: Bool { lastError == nil }
    public func stop() {}
    public var inFlightCount: Int { inFlight.count }

    /// One turn at `now` (seconds, monotonic): settles the request in flight, then starts the next batch
    /// when one is due.
    public func step(now: Double) throws(SQLiteError) {
        if !inFlight.isEmpty {
            guard let outcome = poster.poll() else { return }
            let sent = inFlight
            inFlight = []
            if case .status(let code, _) = outcome, (200..<300).contains(code) {
                try outbox.acknowledge(sent)
                delivered += sent.count
                failures = 0
                lastError = nil
            } else {
                try outbox.release(sent)
                lastError = switch outcome {
                case .status(let code, let answer): "HTTP \(code): \(answer)"
                case .failed(let reason): reason
                }
                back(off: now)
                return
            }
        }
        guard now >= nextAttempt else { return }
        let records = try outbox.lease(limit: batch, newest: 1)
        guard !records.isEmpty else { return }
        let body = "{\"gateway\": \(gateway), \"records\": [" + records.map(\.json).joined(separator: ", ") + "]}"
        do {
            try poster.post(body, headers: ["X-Celldrift-Records: \(records.count)"])
            inFlight = records.map(\.id)
        } catch {
            try outbox.release(records.map(\.id))
            lastError = error.description
            back(off: now)
        }
    }

    private func back(off now: Double) {
        failures += 1
        let doubling = min(maximumBackoff, Double(1 << min(failures - 1, 20)))
        nextAttempt = now + doubling * Double.random(in: 0.5...1.5)
    }
}
