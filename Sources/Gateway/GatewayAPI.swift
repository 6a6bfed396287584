import Agent
import JSON
import Model
import MQTT
import Outbox
import Uplink

/// The local API's answers (docs/daemon.md): the seed's `POST /inference`, `GET /healthz`, `GET /metrics`,
/// served on loopback from the gateway's loop.
final class GatewayAPI {
    let server: LocalAPI
    private let model: PackModel?
    private let outbox: Outbox
    private let client: MQTTClient
    private let uplink: CloudUplink?
    private(set) var inferences = 0
    private(set) var inferenceSeconds = 0.0

    init(server: LocalAPI, model: PackModel?, outbox: Outbox, client: MQTTClient, uplink: CloudUplink?) {
        self.server = server
        self.model = model
        self.outbox = outbox
        self.client = client
        self.uplink = uplink
    }

    /// Answers every connection waiting now; returns the inference events to commit (the caller commits
    /// them as it commits alarms).
    func serve(now: Double, counts: () -> GatewayCounts) -> [OutboxRecord] {
        var records: [OutboxRecord] = []
        server.serve(now: now) { method, path, body in answer(method, path, body, counts, &records) }
        return records
    }

    private func answer(_ method: String, _ path: String, _ body: [UInt8], _ counts: () -> GatewayCounts,
                        _ records: inout [OutboxRecord]) -> LocalAPI.Response {
        switch (method, path) {
        case ("POST", "/inference"): return inference(body, &records)
        case ("GET", "/healthz"):
            let healthy = counts().healthy
            let pending = (try? outbox.statistics().pending) ?? -1
            return .init(status: healthy ? 200 : 503, body: "{\"status\": \"\(healthy ? "ok" : "outbox failing")\", "
                + "\"mqtt_connected\": \(client.isConnected), \"uplink_connected\": \(uplink?.isUp ?? false), "
                + "\"outbox_pending\": \(pending)}")
        case ("GET", "/metrics"): return .init(status: 200, contentType: "text/plain; version=0.0.4", body: metrics(counts()))
        case (_, "/inference"), (_, "/healthz"), (_, "/metrics"): return .init(status: 405, body: "{\"error\": \"method not allowed\"}")
        default: return .init(status: 404, body: "{\"error\": \"no such endpoint\"}")
        }
    }

    /// The seed's request `{"vin", "date", "features": "<84 numbers>"}`; the answer is the probability,
    /// and the seed's inference event goes into the outbox.
    private func inference(_ body: [UInt8], _ records: inout [OutboxRecord]) -> LocalAPI.Response {
        guard let model else { return .init(status: 503, body: "{\"error\": \"no pack model configured ([model] pack)\"}") }
        let started = monotonicSeconds()
        do {
            let request = try JSONParser.parse(body)
            guard let vin = request["vin"]?.string, let date = request["date"]?.string, let day = civilDay(date),
                  let text = request["features"]?.string else {
                throw AgentError("request needs vin, date (YYYY-MM-DD) and features (84 comma-separated numbers)")
            }
            if let problem = vehicleIDProblem(vin) { throw AgentError("vin: \(problem)") }
            let inputs = try InferenceEvent.parseFeatures(text, where: "features")
            let probability = model.probability(inputs)
            inferences += 1
            inferenceSeconds += monotonicSeconds() - started
            records.append(try InferenceEvent.record(vin: vin, date: date, probability: probability, inputs: inputs,
                                                     eventTime: Double(day) * 86_400, wallTime: wallSeconds(),
                                                     severity: probability >= model.threshold ? 1 : 0))
            return .init(status: 200, body: "\(probability)")
        } catch {
            return .init(status: 400, body: "{\"error\": \(String(decoding: JSONText.quoted("\(error)"), as: UTF8.self))}")
        }
    }

    private func metrics(_ counts: GatewayCounts) -> String {
        let statistics = (try? outbox.statistics()) ?? OutboxStatistics()
        let rows: [(String, String, String, Double)] = [
            ("celldrift_mqtt_messages_total", "counter", "MQTT messages received", Double(counts.messages)),
            ("celldrift_frames_total", "counter", "CAN frames received (MQTT and SocketCAN)", Double(counts.frames)),
            ("celldrift_decode_errors_total", "counter", "payloads that were neither a snapshot nor a frame", Double(counts.malformed)),
            ("celldrift_snapshots_total", "counter", "JSON snapshots received", Double(counts.snapshots)),
            ("celldrift_refused_vehicles_total", "counter", "frames and snapshots past [gateway] max_vehicles", Double(counts.refusedVehicles)),
            ("celldrift_suppressed_warnings_total", "counter", "warnings not logged past [gateway] log_lines_per_second", Double(counts.suppressedWarnings)),
            ("celldrift_rejected_times_total", "counter", "frames with a time that is not seconds from 1970 to 2100", Double(counts.rejectedTimes)),
            ("celldrift_alarms_total", "counter", "records committed to the outbox", Double(counts.records)),
            ("celldrift_outbox_errors_total", "counter", "commits the outbox refused", Double(counts.outboxErrors)),
            ("celldrift_outbox_held", "gauge", "records waiting in memory for the outbox to take them", Double(counts.outboxHeld)),
            ("celldrift_outbox_dropped_total", "counter", "records dropped because too many were held", Double(counts.outboxDropped)),
            ("celldrift_outbox_depth", "gauge", "records not yet acknowledged", Double(statistics.pending + statistics.inFlight)),
            ("celldrift_outbox_evictions_total", "counter", "records evicted to stay within the bounds", Double(statistics.evicted)),
            ("celldrift_uplink_connected", "gauge", "1 when the cloud link is up", uplink?.isUp == true ? 1 : 0),
            ("celldrift_uplink_delivered_total", "counter", "records acknowledged by the cloud", Double(counts.delivered)),
            ("celldrift_vehicles", "gauge", "vehicles with a pipeline", Double(counts.vehicles)),
            ("celldrift_inference_seconds_sum", "counter", "time spent in POST /inference scoring", counts.inferenceSeconds),
            ("celldrift_inference_seconds_count", "counter", "POST /inference requests scored", Double(counts.inferences)),
        ]
        return rows.map { "# HELP \($0.0) \($0.2)\n# TYPE \($0.0) \($0.1)\n\($0.0) \($0.3)\n" }.joined()
    }
}
