import CAN
import JSON

/// One vehicle of a labelled fleet (labels.json, docs/fleet.md): its fault, where and when it starts,
/// and when the BMS's 50 mV rule first fired on what the BMS logged. Written by `celldrift simulate`
/// and by the independent fleet generator (scripts/fleet), read by `celldrift evaluate fleet`.
public struct FleetLabel: Sendable, Equatable {
    public var vehicle: String
    public var chemistry: String
    /// "healthy" or the fault kind.
    public var fault: String
    /// The faulty cell as the outbox numbers it (0-based position in the mapping), and its signal name.
    public var cell: Int?
    public var cellName: String?
    /// The faulty temperature sensor (0-based position in the mapping), and its signal name.
    public var sensor: Int?
    public var sensorName: String?
    /// Unix seconds.
    public var onsetTime: Double?
    public var onsetPhase: String?
    public var ruleFirstFiredTime: Double?
    public var ruleCell: Int?
    public var magnitude: Double?
    public var magnitudeUnit: String?
    /// Paths relative to the labels file (or absolute); nil when not given.
    public var log: String?
    public var config: String?

    public var isHealthy: Bool { fault == "healthy" }

    public init(vehicle: String, chemistry: String = "", fault: String, cell: Int? = nil, sensor: Int? = nil,
                onsetTime: Double? = nil, ruleFirstFiredTime: Double? = nil) {
        self.vehicle = vehicle
        self.chemistry = chemistry
        self.fault = fault
        self.cell = cell
        self.sensor = sensor
        self.onsetTime = onsetTime
        self.ruleFirstFiredTime = ruleFirstFiredTime
    }

    /// Reads a labels file: a JSON array of objects. Absolute times come from `onset_time` and
    /// `rule_first_fired_time`, or from `start_time` plus `onset_s` / `rule_first_fired_s`.
    public static func load(_ path: String) throws -> [FleetLabel] {
        guard let bytes = readFile(path) else { throw EvaluationError("\(path): cannot read the labels file") }
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw EvaluationError("\(path): \(error)") }
        guard let entries = root.array else { throw EvaluationError("\(path): expected a JSON array of vehicles") }
        return try entries.enumerated().map { index, entry throws(EvaluationError) in
            func fail(_ message: String) -> EvaluationError { EvaluationError("\(path): vehicle \(index + 1): \(message)") }
            guard let vehicle = entry["vehicle"]?.string else { throw fail("\"vehicle\" (a string) is required") }
            guard let fault = entry["fault"]?.string else { throw fail("\"fault\" (a string) is required") }
            func integer(_ key: String) throws(EvaluationError) -> Int? {
                guard let value = entry[key], value != .null else { return nil }
                guard let number = value.double, number >= 0, number < 1e6, number == number.rounded() else {
                    throw fail("\"\(key)\" must be a whole number, 0 or more")
                }
                return Int(number)
            }
            func time(_ absolute: String, _ relative: String) throws(EvaluationError) -> Double? {
                if let value = entry[absolute], value != .null {
                    guard let seconds = value.double, seconds.isFinite else { throw fail("\"\(absolute)\" must be a number") }
                    return seconds
                }
                guard let offset = entry[relative]?.double else { return nil }
                guard let start = entry["start_time"]?.double, start.isFinite, offset.isFinite else {
                    throw fail("\"\(relative)\" needs \"start_time\" (unix seconds) beside it")
                }
                return start + offset
            }
            var label = FleetLabel(vehicle: vehicle, chemistry: entry["chemistry"]?.string ?? "", fault: fault,
                                   cell: try integer("cell"), sensor: try integer("sensor"),
                                   onsetTime: try time("onset_time", "onset_s"),
                                   ruleFirstFiredTime: try time("rule_first_fired_time", "rule_first_fired_s"))
            label.cellName = entry["cell_name"]?.string
            label.sensorName = entry["sensor_name"]?.string
            label.onsetPhase = entry["onset_phase"]?.string
            label.ruleCell = try integer("rule_cell")
            label.magnitude = entry["magnitude"]?.double
            label.magnitudeUnit = entry["magnitude_unit"]?.string
            label.log = entry["log"]?.string
            label.config = entry["config"]?.string
            if !label.isHealthy {
                guard label.onsetTime != nil else { throw fail("a \(fault) vehicle needs its onset (onset_time, or start_time and onset_s)") }
                guard label.cell != nil || label.sensor != nil else { throw fail("a \(fault) vehicle needs its \"cell\" or \"sensor\"") }
            }
            return label
        }
    }
}

/// A mistake in an evaluation's inputs, naming the file and the entry.
public struct EvaluationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
