import Agent
import JSON
import MQTT
import Outbox

/// What the gateway publishes on the local broker for other programs on the vehicle: each committed
/// record (`<prefix>/<vehicle>/alarms/<kind>`, inference events on `<prefix>/<vehicle>/inference`), the
/// models' latest scores (retained `<prefix>/<vehicle>/scores`) and the gateway's status (retained
/// `<prefix>/<gateway>/status`, `offline` also its Last Will). Each alarm's present state is retained on
/// `<prefix>/<vehicle>/alarms/<kind>/<subject>/state` (active or cleared, since when, magnitude); a cleared
/// state is removed (an empty retained payload) `cleared_state_s` after its clear.
final class LocalPublication {
    let client: MQTTClient
    let prefix: String
    let statusTopic: String
    private var announcedConnection = 0
    private var publishedScores: [String: Int] = [:]
    private(set) var published = 0
    /// Retained cleared states and when (monotonic s) they are to be removed.
    private var clearedStates: [(topic: String, removeAt: Double)] = []
    private let clearedStateSeconds: Double

    init(client: MQTTClient, prefix: String, gateway: String, clearedStateSeconds: Double) {
        self.client = client
        self.prefix = prefix
        self.clearedStateSeconds = clearedStateSeconds
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
        if let transition = record.transition { publishState(record, transition) }
    }

    /// The alarm's retained state after a transition.
    private func publishState(_ record: OutboxRecord, _ transition: String) {
        guard let payload = try? JSONParser.parse(record.payload), let subject = payload["subject"]?.string else { return }
        let topic = "\(prefix)/\(record.vehicle)/alarms/\(record.kind)/\(subject)/state"
        func number(_ key: String) -> String { payload[key]?.double.map { "\($0)" } ?? "null" }
        let state = transition == "cleared" ? "cleared" : "active"
        var text = "{\"state\": \"\(state)\", \"alarm_id\": \(String(decoding: JSONText.quoted(payload["alarm_id"]?.string ?? ""), as: UTF8.self)), "
            + "\"active_since\": \(number("active_since")), \"magnitude\": \(number("magnitude")), \"event_time\": \(record.eventTime), "
            + "\"severity\": \(record.severity), \"cell\": \(record.cell.map(String.init) ?? "null")"
        if let name = payload["cell_name"]?.string { text += ", \"cell_name\": \(String(decoding: JSONText.quoted(name), as: UTF8.self))" }
        client.publish(topic, text + "}", retain: true)
        clearedStates.removeAll { $0.topic == topic }
        if state == "cleared" { clearedStates.append((topic, monotonicSeconds() + clearedStateSeconds)) }
    }

    /// Removes the retained states of alarms cleared longer ago than `cleared_state_s` (MQTT removes a
    /// retained message when an empty one is retained on its topic).
    func removeExpiredStates(now: Double) {
        guard clearedStates.contains(where: { $0.removeAt <= now }) else { return }
        for state in clearedStates where state.removeAt <= now { client.publish(state.topic, "", retain: true) }
        clearedStates.removeAll { $0.removeAt <= now }
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
