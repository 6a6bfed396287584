import Agent
import Model
import Training

/// Labelled fleets of logs (another simulator's, docs/fleet.md) for the cell-drift model: each vehicle's
/// log through the same pipeline as `replay`, the cells' inputs read where the pipeline builds them.
struct ReplayedCellFleet {
    let plans: [FleetReplay]
    let jobs: Int

    /// `labels` files, each vehicle with `config` when given, else `<labels folder>/<configs>/<vehicle>.toml`
    /// when `configs` is given, else its label's own config.
    init(labels: [String], config: String?, configs: String?, jobs: Int) throws {
        plans = try labels.flatMap { file in
            let folder = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            return try FleetReplay.plans(labels: file, config: config, configDir: configs.map { "\(folder)/\($0)" }, logDir: nil)
        }
        self.jobs = jobs
        for plan in plans { if case .failure(let error) = plan.config { throw CommandError("\(plan.label.vehicle): \(error)") } }
    }

    var vehicles: Int { plans.count }

    /// Rows every `interval` seconds of each vehicle, picked as the simulated fleet's are.
    func rows(interval: Double, randomCells: Int) throws -> CellDriftTraining.Rows {
        let perVehicle = concurrentMap(plans, workers: jobs) { plan -> Result<CellDriftTraining.Rows, CommandError> in
            var picker = CellDriftTraining.RowPicker(faultyCell: plan.label.sensor == nil ? plan.label.cell : nil,
                                                     onset: plan.label.onsetTime ?? .infinity, randomCells: randomCells,
                                                     seed: Self.seed(plan.label.vehicle))
            var next = -Double.infinity
            return plan.replayCells { pipeline, time in
                guard time >= next else { return }
                next = time + interval
                picker.pick(pipeline.cellFeatures, time: time)
            }.map { picker.rows }
        }
        var all = CellDriftTraining.Rows()
        for result in perVehicle {
            let rows = try result.get()
            all.inputs += rows.inputs
            all.labels += rows.labels
        }
        return all
    }

    /// The highest pack score `model` held for its hold time in any vehicle's healthy time (before the
    /// onset; all of a healthy vehicle), scored every `model.scoreInterval` as the pipeline scores.
    func highestHealthyScore(_ model: CellDriftModel) -> Double {
        nonisolated(unsafe) let shared = model
        let highest = concurrentMap(plans, workers: jobs) { plan -> Double in
            let scorer = shared.copy()
            let cells = (try? plan.config.get())?.mapping.cells ?? 0
            let scores = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
            defer { scores.deallocate() }
            var times: [Double] = [], packScores: [Double] = []
            var next = -Double.infinity
            _ = plan.replayCells { pipeline, time in
                guard time >= next else { return }
                next = time + scorer.scoreInterval
                times.append(time)
                packScores.append(scorer.score(pipeline.cellFeatures, into: scores).score)
            }
            return CellDriftTrace.highestHeld(times: times, scores: packScores, before: plan.label.onsetTime ?? .infinity,
                                              hold: scorer.holdSeconds)
        }
        return highest.max() ?? 0
    }

    /// A vehicle's own seed for its random rows, from its name (FNV-1a).
    private static func seed(_ vehicle: String) -> UInt64 {
        vehicle.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

extension FleetReplay {
    /// Replays the log, calling `body` at every complete snapshot once the feature window is full, after
    /// the cells' inputs took it.
    func replayCells(_ body: @escaping (VehiclePipeline, Double) -> Void) -> Result<Void, CommandError> {
        guard case .success(let settings) = config else { return .failure(CommandError("\(label.vehicle): no config")) }
        let pipeline = VehiclePipeline(config: settings, vehicle: label.vehicle, wallClock: wallSeconds) { _ in }
        pipeline.onCellInputs = { [unowned pipeline] time in body(pipeline, time) }
        return feedLog(into: pipeline, settings: settings) { _, _ in }.map { .failure(CommandError($0)) } ?? .success(())
    }
}
