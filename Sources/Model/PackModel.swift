import Consistency
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The pack model: the seed's 84 inputs plus each day's cell spread (highest − lowest cell voltage),
/// normalized, into an int8 MLP; the output is the probability of a consistency alarm within 14 days.
/// Stored in one safetensors file (docs/models.md) whose metadata carries the feature schema,
/// normalization, quantization scales, thresholds and a training summary, with a SHA-256.
public final class PackModel {
    public static let inputCount = DailyMeasures.inputNames.count
    public static let featureCount = inputCount + DailyMeasures.days
    public static let derivedNames = stride(from: DailyMeasures.days, through: 1, by: -1).map { "cell_spread_\($0)" }
    /// Normalized features are clipped to ±6 standard deviations, in training as at inference: a missing
    /// day (−1) is dozens of deviations out, and clipping keeps it distinct without stretching the int8 range.
    public static let clip = 6.0

    /// One normalized feature, the same arithmetic in training and at inference (multiplying by the
    /// inverse deviation, as the runtime does to avoid a division per feature).
    @inline(__always) public static func normalize(_ value: Double, mean: Double, inverseDeviation: Double) -> Double {
        max(-clip, min(clip, (value - mean) * inverseDeviation))
    }

    public let network: QuantizedNetwork
    public let means: [Double]
    public let deviations: [Double]
    /// The seed's threshold (0.15) and the best-F1 threshold found on the validation windows.
    public let threshold: Double
    public let bestThreshold: Double
    /// What the file says of its training (JSON object text), shown by `evaluate`.
    public let training: String
    private let scratch: UnsafeMutableBufferPointer<Double>
    private let inverseDeviations: UnsafeMutableBufferPointer<Double>
    private let meanValues: UnsafeMutableBufferPointer<Double>

    public init(network: QuantizedNetwork, means: [Double], deviations: [Double], threshold: Double = 0.15,
                bestThreshold: Double, training: String) {
        self.network = network
        self.means = means
        self.deviations = deviations
        self.threshold = threshold
        self.bestThreshold = bestThreshold
        self.training = training
        scratch = .allocate(capacity: Self.featureCount)
        scratch.initialize(repeating: 0)
        inverseDeviations = .allocate(capacity: Self.featureCount)
        _ = inverseDeviations.initialize(from: deviations.map { 1 / $0 })
        meanValues = .allocate(capacity: Self.featureCount)
        _ = meanValues.initialize(from: means)
    }

    /// Another instance of the same model with scratch space of its own: one per pipeline or thread,
    /// the file read and checked once.
    public func copy() -> PackModel {
        PackModel(network: QuantizedNetwork(layers: network.layers), means: means, deviations: deviations, threshold: threshold,
                  bestThreshold: bestThreshold, training: training)
    }

    deinit {
        scratch.deallocate()
        inverseDeviations.deallocate()
        meanValues.deallocate()
    }

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
        for index in 0..<Self.featureCount {
            scratch[index] = Self.normalize(scratch[index], mean: meanValues[index], inverseDeviation: inverseDeviations[index])
        }
        return 1 / (1 + exp(-network.logit(UnsafeBufferPointer(scratch))))
    }

    public func probability(_ inputs: [Double]) -> Double { inputs.withUnsafeBufferPointer { probability($0) } }

    /// The normalized features of one window, as the network sees them (for the float twin in evaluation).
    public func normalized(_ inputs: [Double]) -> [Double] {
        zip(Self.features(inputs), zip(means, inverseDeviations)).map { Self.normalize($0, mean: $1.0, inverseDeviation: $1.1) }
    }
}
