import Agent
import Logging
import Outbox

/// Commit, then publish: the records raised while a turn's messages are processed are committed to the
/// outbox together, and published only once committed, so a crash between the two loses nothing. One
/// transaction (one fsync) for a burst instead of one each, which had the 20th alarm of a burst wait for
/// 19 fsyncs before it was published. Records the outbox refuses (a full disk) are held in memory and
/// retried every second, so that the episode ends by itself when the cause is gone.
final class OutboxSink {
    let outbox: Outbox
    let path: String
    private let publication: LocalPublication
    private let log: Logger
    private var raised: [OutboxRecord] = []
    private var held: [OutboxRecord] = []
    private var nextRetry = -Double.infinity
    private var lastFailureLogged = -Double.infinity
    /// At most this many records wait for the outbox in memory; past it the oldest are dropped (and counted).
    static let maximumHeld = 10_000
    private(set) var committed = 0
    /// Records committed per vehicle and kind (`/metrics`' labels).
    private(set) var committedByVehicleAndKind: [VehicleAndKind: Int] = [:]
    /// Times the outbox refused a commit, and records dropped because too many were held.
    private(set) var refusals = 0
    private(set) var dropped = 0

    init(outbox: Outbox, path: String, publication: LocalPublication, log: Logger) {
        self.outbox = outbox
        self.path = path
        self.publication = publication
        self.log = log
        raised.reserveCapacity(64)
    }

    /// Records are waiting for an outbox that refused them: the gateway is unhealthy meanwhile.
    var failing: Bool { !held.isEmpty }
    var heldCount: Int { held.count }

    func append(_ record: OutboxRecord) { raised.append(record) }

    /// Commits what was raised (behind what is held, when a retry is due), then publishes it; false when
    /// the outbox refused it (nothing is published then).
    @discardableResult
    func commit(now: Double = monotonicSeconds()) -> Bool {
        if !held.isEmpty {
            // In order behind the records already waiting, and with them when the next retry is due.
            hold(held + raised)
            raised.removeAll(keepingCapacity: true)
            guard now >= nextRetry else { return false }
            return store(held, now: now)
        }
        guard !raised.isEmpty else { return true }
        defer { raised.removeAll(keepingCapacity: true) }
        return store(raised, now: now)
    }

    /// One transaction for `batch`, then its publication; held for a retry in a second when refused.
    private func store(_ batch: [OutboxRecord], now: Double) -> Bool {
        do { _ = try outbox.append(batch) } catch {
            refusals += 1
            hold(batch)
            nextRetry = now + 1
            if now - lastFailureLogged >= 60 {
                lastFailureLogged = now
                log.error("\(path): \(held.count) records not stored yet, held in memory and retried every second: \(error)")
            }
            return false
        }
        if !held.isEmpty {
            log.notice("\(path): storing again; the \(held.count) held records are committed")
            held.removeAll()
            lastFailureLogged = -Double.infinity
        }
        committed += batch.count
        for record in batch { committedByVehicleAndKind[VehicleAndKind(vehicle: record.vehicle, kind: record.kind), default: 0] += 1 }
        batch.forEach(publication.publish)
        return true
    }

    private func hold(_ batch: [OutboxRecord]) {
        held = batch
        if held.count > Self.maximumHeld {
            dropped += held.count - Self.maximumHeld
            held.removeFirst(held.count - Self.maximumHeld)
        }
    }
}

/// A vehicle and an alarm (or inference) kind: the labels of a record count.
struct VehicleAndKind: Hashable, Sendable {
    let vehicle: String
    let kind: String
}
