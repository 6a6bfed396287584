import Consistency
import Model
import Simulator

#if canImport(Glibc)
import Glibc
#endif

/// Trains the cell-drift model on a simulated fleet. Rows are cells at moments: every `rowInterval`
/// seconds, the faulty cell (label 1 from its fault's onset, 0 before), the healthy cell that deviates
/// most over the last hour (the hardest negative) and `randomCells` other cells (label 0). One network
/// of `hidden` units per member, `members` averaged, is shared by every cell. The alarm threshold is
/// then set on the same fleet, scored as the gateway scores it: above the highest pack score any
/// healthy stretch held for `holdSeconds`, by `margin` in logit.
public struct CellDriftTraining: Sendable {
    public var fleet = FleetSettings()
    public var hidden = 16
    public var epochs = 8
    public var members = 4
    public var rate = 0.003
    public var weightDecay = 1e-4
    public var rowInterval = 600.0
    public var randomCells = 3
    public var holdSeconds = 600.0
    public var margin = 1.0

    public init() {}

    public struct Rows: Sendable {
        public var inputs: [[Double]] = []
        public var labels: [Int] = []
    }

    /// The training rows of every vehicle of the fleet.
    public func rows() -> Rows {
        let settings = fleet, interval = rowInterval, randomCells = randomCells
        let perVehicle = forEachVehicle(settings.fleet) { run in Self.rows(run, settings: settings, interval: interval, randomCells: randomCells) }
        return perVehicle.reduce(into: Rows()) { all, rows in
            all.inputs += rows.inputs
            all.labels += rows.labels
        }
    }

    private static func rows(_ run: VehicleRun, settings: FleetSettings, interval: Double, randomCells: Int) -> Rows {
        var rows = Rows()
        var sampling = settings
        sampling.scoreInterval = interval
        var random = SimulationRandom(seed: run.seed ^ 0x5eed_ce11)
        let faulty = run.fault.kind == .healthy ? -1 : run.fault.cell
        // The hardest negative is picked on the one-hour mean deviation: one scratch row for every cell.
        let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: CellDriftFeatures.count)
        defer { scratch.deallocate() }
        let hourMean = CellDriftFeatures.names.firstIndex(of: "mean_deviation_1h_mv")!
        var observer: FleetFeatureObserver!
        observer = FleetFeatureObserver(cells: settings.cells, settings: sampling) { time in
            let drift = observer.drift
            var chosen: [Int] = []
            if faulty >= 0 { chosen.append(faulty) }
            var hardest = -1, largest = -1.0
            for cell in 0..<settings.cells where cell != faulty {
                drift.inputs(cell: cell, into: scratch)
                if abs(scratch[hourMean]) > largest { (hardest, largest) = (cell, abs(scratch[hourMean])) }
            }
            chosen.append(hardest)
            for _ in 0..<randomCells {
                let cell = Int(random.next() % UInt64(settings.cells))
                if cell != faulty { chosen.append(cell) }
            }
            for cell in chosen {
                rows.inputs.append(drift.inputs(cell: cell))
                rows.labels.append(cell == faulty && time >= run.fault.onset ? 1 : 0)
            }
        }
        Simulation(pack: settings.pack, fault: run.fault, days: settings.days, seed: run.seed).run(observers: [observer])
        return rows
    }

    public struct Result {
        public let model: CellDriftModel
        public let float: FloatNetwork
        public let rows: Int, positives: Int
        /// The highest held healthy pack score on the training fleet, which the threshold sits above.
        public let highestHealthy: Double
    }

    /// Rows, network, then the threshold; `training` is the JSON summary to store (without the threshold).
    public func train(log: (String) -> Void) -> Result {
        let data = rows()
        let positives = data.labels.reduce(0, +)
        log("\(data.inputs.count) rows (\(positives) positive) from \(fleet.vehicles) vehicles")
        let trained = NormalizedNetwork.train(data.inputs, data.labels, hidden: hidden, epochs: epochs, members: members,
                                              rate: rate, weightDecay: weightDecay, seed: fleet.seed)
        let network = CellDriftModel(scorer: trained.model, threshold: 0.5, holdSeconds: holdSeconds, scoreInterval: fleet.scoreInterval,
                                     training: "{}")
        let hold = holdSeconds
        let traces = CellDriftTrace.score(fleet, model: network)
        let highest = traces.map { $0.highestHeldHealthyScore(hold: hold) }.max() ?? 0
        let logit = Glibc.log(highest) - log1p(-highest) + margin  // log(p / (1 − p)), then the margin
        let threshold = min(0.99, 1 / (1 + exp(-logit)))
        log("highest healthy pack score held \(Int(hold)) s: \(highest); threshold \(threshold)")
        let summary = "{\"command\": \"celldrift train cell --vehicles \(fleet.vehicles) --days \(fleet.days) --seed \(fleet.seed)\", "
            + "\(fleet.summary), \"rows\": \(data.inputs.count), \"positives\": \(positives), \"hidden\": \(hidden), "
            + "\"epochs\": \(epochs), \"members\": \(members), \"row_interval_s\": \(rowInterval), "
            + "\"highest_healthy_held_score\": \(highest), \"margin_logit\": \(margin)}"
        return Result(model: network.with(threshold: threshold, holdSeconds: holdSeconds, training: summary), float: trained.float,
                      rows: data.inputs.count, positives: positives, highestHealthy: highest)
    }
}
