#if canImport(Glibc)
import Glibc
#endif

/// What scores the pack model's features: the boosted trees (shipped) or a network.
public protocol PackScorer: AnyObject {
    var featureCount: Int { get }
    /// The probability for one row of raw features. Allocates nothing.
    func probability(_ features: UnsafeBufferPointer<Double>) -> Double
    /// Another instance with scratch space of its own.
    func copyScorer() -> PackScorer
}

/// An int8 network behind a standardization of its features (mean, deviation, clipped to ±`clip`), the
/// part both models share. The normalized features go into scratch space allocated once: scoring
/// allocates nothing; one instance per thread (`copy()`).
public final class NormalizedNetwork: PackScorer {
    /// Normalized features are clipped to ±6 standard deviations, in training as at inference: a missing
    /// day (−1) or a wildly deviating cell is dozens of deviations out, and clipping keeps it distinct
    /// without stretching the int8 range.
    public static let clip = 6.0

    /// One normalized feature, the same arithmetic in training and at inference (multiplying by the
    /// inverse deviation, as the runtime does to avoid a division per feature).
    @inline(__always) public static func normalize(_ value: Double, mean: Double, inverseDeviation: Double) -> Double {
        max(-clip, min(clip, (value - mean) * inverseDeviation))
    }

    public let network: QuantizedNetwork
    public let means: [Double]
    public let deviations: [Double]
    public var featureCount: Int { means.count }
    private let scratch: UnsafeMutableBufferPointer<Double>
    private let inverseDeviations: UnsafeMutableBufferPointer<Double>
    private let meanValues: UnsafeMutableBufferPointer<Double>

    public init(network: QuantizedNetwork, means: [Double], deviations: [Double]) {
        precondition(means.count == deviations.count && network.layers.first?.inputs == means.count, "one mean and deviation per input")
        self.network = network
        self.means = means
        self.deviations = deviations
        scratch = .allocate(capacity: means.count)
        scratch.initialize(repeating: 0)
        inverseDeviations = .allocate(capacity: means.count)
        _ = inverseDeviations.initialize(from: deviations.map { 1 / $0 })
        meanValues = .allocate(capacity: means.count)
        _ = meanValues.initialize(from: means)
    }

    deinit {
        scratch.deallocate()
        inverseDeviations.deallocate()
        meanValues.deallocate()
    }

    public func copyScorer() -> PackScorer { copy() }

    public func copy() -> NormalizedNetwork {
        NormalizedNetwork(network: QuantizedNetwork(layers: network.layers), means: means, deviations: deviations)
    }

    /// The probability for one row of raw features. Allocates nothing.
    @inline(__always)
    public func probability(_ features: UnsafeBufferPointer<Double>) -> Double {
        for index in 0..<means.count {
            scratch[index] = Self.normalize(features[index], mean: meanValues[index], inverseDeviation: inverseDeviations[index])
        }
        return 1 / (1 + exp(-network.logit(UnsafeBufferPointer(scratch))))
    }

    /// The normalized row, as the network sees it (for the float twin in evaluation).
    public func normalized(_ features: [Double]) -> [Double] {
        features.indices.map { Self.normalize(features[$0], mean: means[$0], inverseDeviation: inverseDeviations[$0]) }
    }

    /// Trains `members` float networks of `hidden` units on standardized rows and averages them into one;
    /// the int8 network is calibrated on the same rows. The float twin scores exactly the normalized rows
    /// the int8 one does.
    public static func train(_ rows: [[Double]], _ labels: [Int], hidden: Int, epochs: Int, members: Int, rate: Double,
                             weightDecay: Double, seed: UInt64) -> (float: FloatNetwork, model: NormalizedNetwork) {
        let columns = rows.first?.count ?? 0
        let count = Double(rows.count)
        var means = [Double](repeating: 0, count: columns), deviations = means
        for row in rows { for index in row.indices { means[index] += row[index] / count } }
        for row in rows { for index in row.indices { deviations[index] += (row[index] - means[index]) * (row[index] - means[index]) / count } }
        deviations = deviations.map { max($0.squareRoot(), 1e-9) }
        let inverse = deviations.map { 1 / $0 }
        let normalized = rows.map { row in row.indices.map { normalize(row[$0], mean: means[$0], inverseDeviation: inverse[$0]) } }
        var networks: [FloatNetwork] = []
        for member in 0..<UInt64(max(1, members)) {
            var network = FloatNetwork(sizes: [columns, hidden, 1], seed: seed &+ 2 &* member)
            network.train(normalized, labels, epochs: epochs, rate: rate, weightDecay: weightDecay, seed: seed &+ 2 &* member &+ 1)
            networks.append(network)
        }
        let network = FloatNetwork(averaging: networks)
        return (network, NormalizedNetwork(network: QuantizedNetwork(network, calibration: normalized), means: means, deviations: deviations))
    }
}
