import MQTT
import Outbox

/// Delivers outbox records to a cloud broker over MQTT (an IoT Core-style endpoint): each record is
/// leased (in flight), published at QoS 1 as its JSON, and acknowledged in the outbox only when the
/// broker's PUBACK for that message arrives. While the link is down nothing is taken; libmosquitto
/// resends what was in flight when it returns, and after a restart the outbox's in-flight records go
/// back to pending, so a record may arrive twice, always with the same id (the idempotency key).
/// A backlog drains oldest first, with the newest pending record in every batch so that it does not wait.
public final class MQTTUplink: CloudUplink {
    public let client: MQTTClient
    private let outbox: Outbox
    private let topic: (OutboxRecord) -> String
    private let window: Int
    private var inFlight: [Int32: (id: String, sent: Double)] = [:]
    /// A record unconfirmed this long (seconds) goes back to pending and is sent again.
    public var confirmationTimeout = 60.0
    public private(set) var delivered = 0
    /// Records whose topic MQTT cannot carry (a vehicle id with `+` or `#` stored before ids were checked
    /// where they enter): left in flight until the next start instead of being leased ten times a second.
    public private(set) var undeliverable = 0

    /// `window`: records in flight at most; `topic`: where a record goes.
    public init(client: MQTTClient, outbox: Outbox, window: Int = 50, topic: @escaping (OutboxRecord) -> String) throws(SQLiteError) {
        self.client = client
        self.outbox = outbox
        self.window = window
        self.topic = topic
        try outbox.recoverInFlight()
    }

    public var inFlightCount: Int { inFlight.count }
    public var isUp: Bool { client.isConnected }
    public func stop() { client.stop() }

    /// One turn at `now` (seconds, monotonic): acknowledges what the broker confirmed, then sends more
    /// while the link is up.
    public func step(now: Double) throws(SQLiteError) {
        client.service()
        let confirmed = client.drainAcknowledged().compactMap { inFlight.removeValue(forKey: $0)?.id }
        if !confirmed.isEmpty {
            try outbox.acknowledge(confirmed)
            delivered += confirmed.count
        }
        guard client.isConnected else { return }
        // A confirmation that never came (the broker lost the session): send again, same id.
        let stale = inFlight.filter { now - $0.value.sent > confirmationTimeout }
        if !stale.isEmpty {
            for messageID in stale.keys { inFlight.removeValue(forKey: messageID) }
            try outbox.release(stale.values.map(\.id))
        }
        guard inFlight.count < window else { return }
        for record in try outbox.lease(limit: window - inFlight.count, newest: 1) {
            let destination = topic(record)
            if let messageID = client.publishTracked(destination, record.json) {
                inFlight[messageID] = (record.id, now)
            } else if !MQTTClient.isPublishable(destination) {
                undeliverable += 1
            } else {
                try outbox.release([record.id])
            }
        }
    }
}
