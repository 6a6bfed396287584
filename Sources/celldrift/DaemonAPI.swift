import Agent
import JSON
import Model
import MQTT
import Outbox
import Uplink

/// What the daemon counts, for its summary and GET /metrics.
struct DaemonCounts {
    var messages = 0, frames = 0, snapshots = 0, malformed = 0, alarms = 0, published = 0, outboxErrors = 0
    var inferences = 0, inferenceSeconds = 0.0
}

/// The daemon's local API (docs/daemon.md): the seed's `POST /inference`, `GET /healthz`, `GET /metrics`.
struct DaemonAPI {
    let model: PackModel?
    let outbox: Outbox
    let client: MQTTClient
    let uplink: CloudUplink?
    /// An answer, and the inference event to commit (the caller commits it as it commits alarms).
    func handle(_ method: String, _ path: String, _ body: [UInt8], counts: inout DaemonCounts, vehicles: Int,
                records: inout [OutboxRecord]) -> LocalAPI.Response {
        switch (method, path) {
        case ("POST", "/inference"): return inference(body, &counts, &records)
        case ("GET", "/healthz"):
            let healthy = counts.outboxErrors == 0
            let pending = (try? outbox.statistics().pending) ?? -1
            return .init(status: healthy ? 200 : 503, body: "{\"status\": \"\(healthy ? "ok" : "outbox failing")\", "
                + "\"mqtt_connected\": \(client.isConnected), \"uplink_connected\": \(uplink?.isUp ?? false), "
                + "\"outbox_pending\": \(pending)}")
        case ("GET", "/metrics"): return .init(status: 200, contentType: "text/plain; version=0.0.4", body: metrics(counts, vehicles))
        case (_, "/inference"), (_, "/healthz"), (_, "/metrics"): return .init(status: 405, body: "{\"error\": \"method not allowed\"}")
        default: return .init(status: 404, body: "{\"error\": \"no such endpoint\"}")
        }
    }

    /// The seed's request `{"vin", "date", "features": "<84 numbers>"}`; the answer is the probability,
    /// and the seed's inference event goes into the outbox.
    private func inference(_ body: [UInt8], _ counts: inout DaemonCounts, _ records: inout [OutboxRecord]) -> LocalAPI.Response {
        guard let model else { return .init(status: 503, body: "{\"error\": \"no pack model configured ([model] pack)\"}") }
        let started = monotonicSeconds()
        do {
            let request = try JSONParser.parse(body)
            guard let vin = request["vin"]?.string, let date = request["date"]?.string, let day = civilDay(date),
                  let text = request["features"]?.string else {
                throw CommandError("request needs vin, date (YYYY-MM-DD) and features (84 comma-separated numbers)")
            }
            let inputs = try parseSeedFeatures(text, where: "features")
            let probability = model.probability(inputs)
            counts.inferences += 1
            counts.inferenceSeconds += monotonicSeconds() - started
            records.append(try InferenceEvent.record(vin: vin, date: date, probability: probability, inputs: inputs,
                                             eventTime: Double(day) * 86_400, wallTime: wallSeconds(),
                                             severity: probability >= model.threshold ? 1 : 0))
            return .init(status: 200, body: "\(probability)")
        } catch {
            return .init(status: 400, body: "{\"error\": \(String(decoding: JSONText.quoted("\(error)"), as: UTF8.self))}")
        }
    }

    private func metrics(_ counts: DaemonCounts, _ vehicles: Int) -> String {
        let statistics = (try? outbox.statistics()) ?? OutboxStatistics()
        let rows: [(String, String, String, Double)] = [
            ("celldrift_mqtt_messages_total", "counter", "MQTT messages received", Double(counts.messages)),
            ("celldrift_frames_total", "counter", "CAN frames received (MQTT and SocketCAN)", Double(counts.frames)),
            ("celldrift_decode_errors_total", "counter", "payloads that were neither a snapshot nor a frame", Double(counts.malformed)),
            ("celldrift_snapshots_total", "counter", "JSON snapshots received", Double(counts.snapshots)),
            ("celldrift_alarms_total", "counter", "records committed to the outbox", Double(counts.alarms)),
            ("celldrift_outbox_errors_total", "counter", "records the outbox refused", Double(counts.outboxErrors)),
            ("celldrift_outbox_depth", "gauge", "records not yet acknowledged", Double(statistics.pending + statistics.inFlight)),
            ("celldrift_outbox_evictions_total", "counter", "records evicted to stay within the bounds", Double(statistics.evicted)),
            ("celldrift_uplink_connected", "gauge", "1 when the cloud link is up", uplink?.isUp == true ? 1 : 0),
            ("celldrift_uplink_delivered_total", "counter", "records acknowledged by the cloud", Double(uplink?.delivered ?? 0)),
            ("celldrift_vehicles", "gauge", "vehicles with a pipeline", Double(vehicles)),
            ("celldrift_inference_seconds_sum", "counter", "time spent in POST /inference scoring", counts.inferenceSeconds),
            ("celldrift_inference_seconds_count", "counter", "POST /inference requests scored", Double(counts.inferences)),
        ]
        return rows.map { "# HELP \($0.0) \($0.2)\n# TYPE \($0.0) \($0.1)\n\($0.0) \($0.3)\n" }.joined()
    }
}
