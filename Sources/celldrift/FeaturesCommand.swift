import Agent
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
            bad += try forEachSnapshot(in: path, report: StandardError.line) { snapshot in try process(snapshot, &perVehicle, output) }
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
            snapshot.temperatures.withUnsafeBufferPointer {
                features.update(time: time, voltages: voltageBuffer, temperatures: $0, current: snapshot.current ?? .nan)
            }
        }
        output.append(featuresJSON(vehicle: vehicle, time: time, features))
    }
}

/// One snapshot's features as a JSON line (docs/features.md); `celldrift features` and `replay --features-out`.
func featuresJSON(vehicle: String, time: Double, _ features: ConsistencyFeatures) -> String {
    func list(_ values: UnsafeMutableBufferPointer<Double>) -> String { values.map(JSONText.number).joined(separator: ", ") }
    let number = JSONText.number
    return "{\"vehicle\": \(String(decoding: JSONText.quoted(vehicle), as: UTF8.self)), \"ts\": \(number(time)), "
        + "\"spread\": \(number(features.spread)), \"std\": \(number(features.standardDeviation)), "
        + "\"max_modified_z\": \(number(features.maximumModifiedZ)), \"entropy\": \(number(features.entropy)), "
        + "\"temperature_range\": \(number(features.temperatureRange)), \"median\": \(number(features.median)), "
        + "\"deviation\": [\(list(features.deviation))], \"deviation_slope_v_per_h\": [\(list(features.deviationSlope))], "
        + "\"correlation\": [\(list(features.correlation))], \"median_resistance_ohm\": \(number(features.medianResistance)), "
        + "\"resistance_steps\": \(features.resistanceSteps), \"resistance_ratio\": [\(list(features.resistanceRatio))], "
        + "\"rest_seconds\": \(number(features.restSeconds)), \"rest_drift_v_per_h\": [\(list(features.restDrift))]}\n"
}

/// The CSV header of `featuresCSV` for `cells` cells, numbered as the user numbers them (`firstNumber`:
/// the mapping's `cell_voltage_index_base`, so `deviation_5` is Cell05's in a base-1 mapping).
func featuresCSVHeader(cells: Int, firstNumber: Int = 0) -> String {
    "vehicle,ts,spread,std,max_modified_z,entropy,temperature_range,median,median_resistance_ohm,resistance_steps,rest_seconds"
        + ["deviation", "deviation_slope", "correlation", "resistance_ratio", "rest_drift"].map { name in
            (0..<cells).map { ",\(name)_\($0 + firstNumber)" }.joined()
        }.joined() + "\n"
}

/// One snapshot's features as a CSV row, per-cell values in columns.
func featuresCSV(vehicle: String, time: Double, _ features: ConsistencyFeatures) -> String {
    "\(vehicle),\(time),\(features.spread),\(features.standardDeviation),\(features.maximumModifiedZ),\(features.entropy),"
        + "\(features.temperatureRange),\(features.median),\(features.medianResistance),\(features.resistanceSteps),\(features.restSeconds)"
        + [features.deviation, features.deviationSlope, features.correlation, features.resistanceRatio, features.restDrift].map { values in
            values.map { ",\($0)" }.joined()
        }.joined() + "\n"
}

