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
    private let settings: APISettings
    private(set) var inferences = 0
    private(set) var inferenceSeconds = 0.0
    /// Since when (monotonic s) the local broker has been down; when the last frame or snapshot came,
    /// and how many had come then.
    private var brokerDownSince: Double?
    private var lastInput = (count: 0, time: monotonicSeconds())

    init(server: LocalAPI, model: PackModel?, outbox: Outbox, client: MQTTClient, uplink: CloudUplink?) {
        self.server = server
        settings = server.limits
        self.model = model
        self.outbox = outbox
        self.client = client
        self.uplink = uplink
    }

    /// Answers every connection waiting now; returns the inference events to commit (the caller commits
    /// them as it commits alarms).
    func serve(now: Double, counts: () -> GatewayCounts) -> [OutboxRecord] {
        let clock = monotonicSeconds()
        if client.isConnected { brokerDownSince = nil } else if brokerDownSince == nil { brokerDownSince = clock }
        let current = counts()
        if current.frames + current.snapshots != lastInput.count { lastInput = (current.frames + current.snapshots, clock) }
        var records: [OutboxRecord] = []
        server.serve(now: now) { method, path, body in answer(method, path, body, counts, &records) }
        return records
    }

    private func answer(_ method: String, _ path: String, _ body: [UInt8], _ counts: () -> GatewayCounts,
                        _ records: inout [OutboxRecord]) -> LocalAPI.Response {
        switch (method, path) {
        case ("POST", "/inference"): return inference(body, &records)
        case ("GET", "/healthz"): return health(counts())
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
            let (vin, date, day, inputs) = try InferenceEvent.request(body)
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

    /// 200 `ok`, or 503 with each reason: the outbox refuses writes, the local broker has been down longer
    /// than `broker_down_s`, no input for `stale_input_s`, the uplink's backlog older than `backlog_s`.
    private func health(_ counts: GatewayCounts) -> LocalAPI.Response {
        let statistics = try? outbox.statistics()
        let clock = monotonicSeconds()
        var reasons: [String] = []
        if !counts.healthy || statistics == nil { reasons.append("the outbox refuses writes") }
        if let since = brokerDownSince, clock - since > settings.brokerDownSeconds {
            reasons.append("the local broker has been down for \(Int(clock - since)) s")
        }
        let inputAge = clock - lastInput.time
        if settings.staleInputSeconds > 0, inputAge > settings.staleInputSeconds {
            reasons.append("no frame or snapshot for \(Int(inputAge)) s")
        }
        let backlogAge = statistics?.oldestUnacknowledged.map { max(0, wallSeconds() - $0) }
        if uplink != nil, let backlogAge, backlogAge > settings.backlogSeconds {
            reasons.append("the oldest record not yet acknowledged by the cloud is \(Int(backlogAge)) s old")
        }
        let listed = reasons.map { String(decoding: JSONText.quoted($0), as: UTF8.self) }.joined(separator: ", ")
        return .init(status: reasons.isEmpty ? 200 : 503, body: "{\"status\": \"\(reasons.isEmpty ? "ok" : "unhealthy")\", "
            + "\"reasons\": [\(listed)], \"mqtt_connected\": \(client.isConnected), \"uplink_connected\": \(uplink?.isUp ?? false), "
            + "\"outbox_pending\": \(statistics?.pending ?? -1), \"last_input_age_s\": \(Int(inputAge)), "
            + "\"oldest_unacknowledged_age_s\": \(backlogAge.map { "\(Int($0))" } ?? "null")}")
    }

    /// Prometheus text format 0.0.4: counters end in `_total`, the inference time is a summary, records
    /// are labelled by vehicle and kind.
    private func metrics(_ counts: GatewayCounts) -> String {
        let statistics = (try? outbox.statistics()) ?? OutboxStatistics()
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { text += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: Double) { family(name, type, help, [("", value)]) }
        family("celldrift_build_info", "gauge", "the build: its version in a label", [("{version=\"\(Build.version)\"}", 1)])
        one("celldrift_mqtt_messages_total", "counter", "MQTT messages received", Double(counts.messages))
        one("celldrift_frames_total", "counter", "CAN frames received (MQTT and SocketCAN)", Double(counts.frames))
        one("celldrift_decode_errors_total", "counter", "payloads that were neither a snapshot nor a frame", Double(counts.malformed))
        one("celldrift_snapshots_total", "counter", "JSON snapshots received", Double(counts.snapshots))
        one("celldrift_last_input_age_seconds", "gauge", "seconds since the last frame or snapshot", monotonicSeconds() - lastInput.time)
        one("celldrift_refused_vehicles_total", "counter", "frames and snapshots past [gateway] max_vehicles", Double(counts.refusedVehicles))
        one("celldrift_suppressed_warnings_total", "counter", "warnings not logged past [gateway] log_lines_per_second",
            Double(counts.suppressedWarnings))
        one("celldrift_rejected_times_total", "counter", "frames with a time that is not seconds from 1970 to 2100", Double(counts.rejectedTimes))
        family("celldrift_records_total", "counter", "alarms and inference events committed to the outbox, by vehicle and kind",
               counts.recordsByVehicleAndKind.sorted { ($0.key.vehicle, $0.key.kind) < ($1.key.vehicle, $1.key.kind) }.map {
                   ("{vehicle=\"\(labelValue($0.key.vehicle))\",kind=\"\(labelValue($0.key.kind))\"}", Double($0.value))
               })
        one("celldrift_outbox_errors_total", "counter", "commits the outbox refused", Double(counts.outboxErrors))
        one("celldrift_outbox_held", "gauge", "records waiting in memory for the outbox to take them", Double(counts.outboxHeld))
        one("celldrift_outbox_dropped_total", "counter", "records dropped because too many were held", Double(counts.outboxDropped))
        one("celldrift_outbox_depth", "gauge", "records not yet acknowledged", Double(statistics.pending + statistics.inFlight))
        one("celldrift_outbox_oldest_unacknowledged_age_seconds", "gauge", "age of the oldest record not yet acknowledged (0: none)",
            statistics.oldestUnacknowledged.map { max(0, wallSeconds() - $0) } ?? 0)
        one("celldrift_outbox_evictions_total", "counter", "records evicted to stay within the bounds", Double(statistics.evicted))
        one("celldrift_mqtt_connected", "gauge", "1 when the local broker is connected", client.isConnected ? 1 : 0)
        one("celldrift_uplink_connected", "gauge", "1 when the cloud link is up", uplink?.isUp == true ? 1 : 0)
        one("celldrift_uplink_delivered_total", "counter", "records acknowledged by the cloud", Double(counts.delivered))
        one("celldrift_vehicles", "gauge", "vehicles with a pipeline", Double(counts.vehicles))
        text += "# HELP celldrift_inference_seconds time spent scoring POST /inference requests\n"
            + "# TYPE celldrift_inference_seconds summary\n"
            + "celldrift_inference_seconds_sum \(counts.inferenceSeconds)\ncelldrift_inference_seconds_count \(Double(counts.inferences))\n"
        return text
    }
}

/// A Prometheus label value: backslash, double quote and line feed escaped.
private func labelValue(_ text: String) -> String {
    var escaped = ""
    for character in text {
        switch character {
        case "\\": escaped += "\\\\"
        case "\"": escaped += "\\\""
        case "\n": escaped += "\\n"
        default: escaped.append(character)
        }
    }
    return escaped
}
