import ArgumentParser
import DBC
import JSON
import Simulator

#if canImport(Glibc)
import Glibc
#endif

extension Fault.Kind: ExpressibleByArgument {}
extension Chemistry: ExpressibleByArgument {}

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate series packs with injected faults: CAN logs, MQTT snapshots, the daily table and labels.",
        discussion: """
            Each vehicle is a series pack of equivalent-circuit cells (OCV-SOC curve, ohmic resistance, one RC \
            pair, temperature), driven through commutes, highway trips, rests and AC/DC charging, with passive \
            balancing. Writes into --out: daily.csv (the seed's daily table), labels.json (per vehicle: fault, cell, \
            onset, when the 50 mV / 10 s rule first fired), and per vehicle <VIN>.snapshots.jsonl, <VIN>.log \
            (candump -L) and <VIN>.asc when asked. The same arguments give the same bytes.
            """
    )

    @Option(help: "Number of vehicles.")
    var vehicles = 1

    @Option(help: "Fault of the faulty vehicles: \(Fault.Kind.allCases.map(\.rawValue).joined(separator: ", ")). Default: every kind in turn.")
    var fault: Fault.Kind?

    @Option(help: "Share of vehicles with a fault (default 1 with --fault healthy excluded, else 0.5).")
    var faultShare: Double?

    @Option(help: "Simulated days.")
    var days = 1.0

    @Option(help: "Cells in series.")
    var cells = 96

    @Option(help: "Cell chemistry: nmc or lfp.")
    var chemistry: Chemistry = .nmc

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "First simulated day (UTC), YYYY-MM-DD.")
    var start = "2026-01-05"

    @Option(help: "Output directory.")
    var out = "simulation"

    @Flag(help: "Write <VIN>.snapshots.jsonl (the MQTT payload).")
    var snapshots = false

    @Option(help: "Seconds between snapshots.")
    var snapshotInterval = 10

    @Flag(help: "Write <VIN>.log (candump -L).")
    var candump = false

    @Flag(help: "Write <VIN>.asc (Vector ASC).")
    var asc = false

    @Option(help: "Limit logs and snapshots to this many hours: the hours up to 10 minutes after the rule first fires on a faulty vehicle, the first hours otherwise.")
    var logHours: Double?

    @Option(help: "The AC charger's current limit in C (default 0.5: 11 kW; a 3.7 kW home charger is about 0.2).")
    var acChargeCRate: Double?

    @Option(help: "The pack DBC the CAN logs follow.")
    var dbc = "firmware-samples/celldrift_pack.dbc"

    func validate() throws {
        guard vehicles >= 1 else { throw ValidationError("--vehicles must be at least 1") }
        guard (1...1000).contains(cells) else { throw ValidationError("--cells must be 1 to 1000") }
        guard days > 0 else { throw ValidationError("--days must be positive") }
        guard epochNanoseconds(date: start) != nil else { throw ValidationError("--start must be a date like 2026-01-05") }
        if let share = faultShare, !(0...1).contains(share) { throw ValidationError("--fault-share must be between 0 and 1") }
        if let rate = acChargeCRate, !(rate > 0 && rate <= 2) { throw ValidationError("--ac-charge-c-rate must be above 0 and at most 2") }
    }

    func run() throws {
        let startTime = epochNanoseconds(date: start)!
        try makeDirectories(out)
        let database: CompiledDatabase? = candump || asc ? try loadDatabase() : nil
        var packConfiguration = PackConfiguration()
        packConfiguration.cells = cells
        packConfiguration.chemistry = chemistry
        let kinds = fault.map { [$0] } ?? Fault.Kind.allCases.filter { $0 != .healthy }
        let share = faultShare ?? (fault == nil ? 0.5 : (fault == .healthy ? 0 : 1))
        let fleet = planFleet(vehicles: vehicles, faultShare: share, faultKinds: kinds, cells: cells, days: days,
                              seed: seed, startNanoseconds: startTime)
        let daily = try createOutput("\(out)/daily.csv")
        daily.append(DailyTable.header)
        var labels: [String] = []
        for run in fleet {
            var simulation = Simulation(pack: packConfiguration, fault: run.fault, days: days, seed: run.seed)
            simulation.acChargeCRate = acChargeCRate
            let window = logWindow(simulation, run)
            let rule = ThresholdRule()
            var observers: [SimulationObserver] = [rule, DailyTable(vehicle: run.vehicle, rule: rule, output: daily)]
            var buffers: [(OutputBuffer, String)] = []
            func file(_ suffix: String) throws -> OutputBuffer {
                let path = "\(out)/\(run.vehicle.vin)\(suffix)"
                let buffer = try createOutput(path)
                buffers.append((buffer, path))
                return buffer
            }
            if snapshots {
                observers.append(SnapshotWriter(vehicle: run.vehicle, output: try file(".snapshots.jsonl"),
                                                interval: snapshotInterval, window: window))
            }
            if let database, candump {
                observers.append(try CANLogWriter(database: database, vehicle: run.vehicle, cells: cells,
                                                  output: try file(".log"), format: .candump, window: window))
            }
            if let database, asc {
                observers.append(try CANLogWriter(database: database, vehicle: run.vehicle, cells: cells,
                                                  output: try file(".asc"), format: .asc, window: window))
            }
            simulation.run(observers: observers)
            for (buffer, path) in buffers { try finishOutput(buffer, path) }
            labels.append(labelJSON(run, rule: rule, chemistry: chemistry, cells: cells,
                                  log: candump ? "\(run.vehicle.vin).log" : asc ? "\(run.vehicle.vin).asc" : nil))
            StandardError.line("\(run.vehicle.vin): \(run.fault.kind.rawValue)"
                + (run.fault.kind == .healthy ? "" : " in cell \(run.fault.cell) from \(run.vehicle.timestamp(run.fault.onset))")
                + "; rule " + (rule.firstFired.map { "first fired \(run.vehicle.timestamp($0))" } ?? "never fired"))
        }
        try finishOutput(daily, "\(out)/daily.csv")
        let labelFile = try createOutput("\(out)/labels.json")
        labelFile.append("[\n  " + labels.joined(separator: ",\n  ") + "\n]\n")
        try finishOutput(labelFile, "\(out)/labels.json")
    }

    /// The seconds that logs and snapshots cover.
    private func logWindow(_ simulation: Simulation, _ run: VehicleRun) -> Range<Double> {
        guard let hours = logHours else { return 0..<Double.infinity }
        guard run.fault.kind != .healthy else { return 0..<(hours * 3600) }
        // The run is deterministic: a first pass finds when the rule fires.
        let probe = ThresholdRule()
        simulation.run(observers: [probe])
        let end = min(days * 86_400, (probe.firstFired ?? days * 86_400) + 600)
        return max(0, end - hours * 3600)..<end
    }

    /// `mkdir -p`.
    private func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            guard mkdir(prefix, 0o755) == 0 || errno == EEXIST else {
                throw CommandError("\(path): cannot create the directory: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func loadDatabase() throws -> CompiledDatabase {
        do { return try CompiledDatabase(path: dbc) } catch { throw CommandError(error.description) }
    }

}
