import Consistency
import Model
import Simulator

#if canImport(Glibc)
import Glibc
#endif

/// Trains the cell-drift model on a simulated fleet and, given, rows of replayed logs (another
/// simulator's fleet). Rows are cells at moments: every `rowInterval` seconds, the faulty cell (label 1
/// from its fault's onset, 0 before), the healthy cell that deviates most over the last hour (the
/// hardest negative) and `randomCells` other cells (label 0). One network of `hidden` units per member,
/// `members` averaged, is shared by every cell. The alarm threshold is then set on the same fleets,
/// scored as the gateway scores them: above the highest pack score any healthy stretch held for
/// `holdSeconds`, by `margin` in logit.
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
        public init() {}
    }

    /// The training rows of every vehicle of the simulated fleet (none when it has no vehicles).
    public func rows() -> Rows {
        guard fleet.vehicles > 0 else { return Rows() }
        let settings = fleet, interval = rowInterval, randomCells = randomCells
        let perVehicle = forEachVehicle(settings.fleet) { run in Self.rows(run, settings: settings, interval: interval, randomCells: randomCells) }
        return perVehicle.reduce(into: Rows()) { all, rows in
            all.inputs += rows.inputs
            all.labels += rows.labels
        }
    }

    private static func rows(_ run: VehicleRun, settings: FleetSettings, interval: Double, randomCells: Int) -> Rows {
        var sampling = settings
        sampling.scoreInterval = interval
        var picker = RowPicker(faultyCell: run.fault.kind == .healthy ? nil : run.fault.cell, onset: run.fault.onset,
                               randomCells: randomCells, seed: run.seed)
        var observer: FleetFeatureObserver!
        observer = FleetFeatureObserver(cells: settings.cells, settings: sampling) { time in picker.pick(observer.drift, time: time) }
        Simulation(pack: settings.pack, fault: run.fault, days: settings.days, seed: run.seed).run(observers: [observer])
        return picker.rows
    }

    /// Picks one moment's rows of a vehicle: the faulty cell (label 1 from the onset), the healthy cell
    /// deviating most over the last hour (the hardest negative, picked on `mean_deviation_1h_z`) and
    /// `randomCells` random healthy ones (label 0). Shared by simulated vehicles and replayed logs.
    public struct RowPicker {
        public private(set) var rows = Rows()
        let faultyCell: Int?
        let onset: Double
        let randomCells: Int
        var random: SimulationRandom
        static let hourMean = CellDriftFeatures.names.firstIndex(of: "mean_deviation_1h_z")!

        public init(faultyCell: Int?, onset: Double, randomCells: Int, seed: UInt64) {
            self.faultyCell = faultyCell
            self.onset = onset
            self.randomCells = randomCells
            random = SimulationRandom(seed: seed ^ 0x5eed_ce11)
        }

        public mutating func pick(_ drift: CellDriftFeatures, time: Double) {
            let faulty = faultyCell ?? -1
            var chosen: [Int] = []
            if faulty >= 0, faulty < drift.cells { chosen.append(faulty) }
            var hardest = -1, largest = -1.0
            var scratch = [Double](repeating: 0, count: CellDriftFeatures.count)  // one row, every cell's in turn
            scratch.withUnsafeMutableBufferPointer { row in
                for cell in 0..<drift.cells where cell != faulty {
                    drift.inputs(cell: cell, into: row)
                    if abs(row[Self.hourMean]) > largest { (hardest, largest) = (cell, abs(row[Self.hourMean])) }
                }
            }
            if hardest >= 0 { chosen.append(hardest) }
            for _ in 0..<randomCells {
                let cell = Int(random.next() % UInt64(drift.cells))
                if cell != faulty { chosen.append(cell) }
            }
            for cell in chosen {
                rows.inputs.append(drift.inputs(cell: cell))
                rows.labels.append(cell == faulty && time >= onset ? 1 : 0)
            }
        }
    }

    public struct Result {
        public let model: CellDriftModel
        public let float: FloatNetwork
        public let rows: Int, positives: Int
        /// The highest held healthy pack score on the training fleet, which the threshold sits above.
        public let highestHealthy: Double
    }

    /// Rows (the simulated fleet's and `extra`, a replayed fleet's), network, then the threshold: above the
    /// highest held healthy score of the simulated fleet and of `extraHealthy(model)` (the replayed
    /// fleet's, scored with the trained network). `extraSummary` describes the extra rows in the summary.
    public func train(extra: Rows = Rows(), extraSummary: String = "", extraHealthy: (CellDriftModel) -> Double = { _ in 0 },
                      log: (String) -> Void) -> Result {
        var data = rows()
        log("\(data.inputs.count) rows from \(fleet.vehicles) simulated vehicles, \(extra.inputs.count) from replayed logs")
        data.inputs += extra.inputs
        data.labels += extra.labels
        let positives = data.labels.reduce(0, +)
        let trained = NormalizedNetwork.train(data.inputs, data.labels, hidden: hidden, epochs: epochs, members: members,
                                              rate: rate, weightDecay: weightDecay, seed: fleet.seed)
        let network = CellDriftModel(scorer: trained.model, threshold: 0.5, holdSeconds: holdSeconds, scoreInterval: fleet.scoreInterval,
                                     training: "{}")
        let hold = holdSeconds
        let traces = fleet.vehicles > 0 ? CellDriftTrace.score(fleet, model: network) : []
        let simulated = traces.map { $0.highestHeldHealthyScore(hold: hold) }.max() ?? 0
        let replayed = extraHealthy(network)
        log("highest healthy pack score held \(Int(hold)) s: simulated \(simulated), replayed \(replayed)")
        let highest = max(simulated, replayed, 1e-6)
        let logit = Glibc.log(highest) - log1p(-highest) + margin  // log(p / (1 − p)), then the margin
        let threshold = min(0.999, 1 / (1 + exp(-logit)))
        log("threshold \(threshold)")
        let summary = "{\"command\": \"celldrift train cell --vehicles \(fleet.vehicles) --days \(fleet.days) --seed \(fleet.seed)\", "
            + "\(fleet.summary), \(extraSummary)\"rows\": \(data.inputs.count), \"positives\": \(positives), \"hidden\": \(hidden), "
            + "\"epochs\": \(epochs), \"members\": \(members), \"row_interval_s\": \(rowInterval), "
            + "\"highest_healthy_held_score\": \(highest), \"margin_logit\": \(margin)}"
        return Result(model: network.with(threshold: threshold, holdSeconds: holdSeconds, training: summary), float: trained.float,
                      rows: data.inputs.count, positives: positives, highestHealthy: highest)
    }
}
