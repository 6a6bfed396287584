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

/// The daemon's local broker (`[mqtt]`): where the sources come from and the alarms go.
public struct MQTTSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 1883
    public var clientID = "celldrift"
    /// Topics subscribed (MQTT wildcards allowed); payloads: a JSON snapshot or a candump -L line.
    public var topics = ["bms/#"]
    /// Alarms go to `<prefix>/<vehicle>/alarms/<kind>`, the status to `<prefix>/<vehicle>/status`.
    public var prefix = "celldrift"
    public var username: String?
    public var password: String?
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
}

/// The cloud uplink (`[uplink]`): with `url`, batches of records POSTed over HTTPS; otherwise MQTT, records
/// going to `topic` ({vehicle} replaced) on the cloud broker at `host`.
public struct UplinkSettings: Sendable {
    public var url: String?
    /// HTTPS: sent as a bearer token; seconds a request may take.
    public var token: String?
    public var timeout = 30
    public var host = "127.0.0.1"
    public var port = 8883
    public var clientID = "celldrift-uplink"
    public var topic = "celldrift/{vehicle}/records"
    public var window = 50
    public var username: String?
    public var password: String?
    /// TLS: the CA file that signed the broker's certificate; client certificate and key for mutual TLS.
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
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
    /// `[api] host, port`: the local HTTP API (loopback); nil: none. Port 0 picks a free one.
    public let api: (host: String, port: Int)?
    /// The outbox database (`[outbox] path`), for the daemon.
    public let outboxPath: String
    /// The per-cell estimators and their sequential tests (`[detection]`, `[pack] capacity_ah`).
    public let detection: DetectionSettings

    /// The rule used when the file has no [rules.*] section: the BMS's consistency rule.
    public static let defaultRule = ConfiguredRule(
        feature: .spread,
        alarm: RuleAlarm(name: "cell_spread", raiseAbove: 0.050, clearBelow: 0.050, minimumDuration: 10, severity: 2))

    public init(path: String) throws(AgentError) {
        self.path = path
        let root: TOMLTable
        guard let bytes = readFile(path) else { throw AgentError("\(path): cannot read the file") }
        do { root = try TOMLParser.parse(String(decoding: bytes, as: UTF8.self), path: path) } catch {
            throw AgentError(error.description)
        }
        let reader = ConfigReader(path: path)
        try reader.allow(root, "", ["dbc", "vehicle", "pack", "snapshot", "features", "rules", "detection", "outbox", "model", "mqtt", "uplink",
                                    "socketcan", "api"])
        guard let dbc = root["dbc"]?.string else { throw AgentError("\(path):\(root.line(of: "dbc") ?? 1): dbc (the DBC file) is required") }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        do { database = try CompiledDatabase(path: dbc.hasPrefix("/") ? dbc : folder + dbc) } catch {
            throw AgentError(error.description)
        }
        guard let pack = root["pack"]?.table else { throw AgentError("\(path): a [pack] section is required (docs/mapping.md)") }
        do { mapping = try PackMapping(pack, path: path, database: database) } catch { throw AgentError(error.description) }
        vehicle = root["vehicle"]?.string

        let snapshot = try reader.section(root, "snapshot", ["stale_after_s", "tick_s"])
        staleAfter = try reader.number(snapshot, "stale_after_s", 5, in: "snapshot", bound: .positive)
        tick = try reader.number(snapshot, "tick_s", 2, in: "snapshot", bound: .positive)

        let features = try reader.section(root, "features", ["window", "step_current_a", "step_max_gap_s", "resistance_steps",
                                                              "rest_current_a", "rest_settle_s", "rest_minimum_s"])
        window = Int(try reader.number(features, "window", 60, in: "features", bound: .atLeastTwo))
        trends = TrendSettings(
            stepCurrent: try reader.number(features, "step_current_a", 10, in: "features", bound: .positive),
            stepMaximumGap: try reader.number(features, "step_max_gap_s", 30, in: "features", bound: .positive),
            resistanceSteps: Int(try reader.number(features, "resistance_steps", 16, in: "features", bound: .positive)),
            restCurrent: try reader.number(features, "rest_current_a", 2, in: "features", bound: .nonNegative),
            restSettle: try reader.number(features, "rest_settle_s", 300, in: "features", bound: .nonNegative),
            restMinimum: try reader.number(features, "rest_minimum_s", 1800, in: "features", bound: .nonNegative))

        let outbox = try reader.section(root, "outbox", ["max_records", "max_bytes", "path"])
        outboxPath = outbox?["path"]?.string ?? "celldrift-outbox.db"
        outboxLimits = OutboxLimits(maximumRecords: Int(try reader.number(outbox, "max_records", 100_000, in: "outbox", bound: .positive)),
                                    maximumBytes: Int(try reader.number(outbox, "max_bytes", Double(64 << 20), in: "outbox", bound: .positive)))
        rules = try Self.rules(root, reader)
        detection = try Self.detection(root, pack, reader)
        mqtt = try Self.mqtt(root, reader)
        uplink = try Self.uplink(root, reader)
        socketCANInterface = try reader.section(root, "socketcan", ["interface"])?["interface"]?.string
        if let table = try reader.section(root, "api", ["host", "port"]) {
            api = (table["host"]?.string ?? "127.0.0.1", Int(try reader.number(table, "port", 8080, in: "api", bound: .nonNegative)))
        } else {
            api = nil
        }
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

    private static func mqtt(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> MQTTSettings {
        var settings = MQTTSettings()
        guard let table = try reader.section(root, "mqtt", ["host", "port", "client_id", "topics", "prefix", "username", "password",
                                                              "ca_file", "cert_file", "key_file"]) else {
            return settings
        }
        settings.host = table["host"]?.string ?? settings.host
        settings.port = Int(try reader.number(table, "port", Double(settings.port), in: "mqtt", bound: .positive))
        settings.clientID = table["client_id"]?.string ?? settings.clientID
        if let topics = table["topics"] {
            guard let list = topics.array?.compactMap(\.string), !list.isEmpty, list.count == topics.array?.count else {
                throw reader.fail(table.line(of: "topics") ?? 0, "mqtt.topics", "must be a list of topic strings")
            }
            settings.topics = list
        }
        settings.prefix = table["prefix"]?.string ?? settings.prefix
        settings.username = table["username"]?.string
        settings.password = table["password"]?.string
        (settings.caFile, settings.certificateFile, settings.keyFile) = try tlsFiles(table, "mqtt", reader)
        return settings
    }

    private static func uplink(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> UplinkSettings? {
        guard let table = try reader.section(root, "uplink", ["host", "port", "client_id", "topic", "window", "username", "password",
                                                                "ca_file", "cert_file", "key_file", "url", "token", "timeout_s"]) else {
            return nil
        }
        var settings = UplinkSettings()
        settings.url = table["url"]?.string
        if let url = settings.url {
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw reader.fail(table.line(of: "url") ?? 0, "uplink.url", "must start with https:// (http:// only for a local endpoint)")
            }
            guard table["host"] == nil else {
                throw reader.fail(table.line(of: "host") ?? 0, "uplink", "either url (HTTPS) or host (MQTT), not both")
            }
        }
        settings.token = table["token"]?.string
        settings.timeout = Int(try reader.number(table, "timeout_s", Double(settings.timeout), in: "uplink", bound: .positive))
        guard let host = table["host"]?.string ?? (settings.url != nil ? "" : nil) else {
            throw reader.fail(1, "uplink.host", "is required (the cloud broker), or url for HTTPS")
        }
        settings.host = host
        settings.port = Int(try reader.number(table, "port", Double(settings.port), in: "uplink", bound: .positive))
        settings.clientID = table["client_id"]?.string ?? settings.clientID
        settings.topic = table["topic"]?.string ?? settings.topic
        settings.window = Int(try reader.number(table, "window", Double(settings.window), in: "uplink", bound: .positive))
        settings.username = table["username"]?.string
        settings.password = table["password"]?.string
        (settings.caFile, settings.certificateFile, settings.keyFile) = try tlsFiles(table, "uplink", reader)
        return settings
    }

    /// `ca_file`, `cert_file`, `key_file` of a broker section, each readable, the last two together.
    private static func tlsFiles(_ table: TOMLTable, _ section: String, _ reader: ConfigReader) throws(AgentError)
        -> (String?, String?, String?) {
        let files = (table["ca_file"]?.string, table["cert_file"]?.string, table["key_file"]?.string)
        for (key, file) in [("ca_file", files.0), ("cert_file", files.1), ("key_file", files.2)] {
            if let file, access(file, R_OK) != 0 {
                throw reader.fail(table.line(of: key) ?? 0, "\(section).\(key)", "\(file): cannot read the file")
            }
        }
        guard (files.1 == nil) == (files.2 == nil) else {
            throw reader.fail(table.line(of: "cert_file") ?? table.line(of: "key_file") ?? 0, section, "cert_file and key_file go together")
        }
        guard files.1 == nil || files.0 != nil else {
            throw reader.fail(table.line(of: "cert_file") ?? 0, "\(section).cert_file", "needs ca_file (TLS)")
        }
        return files
    }

    private static func detection(_ root: TOMLTable, _ pack: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> DetectionSettings {
        var settings = DetectionSettings()
        if pack["capacity_ah"] != nil {
            settings.capacity = try reader.number(pack, "capacity_ah", 0, in: "pack", bound: .positive)
        }
        guard let table = try reader.section(root, "detection", [
            "enabled", "resistance_share", "resistance_memory_s", "rest_c_rate", "rest_settle_s", "leak_check_s", "leak_shift",
            "minimum_leak_c", "sensor_change_k", "sensor_learning_s", "false_alarm_hours"]) else { return settings }
        if let enabled = table["enabled"] {
            guard let value = enabled.bool else { throw reader.fail(table.line(of: "enabled") ?? 0, "detection.enabled", "must be true or false") }
            settings.enabled = value
        }
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
        settings.sensorChange = try value("sensor_change_k", settings.sensorChange)
        settings.sensorLearning = try reader.number(table, "sensor_learning_s", settings.sensorLearning, in: "detection", bound: .nonNegative)
        settings.falseAlarmHours = try value("false_alarm_hours", settings.falseAlarmHours)
        guard settings.falseAlarmHours >= 1 else {
            throw reader.fail(table.line(of: "false_alarm_hours") ?? 0, "detection.false_alarm_hours", "must be at least 1")
        }
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
            let severity = Int(try reader.number(table, "severity", 2, in: name, bound: .nonNegative))
            guard severity <= 3 else { throw reader.fail(table.line(of: "severity") ?? entry.line, "\(name).severity", "must be 0 to 3") }
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
