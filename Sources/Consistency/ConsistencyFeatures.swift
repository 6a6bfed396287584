#if canImport(Glibc)
import Glibc
#endif

/// Pack and per-cell consistency features, updated snapshot by snapshot over a window of the last
/// `window` snapshots. Every buffer is allocated at creation; an update allocates nothing.
///
/// Definitions (docs/features.md), each checked against numpy:
/// - spread: max − min cell voltage; standard deviation: population (ddof 0);
/// - max |modified z-score|: max |0.6745 (v − median) / MAD|, MAD the median absolute deviation (0 when MAD is 0);
/// - entropy: −Σ p ln p with p = v / Σv (Shannon entropy of the normalized cell voltages);
/// - temperature range: max − min cell temperature;
/// - per cell, deviation: v − median of the snapshot; deviation slope: least-squares slope of the
///   deviation against time over the window, volts per hour; correlation: Pearson correlation of the
///   cell's voltage with the pack mean over the window (0 when either is constant);
/// - per cell, resistance relative to the pack median from dV/dI across current steps, and the drift of
///   the deviation during rest (CellTrends.swift), both from the current given with each snapshot.
public final class ConsistencyFeatures {
    public let cells: Int
    public let window: Int
    /// Ring buffers: time, pack mean, and per cell voltage and deviation, `window` deep.
    private let times: UnsafeMutableBufferPointer<Double>
    private let means: UnsafeMutableBufferPointer<Double>
    private let voltageHistory: UnsafeMutableBufferPointer<Double>
    private let deviationHistory: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var head = 0
    public private(set) var count = 0

    public private(set) var spread = 0.0
    public private(set) var standardDeviation = 0.0
    public private(set) var maximumModifiedZ = 0.0
    public private(set) var entropy = 0.0
    public private(set) var temperatureRange = 0.0
    public private(set) var median = 0.0
    /// Per cell, for the latest snapshot.
    public let deviation: UnsafeMutableBufferPointer<Double>
    /// Per cell: slope of the deviation over the window (V/h) and correlation of the cell's voltage with
    /// the pack mean. Worked out when first read after a snapshot: 96 cells × the window is the dearest
    /// step of an update, and most snapshots are never asked for them.
    public var deviationSlope: UnsafeMutableBufferPointer<Double> {
        refreshTrends()
        return slopes
    }
    public var correlation: UnsafeMutableBufferPointer<Double> {
        refreshTrends()
        return correlations
    }
    private let slopes: UnsafeMutableBufferPointer<Double>
    private let correlations: UnsafeMutableBufferPointer<Double>
    private var trendsStale = false
    private let resistance: StepResistance
    private let rest: RestDrift

    /// Per cell: resistance / the pack's median resistance, 0 before the first current step.
    public var resistanceRatio: UnsafeMutableBufferPointer<Double> { resistance.ratio }
    /// The median of the cells' resistances (Ω), 0 before the first current step.
    public var medianResistance: Double { resistance.medianResistance }
    /// Current steps behind the resistances (at most `TrendSettings.resistanceSteps`).
    public var resistanceSteps: Int { resistance.count }
    /// Per cell: slope of the deviation during the latest rest, V/h.
    public var restDrift: UnsafeMutableBufferPointer<Double> { rest.drift }
    /// Seconds of settled rest behind `restDrift`.
    public var restSeconds: Double { rest.seconds }

    public init(cells: Int, window: Int, trends: TrendSettings = TrendSettings()) {
        precondition(cells > 0 && window > 1, "at least one cell and a window of two")
        self.cells = cells
        self.window = window
        func buffer(_ size: Int) -> UnsafeMutableBufferPointer<Double> {
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: size)
            buffer.initialize(repeating: 0)
            return buffer
        }
        times = buffer(window)
        means = buffer(window)
        voltageHistory = buffer(window * cells)
        deviationHistory = buffer(window * cells)
        scratch = buffer(cells)
        deviation = buffer(cells)
        slopes = buffer(cells)
        correlations = buffer(cells)
        resistance = StepResistance(cells: cells, settings: trends)
        rest = RestDrift(cells: cells, settings: trends)
    }

    deinit {
        for buffer in [times, means, voltageHistory, deviationHistory, scratch, deviation, slopes, correlations] {
            buffer.deallocate()
        }
    }

    /// Adds one snapshot: `time` in seconds, a voltage per cell (volts), temperatures (any count, may be
    /// empty), the pack current (A, positive on discharge; NaN when unknown: no resistance, no rest).
    public func update(time: Double, voltages: UnsafeBufferPointer<Double>, temperatures: UnsafeBufferPointer<Double>,
                       current: Double) {
        precondition(voltages.count == cells, "one voltage per cell")
        var lowest = Double.infinity, highest = -Double.infinity, sum = 0.0
        for voltage in voltages {
            lowest = min(lowest, voltage)
            highest = max(highest, voltage)
            sum += voltage
        }
        let mean = sum / Double(cells)
        spread = highest - lowest
        var squares = 0.0, information = 0.0
        for voltage in voltages {
            squares += (voltage - mean) * (voltage - mean)
            let share = voltage / sum
            if share > 0 { information -= share * log(share) }
        }
        standardDeviation = (squares / Double(cells)).squareRoot()
        entropy = information
        median = Self.median(voltages, scratch)
        for cell in 0..<cells { scratch[cell] = abs(voltages[cell] - median) }
        let deviationMedian = Self.median(UnsafeBufferPointer(scratch), scratch)
        var largest = 0.0
        if deviationMedian > 0 {
            for voltage in voltages { largest = max(largest, abs(0.6745 * (voltage - median) / deviationMedian)) }
        }
        maximumModifiedZ = largest
        temperatureRange = temperatures.isEmpty ? 0 : (temperatures.max()! - temperatures.min()!)

        // Into the rings.
        times[head] = time
        means[head] = mean
        for cell in 0..<cells {
            deviation[cell] = voltages[cell] - median
            voltageHistory[head * cells + cell] = voltages[cell]
            deviationHistory[head * cells + cell] = deviation[cell]
        }
        head = (head + 1) % window
        count = min(count + 1, window)
        trendsStale = true
        resistance.update(time: time, current: current, voltages: voltages)
        rest.update(time: time, current: current, deviation: deviation)
    }

    private func refreshTrends() {
        guard trendsStale else { return }
        trendsStale = false
        let samples = Double(count)
        var timeMean = 0.0, packMean = 0.0
        for slot in 0..<count { timeMean += times[slot]; packMean += means[slot] }
        timeMean /= samples
        packMean /= samples
        var timeVariance = 0.0, packVariance = 0.0
        for slot in 0..<count {
            timeVariance += (times[slot] - timeMean) * (times[slot] - timeMean)
            packVariance += (means[slot] - packMean) * (means[slot] - packMean)
        }
        for cell in 0..<cells {
            var deviationMean = 0.0, voltageMean = 0.0
            for slot in 0..<count {
                deviationMean += deviationHistory[slot * cells + cell]
                voltageMean += voltageHistory[slot * cells + cell]
            }
            deviationMean /= samples
            voltageMean /= samples
            var timeCovariance = 0.0, packCovariance = 0.0, voltageVariance = 0.0
            for slot in 0..<count {
                let voltage = voltageHistory[slot * cells + cell] - voltageMean
                timeCovariance += (times[slot] - timeMean) * (deviationHistory[slot * cells + cell] - deviationMean)
                packCovariance += voltage * (means[slot] - packMean)
                voltageVariance += voltage * voltage
            }
            slopes[cell] = timeVariance > 0 ? timeCovariance / timeVariance * 3600 : 0
            let scale = (voltageVariance * packVariance).squareRoot()
            correlations[cell] = scale > 0 ? packCovariance / scale : 0
        }
    }

    /// The median of `values`, using `scratch` (as large; it may be `values` itself) to select in place:
    /// no allocation. Selection with a three-way partition (cells often read the same millivolt), not a
    /// sort: two medians of 96 cells per snapshot were the dearest part of an update.
    static func median(_ values: UnsafeBufferPointer<Double>, _ scratch: UnsafeMutableBufferPointer<Double>) -> Double {
        let count = values.count
        guard count > 0 else { return 0 }
        if values.baseAddress != UnsafePointer(scratch.baseAddress) {
            for index in 0..<count { scratch[index] = values[index] }
        }
        let middle = count / 2
        var low = 0, high = count
        var upper = 0.0
        while true {
            let (first, centre, last) = (scratch[low], scratch[low + (high - low) / 2], scratch[high - 1])
            let pivot = max(min(first, centre), min(max(first, centre), last))
            // [low, below) < pivot, [below, above) == pivot, [above, high) > pivot; a NaN counts as equal.
            var below = low, index = low, above = high
            while index < above {
                let value = scratch[index]
                if value < pivot {
                    scratch.swapAt(below, index)
                    below += 1
                    index += 1
                } else if value > pivot {
                    above -= 1
                    scratch.swapAt(index, above)
                } else {
                    index += 1
                }
            }
            if middle < below {
                high = below
            } else if middle >= above {
                low = above
            } else {
                upper = pivot
                break
            }
        }
        guard count % 2 == 0 else { return upper }
        // Everything left of the middle is no larger than it: the lower middle is their largest.
        var lower = scratch[0]
        for index in 1..<middle { lower = max(lower, scratch[index]) }
        return (lower + upper) / 2
    }
}
