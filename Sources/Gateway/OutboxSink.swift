import Logging
import Outbox

/// Commit, then publish: the records raised while a turn's messages are processed are committed to the
/// outbox together, and published only once committed, so a crash between the two loses nothing. One
/// transaction (one fsync) for a burst instead of one each, which had the 20th alarm of a burst wait for
/// 19 fsyncs before it was published.
final class OutboxSink {
    let outbox: Outbox
    let path: String
    private let publication: LocalPublication
    private let log: Logger
    private var raised: [OutboxRecord] = []
    private(set) var committed = 0
    /// Records the outbox refused (disk full, a broken file): the gateway is unhealthy while any were.
    private(set) var refused = 0

    init(outbox: Outbox, path: String, publication: LocalPublication, log: Logger) {
        self.outbox = outbox
        self.path = path
        self.publication = publication
        self.log = log
        raised.reserveCapacity(64)
    }

    func append(_ record: OutboxRecord) { raised.append(record) }

    /// Commits what was raised, then publishes it; false when the outbox refused it (nothing is published then).
    @discardableResult
    func commit() -> Bool {
        guard !raised.isEmpty else { return true }
        defer { raised.removeAll(keepingCapacity: true) }
        do { _ = try outbox.append(raised) } catch {
            refused += raised.count
            log.error("\(path): \(raised.count) records not stored (\(raised.map(\.id).joined(separator: ", "))): \(error)")
            return false
        }
        committed += raised.count
        raised.forEach(publication.publish)
        return true
    }
}
