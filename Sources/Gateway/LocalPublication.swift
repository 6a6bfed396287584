import Agent
import MQTT
import Outbox

/// What the gateway publishes on the local broker for other programs on the vehicle: each committed
/// record (`<prefix>/<vehicle>/alarms/<kind>`, inference events on `<prefix>/<vehicle>/inference`), the
/// models' latest scores (retained `<prefix>/<vehicle>/scores`) and the gateway's status (retained
/// `<prefix>/<gateway>/status`, `offline` also its Last Will).
final class LocalPublication {
    let client: MQTTClient
    let prefix: String
    let statusTopic: String
    private var announcedConnection = 0
    private var publishedScores: [String: Int] = [:]
    private(set) var published = 0

    init(client: MQTTClient, prefix: String, gateway: String) {
        self.client = client
        self.prefix = prefix
        statusTopic = Self.statusTopic(prefix: prefix, gateway: gateway)
    }

    static func statusTopic(prefix: String, gateway: String) -> String { "\(prefix)/\(gateway)/status" }

    /// `online`, again after every reconnect: a broker restarted without persistence has lost the retained status.
    func announceOnline() {
        guard client.isConnected, announcedConnection != client.connections else { return }
        if client.publish(statusTopic, "online", retain: true) { announcedConnection = client.connections }
    }

    func announceOffline() {
        client.publish(statusTopic, "offline", retain: true)
    }

    /// A record the outbox has committed (never one it has not).
    func publish(_ record: OutboxRecord) {
        let topic = record.type == .alarm ? "\(prefix)/\(record.vehicle)/alarms/\(record.kind)" : "\(prefix)/\(record.vehicle)/inference"
        if client.publish(topic, record.json) { published += 1 }
    }

    /// The latest scores of each vehicle whose models scored since they were last published.
    func publishScores(_ pipelines: [String: VehiclePipeline]) {
        for (vehicle, pipeline) in pipelines where pipeline.scoresRevision > 0 && publishedScores[vehicle] != pipeline.scoresRevision {
            if client.publish("\(prefix)/\(vehicle)/scores", pipeline.scoresJSON(), retain: true) {
                publishedScores[vehicle] = pipeline.scoresRevision
            }
        }
    }

    /// The pack score alone, for a vehicle this gateway carries no pipeline of (asked through the local API).
    func publishPackScore(vehicle: String, eventTime: Double, score: Double, exceeded: Bool) {
        client.publish("\(prefix)/\(vehicle)/scores", "{\"pack_model\": {\"event_time\": \(eventTime), "
            + "\"score\": \(score), \"threshold_exceeded\": \(exceeded)}, \"cell_model\": null}", retain: true)
    }
}
