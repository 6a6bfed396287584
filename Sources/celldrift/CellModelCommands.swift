import ArgumentParser
import Model
import Simulator
import Training

/// The simulated fleet behind `train cell` and `evaluate cell`.
struct FleetOptions: ParsableArguments {
    @Option(help: "Simulated vehicles (the faulty share has every fault kind in turn).")
    var vehicles: Int?
    @Option(help: "Simulated days per vehicle.")
    var days: Double?
    @Option(help: "Share of faulty vehicles.")
    var faultShare: Double?
    @Option(help: "Cells in series.")
    var cells = 96
    @Option(help: "Seed of the fleet (VINs, faults, cells, drives).")
    var seed: UInt64?

    func settings(vehicles defaultVehicles: Int, days defaultDays: Double, seed defaultSeed: UInt64,
                  faultShare defaultShare: Double, allowingNone: Bool = false) throws -> FleetSettings {
        var settings = FleetSettings()
        settings.vehicles = vehicles ?? defaultVehicles
        settings.days = days ?? defaultDays
        settings.faultShare = faultShare ?? defaultShare
        settings.cells = cells
        settings.seed = seed ?? defaultSeed
        guard settings.vehicles >= (allowingNone ? 0 : 1), settings.days >= 1, (0...1).contains(settings.faultShare), (2...1000).contains(cells) else {
            throw ValidationError("--vehicles at least 1 (0 with --fleet-labels), --days at least 1, --fault-share 0 to 1, --cells 2 to 1000")
        }
        return settings
    }
}

extension TrainCommand {
    struct Cell: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the cell-drift model on a simulated fleet and labelled fleets of logs: one network shared by every cell.",
            discussion: "Simulates the fleet (every fault kind, healthy packs) and replays every vehicle of each --fleet-labels "
                + "through the pipeline, takes rows of cells every --row-interval (--fleet-row-interval) seconds (the faulty cell, "
                + "labelled 1 from its fault's onset; the healthy cell deviating most; random healthy cells), trains, quantizes "
                + "to int8, then sets the alarm threshold above every healthy stretch of the same fleets (docs/models.md).")
        @OptionGroup var fleet: FleetOptions
        @Option(name: [.short, .customLong("output")], help: "The model file to write.")
        var output = "cell-model.safetensors"
        @Option(help: "Hidden units of the MLP.")
        var hidden = 16
        @Option(help: "Training epochs.")
        var epochs = 8
        @Option(help: "Networks trained from different seeds and averaged into one.")
        var members = 4
        @Option(help: "Seconds between two training rows of a vehicle.")
        var rowInterval = 600.0
        @Option(help: "Seconds the pack score must stay above the threshold before an alarm.")
        var hold = 600.0
        @Option(help: "A labelled fleet of logs to train on as well (labels.json, docs/fleet.md); repeat for more; --vehicles 0 trains on these alone.")
        var fleetLabels: [String] = []
        @Option(help: "One config for every replayed vehicle (instead of --fleet-configs).")
        var fleetConfig: String?
        @Option(help: "The folder, beside each labels file, of its vehicles' configs (<folder>/<vehicle>.toml; default: each label's own).")
        var fleetConfigs: String?
        @Option(help: "Seconds between two training rows of a replayed vehicle (their logs are hours, not days).")
        var fleetRowInterval = 120.0
        @Option(help: "Vehicles replayed at once.")
        var jobs = 2

        func run() throws {
            var training = CellDriftTraining()
            training.fleet = try fleet.settings(vehicles: 48, days: 12, seed: 1, faultShare: 0.75, allowingNone: !fleetLabels.isEmpty)
            training.hidden = hidden
            training.epochs = epochs
            training.members = members
            training.rowInterval = rowInterval
            training.holdSeconds = hold
            guard hidden >= 1, epochs >= 1, members >= 1, rowInterval >= 60, fleetRowInterval >= 10, hold >= 0, jobs >= 1 else {
                throw ValidationError("--hidden, --epochs, --members, --jobs at least 1, --row-interval at least 60, "
                    + "--fleet-row-interval at least 10, --hold not negative")
            }
            let result: CellDriftTraining.Result
            if fleetLabels.isEmpty {
                result = training.train { StandardError.line($0) }
            } else {
                let replayed = try ReplayedCellFleet(labels: fleetLabels, config: fleetConfig, configs: fleetConfigs, jobs: jobs)
                let rows = try replayed.rows(interval: fleetRowInterval, randomCells: training.randomCells)
                let files = fleetLabels.map { "\"\($0)\"" }.joined(separator: ", ")
                let summary = "\"replayed_fleets\": [\(files)], \"replayed_vehicles\": \(replayed.vehicles), "
                    + "\"replayed_rows\": \(rows.inputs.count), \"replayed_positives\": \(rows.labels.reduce(0, +)), "
                    + "\"replayed_row_interval_s\": \(fleetRowInterval), "
                result = training.train(extra: rows, extraSummary: summary, extraHealthy: replayed.highestHealthyScore) { StandardError.line($0) }
            }
            try ModelFile.write(result.model, to: output)
            print("\(output): \(result.rows) rows (\(result.positives) positive), threshold \(result.model.threshold) "
                + "held \(Int(hold)) s")
        }
    }
}

extension EvaluateCommand {
    struct Cell: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The cell-drift model on held-out simulated vehicles: packs found, cell named, lead, false alarms.",
            discussion: "Simulates a fleet from another seed than training's (other vehicles, faults, cells and drives), scores "
                + "every cell as the pipeline does and alarms as it does (the pack score above the model's threshold for its "
                + "hold time). Lead time: from the model's first alarm after the fault's onset to the first firing of the BMS's "
                + "50 mV / 10 s rule. False alarms: alarms in healthy time (healthy vehicles, faulty ones before the onset).")
        @OptionGroup var fleet: FleetOptions
        @Option(help: "The cell-drift model file.")
        var model = "firmware-samples/models/cell-model.safetensors"
        @Option(help: "Alarm threshold instead of the model's (to study the trade-off).")
        var threshold: Double?
        @Option(help: "Alarm hold (s) instead of the model's.")
        var hold: Double?
        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            var loaded = try ModelFile.loadCellDrift(model)
            if threshold != nil || hold != nil {
                loaded = loaded.with(threshold: threshold ?? loaded.threshold, holdSeconds: hold ?? loaded.holdSeconds, training: loaded.training)
            }
            let evaluation = CellDriftEvaluation(model: loaded, settings: try fleet.settings(vehicles: 24, days: 12, seed: 1001,
                                                                                               faultShare: 0.75))
            print(json ? evaluation.json() : evaluation.text())
        }
    }
}
