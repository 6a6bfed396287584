import CAN
import JSON

/// One pack snapshot (docs/snapshots.md), read from a JSON line.
public struct Snapshot {
    public let vehicle: String?
    public let time: Double
    public let voltages: [Double]
    public let temperatures: [Double]
    public let current: Double?
    /// Pack voltage (V), when the payload has it.
    public let voltage: Double?
    /// State of charge (%), when the payload has it.
    public let soc: Double?
    /// Whether the BMS bleeds any cell, and which, when the payload has them (one flag per cell).
    public let balancing: Bool?
    public let cellBalancing: [Bool]?

    public init(json bytes: [UInt8]) throws {
        let value = try JSONParser.parse(bytes)
        guard let time = value["ts"]?.double else { throw AgentError("field \"ts\" is missing or not a number") }
        guard VehiclePipeline.takesTime(time) else {
            throw AgentError("field \"ts\": \(time) is not seconds since 1970 before 2100 (milliseconds?)")
        }
        guard let cells = value["cell_voltages"]?.array, !cells.isEmpty else {
            throw AgentError("field \"cell_voltages\" is missing or empty")
        }
        voltages = try cells.enumerated().map { index, cell -> Double in
            guard let number = cell.double else { throw AgentError("cell_voltages[\(index)] is not a number") }
            return number
        }
        temperatures = (value["cell_temperatures"]?.array ?? []).compactMap(\.double)
        vehicle = value["vehicle"]?.string
        current = value["current"]?.double
        voltage = value["voltage"]?.double
        soc = value["soc"]?.double
        balancing = try value["balancing"].map { try Self.flag($0, "field \"balancing\"") }
        cellBalancing = try value["cell_balancing"].map { field in
            guard let flags = field.array, flags.count == cells.count else {
                throw AgentError("field \"cell_balancing\" is not an array of \(cells.count) flags, one per cell voltage")
            }
            return try flags.enumerated().map { index, flag in try Self.flag(flag, "cell_balancing[\(index)]") }
        }
        self.time = time
    }

    /// A flag: true or false, or 1 or 0 as a BMS's signal carries it.
    private static func flag(_ value: JSONValue, _ name: String) throws -> Bool {
        if let flag = value.bool { return flag }
        if let number = value.double, number == 0 || number == 1 { return number == 1 }
        throw AgentError("\(name) is not true, false, 1 or 0")
    }
}

extension Snapshot {
    /// Refuses a snapshot of another pack size than the mapping's, before any pipeline takes it.
    public func requireCells(_ cells: Int) throws(AgentError) {
        guard voltages.count == cells else { throw AgentError("\(voltages.count) cell voltages; the config's pack has \(cells)") }
    }
}

/// Whether a stream holds JSON snapshots rather than a CAN log: its first non-blank character is `{`.
/// That line is handed out again by `lines`' next call, so the same stream (standard input, read once)
/// goes on to whichever reader it needs.
public func holdsSnapshots(_ lines: inout LineSource) throws -> Bool {
    // A binary log's first "line" may be longer than the buffer and could not be handed back.
    if LogFormat.detect(magic: try lines.peek(8)) != nil { return false }
    while let line = try lines.next() {
        guard let first = line.bytes.first(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
        let snapshot = first == UInt8(ascii: "{")
        _ = lines.unread()
        return snapshot
    }
    return false
}

/// Every snapshot of a JSON-lines file; a bad line is reported through `report` with file:line and
/// skipped. Returns the number of bad lines.
public func forEachSnapshot(in path: String, report: (String) -> Void, _ body: (Snapshot) throws -> Void) throws -> Int {
    var lines = LineSource(file: try CompressedFile(path: path))
    defer { lines.deallocate() }
    return try forEachSnapshot(lines: &lines, report: report, body)
}

/// The same from a stream already open.
public func forEachSnapshot(lines: inout LineSource, report: (String) -> Void, _ body: (Snapshot) throws -> Void) throws -> Int {
    let path = lines.path
    var bad = 0
    while let line = try lines.next() {
        if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
        do {
            try body(try Snapshot(json: Array(line.bytes)))
        } catch {
            bad += 1
            report("\(path == "-" ? "<stdin>" : path):\(line.number): \(error); line skipped")
        }
    }
    return bad
}
