import Agent
import CAN
import DBC
import Outbox

/// The pipeline of every vehicle the gateway carries, each made on its vehicle's first frame or
/// snapshot, and the one decoder they share. Storage comes from the config the gateway started with
/// (the DBC, the mapping and the window need a restart); rules and models from the latest reload.
final class VehiclePipelines {
    private let config: PipelineConfig
    private var reloaded: PipelineConfig?
    private let decoder: FrameDecoder
    private let onAlarm: (OutboxRecord) -> Void
    private(set) var byVehicle: [String: VehiclePipeline] = [:]
    /// Frames come in runs of one vehicle (a gateway carries one): the last pipeline is found without hashing.
    private var last: (vehicle: String, pipeline: VehiclePipeline)?
    private(set) var frames = 0
    private(set) var snapshots = 0
    /// Frames and snapshots refused because `maximum` vehicles have pipelines already.
    private(set) var refused = 0
    let maximum: Int

    /// `onAlarm` receives every record any pipeline raises.
    init(config: PipelineConfig, onAlarm: @escaping (OutboxRecord) -> Void) {
        self.config = config
        maximum = config.gateway.vehicles
        decoder = FrameDecoder(config.database)
        self.onAlarm = onAlarm
    }

    var count: Int { byVehicle.count }
    var rejectedTimes: Int { byVehicle.values.reduce(0) { $0 + $1.rejectedTimes } }

    /// A frame from any source, decoded into its vehicle's pipeline (frames of unmapped messages are
    /// counted and dropped); false when the vehicle was refused.
    func take(_ frame: inout CANFrame, vehicle: String) -> Bool {
        frames += 1
        guard case .decoded = withUnsafePointer(to: &frame, decoder.decode(at:)) else { return true }
        guard let pipeline = pipeline(for: vehicle) else { return false }
        _ = pipeline.frame(decoder, time: frame.seconds)
        return true
    }

    /// A whole snapshot; its own `vehicle` field, when it has one, names the pipeline. False when the
    /// vehicle was refused.
    func take(_ snapshot: Snapshot, vehicle: String) -> Bool {
        snapshots += 1
        guard let pipeline = pipeline(for: snapshot.vehicle ?? vehicle) else { return false }
        pipeline.take(snapshot)
        return true
    }

    /// The vehicle's pipeline, made on first use; nil when `maximum` vehicles have one already.
    func pipeline(for vehicle: String) -> VehiclePipeline? {
        if let last, last.vehicle == vehicle { return last.pipeline }
        let found: VehiclePipeline
        if let existing = byVehicle[vehicle] {
            found = existing
        } else {
            guard byVehicle.count < maximum else {
                refused += 1
                return nil
            }
            found = VehiclePipeline(config: config, vehicle: vehicle, wallClock: wallSeconds, onAlarm: onAlarm)
            if let reloaded { found.reload(reloaded) }
            byVehicle[vehicle] = found
        }
        last = (vehicle, found)
        return found
    }

    /// A reloaded config's rules and models into every pipeline, and into those made later.
    func reload(_ config: PipelineConfig) {
        for pipeline in byVehicle.values { pipeline.reload(config) }
        reloaded = config
    }
}
