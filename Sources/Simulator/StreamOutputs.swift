import CAN
import DBC
import JSON

/// JSON snapshots, one line each, in the payload the daemon accepts over MQTT (docs/snapshots.md).
public final class SnapshotWriter: SimulationObserver {
    private let vehicle: Vehicle
    private let output: OutputBuffer
    private let interval: Int
    private let window: Range<Double>

    public init(vehicle: Vehicle, output: OutputBuffer, interval: Int = 1, window: Range<Double> = 0..<Double.infinity) {
        self.vehicle = vehicle
        self.output = output
        self.interval = max(1, interval)
        self.window = window
    }

    public func record(_ sample: Sample) {
        guard window.contains(sample.time), Int(sample.time) % interval == 0 else { return }
        let pack = sample.pack
        let seconds = Double(vehicle.startNanoseconds) / 1e9 + sample.time
        var line = "{\"vehicle\": \"\(vehicle.vin)\", \"ts\": \(Int64(seconds)), \"cell_voltages\": ["
        line += pack.measuredVoltage.map { fixed($0, 4) }.joined(separator: ", ")
        line += "], \"cell_temperatures\": ["
        line += pack.temperature.map { fixed($0, 1) }.joined(separator: ", ")
        line += "], \"current\": \(fixed(sample.current, 2)), \"voltage\": \(fixed(pack.measuredVoltage.reduce(0, +), 2))"
        line += ", \"soc\": \(fixed(pack.meanSOC * 100, 2)), \"state\": \"\(sample.activity.name)\""
        line += ", \"balancing\": \(pack.isBalancing), \"cell_balancing\": ["
        line += pack.bleeding.map { $0 ? "1" : "0" }.joined(separator: ", ")
        line += "]}\n"
        output.append(line)
    }

    public func finish() { output.flush() }
}

extension Activity {
    public var name: String {
        switch self {
        case .rest: return "rest"
        case .driving: return "driving"
        case .acCharging: return "ac-charging"
        case .dcCharging: return "dc-charging"
        }
    }
}

/// `value` with exactly `decimals` decimals, rounded half away from zero; deterministic text.
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int64(scaled / scale)
    let fraction = Int64(scaled - Double(whole) * scale)
    let digits = String(fraction)
    let padded = String(repeating: "0", count: max(0, decimals - digits.count)) + digits
    let sign = value < 0 && scaled != 0 ? "-" : ""
    return decimals == 0 ? sign + String(whole) : sign + String(whole) + "." + padded
}

/// The frames a BMS sends, per the pack DBC (firmware-samples/celldrift_pack.dbc): pack status and
/// cell extremes every 100 ms, every cell-voltage page, every temperature page and (where the DBC has
/// them) every page of the cells' balancing flags once a second, spread over the second. Written as candump -L or Vector ASC.
public final class CANLogWriter: SimulationObserver {
    public enum Format { case candump, asc }

    private let database: CompiledDatabase
    private let vehicle: Vehicle
    private let output: OutputBuffer
    private let format: Format
    private let window: Range<Double>
    private var asc = ASCWriter()
    private var wroteHeader = false
    private var counter: UInt64 = 0
    private let status: Int, extremes: Int, voltages: Int, temperatures: Int
    private let statusSignals: [Int], extremeSignals: [Int]
    private let voltageSignals: [Int], temperatureSignals: [Int]
    private let balancing: Int?, balancingSignals: [Int]

    public enum SetupError: Error, CustomStringConvertible {
        case missing(String)
        case tooManyCells(Int, Int)
        public var description: String {
            switch self {
            case .missing(let name): return "the pack DBC has no \(name)"
            case let .tooManyCells(cells, limit): return "the pack DBC carries \(limit) cells; the pack has \(cells)"
            }
        }
    }

    public init(database: CompiledDatabase, vehicle: Vehicle, cells: Int, output: OutputBuffer, format: Format,
                window: Range<Double> = 0..<Double.infinity) throws {
        self.database = database
        self.vehicle = vehicle
        self.output = output
        self.format = format
        self.window = window
        func message(_ name: String) throws -> Int {
            guard let index = database.messageIndex(named: name) else { throw SetupError.missing("message \(name)") }
            return index
        }
        func signals(_ message: Int, _ names: [String]) throws -> [Int] {
            let definition = database.database.messages[message]
            return try names.map { name in
                guard let index = definition.signals.firstIndex(where: { $0.name == name }) else {
                    throw SetupError.missing("signal \(definition.name).\(name)")
                }
                return index
            }
        }
        status = try message("PackStatus")
        extremes = try message("CellExtremes")
        voltages = try message("CellVoltages")
        temperatures = try message("CellTemperatures")
        statusSignals = try signals(status, ["PackVoltage", "PackCurrent", "PackSoC", "ChargeState", "BalancingActive", "StatusCounter"])
        extremeSignals = try signals(extremes, ["CellVoltageMax", "CellVoltageMin", "CellVoltageMaxIndex", "CellVoltageMinIndex",
                                                "CellTemperatureMax", "CellTemperatureMin"])
        let available = database.database.messages[voltages].signals.count - 1
        guard cells <= available else { throw SetupError.tooManyCells(cells, available) }
        voltageSignals = try signals(voltages, ["CellVoltagePage"] + (0..<cells).map { "CellVoltage_" + Self.three($0) })
        temperatureSignals = try signals(temperatures, ["CellTemperaturePage"] + (0..<cells).map { "CellTemperature_" + Self.three($0) })
        // A DBC written before the per-cell flags (pack DBC 1.0 without CellBalancing) still simulates.
        balancing = database.messageIndex(named: "CellBalancing")
        balancingSignals = try balancing.map { try signals($0, ["CellBalancingPage"] + (0..<cells).map { "CellBalancing_" + Self.three($0) }) } ?? []
    }

    private static func three(_ value: Int) -> String { value < 10 ? "00\(value)" : value < 100 ? "0\(value)" : "\(value)" }

    private func raw(_ value: Double, _ message: Int, _ signal: Int) -> UInt64 {
        database.saturatedRaw(value, message: message, signal: signal)
    }

    private func emit(_ message: Int, _ signals: [Int], _ values: [UInt64], at nanoseconds: Int64) {
        var frame = database.encode(message: message, signals: signals, rawValues: values)
        frame.timestamp = nanoseconds
        switch format {
        case .candump:
            output.append(CandumpWriter.line(for: frame))
        case .asc:
            if !wroteHeader {
                output.append(ASCWriter.header(epochNanoseconds: nanoseconds))
                wroteHeader = true
            }
            output.append(asc.line(for: frame))
        }
        output.append(UInt8(ascii: "\n"))
    }

    public func record(_ sample: Sample) {
        guard window.contains(sample.time) else { return }
        let pack = sample.pack
        let base = vehicle.startNanoseconds + Int64(sample.time) * 1_000_000_000
        let cells = pack.cellCount
        let high = pack.measuredVoltage.indices.max { pack.measuredVoltage[$0] < pack.measuredVoltage[$1] } ?? 0
        let low = pack.measuredVoltage.indices.min { pack.measuredVoltage[$0] < pack.measuredVoltage[$1] } ?? 0
        let statusValues: [UInt64] = [
            raw(pack.measuredVoltage.reduce(0, +), status, statusSignals[0]), raw(sample.current, status, statusSignals[1]),
            raw(pack.meanSOC * 100, status, statusSignals[2]), UInt64(sample.activity.rawValue), pack.isBalancing ? 1 : 0, 0,
        ]
        let extremeValues: [UInt64] = [
            raw(pack.measuredVoltage[high] * 1000, extremes, extremeSignals[0]),
            raw(pack.measuredVoltage[low] * 1000, extremes, extremeSignals[1]), UInt64(high), UInt64(low),
            raw(pack.temperature.max() ?? 0, extremes, extremeSignals[4]), raw(pack.temperature.min() ?? 0, extremes, extremeSignals[5]),
        ]
        let voltagePages = (cells + 2) / 3
        let temperaturePages = (cells + 5) / 6
        // 10 status and 10 extreme frames, and every page, in time order within the second.
        var events: [(Int64, Int, Int)] = []  // (offset ns, kind, page)
        for tick in 0..<10 {
            events.append((Int64(tick) * 100_000_000 + 1_000_000, 0, 0))
            events.append((Int64(tick) * 100_000_000 + 2_000_000, 1, 0))
        }
        for page in 0..<voltagePages { events.append((Int64(page) * 900_000_000 / Int64(voltagePages) + 10_000_000, 2, page)) }
        for page in 0..<temperaturePages { events.append((Int64(page) * 900_000_000 / Int64(temperaturePages) + 40_000_000, 3, page)) }
        if balancing != nil {
            let balancingPages = (cells + 47) / 48
            for page in 0..<balancingPages { events.append((Int64(page) * 900_000_000 / Int64(balancingPages) + 70_000_000, 4, page)) }
        }
        events.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        for (offset, kind, page) in events {
            switch kind {
            case 0:
                var values = statusValues
                values[5] = counter & 0xF
                counter &+= 1
                emit(status, statusSignals, values, at: base + offset)
            case 1:
                emit(extremes, extremeSignals, extremeValues, at: base + offset)
            case 2:
                let members = (page * 3)..<min(cells, page * 3 + 3)
                emit(voltages, [voltageSignals[0]] + members.map { voltageSignals[$0 + 1] },
                     [UInt64(page)] + members.map { raw(pack.measuredVoltage[$0] * 1000, voltages, voltageSignals[$0 + 1]) },
                     at: base + offset)
            case 4:
                guard let balancing else { break }
                let members = (page * 48)..<min(cells, page * 48 + 48)
                emit(balancing, [balancingSignals[0]] + members.map { balancingSignals[$0 + 1] },
                     [UInt64(page)] + members.map { pack.bleeding[$0] ? 1 : 0 }, at: base + offset)
            default:
                let members = (page * 6)..<min(cells, page * 6 + 6)
                emit(temperatures, [temperatureSignals[0]] + members.map { temperatureSignals[$0 + 1] },
                     [UInt64(page)] + members.map { raw(pack.temperature[$0], temperatures, temperatureSignals[$0 + 1]) },
                     at: base + offset)
            }
        }
    }

    public func finish() {
        if format == .asc {
            if !wroteHeader { output.append(ASCWriter.header(epochNanoseconds: vehicle.startNanoseconds)) }
            output.append(ASCWriter.footer)
        }
        output.flush()
    }
}
