#if canImport(Glibc)
import Glibc
#endif

/// The per-cell inputs of the cell-drift model, built on `ConsistencyFeatures` and `CellDetectors` after
/// each snapshot. Every input is free of the pack's scale, so one network serves a 5 Ah pack of 12 cells
/// and a 120 Ah pack of 96, NMC and LFP: a deviation is counted in the pack's own cell-to-cell spread
/// (its robust standard deviation, never below the readings' step), a resistance as a ratio to the
/// median cell's, a leak in C, a current as a C-rate, each test's evidence over its threshold; the spread
/// in shares of the BMS's 50 mV rule the model is meant to precede. A drifting cell shows first in slow
/// quantities, so the deviation has exponentially weighted means over ten minutes, one hour and twelve
/// hours and an hourly ring for its change over a day, all measured in time, not in snapshots (one model
/// serves a log replayed at a snapshot a second and MQTT snapshots every ten), and `history_h` tells how
/// many hours (up to a day) the slow ones stand on. Every buffer is allocated at creation; an update
/// allocates nothing.
public final class CellDriftFeatures {
    /// The inputs of one cell, in this order (docs/models.md).
    public static let names = [
        "deviation_z", "mean_deviation_10min_z", "mean_deviation_1h_z", "mean_deviation_12h_z", "change_24h_z",
        "resistance_ratio_excess", "resistance_evidence", "steady_load_evidence", "leak_evidence", "leak_milli_c",
        "temperature_deviation_k", "spread_of_rule", "c_rate", "history_h",
    ]
    /// The BMS's consistency rule (V), which `spread_of_rule` counts in.
    public static let ruleSpread = 0.050
    public static let count = names.count
    /// Time constants of the three means, hours.
    public static let meanHours = (short: 1.0 / 6, fast: 1.0, slow: 12.0)
    /// Hours in the ring behind `change_24h_mv`.
    public static let ringHours = 24

    public let cells: Int
    private let short: UnsafeMutableBufferPointer<Double>
    private let fast: UnsafeMutableBufferPointer<Double>
    private let slow: UnsafeMutableBufferPointer<Double>
    /// (`ringHours` + 1) × cells: the one-hour mean at each hour mark, oldest overwritten first, so the
    /// oldest is 24 h before the newest.
    private let ring: UnsafeMutableBufferPointer<Double>
    private let temperatureDeviation: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var ringNext = 0, ringCount = 0
    private var nextHourMark = Double.nan
    private var previousTime = Double.nan
    private var firstTime = Double.nan
    private var spread = 0.0, current = 0.0, largestCurrent = 0.0
    /// The pack's robust cell-to-cell standard deviation at the latest snapshot (V).
    public private(set) var cellSpread = 0.0
    private let features: ConsistencyFeatures
    private let detectors: CellDetectors?

    /// Without `detectors` their inputs are 0, the current's C-rate is against the largest current seen
    /// and the readings' step is taken as 1 mV.
    public init(features: ConsistencyFeatures, detectors: CellDetectors? = nil) {
        self.features = features
        self.detectors = detectors
        cells = features.cells
        func buffer(_ size: Int) -> UnsafeMutableBufferPointer<Double> {
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: size)
            buffer.initialize(repeating: 0)
            return buffer
        }
        short = buffer(cells)
        fast = buffer(cells)
        slow = buffer(cells)
        ring = buffer((Self.ringHours + 1) * cells)
        temperatureDeviation = buffer(cells)
        scratch = buffer(cells)
    }

    deinit {
        for buffer in [short, fast, slow, ring, temperatureDeviation, scratch] { buffer.deallocate() }
    }

    /// Call after `features.update` with the same snapshot's time, temperatures and current. Temperatures
    /// count per cell only when there is one per cell; otherwise their input is 0.
    public func update(time: Double, temperatures: UnsafeBufferPointer<Double>, current: Double) {
        let deviation = features.deviation
        // 1.4826 × the median absolute deviation is the standard deviation of a normal spread, unmoved by
        // the one cell that drifts.
        for cell in 0..<cells { scratch[cell] = abs(deviation[cell]) }
        let readingStep = detectors.map { $0.voltageResolution.isFinite ? $0.voltageResolution : 0.001 } ?? 0.001
        cellSpread = max(1.4826 * ConsistencyFeatures.median(UnsafeBufferPointer(scratch), scratch), readingStep)
        if previousTime.isNaN || time < previousTime {
            for cell in 0..<cells {
                short[cell] = deviation[cell] / cellSpread
                fast[cell] = short[cell]
                slow[cell] = short[cell]
            }
            nextHourMark = time + 3600
            firstTime = time
            ringNext = 0
            ringCount = 0
        } else {
            // Weights for an irregular step: a gap of hours counts as hours, not as one sample.
            let step = time - previousTime
            let shortWeight = 1 - exp(-step / (Self.meanHours.short * 3600))
            let fastWeight = 1 - exp(-step / (Self.meanHours.fast * 3600))
            let slowWeight = 1 - exp(-step / (Self.meanHours.slow * 3600))
            for cell in 0..<cells {
                let z = deviation[cell] / cellSpread
                short[cell] += shortWeight * (z - short[cell])
                fast[cell] += fastWeight * (z - fast[cell])
                slow[cell] += slowWeight * (z - slow[cell])
            }
        }
        previousTime = time
        if time >= nextHourMark, time.isFinite {
            // Every hour mark passed gets the current mean; past a whole ring of them, one ring's worth is
            // enough (a gap of years costs the same as a gap of a day).
            let passed = ((time - nextHourMark) / 3600).rounded(.down)
            let marks = passed >= Double(Self.ringHours) ? Self.ringHours + 1 : Int(passed) + 1
            for _ in 0..<marks {
                for cell in 0..<cells { ring[ringNext * cells + cell] = fast[cell] }
                ringNext = (ringNext + 1) % (Self.ringHours + 1)
                ringCount = min(ringCount + 1, Self.ringHours + 1)
            }
            nextHourMark += passed * 3600 + 3600
        }
        if temperatures.count == cells {
            for cell in 0..<cells { scratch[cell] = temperatures[cell] }
            let median = ConsistencyFeatures.median(UnsafeBufferPointer(scratch), scratch)
            for cell in 0..<cells { temperatureDeviation[cell] = temperatures[cell] - median }
        } else {
            for cell in 0..<cells { temperatureDeviation[cell] = 0 }
        }
        spread = features.spread
        self.current = current.isNaN ? 0 : current
        largestCurrent = max(largestCurrent, abs(self.current))
    }

    /// The one-hour mean at the oldest hour mark kept (24 h before the newest once a day has passed),
    /// or the current one before the first hour mark.
    @inline(__always) private func dayAgo(_ cell: Int) -> Double {
        guard ringCount > 0 else { return fast[cell] }
        let oldest = ringCount <= Self.ringHours ? 0 : ringNext
        return ring[oldest * cells + cell]
    }

    /// Writes the `count` inputs of `cell` (in `names` order) into `output`.
    @inline(__always)
    public func inputs(cell: Int, into output: UnsafeMutableBufferPointer<Double>) {
        output[0] = features.deviation[cell] / cellSpread
        output[1] = short[cell]
        output[2] = fast[cell]
        output[3] = slow[cell]
        output[4] = fast[cell] - dayAgo(cell)
        if let estimates = detectors?.scaleFreeEstimates(cell) {
            (output[5], output[6], output[7], output[8], output[9]) = estimates
        } else {
            for index in 5...9 { output[index] = 0 }
        }
        output[10] = temperatureDeviation[cell]
        output[11] = spread / Self.ruleSpread
        let oneC = detectors?.oneC ?? largestCurrent
        output[12] = oneC > 0 ? current / oneC : 0
        // How much history the slow inputs stand on: the first day's means and changes are not yet
        // what they become, and the network learns to weigh them by it.
        output[13] = min(previousTime - firstTime, Double(Self.ringHours) * 3600) / 3600
    }

    public func inputs(cell: Int) -> [Double] {
        var values = [Double](repeating: 0, count: Self.count)
        values.withUnsafeMutableBufferPointer { inputs(cell: cell, into: $0) }
        return values
    }
}
