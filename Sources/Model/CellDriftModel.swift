import Consistency

/// The cell-drift model: one int8 network shared by every cell scores each cell on its own inputs
/// (`CellDriftFeatures`); the pack score is the highest cell score and names that cell. An alarm is the
/// pack score at or above `threshold` for `holdSeconds`; scores are taken every `scoreInterval` seconds
/// of event time. Scoring allocates nothing.
public final class CellDriftModel {
    public let scorer: NormalizedNetwork
    public let threshold: Double
    public let holdSeconds: Double
    public let scoreInterval: Double
    /// What the file says of its training (JSON object text).
    public let training: String
    private let row: UnsafeMutableBufferPointer<Double>

    public init(scorer: NormalizedNetwork, threshold: Double, holdSeconds: Double, scoreInterval: Double, training: String) {
        precondition(scorer.featureCount == CellDriftFeatures.count, "the cell-drift inputs")
        self.scorer = scorer
        self.threshold = threshold
        self.holdSeconds = holdSeconds
        self.scoreInterval = scoreInterval
        self.training = training
        row = .allocate(capacity: CellDriftFeatures.count)
        row.initialize(repeating: 0)
    }

    deinit { row.deallocate() }

    /// Another instance with scratch space of its own (one per pipeline or thread).
    public func copy() -> CellDriftModel {
        CellDriftModel(scorer: scorer.copy(), threshold: threshold, holdSeconds: holdSeconds, scoreInterval: scoreInterval,
                       training: training)
    }

    /// The same network under other alarm settings (training picks them after the network).
    public func with(threshold: Double, holdSeconds: Double, training: String) -> CellDriftModel {
        CellDriftModel(scorer: scorer, threshold: threshold, holdSeconds: holdSeconds, scoreInterval: scoreInterval, training: training)
    }

    /// The kind of the alarms this model raises.
    public static let alarmName = "cell_drift_model"

    /// The alarm the pipeline raises on the pack score (and the evaluation replays): above the threshold
    /// for the hold time, cleared below half the threshold.
    public func alarm() -> RuleAlarm {
        RuleAlarm(name: Self.alarmName, raiseAbove: threshold, clearBelow: threshold / 2, minimumDuration: holdSeconds, severity: 2)
    }

    /// Scores every cell into `scores` (one per cell) and returns the highest and its cell.
    @discardableResult
    public func score(_ features: CellDriftFeatures, into scores: UnsafeMutableBufferPointer<Double>) -> (score: Double, cell: Int) {
        var best = (score: -1.0, cell: 0)
        for cell in 0..<features.cells {
            features.inputs(cell: cell, into: row)
            let score = scorer.probability(UnsafeBufferPointer(row))
            scores[cell] = score
            if score > best.score { best = (score, cell) }
        }
        return best
    }

    /// The probability of one row of inputs (`CellDriftFeatures.names` order).
    public func probability(_ inputs: [Double]) -> Double { inputs.withUnsafeBufferPointer { scorer.probability($0) } }
}
