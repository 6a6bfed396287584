#if canImport(Glibc)
import Glibc
#endif

/// The per-cell inputs of the cell-drift model, built on `ConsistencyFeatures` after each snapshot.
/// A drifting cell shows first in slow quantities (a deviation that creeps over hours, a fall at rest,
/// a resistance or a temperature apart from its neighbours). Every input is measured in time, not in
/// snapshots, so one model serves a log replayed at one snapshot a second and MQTT snapshots every ten:
/// per cell, exponentially weighted means of the deviation over ten minutes, one hour and twelve hours,
/// an hourly ring of the one-hour mean for the change over a day, the drift at rest, the resistance
/// against the pack median and the temperature against the pack median, and how many hours (up to a
/// day) of history the slow ones stand on. Every buffer is allocated at
/// creation; an update allocates nothing.
public final class CellDriftFeatures {
    /// The inputs of one cell, in this order (docs/models.md).
    public static let names = [
        "deviation_mv", "mean_deviation_10min_mv", "mean_deviation_1h_mv", "mean_deviation_12h_mv", "change_24h_mv",
        "rest_drift_mv_per_h", "resistance_excess_pct", "temperature_deviation_c", "spread_mv", "current_a",
        "history_h",
    ]
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
    private var spread = 0.0, current = 0.0
    private let features: ConsistencyFeatures

    public init(features: ConsistencyFeatures) {
        self.features = features
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
        if previousTime.isNaN || time < previousTime {
            for cell in 0..<cells {
                short[cell] = deviation[cell]
                fast[cell] = deviation[cell]
                slow[cell] = deviation[cell]
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
                short[cell] += shortWeight * (deviation[cell] - short[cell])
                fast[cell] += fastWeight * (deviation[cell] - fast[cell])
                slow[cell] += slowWeight * (deviation[cell] - slow[cell])
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
    }

    /// The one-hour mean at the oldest hour mark kept (24 h before the newest once a day has passed),
    /// or the current one before the first hour mark.
    @inline(__always) private func dayAgo(_ cell: Int) -> Double {
        guard ringCount > 0 else { return fast[cell] }
        let oldest = ringCount <= Self.ringHours ? 0 : ringNext
        return ring[oldest * cells + cell]
    }

    /// Writes the `count` inputs of `cell` (units in their names) into `output`.
    @inline(__always)
    public func inputs(cell: Int, into output: UnsafeMutableBufferPointer<Double>) {
        let ratio = features.resistanceRatio[cell]
        output[0] = features.deviation[cell] * 1000
        output[1] = short[cell] * 1000
        output[2] = fast[cell] * 1000
        output[3] = slow[cell] * 1000
        output[4] = (fast[cell] - dayAgo(cell)) * 1000
        output[5] = features.restDrift[cell] * 1000
        output[6] = ratio > 0 ? (ratio - 1) * 100 : 0
        output[7] = temperatureDeviation[cell]
        output[8] = spread * 1000
        output[9] = current
        // How much history the slow inputs stand on: the first day's means and changes are not yet
        // what they become, and the network learns to weigh them by it.
        output[10] = min(previousTime - firstTime, Double(Self.ringHours) * 3600) / 3600
    }

    public func inputs(cell: Int) -> [Double] {
        var values = [Double](repeating: 0, count: Self.count)
        values.withUnsafeMutableBufferPointer { inputs(cell: cell, into: $0) }
        return values
    }
}
