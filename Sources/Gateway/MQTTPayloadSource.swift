import Agent
import CAN

/// The MQTT messages of the sources (`[mqtt] topics`): each payload parsed (`SourcePayload`: a snapshot,
/// a binary frame or candump lines) into the pipeline of its vehicle: the snapshot's `vehicle` field,
/// else the config's `vehicle`, else the topic's second level (`bms/<vehicle>/can`).
final class MQTTPayloadSource {
    private let pipelines: VehiclePipelines
    private let cells: Int
    private let configuredVehicle: String?
    private let fallbackVehicle: String
    private let warnings: WarningLimiter
    private var vehicleOfTopic: [String: String] = [:]
    private var lastTopic = (topic: "", vehicle: "")
    // Per message, on the gateway's one thread: unchecked (the runtime's exclusivity checks on these
    // showed in callgrind's per-message instructions).
    @exclusivity(unchecked) private var frame = CANFrame(id: 0)
    @exclusivity(unchecked) private(set) var messages = 0
    @exclusivity(unchecked) private(set) var malformedCount = 0

    init(pipelines: VehiclePipelines, cells: Int, vehicle: String?, gateway: String, warnings: WarningLimiter) {
        self.pipelines = pipelines
        self.cells = cells
        configuredVehicle = vehicle
        fallbackVehicle = gateway
        self.warnings = warnings
    }

    /// One message; what is malformed in it is counted and logged (one line a message at most, and the
    /// limiter's share a second), and the rest of it is taken. A vehicle the gateway has no room for is
    /// refused and counted.
    func handle(topic: String, payload: UnsafeBufferPointer<UInt8>, now: Double) {
        messages += 1
        let vehicle = vehicle(of: topic)
        // Noted by closure expressions, not a local function: a local function handed over as a closure
        // put what it captured in two heap boxes per message (callgrind).
        var problems = MalformedParts()
        SourcePayload.parse(payload, cells: cells, frame: &frame,
                            snapshot: { snapshot in
                                if let named = snapshot.vehicle, let problem = vehicleIDProblem(named) {
                                    return problems.note("malformed snapshot: field \"vehicle\": \(problem)")
                                }
                                if !pipelines.take(snapshot, vehicle: vehicle) { refused(snapshot.vehicle ?? vehicle, now) }
                            },
                            frames: { frame in
                                if !pipelines.take(&frame, vehicle: vehicle) { refused(vehicle, now) }
                            },
                            malformed: { problems.note($0) })
        malformedCount += problems.count
        if let first = problems.first {
            warnings.warning("\(topic): \(first)" + (problems.count > 1 ? " (and \(problems.count - 1) more malformed parts in this message)" : ""), now: now)
        }
    }

    private func refused(_ vehicle: String, _ now: Double) {
        warnings.warning("vehicle \(vehicle) refused: this gateway carries \(pipelines.maximum) vehicles ([gateway] max_vehicles)", now: now)
    }

    /// Sources publish on a handful of topics: their vehicle names are worked out once, and a run of
    /// messages on one topic skips the hashing.
    private func vehicle(of topic: String) -> String {
        if topic == lastTopic.topic { return lastTopic.vehicle }
        let vehicle: String
        if let known = vehicleOfTopic[topic] {
            vehicle = known
        } else {
            let level = topic.split(separator: "/").dropFirst().first.map(String.init)
            vehicle = configuredVehicle ?? level.flatMap { vehicleIDProblem($0) == nil ? $0 : nil } ?? fallbackVehicle
            if vehicleOfTopic.count < 10_000 { vehicleOfTopic[topic] = vehicle }
        }
        lastTopic = (topic, vehicle)
        return vehicle
    }
}

/// The malformed parts of one message: how many, and the first one's reason.
private struct MalformedParts {
    var count = 0
    var first: String?

    mutating func note(_ reason: String?) {
        count += 1
        if first == nil { first = reason }
    }
}
