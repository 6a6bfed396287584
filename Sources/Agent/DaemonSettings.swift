#if canImport(Glibc)
import Glibc
#endif
import TOML

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
    /// Written by the user to allow plaintext to a host that is not this machine.
    public var insecure = false
}

/// The local HTTP API (`[api]`): loopback only, as it has no authentication; each request bounded.
public struct APISettings: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port.
    public var port = 8080
    /// Connections open at once; past them a client gets 503 at once.
    public var connections = 16
    /// Bytes of one request (head and body) and the time the whole request may take to arrive.
    public var requestBytes = 65_536
    public var requestSeconds = 2.0
    /// `/healthz` answers 503 when the local broker has been down this long (s), when no frame or
    /// snapshot came for `staleInputSeconds` (0: not checked; a parked vehicle's BMS is quiet), or when the
    /// oldest record not yet acknowledged by the cloud is older than `backlogSeconds` (with an uplink).
    public var brokerDownSeconds = 60.0
    public var staleInputSeconds = 0.0
    public var backlogSeconds = 86_400.0
    public init() {}
}

/// Bounds on what the daemon's peers can make it hold or write (`[gateway]`).
public struct GatewayLimits: Sendable {
    /// Vehicles (pipelines, ~150 KB each) one gateway keeps; payloads for more are refused and counted.
    public var vehicles = 64
    /// Warnings about malformed input logged per second; the rest are counted and summed up in one line.
    public var logLinesPerSecond = 10
    public init() {}
}

/// A vehicle id as it enters (a snapshot's `vehicle`, a request's `vin`, the config's `vehicle`, a log's
/// name): it becomes an MQTT topic level, so it must be one: 1 to 64 characters, none of `/ + #`, no
/// control characters. Returns what is wrong, or nil.
public func vehicleIDProblem(_ id: String) -> String? {
    guard !id.isEmpty, id.utf8.count <= 64 else { return "a vehicle id has 1 to 64 characters" }
    guard !id.unicodeScalars.contains(where: { "/+#".unicodeScalars.contains($0) || $0.value < 0x20 || $0.value == 0x7F }) else {
        return "a vehicle id cannot hold /, +, # or control characters (it is an MQTT topic level)"
    }
    return nil
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1.
public func isLoopback(_ host: String) -> Bool {
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
}

extension PipelineConfig {
    static func mqtt(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> MQTTSettings {
        var settings = MQTTSettings()
        guard let table = try reader.section(root, "mqtt", ["host", "port", "client_id", "topics", "prefix", "username", "password",
                                                              "ca_file", "cert_file", "key_file"]) else {
            return settings
        }
        settings.host = table["host"]?.string ?? settings.host
        settings.port = try reader.integer(table, "port", settings.port, in: "mqtt", range: 1...65_535)
        settings.clientID = table["client_id"]?.string ?? settings.clientID
        if let topics = table["topics"] {
            guard let list = topics.array?.compactMap(\.string), !list.isEmpty, list.count == topics.array?.count else {
                throw reader.fail(table.line(of: "topics") ?? 0, "mqtt.topics", "must be a list of topic strings")
            }
            settings.topics = list
        }
        settings.prefix = table["prefix"]?.string ?? settings.prefix
        guard !settings.prefix.isEmpty, !settings.prefix.contains(where: { $0 == "+" || $0 == "#" }) else {
            throw reader.fail(table.line(of: "prefix") ?? 0, "mqtt.prefix", "must be a topic without wildcards (+, #)")
        }
        settings.username = table["username"]?.string
        settings.password = table["password"]?.string
        (settings.caFile, settings.certificateFile, settings.keyFile) = try tlsFiles(table, "mqtt", reader)
        if settings.password != nil, settings.caFile == nil, !isLoopback(settings.host) {
            throw reader.fail(table.line(of: "password") ?? 0, "mqtt.password",
                              "would cross the network in clear to \(settings.host): set ca_file (TLS), or use a broker on this machine")
        }
        return settings
    }

    static func uplink(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> UplinkSettings? {
        guard let table = try reader.section(root, "uplink", ["host", "port", "client_id", "topic", "window", "username", "password",
                                                                "ca_file", "cert_file", "key_file", "url", "token", "timeout_s",
                                                                "insecure"]) else {
            return nil
        }
        var settings = UplinkSettings()
        settings.insecure = try reader.flag(table, "insecure", settings.insecure, in: "uplink")
        settings.url = table["url"]?.string
        if let url = settings.url {
            let plain = url.hasPrefix("http://")
            guard url.hasPrefix("https://") || plain, let host = Self.host(ofURL: url) else {
                throw reader.fail(table.line(of: "url") ?? 0, "uplink.url", "must be https://HOST/... (http:// only for this machine)")
            }
            guard table["host"] == nil else {
                throw reader.fail(table.line(of: "host") ?? 0, "uplink", "either url (HTTPS) or host (MQTT), not both")
            }
            if plain, !isLoopback(host), table["token"] != nil {
                throw reader.fail(table.line(of: "url") ?? 0, "uplink.url", "http:// to \(host) would send the token in clear: use https://")
            }
            if plain, !isLoopback(host), !settings.insecure {
                throw reader.fail(table.line(of: "url") ?? 0, "uplink.url",
                                  "http:// to \(host) sends the records in clear: use https://, or write insecure = true")
            }
        }
        settings.token = table["token"]?.string
        settings.timeout = try reader.integer(table, "timeout_s", settings.timeout, in: "uplink", range: 1...3_600)
        guard let host = table["host"]?.string ?? (settings.url != nil ? "" : nil) else {
            throw reader.fail(1, "uplink.host", "is required (the cloud broker), or url for HTTPS")
        }
        settings.host = host
        settings.port = try reader.integer(table, "port", settings.port, in: "uplink", range: 1...65_535)
        settings.clientID = table["client_id"]?.string ?? settings.clientID
        settings.topic = table["topic"]?.string ?? settings.topic
        settings.window = try reader.integer(table, "window", settings.window, in: "uplink", range: 1...10_000)
        settings.username = table["username"]?.string
        settings.password = table["password"]?.string
        (settings.caFile, settings.certificateFile, settings.keyFile) = try tlsFiles(table, "uplink", reader)
        if settings.url == nil, settings.caFile == nil, !isLoopback(host), settings.password != nil {
            throw reader.fail(table.line(of: "password") ?? 0, "uplink.password",
                              "MQTT without TLS to \(host) would send the password in clear: set ca_file")
        }
        if settings.url == nil, settings.caFile == nil, !isLoopback(host), !settings.insecure {
            throw reader.fail(table.line(of: "host") ?? 0, "uplink.host",
                              "MQTT without TLS to \(host) sends the records in clear: set ca_file, or write insecure = true")
        }
        return settings
    }

    static func api(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> APISettings? {
        guard let table = try reader.section(root, "api", ["host", "port", "max_connections", "request_timeout_s", "max_request_bytes",
                                                            "broker_down_s", "stale_input_s", "backlog_s"]) else {
            return nil
        }
        var settings = APISettings()
        settings.host = table["host"]?.string ?? settings.host
        guard isLoopback(settings.host), settings.host != "::1", settings.host != "[::1]" else {
            throw reader.fail(table.line(of: "host") ?? 0, "api.host",
                              "must be a loopback IPv4 address such as 127.0.0.1: the local API has no authentication")
        }
        if settings.host == "localhost" { settings.host = "127.0.0.1" }
        settings.port = try reader.integer(table, "port", settings.port, in: "api", range: 0...65_535)
        settings.connections = try reader.integer(table, "max_connections", settings.connections, in: "api", range: 1...1_024)
        settings.requestBytes = try reader.integer(table, "max_request_bytes", settings.requestBytes, in: "api", range: 1_024...(16 << 20))
        settings.requestSeconds = try reader.number(table, "request_timeout_s", settings.requestSeconds, in: "api", bound: .positive)
        guard settings.requestSeconds <= 60 else { throw reader.fail(table.line(of: "request_timeout_s") ?? 0, "api.request_timeout_s", "must be at most 60") }
        settings.brokerDownSeconds = try reader.number(table, "broker_down_s", settings.brokerDownSeconds, in: "api", bound: .positive)
        settings.staleInputSeconds = try reader.number(table, "stale_input_s", settings.staleInputSeconds, in: "api", bound: .nonNegative)
        settings.backlogSeconds = try reader.number(table, "backlog_s", settings.backlogSeconds, in: "api", bound: .positive)
        return settings
    }

    static func gateway(_ root: TOMLTable, _ reader: ConfigReader) throws(AgentError) -> GatewayLimits {
        var limits = GatewayLimits()
        guard let table = try reader.section(root, "gateway", ["max_vehicles", "log_lines_per_second"]) else { return limits }
        limits.vehicles = try reader.integer(table, "max_vehicles", limits.vehicles, in: "gateway", range: 1...100_000)
        limits.logLinesPerSecond = try reader.integer(table, "log_lines_per_second", limits.logLinesPerSecond, in: "gateway", range: 1...10_000)
        return limits
    }

    /// `https://host:port/path` -> host (brackets kept off an IPv6 literal); nil when there is none.
    static func host(ofURL url: String) -> String? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        var rest = url[scheme.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[rest.index(after: rest.startIndex)..<close]) }
        if let colon = rest.firstIndex(of: ":") { rest = rest[..<colon] }
        return rest.isEmpty ? nil : String(rest)
    }

    /// `ca_file`, `cert_file`, `key_file` of a broker section, each readable, the last two together.
    static func tlsFiles(_ table: TOMLTable, _ section: String, _ reader: ConfigReader) throws(AgentError)
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

}
