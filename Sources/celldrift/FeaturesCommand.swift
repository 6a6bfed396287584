import ArgumentParser
import CAN
import Consistency
import JSON

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Compute consistency features from pack snapshots (JSON lines, docs/snapshots.md).",
        discussion: """
            Prints one JSON object per snapshot: spread, std, max_modified_z, entropy, temperature_range, \
            median, and per cell deviation, deviation_slope_v_per_h and correlation over the last --window \
            snapshots (docs/features.md). Snapshots of each vehicle are kept apart. A malformed line is \
            reported with its file and line and skipped.
            """
    )

    @Argument(help: "Snapshot files (.jsonl, .gz works); standard input when none.")
    var files: [String] = []

    @Option(help: "Snapshots in the rolling window.")
    var window = 60

    func validate() throws {
        guard window >= 2 else { throw ValidationError("--window must be at least 2") }
    }

    func run() throws {
        let output = OutputBuffer(fd: 1)
        var perVehicle: [String: ConsistencyFeatures] = [:]
        var bad = 0
        for path in files.isEmpty ? ["-"] : files {
            bad += try forEachSnapshot(in: path) { snapshot in try process(snapshot, &perVehicle, output) }
        }
        output.flush()
        if bad > 0 { StandardError.line("\(bad) bad snapshot lines skipped") }
    }

    private func process(_ snapshot: Snapshot, _ perVehicle: inout [String: ConsistencyFeatures], _ output: OutputBuffer) throws {
        let vehicle = snapshot.vehicle ?? ""
        let time = snapshot.time
        let features = perVehicle[vehicle] ?? ConsistencyFeatures(cells: snapshot.voltages.count, window: window)
        guard features.cells == snapshot.voltages.count else {
            throw CommandError("\(snapshot.voltages.count) cell voltages where earlier snapshots of this vehicle had \(features.cells)")
        }
        perVehicle[vehicle] = features
        snapshot.voltages.withUnsafeBufferPointer { voltageBuffer in
            snapshot.temperatures.withUnsafeBufferPointer { features.update(time: time, voltages: voltageBuffer, temperatures: $0) }
        }
        output.append(featuresJSON(vehicle: vehicle, time: time, features))
    }
}

/// One snapshot's features as a JSON line (docs/features.md); `celldrift features` and `replay --features-out`.
func featuresJSON(vehicle: String, time: Double, _ features: ConsistencyFeatures) -> String {
    func list(_ values: UnsafeMutableBufferPointer<Double>) -> String { values.map { "\($0)" }.joined(separator: ", ") }
    return "{\"vehicle\": \(String(decoding: JSONText.quoted(vehicle), as: UTF8.self)), \"ts\": \(time), "
        + "\"spread\": \(features.spread), \"std\": \(features.standardDeviation), "
        + "\"max_modified_z\": \(features.maximumModifiedZ), \"entropy\": \(features.entropy), "
        + "\"temperature_range\": \(features.temperatureRange), \"median\": \(features.median), "
        + "\"deviation\": [\(list(features.deviation))], \"deviation_slope_v_per_h\": [\(list(features.deviationSlope))], "
        + "\"correlation\": [\(list(features.correlation))]}\n"
}

/// The CSV header of `featuresCSV` for `cells` cells.
func featuresCSVHeader(cells: Int) -> String {
    "vehicle,ts,spread,std,max_modified_z,entropy,temperature_range,median"
        + (0..<cells).map { ",deviation_\($0)" }.joined() + (0..<cells).map { ",deviation_slope_\($0)" }.joined()
        + (0..<cells).map { ",correlation_\($0)" }.joined() + "\n"
}

/// One snapshot's features as a CSV row, per-cell values in columns.
func featuresCSV(vehicle: String, time: Double, _ features: ConsistencyFeatures) -> String {
    "\(vehicle),\(time),\(features.spread),\(features.standardDeviation),\(features.maximumModifiedZ),\(features.entropy),"
        + "\(features.temperatureRange),\(features.median)"
        + features.deviation.map { ",\($0)" }.joined() + features.deviationSlope.map { ",\($0)" }.joined()
        + features.correlation.map { ",\($0)" }.joined() + "\n"
}

/// One pack snapshot (docs/snapshots.md), read from a JSON line.
struct Snapshot {
    let vehicle: String?
    let time: Double
    let voltages: [Double]
    let temperatures: [Double]
    let current: Double?

    init(json bytes: [UInt8]) throws {
        let value = try JSONParser.parse(bytes)
        guard let time = value["ts"]?.double else { throw CommandError("field \"ts\" is missing or not a number") }
        guard let cells = value["cell_voltages"]?.array, !cells.isEmpty else {
            throw CommandError("field \"cell_voltages\" is missing or empty")
        }
        voltages = try cells.enumerated().map { index, cell -> Double in
            guard let number = cell.double else { throw CommandError("cell_voltages[\(index)] is not a number") }
            return number
        }
        temperatures = (value["cell_temperatures"]?.array ?? []).compactMap(\.double)
        vehicle = value["vehicle"]?.string
        current = value["current"]?.double
        self.time = time
    }
}

/// Whether a file holds JSON snapshots rather than a CAN log: its first non-blank character is `{`.
func isSnapshotFile(_ path: String) throws -> Bool {
    var lines = LineSource(file: try CompressedFile(path: path))
    defer { lines.deallocate() }
    while let line = try lines.next() {
        guard let first = line.bytes.first(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
        return first == UInt8(ascii: "{")
    }
    return false
}

/// Every snapshot of a JSON-lines file; a bad line is reported with file:line and skipped. Returns the
/// number of bad lines.
func forEachSnapshot(in path: String, _ body: (Snapshot) throws -> Void) throws -> Int {
    var bad = 0
    var lines = LineSource(file: try CompressedFile(path: path))
    defer { lines.deallocate() }
    while let line = try lines.next() {
        if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
        do {
            try body(try Snapshot(json: Array(line.bytes)))
        } catch {
            bad += 1
            StandardError.line("\(path == "-" ? "<stdin>" : path):\(line.number): \(error); line skipped")
        }
    }
    return bad
}
