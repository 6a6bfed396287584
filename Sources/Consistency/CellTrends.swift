/// When a current change counts as a step and when the pack counts as resting; the defaults suit a
/// snapshot every 1 to 10 s.
public struct TrendSettings: Sendable, Equatable {
    /// A change of current between two consecutive snapshots at least this large (A) is a step.
    public var stepCurrent: Double
    /// Two snapshots further apart than this (s) are not one step: the cells' OCV has moved in between.
    public var stepMaximumGap: Double
    /// Steps averaged per cell for its resistance.
    public var resistanceSteps: Int
    /// |current| at or below this (A) is rest.
    public var restCurrent: Double
    /// Seconds of rest ignored before the drift is measured, while the cells relax.
    public var restSettle: Double
    /// Settled rest needed before a drift is reported: 1 mV readings need hours to show mV/h.
    public var restMinimum: Double

    public init(stepCurrent: Double = 10, stepMaximumGap: Double = 30, resistanceSteps: Int = 16, restCurrent: Double = 2,
                restSettle: Double = 300, restMinimum: Double = 1800) {
        precondition(resistanceSteps > 0 && stepCurrent > 0 && restCurrent >= 0, "positive step size and count")
        self.stepCurrent = stepCurrent
        self.stepMaximumGap = stepMaximumGap
        self.resistanceSteps = resistanceSteps
        self.restCurrent = restCurrent
        self.restSettle = restSettle
        self.restMinimum = restMinimum
    }
}

/// Each cell's resistance from dV/dI across current steps, relative to the pack median. A step is two
/// consecutive snapshots whose currents differ by `stepCurrent` or more: the cell's resistance for it is
/// −ΔV/ΔI (current positive on discharge). Each cell keeps the mean of its last `resistanceSteps` steps.
final class StepResistance {
    let cells: Int
    let settings: TrendSettings
    private let steps: UnsafeMutableBufferPointer<Double>  // ring: resistanceSteps × cells
    private let previousVoltages: UnsafeMutableBufferPointer<Double>
    let means: UnsafeMutableBufferPointer<Double>
    /// Per cell: mean resistance / median of the cells' means; 0 before the first step.
    let ratio: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var previousTime = -Double.infinity
    private var previousCurrent = Double.nan
    private var next = 0
    private(set) var count = 0
    private(set) var medianResistance = 0.0

    init(cells: Int, settings: TrendSettings) {
        self.cells = cells
        self.settings = settings
        steps = .allocate(capacity: settings.resistanceSteps * cells)
        previousVoltages = .allocate(capacity: cells)
        means = .allocate(capacity: cells)
        ratio = .allocate(capacity: cells)
        scratch = .allocate(capacity: cells)
        for buffer in [steps, previousVoltages, means, ratio, scratch] { buffer.initialize(repeating: 0) }
    }

    deinit {
        for buffer in [steps, previousVoltages, means, ratio, scratch] { buffer.deallocate() }
    }

    func update(time: Double, current: Double, voltages: UnsafeBufferPointer<Double>) {
        defer {
            previousTime = time
            previousCurrent = current
            for cell in 0..<cells { previousVoltages[cell] = voltages[cell] }
        }
        let change = current - previousCurrent
        guard abs(change) >= settings.stepCurrent, time - previousTime <= settings.stepMaximumGap else { return }
        let row = next * cells
        for cell in 0..<cells { steps[row + cell] = -(voltages[cell] - previousVoltages[cell]) / change }
        next = (next + 1) % settings.resistanceSteps
        count = min(count + 1, settings.resistanceSteps)
        for cell in 0..<cells {
            var sum = 0.0
            for step in 0..<count { sum += steps[step * cells + cell] }
            means[cell] = sum / Double(count)
        }
        medianResistance = ConsistencyFeatures.median(UnsafeBufferPointer(means), scratch)
        for cell in 0..<cells { ratio[cell] = medianResistance != 0 ? means[cell] / medianResistance : 0 }
    }
}

/// The drift of each cell's deviation from the pack median while the pack rests: the least-squares slope
/// (V/h) over the current rest, from `restSettle` seconds after it began, reported once the settled part
/// is `restMinimum` long. A cell that discharges itself (a micro-short) falls against the others at
/// rest, when nothing else moves them apart. The last rest's value is kept until the next one counts.
final class RestDrift {
    let cells: Int
    let settings: TrendSettings
    private let sumDeviation: UnsafeMutableBufferPointer<Double>
    private let sumHourDeviation: UnsafeMutableBufferPointer<Double>
    /// Per cell, V/h.
    let drift: UnsafeMutableBufferPointer<Double>
    private var restStart = Double.nan
    private var firstSettled = 0.0
    private var samples = 0.0, sumHours = 0.0, sumHoursSquared = 0.0
    /// Seconds of settled rest behind `drift`.
    private(set) var seconds = 0.0

    init(cells: Int, settings: TrendSettings) {
        self.cells = cells
        self.settings = settings
        sumDeviation = .allocate(capacity: cells)
        sumHourDeviation = .allocate(capacity: cells)
        drift = .allocate(capacity: cells)
        for buffer in [sumDeviation, sumHourDeviation, drift] { buffer.initialize(repeating: 0) }
    }

    deinit {
        for buffer in [sumDeviation, sumHourDeviation, drift] { buffer.deallocate() }
    }

    func update(time: Double, current: Double, deviation: UnsafeMutableBufferPointer<Double>) {
        guard abs(current) <= settings.restCurrent else {  // NaN (no current mapped) is never rest either
            restStart = .nan
            return
        }
        if restStart.isNaN {
            restStart = time
            samples = 0
        }
        guard time - restStart >= settings.restSettle else { return }
        if samples == 0 {
            firstSettled = time
            sumHours = 0
            sumHoursSquared = 0
            for cell in 0..<cells {
                sumDeviation[cell] = 0
                sumHourDeviation[cell] = 0
            }
        }
        // Hours from the first settled snapshot keep the sums small and the slope exact enough.
        let hours = (time - firstSettled) / 3600
        samples += 1
        sumHours += hours
        sumHoursSquared += hours * hours
        for cell in 0..<cells {
            sumDeviation[cell] += deviation[cell]
            sumHourDeviation[cell] += hours * deviation[cell]
        }
        let denominator = samples * sumHoursSquared - sumHours * sumHours
        guard time - firstSettled >= settings.restMinimum, samples >= 2, denominator > 0 else { return }
        for cell in 0..<cells {
            drift[cell] = (samples * sumHourDeviation[cell] - sumHours * sumDeviation[cell]) / denominator
        }
        seconds = time - firstSettled
    }
}
