import DBC
import TOML

/// What a decoded signal means for the pack.
public enum SignalRole: Sendable, Equatable {
    case none
    case cellVoltage(Int)
    case cellTemperature(Int)
    case current
    case voltage
    case soc
    case cellVoltageMax
    case cellVoltageMin
    /// The BMS's passive balancing flag: non-zero while it bleeds cells.
    case balancing
    /// The BMS bleeding this cell (non-zero while it does): which cells the balancing takes charge from.
    case cellBalancing(Int)
}

/// A mistake in the `[pack]` section, with the line of the key.
public struct MappingError: Error, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String
    public var description: String { "\(path):\(line): \(message)" }
}

/// Which DBC signals carry the pack's cell voltages, temperatures, current, voltage and SOC, resolved
/// against a compiled DBC into one role and one scale per signal (volts, °C, amperes positive when
/// discharging, percent). See docs/mapping.md.
public struct PackMapping: Sendable {
    public let cells: Int
    public let temperatureSensors: Int
    /// The DBC signal names of the cells and of the temperature sensors, in the mapping's order: how
    /// alarms name them.
    public let cellNames: [String]
    public let sensorNames: [String]
    /// The user's number of the first cell and sensor (`*_index_base`): cell position p is the user's
    /// cell p + base.
    public let cellNumberBase: Int
    public let sensorNumberBase: Int
    /// Whether each cell's bleed flag is mapped (`cell_balancing`), and whether either balancing flag is.
    public let mapsCellBalancing: Bool
    public let mapsABalancingFlag: Bool
    /// With no balancing flag mapped, the DBC's one-bit signals named like one (`balanc`, `bleed`), as a
    /// mapping would write them: a BMS that bleeds its high cells at rest makes them fall as a leaking cell
    /// does, which only its flag tells apart (docs/mapping.md).
    public let unmappedBalancingFlags: [String]
    /// Indexed like the compiled database's signals: firstSignal(message) + signal.
    let roles: [SignalRole]
    let scales: [Double]
    let firstSignal: [Int]

    /// The indices of the messages that carry a mapped signal: what a kernel filter lets through.
    public var mappedMessages: [Int] {
        firstSignal.indices.filter { message in
            let end = message + 1 < firstSignal.count ? firstSignal[message + 1] : roles.count
            return roles[firstSignal[message]..<end].contains { $0 != .none }
        }
    }

    public init(_ table: TOMLTable, path: String, database: CompiledDatabase) throws(MappingError) {
        func fail(_ key: String, _ message: String) -> MappingError {
            MappingError(path: path, line: table.line(of: key) ?? 0, message: "pack.\(key): \(message)")
        }
        guard let cellCount = table["cells"]?.integer, cellCount > 0, cellCount <= 4096 else {
            throw fail("cells", "the number of cells in series (1 to 4096) is required")
        }
        cells = Int(cellCount)
        // Where each signal name lives (a name in several messages is ambiguous).
        var byName: [String: [(message: Int, signal: Int)]] = [:]
        var first: [Int] = []
        var total = 0
        for (messageIndex, message) in database.database.messages.enumerated() {
            first.append(total)
            for (signalIndex, signal) in message.signals.enumerated() {
                byName[signal.name, default: []].append((messageIndex, signalIndex))
            }
            total += message.signals.count
        }
        firstSignal = first
        var roles = [SignalRole](repeating: .none, count: total)
        var scales = [Double](repeating: 1, count: total)

        func locate(_ key: String, _ name: String) throws(MappingError) -> (Int, Int) {
            // "Message.Signal" picks the message when a signal name is in several.
            if let dot = name.firstIndex(of: "."), let messageIndex = database.messageIndex(named: String(name[..<dot])) {
                let signalName = String(name[name.index(after: dot)...])
                guard let signal = database.database.messages[messageIndex].signals.firstIndex(where: { $0.name == signalName }) else {
                    throw fail(key, "message \(name[..<dot]) has no signal \(signalName)")
                }
                return (messageIndex, signal)
            }
            guard let places = byName[name] else { throw fail(key, "the DBC has no signal \(name)") }
            guard places.count == 1 else {
                let messages = places.map { database.messages[$0.message].name }.joined(separator: ", ")
                throw fail(key, "signal \(name) is in several messages (\(messages)); write Message.\(name)")
            }
            return places[0]
        }
        func scale(_ key: String, unit: String?, signal: (Int, Int), kind: String) throws(MappingError) -> Double {
            let dbcUnit = database.signal(message: signal.0, signal: signal.1).unit
            let chosen = (unit ?? dbcUnit).trimmingCharacters()
            switch (kind, chosen) {
            case ("voltage", "V"), ("voltage", "v"), ("pack voltage", "V"), ("pack voltage", "v"): return 1
            case ("voltage", "mV"), ("voltage", "mv"), ("pack voltage", "mV"), ("pack voltage", "mv"): return 0.001
            case ("pack voltage", "dV"), ("pack voltage", "dv"): return 0.1
            case ("pack voltage", "cV"), ("pack voltage", "cv"): return 0.01
            case ("pack voltage", "kV"), ("pack voltage", "kv"): return 1000
            case ("current", "A"), ("current", "a"), ("current", "Amp"), ("current", "Amps"), ("current", "amps"): return 1
            case ("current", "mA"), ("current", "ma"): return 0.001
            case ("current", "dA"), ("current", "da"): return 0.1
            case ("current", "cA"), ("current", "ca"): return 0.01
            case ("current", "kA"), ("current", "ka"): return 1000
            case ("temperature", "degC"), ("temperature", "°C"), ("temperature", "C"), ("temperature", "deg C"): return 1
            // Pack current and voltage without a unit in the DBC are taken as A and V (as before units were read).
            case ("current", ""), ("pack voltage", ""): return 1
            case ("voltage", ""), ("temperature", ""):
                throw fail(key, "the DBC gives no unit for \(database.signal(message: signal.0, signal: signal.1).name); set \(key)_unit")
            default:
                let known = ["voltage": "V, mV", "pack voltage": "V, dV, cV, mV, kV", "current": "A, dA, cA, mA, kA"][kind] ?? "degC, °C"
                throw fail(key, "unit '\(chosen)' of \(database.signal(message: signal.0, signal: signal.1).name) is not one of \(known); "
                           + "set \(key)_unit")
            }
        }
        func assign(_ key: String, _ names: [String], _ role: (Int) -> SignalRole, unitKind: String?) throws(MappingError) {
            let unit = table["\(key)_unit"]?.string
            for (index, name) in names.enumerated() {
                let place = try locate(key, name)
                let slot = first[place.0] + place.1
                guard roles[slot] == .none else { throw fail(key, "signal \(name) is mapped twice") }
                roles[slot] = role(index)
                scales[slot] = try unitKind.map { (kind: String) throws(MappingError) -> Double in
                    try scale(key, unit: unit, signal: place, kind: kind)
                } ?? 1
            }
        }
        func names(_ key: String, count: Int) throws(MappingError) -> [String]? {
            if let list = table["\(key)s"]?.array {
                let names = list.compactMap(\.string)
                guard names.count == list.count, names.count == count else {
                    throw fail("\(key)s", "expected a list of \(count) signal names")
                }
                return names
            }
            guard let pattern = table[key]?.string else { return nil }
            let baseValue = table["\(key)_index_base"]?.integer ?? 0
            guard (0...1_000_000).contains(baseValue) else { throw fail("\(key)_index_base", "must be 0 to 1000000") }
            let base = Int(baseValue)
            return try (0..<count).map { (cell: Int) throws(MappingError) -> String in
                guard let name = Self.expand(pattern, base + cell) else {
                    throw fail(key, "pattern '\(pattern)' needs {index} or {index:0N}")
                }
                return name
            }
        }
        guard let voltageNames = try names("cell_voltage", count: cells) else {
            throw fail("cell_voltage", "cell_voltage (a pattern such as \"CellVoltage_{index:03}\") or cell_voltages (a list) is required")
        }
        try assign("cell_voltage", voltageNames, { .cellVoltage($0) }, unitKind: "voltage")
        cellNames = voltageNames
        cellNumberBase = Int(table["cell_voltage_index_base"]?.integer ?? 0)
        sensorNumberBase = Int(table["cell_temperature_index_base"]?.integer ?? 0)
        let sensorCount = table["cell_temperature_count"]?.integer ?? Int64(cells)
        guard (0...4096).contains(sensorCount) else { throw fail("cell_temperature_count", "must be 0 to 4096") }
        let sensors = Int(sensorCount)
        if let temperatureNames = try names("cell_temperature", count: sensors) {
            try assign("cell_temperature", temperatureNames, { .cellTemperature($0) }, unitKind: "temperature")
            temperatureSensors = sensors
            sensorNames = temperatureNames
        } else {
            temperatureSensors = 0
            sensorNames = []
        }
        if let balancingNames = try names("cell_balancing", count: cells) {
            try assign("cell_balancing", balancingNames, { .cellBalancing($0) }, unitKind: nil)
            mapsCellBalancing = true
        } else {
            mapsCellBalancing = false
        }
        let single: [(String, SignalRole, String?)] = [("current", .current, "current"), ("voltage", .voltage, "pack voltage"),
                                                       ("soc", .soc, nil),
                                                       ("cell_voltage_max", .cellVoltageMax, "voltage"),
                                                       ("cell_voltage_min", .cellVoltageMin, "voltage"),
                                                       ("balancing", .balancing, nil)]
        for (key, role, kind) in single {
            guard let name = table[key]?.string else { continue }
            try assign(key, [name], { _ in role }, unitKind: kind)
        }
        if let name = table["current"]?.string {
            let place = try locate("current", name)
            switch table["current_positive"]?.string ?? "discharge" {
            case "discharge": break
            case "charge": scales[first[place.0] + place.1] *= -1
            default: throw fail("current_positive", "must be \"discharge\" or \"charge\"")
            }
        }
        self.roles = roles
        self.scales = scales
        mapsABalancingFlag = table["balancing"] != nil || mapsCellBalancing
        var lookalikes: [String] = []
        if !mapsABalancingFlag {
            for (messageIndex, message) in database.database.messages.enumerated() {
                for (signalIndex, signal) in message.signals.enumerated()
                where signal.length == 1 && roles[first[messageIndex] + signalIndex] == .none {
                    let name = signal.name.lowercased()
                    guard name.contains("balanc") || name.contains("bleed") else { continue }
                    lookalikes.append(byName[signal.name, default: []].count > 1 ? "\(message.name).\(signal.name)" : signal.name)
                }
            }
        }
        // A pack's flag before the cells' (named with their numbers), so the warning's first names are the ones to map.
        unmappedBalancingFlags = lookalikes.filter { !$0.contains(where: \.isNumber) } + lookalikes.filter { $0.contains(where: \.isNumber) }
    }

    /// `CellVoltage_{index:03}` with 7 -> `CellVoltage_007`; `{index}` without padding.
    static func expand(_ pattern: String, _ index: Int) -> String? {
        guard let open = pattern.firstRange(of: "{index"), let close = pattern[open.upperBound...].firstIndex(of: "}") else {
            return nil
        }
        let format = pattern[open.upperBound..<close]
        var digits = String(index)
        if format.hasPrefix(":0"), let width = Int(format.dropFirst(2)) {
            digits = String(repeating: "0", count: max(0, width - digits.count)) + digits
        } else if !format.isEmpty {
            return nil
        }
        return String(pattern[..<open.lowerBound]) + digits + String(pattern[pattern.index(after: close)...])
    }

    @inline(__always) func slot(message: Int, signal: Int) -> Int { firstSignal[message] + signal }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
