@testable import Consistency

/// Pairs scripted straight into the pair test, so that each level's resistance and each cell's are what a
/// test sets: the median cell at 3.3 V, readings rounded to 1 mV with 0.3 mV of noise on each cell.
final class ScriptedPairs {
    let cells: Int
    let oneC: Double
    let threshold: Double
    let test: ResistanceChange
    var random: SplitMix
    private let deviation: UnsafeMutableBufferPointer<Double>
    private var base: [Double]
    private var median = 3.3
    private(set) var current = 0.0

    init(cells: Int, oneC: Double, seed: UInt64) {
        let settings = DetectionSettings()
        self.cells = cells
        self.oneC = oneC
        threshold = settings.resistanceThreshold
        test = ResistanceChange(cells: cells, share: settings.resistanceShare, memory: settings.resistanceMemory)
        random = SplitMix(seed: seed)
        deviation = .allocate(capacity: cells)
        base = [Double](repeating: 0, count: cells)
    }

    deinit { deviation.deallocate() }

    /// Whether a pair from the current to `next` falls in the level below C/10.
    func isSmall(to next: Double) -> Bool {
        ResistanceChange.level(cRate: (abs(next) + abs(current)) / 2 / oneC) == 0
    }

    /// The current steps to `next` at `time`: the median cell's voltage falls by `medianResistance` (Ω)
    /// times the step, each cell's by `above(cell)` more.
    func step(to next: Double, at time: Double, medianResistance: Double, above: (Int) -> Double) {
        let step = next - current
        median -= medianResistance * step
        let reading = (median / 0.001).rounded() * 0.001
        for cell in 0..<cells {
            base[cell] -= above(cell) * step
            deviation[cell] = ((median + base[cell] + 0.0003 * random.normal()) / 0.001).rounded() * 0.001 - reading
        }
        current = next
        test.update(time: time, deviation: deviation, median: reading, current: current, periodStartCurrent: current,
                    resolution: 0.001, oneC: oneC, resting: false)
    }
}
