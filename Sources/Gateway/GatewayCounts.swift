/// What the gateway has done since it started: for `GET /metrics`, `GET /healthz` and the summary it
/// logs when it stops.
public struct GatewayCounts: Sendable, Equatable {
    public var messages = 0, frames = 0, snapshots = 0, malformed = 0
    /// Frames dropped for a time that is not seconds from 1970 to 2100 (`VehiclePipeline.takesTime`).
    public var rejectedTimes = 0
    /// Records committed to the outbox, and of those published on the local broker.
    public var records = 0, published = 0
    /// Records the outbox refused, and uplink steps that failed on the outbox.
    public var outboxErrors = 0
    public var inferences = 0, inferenceSeconds = 0.0
    public var vehicles = 0, delivered = 0

    /// The last line of a run, as JSON.
    public var summary: String {
        "{\"messages\": \(messages), \"frames\": \(frames), \"snapshots\": \(snapshots), \"inferences\": \(inferences), "
            + "\"malformed\": \(malformed), \"rejected_times\": \(rejectedTimes), \"records\": \(records), \"published\": \(published), "
            + "\"outbox_errors\": \(outboxErrors), \"vehicles\": \(vehicles), \"delivered\": \(delivered)}"
    }
}
