import Agent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The config reader on real files: the shipped simulator config, and mistakes reported at their line.
@Suite struct PipelineConfigTests {
    static let root = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/")).withLeadingSlash
    static let shipped = root + "/firmware-samples/celldrift_pack.toml"
    /// The same with the rules in amperes and the cell-drift model.
    static let withRules = root + "/firmware-samples/celldrift_pack_rules.toml"

    /// Writes the shipped config with `edit` applied into a temporary file beside the DBC.
    private func variant(_ edit: (String) -> String) throws -> String {
        let text = try #require(readText(Self.shipped))
        // mkstemps creates the file exclusively: tests run in parallel, and two once drew the same random
        // name, one reading the other's config.
        var template = Array((Self.root + "/firmware-samples/.test-XXXXXX.toml").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 5) }
        try #require(descriptor >= 0)
        let file = try #require(fdopen(descriptor, "w"))
        fputs(edit(text), file)
        fclose(file)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    @Test func theShippedConfigLoads() throws {
        let config = try PipelineConfig(path: Self.shipped)
        #expect(config.mapping.cells == 96)
        #expect(config.rules.map(\.alarm.name).contains("cell_spread"))
        #expect(config.rules.first { $0.alarm.name == "cell_spread" }?.alarm.raiseAbove == 0.050)
        // The rules in amperes and the cell-drift model are not on by default; the detectors are.
        #expect(config.rules.map(\.alarm.name) == ["cell_spread"] && config.cellModel == nil && config.detection.enabled)
        #expect(!config.detection.balancingMovesReadings)
        let withRules = try PipelineConfig(path: Self.withRules)
        #expect(Set(withRules.rules.map(\.alarm.name)) == ["cell_spread", "cell_resistance", "self_discharge"])
        #expect(withRules.cellModel != nil && withRules.mapping.cells == 96)
    }

    @Test(arguments: [
        ("raise_above = 0.050", "raise_abve = 0.050", "rules.cell_spread.raise_abve: unknown key"),
        // Issue 18: a misspelt [pack] key was accepted and its signal silently left unmapped.
        ("cell_temperature = ", "cell_temprature = ", "pack.cell_temprature: unknown key"),
        ("feature = \"spread\"", "feature = \"sprad\"", "rules.cell_spread: feature \"sprad\" is not one of spread, std"),
        ("window = 60", "window = 1", "features.window: must be a whole number from 2 to 10000"),
        ("stale_after_s = 5", "stale_after_s = -5", "snapshot.stale_after_s: must be above 0"),
        ("severity = 2", "severity = 7", "rules.cell_spread.severity: must be a whole number from 0 to 3"),
        // Numbers that once trapped, hung or allocated gigabytes (issue 14).
        ("window = 60", "window = 1e9", "features.window: must be a whole number from 2 to 10000"),
        ("window = 60", "window = 9223372036854775807", "features.window: must be a whole number from 2 to 10000"),
        ("severity = 2", "severity = -1", "rules.cell_spread.severity: must be a whole number from 0 to 3"),
        ("severity = 2", "severity = 9223372036854775807", "rules.cell_spread.severity: must be a whole number from 0 to 3"),
        ("[features]", "[features]\nresistance_steps = -1", "features.resistance_steps: must be a whole number from 1 to 1000"),
        ("[features]", "[features]\nresistance_steps = 9223372036854775807", "features.resistance_steps: must be a whole number"),
        ("cell_voltage = \"CellVoltage_{index:03}\"", "cell_voltage = \"CellVoltage_{index:03}\"\ncell_voltage_index_base = -1",
         "pack.cell_voltage_index_base: must be 0 to 1000000"),
        ("cell_voltage = \"CellVoltage_{index:03}\"", "cell_voltage = \"CellVoltage_{index:03}\"\ncell_voltage_index_base = 9223372036854775807",
         "pack.cell_voltage_index_base: must be 0 to 1000000"),
        ("cell_voltage = \"CellVoltage_{index:03}\"", "cell_voltage = \"CellVoltage_{index:03}\"\ncell_temperature_count = -1",
         "pack.cell_temperature_count: must be 0 to 4096"),
        ("[snapshot]", "[outbox]\nmax_records = -1\n[snapshot]", "outbox.max_records: must be a whole number from 1 to 100000000"),
        ("[snapshot]", "[outbox]\nmax_bytes = 1e300\n[snapshot]", "outbox.max_bytes: must be a whole number"),
        ("[snapshot]", "[api]\nport = 70000\n[snapshot]", "api.port: must be a whole number from 0 to 65535"),
        ("[snapshot]", "[mqtt]\nport = -1\n[snapshot]", "mqtt.port: must be a whole number from 1 to 65535"),
        ("[snapshot]", "[uplink]\nhost = \"127.0.0.1\"\nwindow = 0\n[snapshot]", "uplink.window: must be a whole number from 1 to 10000"),
        // Defaults that once let data leave in clear or an unauthenticated API listen on every interface.
        ("[snapshot]", "[api]\nhost = \"0.0.0.0\"\n[snapshot]", "api.host: must be a loopback IPv4 address"),
        ("[snapshot]", "[uplink]\nhost = \"cloud.example.com\"\n[snapshot]", "uplink.host: MQTT without TLS to cloud.example.com sends the records in clear"),
        ("[snapshot]", "[uplink]\nurl = \"http://cloud.example.com/in\"\ntoken = \"t\"\ninsecure = true\n[snapshot]",
         "uplink.url: http:// to cloud.example.com would send the token in clear"),
        ("[snapshot]", "[uplink]\nurl = \"http://cloud.example.com/in\"\n[snapshot]",
         "uplink.url: http:// to cloud.example.com sends the records in clear"),
        ("[snapshot]", "[uplink]\nhost = \"cloud.example.com\"\nusername = \"u\"\npassword = \"p\"\ninsecure = true\n[snapshot]",
         "uplink.password: MQTT without TLS to cloud.example.com would send the password in clear"),
        ("[snapshot]", "[mqtt]\nhost = \"10.0.0.2\"\nusername = \"u\"\npassword = \"p\"\n[snapshot]",
         "mqtt.password: would cross the network in clear to 10.0.0.2"),
        ("dbc = \"celldrift_pack.dbc\"", "dbc = \"celldrift_pack.dbc\"\nvehicle = \"ev/+\"", "vehicle: a vehicle id cannot hold /, +, #"),
        ("[snapshot]", "[detection]\nbalancing_moves_readings = \"yes\"\n[snapshot]", "detection.balancing_moves_readings: must be true or false"),
        // Per-cell bleed flags without the current that sizes them.
        ("cell_balancing = \"CellBalancing_{index:03}\"   # which cells it bleeds: a leak balancing hides\nbalancing_current_a = 0.06",
         "cell_balancing = \"CellBalancing_{index:03}\"\n#", "pack.cell_balancing: needs pack.balancing_current_a"),
        ("cell_balancing = \"CellBalancing_{index:03}\"", "cell_balancing = \"CellBleed_{index:03}\"", "pack.cell_balancing: the DBC has no signal CellBleed_000"),
    ])
    func mistakesNameTheirLine(original: String, replacement: String, message: String) throws {
        let path = try variant { $0.replacingFirst(original, with: replacement) }
        defer { unlink(path) }
        let text = try #require(readText(path))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let key = message.split(separator: ":")[0].split(separator: ".").last.map(String.init) ?? ""
        // The line of the key the message names, within the replacement.
        let head = String(replacement.split(separator: "\n")[0])
        let first = try #require(lines.firstIndex { $0.hasPrefix(head) })
        let line = (first..<lines.count).first { lines[$0].hasPrefix(key + " ") || lines[$0].hasPrefix(key + "=") }.map { $0 + 1 } ?? first + 1
        #expect(throws: AgentError.self) { try PipelineConfig(path: path) }
        do { _ = try PipelineConfig(path: path) } catch {
            #expect(error.description.hasPrefix("\(path):\(line): \(message)"), "\(error.description)")
        }
    }

    @Test func theShippedConfigSizesLeaksFromTheBleedFlags() throws {
        let path = try variant { $0 }
        defer { unlink(path) }
        let config = try PipelineConfig(path: path)
        #expect(config.detection.bleedCurrent == 0.06 && config.mapping.mapsCellBalancing)
    }

    /// The current without mapped flags: for JSON snapshots, whose flags come in the payload.
    @Test func aBleedCurrentWithoutMappedFlagsIsForSnapshotsThatCarryThem() throws {
        let path = try variant { $0.replacingFirst("cell_balancing = \"CellBalancing_{index:03}\"", with: "# flags in the snapshots") }
        defer { unlink(path) }
        let config = try PipelineConfig(path: path)
        #expect(config.detection.bleedCurrent == 0.06 && !config.mapping.mapsCellBalancing)
    }

    /// A BMS that bleeds at rest without its flag mapped raised 46 false leaks per 1,000 healthy hours on
    /// heldout-bleed (docs/fleet.md): a DBC that has the flag and a mapping that leaves it out is warned of,
    /// naming the signals, at the [pack] line; a mapping with either flag is not.
    @Test func aBalancingFlagTheMappingLeavesOutIsWarnedOf() throws {
        let unmapped = try variant {
            $0.replacingFirst("balancing = \"BalancingActive\"", with: "# no pack flag")
                .replacingFirst("cell_balancing = \"CellBalancing_{index:03}\"", with: "# no cell flags")
                .replacingFirst("balancing_current_a = 0.06", with: "# no current")
        }
        defer { unlink(unmapped) }
        let config = try PipelineConfig(path: unmapped)
        // The DBC has a bleed flag for each of up to 192 cells, and the pack flag.
        #expect(config.mapping.unmappedBalancingFlags.count == 193)
        #expect(config.mapping.unmappedBalancingFlags.prefix(2) == ["BalancingActive", "CellBalancing_000"])
        let packLine = try #require(readText(unmapped)?.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("[pack]") }) + 1
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.hasPrefix("\(unmapped):\(packLine): pack.balancing: not mapped") == true)
        #expect(config.warnings.first?.contains("(BalancingActive, CellBalancing_000, CellBalancing_001, CellBalancing_002 and 189 more)") == true)

        let packFlagOnly = try variant {
            $0.replacingFirst("cell_balancing = \"CellBalancing_{index:03}\"", with: "# no cell flags")
        }
        defer { unlink(packFlagOnly) }
        #expect(try PipelineConfig(path: packFlagOnly).warnings.isEmpty)
        #expect(try PipelineConfig(path: Self.shipped).warnings.isEmpty)
    }

    @Test func aBMSThatMeasuresWhileItBleedsIsSaidSo() throws {
        let path = try variant { $0.replacingFirst("[snapshot]", with: "[detection]\nbalancing_moves_readings = true\n[snapshot]") }
        defer { unlink(path) }
        #expect(try PipelineConfig(path: path).detection.balancingMovesReadings)
    }

    @Test func insecureIsWrittenToAllowPlaintextToAnotherHost() throws {
        let path = try variant { $0.replacingFirst("[snapshot]", with: "[uplink]\nhost = \"cloud.example.com\"\ninsecure = true\n[snapshot]") }
        defer { unlink(path) }
        let config = try PipelineConfig(path: path)
        #expect(config.uplink?.insecure == true && config.uplink?.host == "cloud.example.com")
    }

    /// Once a stack overflow (issue 14): 100,000 nested brackets.
    @Test func deeplyNestedArraysAreAnError() throws {
        let path = try variant { $0.replacingFirst("[snapshot]", with: "deep = " + String(repeating: "[", count: 100_000) + "\n[snapshot]") }
        defer { unlink(path) }
        do {
            _ = try PipelineConfig(path: path)
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("arrays and inline tables nested more than 64 deep"), "\(error)")
        }
    }
}

func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    var withLeadingSlash: String { hasPrefix("/") ? self : "/" + self }

    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
