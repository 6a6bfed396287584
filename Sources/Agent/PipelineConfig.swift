#if canImport(Glibc)
import Glibc
#endif
import CAN
import Consistency
import DBC
import Model
import Outbox
import Pack
import TOML

/// A mistake in a configuration or an input, with the file and line it is at.
public struct AgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One configured rule: which feature it watches and its thresholds.
public struct ConfiguredRule: Sendable {
    public let feature: RuleFeature
    public var alarm: RuleAlarm
}

/// The pipeline's configuration (TOML, docs/mapping.md): the DBC, the pack mapping, snapshot timing,
/// the feature window and trend settings, the rules and the outbox bounds. Every mistake is reported
/// with the file and line it is at; unknown keys are mistakes too, so a misspelt threshold is not
/// silently replaced by its default.
public struct PipelineConfig: @unchecked Sendable {
    public let path: String
    public let database: CompiledDatabase
    public let mapping: PackMapping
    public let vehicle: String?
    public let staleAfter: Double
    public let tick: Double
    public let window: Int
    public let trends: TrendSettings
    public let rules: [ConfiguredRule]
    public let outboxLimits: OutboxLimits
    /// The pack model file (`[model] pack`), scored once a day on the seed's 84 inputs; nil: none.
    public let packModelPath: String?
    /// That model, read and checked once; each user takes a `copy()` (its scratch space is its own).
    public let packModel: PackModel?
    /// The cell-drift model (`[model] cell`), scoring every cell as snapshots come; nil: none.
    public let cellModelPath: String?
    public let cellModel: CellDriftModel?
    public let mqtt: MQTTSettings
    public let uplink: UplinkSettings?
    /// `[socketcan] interface`: frames straight from the BMS bus, besides MQTT.
    public let socketCANInterface: String?
    /// `[api]`: the local HTTP API (loopback only); nil: none.
    public let api: APISettings?
    /// `[gateway]`: the daemon's bounds on what its peers send.
    public let gateway: GatewayLimits
    /// The outbox database (`[outbox] path`), for the daemon.
    public let outboxPath: String
    /// The per-cell estimators and their sequential tests (`[detection]`, `[pack] capacity_ah`).
    public let detection: DetectionSettings
    /// Hold-off, updates and retained states of alarms (`[alarms]`).
    public let alarms: AlarmSettings
    /// What the file leaves out that detection will miss, each as `file:line: key: what` (check-config,
    /// replay and run print them; none stops the pipeline).
    public let warnings: [String]
    /// The zone of the logger's clock that dated logs without a zone (`asc_zone`: ASC headers, BLF starts, MDF starts marked local time; seconds east of UTC).
    public let ascZoneSeconds: Int64

    /// The rule used when the file has no [rules.*] section: the BMS's consistency rule.
    public static let defaultRule = ConfiguredRule(
        feature: .spread,
        alarm: RuleAlarm(name: "cell_spread", raiseAbove: 0.050, clearBelow: 0.050, minimumDuration: 10, severity: 2))

    public init(path: String) throws(AgentError) {
        guard let bytes = readFile(path) else { throw AgentError("\(path): cannot read the file") }
        try self.init(path: path, text: String(decoding: bytes, as: UTF8.self))
    }

    /// The configuration in `text`, as if read from `path` (relative paths in it are the file's folder's).
    public init(path: String, text: String) throws(AgentError) {
        self.path = path
        let root: TOMLTable
        do { root = try TOMLParser.parse(text, path: path) } catch {
            throw AgentError(error.description)
        }
        let reader = ConfigReader(path: path)
        try reader.allow(root, "", ["dbc", "vehicle", "pack", "snapshot", "features", "rules", "detection", "outbox", "model", "mqtt", "uplink",
                                    "socketcan", "api", "gateway", "alarms", "asc_zone"])
        guard let dbc = root["dbc"]?.string else { throw AgentError("\(path):\(root.line(of: "dbc") ?? 1): dbc (the DBC file) is required") }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        do { database = try CompiledDatabase(path: dbc.hasPrefix("/") ? dbc : folder + dbc) } catch {
            throw AgentError(error.description)
        }
        guard let pack = root["pack"]?.table else { throw AgentError("\(path): a [pack] section is required (docs/mapping.md)") }
        // A misspelt key would otherwise leave its signal unmapped without a word.
        try reader.allow(pack, "pack", ["cells", "cell_voltage", "cell_voltages", "cell_voltage_index_base", "cell_voltage_unit",
                                        "cell_temperature", "cell_temperatures", "cell_temperature_index_base", "cell_temperature_unit",
                                        "cell_temperature_count", "current", "current_unit", "current_positive", "voltage", "voltage_unit", "soc",
                                        "cell_voltage_max",
                                        "cell_voltage_max_unit", "cell_voltage_min", "cell_voltage_min_unit", "capacity_ah", "balancing",
                                        "cell_balancing", "cell_balancings", "cell_balancing_index_base", "balancing_current_a"])
        do { mapping = try PackMapping(pack, path: path, database: database) } catch { throw AgentError(error.description) }
        let flags = mapping.unmappedBalancingFlags
        warnings = flags.isEmpty ? [] : [
            "\(path):\(root.line(of: "pack") ?? 1): pack.balancing: not mapped, and \(dbc) has "
                + (flags.count == 1 ? "a signal" : "signals") + " named like the BMS's balancing flag ("
                + flags.prefix(4).joined(separator: ", ") + (flags.count > 4 ? " and \(flags.count - 4) more" : "") + "): "
                + "cells a BMS bleeds at rest fall as a leaking one does, and only its flag tells them apart; map the one set "
                + "while it bleeds (docs/mapping.md), or leaks may be raised on the cells it bleeds"]
        vehicle = root["vehicle"]?.string
        if let vehicle, let problem = vehicleIDProblem(vehicle) {
            throw reader.fail(root.line(of: "vehicle") ?? 1, "vehicle", problem)
        }

        let snapshot = try reader.section(root, "snapshot", ["stale_after_s", "tick_s"])
        staleAfter = try reader.number(snapshot, "stale_after_s", 5, in: "snapshot", bound: .positive)
        tick = try reader.number(snapshot, "tick_s", 2, in: "snapshot", bound: .positive)

        let features = try reader.section(root, "features", ["window", "step_current_a", "step_max_gap_s", "resistance_steps",
                                                              "rest_current_a", "rest_settle_s", "rest_minimum_s"])
        window = try reader.integer(features, "window", 60, in: "features", range: 2...10_000)
        trends = TrendSettings(
            stepCurrent: try reader.number(features, "step_current_a", 10, in: "features", bound: .positive),
            stepMaximumGap: try reader.number(features, "step_max_gap_s", 30, in: "features", bound: .positive),
            resistanceSteps: try reader.integer(features, "resistance_steps", 16, in: "features", range: 1...1_000),
            restCurrent: try reader.number(features, "rest_current_a", 2, in: "features", bound: .nonNegative),
            restSettle: try reader.number(features, "rest_settle_s", 300, in: "features", bound: .nonNegative),
            restMinimum: try reader.number(features, "rest_minimum_s", 1800, in: "features", bound: .nonNegative))

        let outbox = try reader.section(root, "outbox", ["max_records", "max_bytes", "path"])
        outboxPath = outbox?["path"]?.string ?? "celldrift-outbox.db"
        outboxLimits = OutboxLimits(maximumRecords: try reader.integer(outbox, "max_records", 100_000, in: "outbox", range: 1...100_000_000),
                                    maximumBytes: try reader.integer(outbox, "max_bytes", 64 << 20, in: "outbox", range: 65_536...(1 << 40)))
        rules = try Self.rules(root, reader)
        detection = try Self.detection(root, pack, reader, flagMapped: mapping.mapsABalancingFlag)
        // Flags without the current they bleed give no size. A current alone is not refused: JSON
        // snapshots carry their flags in the payload (`cell_balancing`), with no signal to map.
        if mapping.mapsCellBalancing, detection.bleedCurrent == nil {
            throw reader.fail(pack.line(of: "cell_balancing") ?? pack.line(of: "cell_balancings") ?? 0, "pack.cell_balancing",
                              "needs pack.balancing_current_a (the current the BMS bleeds a cell with, which sizes a leak from the flags)")
        }
        alarms = try Self.alarms(root, reader)
        if let zone = root["asc_zone"] {
            guard let text = zone.string, let seconds = clockZoneSeconds(text) else {
                throw reader.fail(root.line(of: "asc_zone") ?? 0, "asc_zone", "must be \"UTC\" or an offset such as \"+02:00\"")
            }
            ascZoneSeconds = seconds
        } else {
            ascZoneSeconds = 0
        }
        mqtt = try Self.mqtt(root, reader)
        uplink = try Self.uplink(root, reader)
        socketCANInterface = try reader.section(root, "socketcan", ["interface"])?["interface"]?.string
        api = try Self.api(root, reader)
        gateway = try Self.gateway(root, reader)
        let model = try reader.section(root, "model", ["pack", "cell"])
        // Loaded here so that a corrupt or missing file is a config error with its line.
        func load<Loaded>(_ key: String, _ read: (String) throws(ModelError) -> Loaded) throws(AgentError) -> (String, Loaded)? {
            guard let name = model?[key]?.string else { return nil }
            let resolved = name.hasPrefix("/") ? name : folder + name
            do { return (resolved, try read(resolved)) } catch {
                throw AgentError("\(path):\(model?.line(of: key) ?? 0): model.\(key): \(error.description)")
            }
        }
        let packFile = try load("pack") { (file) throws(ModelError) in try ModelFile.load(file) }
        (packModelPath, packModel) = (packFile?.0, packFile?.1)
        let cellFile = try load("cell") { (file) throws(ModelError) in try ModelFile.loadCellDrift(file) }
        (cellModelPath, cellModel) = (cellFile?.0, cellFile?.1)
    }

    private static func detection(_ root: TOMLTable, _ pack: TOMLTable, _ reader: ConfigReader,
                                  flagMapped: Bool) throws(AgentError) -> DetectionSettings {
        var settings = DetectionSettings()
        if pack["capacity_ah"] != nil {
            settings.capacity = try reader.number(pack, "capacity_ah", 0, in: "pack", bound: .positive)
        }
        settings.balancingUnflagged = !flagMapped
        if pack["balancing_current_a"] != nil {
            settings.bleedCurrent = try reader.number(pack, "balancing_current_a", 0, in: "pack", bound: .positive)
        }
        guard let table = try reader.section(root, "detection", [
            "enabled", "resistance_share", "resistance_memory_s", "rest_c_rate", "rest_settle_s", "leak_check_s", "leak_shift",
            "minimum_leak_c", "minimum_bleed_leak_c", "sensor_change_k", "sensor_learning_s", "false_alarm_hours", "balancing_moves_readings"]) else { return settings }
        settings.enabled = try reader.flag(table, "enabled", settings.enabled, in: "detection")
        settings.balancingMovesReadings = try reader.flag(table, "balancing_moves_readings", settings.balancingMovesReadings, in: "detection")
        func value(_ key: String, _ fallback: Double) throws(AgentError) -> Double {
            try reader.number(table, key, fallback, in: "detection", bound: .positive)
        }
        settings.resistanceShare = try value("resistance_share", settings.resistanceShare)
        settings.resistanceMemory = try value("resistance_memory_s", settings.resistanceMemory)
        settings.restCRate = try value("rest_c_rate", settings.restCRate)
        settings.restSettle = try reader.number(table, "rest_settle_s", settings.restSettle, in: "detection", bound: .nonNegative)
        settings.leakCheckInterval = try value("leak_check_s", settings.leakCheckInterval)
        settings.leakShift = try value("leak_shift", settings.leakShift)
        settings.minimumLeak = try reader.number(table, "minimum_leak_c", settings.minimumLeak, in: "detection", bound: .nonNegative)
        settings.minimumBleedLeak = try value("minimum_bleed_leak_c", settings.minimumBleedLeak)
        settings.sensorChange = try value("sensor_change_k", settings.sensorChange)
        settings.sensorLearning = try reader.number(table, "sensor_learning_s", settings.sensorLearning, in: "detection", bound: .nonNegative)
        settings.falseAlarmHours = try value("false_alarm_hours", settings.falseAlarmHours)
        guard settings.falseAlarmHours >= 1 else {
            throw reader.fail(table.line(of: "false_alarm_hours") ?? 0, "detection.false_alarm_hours", "must be at least 1")
        }
        return settings
    }

    private static func alarms(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> AlarmSettings {
        var settings = AlarmSettings()
        guard let table = try reader.section(root, "alarms", ["hold_off_s", "cleared_state_s", "update_share", "update_interval_s"]) else {
            return settings
        }
        settings.holdOff = try reader.number(table, "hold_off_s", settings.holdOff, in: "alarms", bound: .nonNegative)
        settings.clearedStateSeconds = try reader.number(table, "cleared_state_s", settings.clearedStateSeconds, in: "alarms", bound: .nonNegative)
        settings.updateShare = try reader.number(table, "update_share", settings.updateShare, in: "alarms", bound: .positive)
        settings.updateInterval = try reader.number(table, "update_interval_s", settings.updateInterval, in: "alarms", bound: .nonNegative)
        return settings
    }

    private static func rules(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> [ConfiguredRule] {
        guard let section = root["rules"]?.table else { return [defaultRule] }
        var rules: [ConfiguredRule] = []
        for entry in section.entries {
            let name = "rules.\(entry.key)"
            guard let table = entry.value.table else { throw reader.fail(entry.line, name, "must be a table ([\(name)])") }
            try reader.allow(table, name, ["feature", "raise_above", "clear_below", "minimum_duration_s", "severity"])
            let known = RuleFeature.allCases.map(\.rawValue).joined(separator: ", ")
            let featureName = table["feature"]?.string ?? (entry.key == "cell_spread" ? "spread" : entry.key)
            guard let feature = RuleFeature(rawValue: featureName) else {
                throw reader.fail(table.line(of: "feature") ?? entry.line, name,
                                  "feature \"\(featureName)\" is not one of \(known)")
            }
            guard table["raise_above"] != nil else { throw reader.fail(entry.line, name, "raise_above is required") }
            let raise = try reader.number(table, "raise_above", 0, in: name)
            let clear = try reader.number(table, "clear_below", raise, in: name)
            guard clear <= raise else {
                throw reader.fail(table.line(of: "clear_below") ?? entry.line, "\(name).clear_below", "must not be above raise_above")
            }
            let severity = try reader.integer(table, "severity", 2, in: name, range: 0...3)
            rules.append(ConfiguredRule(feature: feature, alarm: RuleAlarm(
                name: entry.key, raiseAbove: raise, clearBelow: clear,
                minimumDuration: try reader.number(table, "minimum_duration_s", 10, in: name, bound: .nonNegative), severity: severity)))
        }
        return rules
    }
}

/// Reads typed values out of TOML tables and words the mistakes.
struct ConfigReader {
    let path: String

    func fail(_ line: Int, _ key: String, _ message: String) -> AgentError {
        AgentError("\(path):\(line): \(key): \(message)")
    }

    func allow(_ table: TOMLTable, _ section: String, _ keys: [String]) throws(AgentError) {
        for entry in table.entries where !keys.contains(entry.key) {
            throw fail(entry.line, section.isEmpty ? entry.key : "\(section).\(entry.key)",
                       "unknown key (expected one of: \(keys.joined(separator: ", ")))")
        }
    }

    func section(_ root: TOMLTable, _ name: String, _ keys: [String]) throws(AgentError) -> TOMLTable? {
        guard let value = root[name] else { return nil }
        guard let table = value.table else { throw fail(root.line(of: name) ?? 1, name, "must be a table ([\(name)])") }
        try allow(table, name, keys)
        return table
    }

    enum Bound { case any, positive, nonNegative, atLeastTwo }

    /// A whole number within `range` (sizes, counts, ports): storage and loops are sized from these.
    func integer(_ table: TOMLTable?, _ key: String, _ fallback: Int, in section: String,
                 range: ClosedRange<Int>) throws(AgentError) -> Int {
        guard let value = table?[key] else { return fallback }
        let line = table?.line(of: key) ?? 0
        guard let number = value.number, number.isFinite, number == number.rounded(),
              number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            throw fail(line, "\(section).\(key)", "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(number)
    }

    func flag(_ table: TOMLTable?, _ key: String, _ fallback: Bool, in section: String) throws(AgentError) -> Bool {
        guard let value = table?[key] else { return fallback }
        guard let flag = value.bool else { throw fail(table?.line(of: key) ?? 0, "\(section).\(key)", "must be true or false") }
        return flag
    }

    func number(_ table: TOMLTable?, _ key: String, _ fallback: Double, in section: String,
                bound: Bound = .any) throws(AgentError) -> Double {
        guard let value = table?[key] else { return fallback }
        let line = table?.line(of: key) ?? 0
        guard let number = value.number, number.isFinite else { throw fail(line, "\(section).\(key)", "must be a number") }
        switch bound {
        case .any: break
        case .positive: guard number > 0 else { throw fail(line, "\(section).\(key)", "must be above 0") }
        case .nonNegative: guard number >= 0 else { throw fail(line, "\(section).\(key)", "must not be negative") }
        case .atLeastTwo: guard number >= 2 else { throw fail(line, "\(section).\(key)", "must be at least 2") }
        }
        return number
    }
}
