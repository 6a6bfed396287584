/// What the gateway has done since it started: for `GET /metrics`, `GET /healthz` and the summary it
/// logs when it stops.
public struct GatewayCounts: Sendable, Equatable {
    public var messages = 0, frames = 0, snapshots = 0, malformed = 0
    /// Frames dropped for a time that is not seconds from 1970 to 2100 (`VehiclePipeline.takesTime`).
    public var rejectedTimes = 0
    /// Frames and snapshots of vehicles past `[gateway] max_vehicles`, and warnings the limiter held back.
    public var refusedVehicles = 0, suppressedWarnings = 0
    /// Records committed to the outbox, and of those published on the local broker.
    public var records = 0, published = 0
    /// Commits the outbox refused and uplink steps that failed on it; records held in memory for a retry,
    /// and records dropped because too many were held.
    public var outboxErrors = 0, outboxHeld = 0, outboxDropped = 0
    public var healthy = true
    public var inferences = 0, inferenceSeconds = 0.0
    public var vehicles = 0, delivered = 0
    /// Records committed per vehicle and kind.
    var recordsByVehicleAndKind: [VehicleAndKind: Int] = [:]

    /// The last line of a run, as JSON.
    public var summary: String {
        "{\"messages\": \(messages), \"frames\": \(frames), \"snapshots\": \(snapshots), \"inferences\": \(inferences), "
            + "\"malformed\": \(malformed), \"rejected_times\": \(rejectedTimes), \"refused_vehicles\": \(refusedVehicles), "
            + "\"suppressed_warnings\": \(suppressedWarnings), \"records\": \(records), \"published\": \(published), "
            + "\"outbox_errors\": \(outboxErrors), \"outbox_dropped\": \(outboxDropped), \"vehicles\": \(vehicles), \"delivered\": \(delivered)}"
    }
}
