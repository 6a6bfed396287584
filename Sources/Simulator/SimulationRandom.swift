/// SplitMix64: small, fast, and the same sequence on every machine, so a seed reproduces a run byte for byte.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) { state = seed }

    /// An independent stream for a sub-part (a vehicle, a cell), derived from this one's seed.
    public func derived(_ salt: UInt64) -> SimulationRandom {
        var copy = SimulationRandom(seed: state ^ (salt &* 0x9E37_79B9_7F4A_7C15))
        _ = copy.next()
        return copy
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }

    /// Normal by Box-Muller.
    public mutating func normal(mean: Double = 0, deviation: Double = 1) -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return mean + deviation * spare
        }
        let radius = (-2 * log(max(uniform(), 1e-300))).squareRoot()
        let angle = 2 * Double.pi * uniform()
        spareNormal = radius * sin(angle)
        return mean + deviation * radius * cos(angle)
    }
}

#if canImport(Glibc)
import Glibc
#endif
