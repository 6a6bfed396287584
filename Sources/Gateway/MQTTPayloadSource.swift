import Agent
import CAN
import Logging

/// The MQTT messages of the sources (`[mqtt] topics`): each payload parsed (`SourcePayload`: a snapshot,
/// a binary frame or candump lines) into the pipeline of its vehicle: the snapshot's `vehicle` field,
/// else the config's `vehicle`, else the topic's second level (`bms/<vehicle>/can`).
final class MQTTPayloadSource {
    private let pipelines: VehiclePipelines
    private let cells: Int
    private let configuredVehicle: String?
    private let fallbackVehicle: String
    private let log: Logger
    private var vehicleOfTopic: [String: String] = [:]
    private var lastTopic = (topic: "", vehicle: "")
    private var frame = CANFrame(id: 0)
    private(set) var messages = 0
    private(set) var malformed = 0

    init(pipelines: VehiclePipelines, cells: Int, vehicle: String?, gateway: String, log: Logger) {
        self.pipelines = pipelines
        self.cells = cells
        configuredVehicle = vehicle
        fallbackVehicle = gateway
        self.log = log
    }

    /// One message; what is malformed in it is counted and logged, and the rest of it is taken.
    func handle(topic: String, payload: UnsafeBufferPointer<UInt8>) {
        messages += 1
        let vehicle = vehicle(of: topic)
        SourcePayload.parse(payload, cells: cells, frame: &frame,
                            snapshot: { pipelines.take($0, vehicle: vehicle) },
                            frames: { pipelines.take(&$0, vehicle: vehicle) },
                            malformed: { reason in
                                malformed += 1
                                if let reason { log.warning("\(topic): \(reason)") }
                            })
    }

    /// Sources publish on a handful of topics: their vehicle names are worked out once, and a run of
    /// messages on one topic skips the hashing.
    private func vehicle(of topic: String) -> String {
        if topic == lastTopic.topic { return lastTopic.vehicle }
        let vehicle: String
        if let known = vehicleOfTopic[topic] {
            vehicle = known
        } else {
            vehicle = configuredVehicle ?? topic.split(separator: "/").dropFirst().first.map(String.init) ?? fallbackVehicle
            if vehicleOfTopic.count < 10_000 { vehicleOfTopic[topic] = vehicle }
        }
        lastTopic = (topic, vehicle)
        return vehicle
    }
}
