import Consistency
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The pack model: the seed's 84 inputs plus each day's cell spread (highest − lowest cell voltage), into
/// boosted trees with integer thresholds and int8 leaves (or an int8 MLP); the output is the probability
/// of a consistency alarm within 14 days.
/// Stored in one safetensors file (docs/models.md) whose metadata carries the feature schema,
/// normalization, quantization scales, thresholds and a training summary, with a SHA-256.
public final class PackModel {
    public static let inputCount = DailyMeasures.inputNames.count
    public static let featureCount = inputCount + DailyMeasures.days
    public static let derivedNames = stride(from: DailyMeasures.days, through: 1, by: -1).map { "cell_spread_\($0)" }
    public let scorer: PackScorer
    /// The seed's threshold (0.15) and the best-F1 threshold found on the validation windows.
    public let threshold: Double
    public let bestThreshold: Double
    /// What the file says of its training (JSON object text), shown by `evaluate`.
    public let training: String
    private let scratch: UnsafeMutableBufferPointer<Double>

    public init(scorer: PackScorer, threshold: Double = 0.15, bestThreshold: Double, training: String) {
        precondition(scorer.featureCount == Self.featureCount, "the pack model's features")
        self.scorer = scorer
        self.threshold = threshold
        self.bestThreshold = bestThreshold
        self.training = training
        scratch = .allocate(capacity: Self.featureCount)
        scratch.initialize(repeating: 0)
    }

    /// Another instance of the same model with scratch space of its own: one per pipeline or thread,
    /// the file read and checked once.
    public func copy() -> PackModel {
        PackModel(scorer: scorer.copyScorer(), threshold: threshold, bestThreshold: bestThreshold, training: training)
    }

    deinit { scratch.deallocate() }

    /// The model's features of one window: the 84 inputs and the 14 daily spreads (0 for a missing day).
    public static func features(_ inputs: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>) {
        for index in 0..<inputCount { output[index] = inputs[index] }
        for day in 0..<DailyMeasures.days {
            let highest = inputs[day * 6 + 2], lowest = inputs[day * 6 + 3]
            output[inputCount + day] = highest == -1 && lowest == -1 ? 0 : highest - lowest
        }
    }

    public static func features(_ inputs: [Double]) -> [Double] {
        var output = [Double](repeating: 0, count: featureCount)
        inputs.withUnsafeBufferPointer { source in output.withUnsafeMutableBufferPointer { features(source, into: $0) } }
        return output
    }

    /// The probability for one window of 84 inputs (the seed's order). Allocates nothing.
    public func probability(_ inputs: UnsafeBufferPointer<Double>) -> Double {
        precondition(inputs.count == Self.inputCount, "84 inputs")
        Self.features(inputs, into: scratch)
        return scorer.probability(UnsafeBufferPointer(scratch))
    }

    public func probability(_ inputs: [Double]) -> Double { inputs.withUnsafeBufferPointer { probability($0) } }
}
