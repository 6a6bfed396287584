/// Each cell's self-discharge against the pack's, from rests.
///
/// At rest a cell that leaks loses charge the others keep, so its deviation from the median falls at
/// leak ÷ capacity × dOCV/dSOC. During settled rest every cell's deviation is fitted against time; each
/// minute the slopes are compared with the pack's (median and spread across cells, never below the fit's
/// own standard error) and a CUSUM over those checks raises a cell whose slope stays apart. Across a gap
/// in the data (a logger asleep overnight) the change of each cell's open-circuit deviation is tested the
/// same way. Estimates are in C (leak ÷ capacity) through the pack's own OCV slope; no chemistry table.
final class LeakWatch {
    let cells: Int
    let settle: Double
    let checkInterval: Double
    /// The z-score shift the test is tuned to: each check adds shift × (z − shift/2), the log-likelihood
    /// ratio of N(shift, 1) against N(0, 1).
    let shift: Double
    // Least-squares sums of the settled rest: shared time sums, per cell deviation sums.
    private var count = 0.0, timeSum = 0.0, timeSquares = 0.0
    private var restOrigin = Double.nan
    private var restStart = Double.nan
    private var nextCheck = Double.nan
    private let deviationSums: UnsafeMutableBufferPointer<Double>
    private let crossSums: UnsafeMutableBufferPointer<Double>
    private let squareSums: UnsafeMutableBufferPointer<Double>
    /// Per cell: the latest rest slope against the pack's (V/s, negative when falling), its z-score, the
    /// CUSUM statistic and the open-circuit deviation at the last snapshot (V).
    let slope: UnsafeMutableBufferPointer<Double>
    let score: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    private let lastDeviation: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var lastTime = Double.nan
    private var resolution = 0.0

    init(cells: Int, settle: Double, checkInterval: Double, shift: Double) {
        self.cells = cells
        self.settle = settle
        self.checkInterval = checkInterval
        self.shift = shift
        deviationSums = .zeroed(cells)
        crossSums = .zeroed(cells)
        squareSums = .zeroed(cells)
        slope = .zeroed(cells)
        score = .zeroed(cells)
        statistic = .zeroed(cells)
        lastDeviation = .zeroed(cells)
        scratch = .zeroed(cells)
    }

    deinit {
        for buffer in [deviationSums, crossSums, squareSums, slope, score, statistic, lastDeviation, scratch] { buffer.deallocate() }
    }

    /// Takes a snapshot: `ocvDeviation` is each cell's deviation with its resistance's share of the drop
    /// put back (V). True when a check or a gap test updated `score` and `statistic`.
    func update(time: Double, resting: Bool, ocvDeviation: UnsafeMutableBufferPointer<Double>, resolution: Double) -> Bool {
        self.resolution = resolution.isFinite ? resolution : 0
        defer {
            for cell in 0..<cells { lastDeviation[cell] = ocvDeviation[cell] }
            lastTime = time
        }
        if time - lastTime > 600 {
            restStart = .nan
            testGap(ocvDeviation, seconds: time - lastTime)
            CrossCellTest.accumulate(score, into: statistic, shift: shift)
            return true
        }
        guard resting else {
            restStart = .nan
            return false
        }
        if restStart.isNaN {
            restStart = time
            count = 0
            nextCheck = time + settle + checkInterval
        }
        guard time - restStart >= settle else { return false }
        if count == 0 {
            restOrigin = time
            timeSum = 0
            timeSquares = 0
            for cell in 0..<cells { deviationSums[cell] = 0; crossSums[cell] = 0; squareSums[cell] = 0 }
        }
        let t = time - restOrigin
        count += 1
        timeSum += t
        timeSquares += t * t
        for cell in 0..<cells {
            let d = ocvDeviation[cell]
            deviationSums[cell] += d
            crossSums[cell] += t * d
            squareSums[cell] += d * d
        }
        guard time >= nextCheck else { return false }
        nextCheck = time + checkInterval
        guard t >= Self.minimumFit else { return false }
        check(seconds: t)
        CrossCellTest.accumulate(score, into: statistic, shift: shift)
        return true
    }

    private func check(seconds: Double) {
        let spreadOfTime = timeSquares - timeSum * timeSum / count
        guard spreadOfTime > 0 else { return }
        var errorSum = 0.0
        for cell in 0..<cells {
            let cross = crossSums[cell] - timeSum * deviationSums[cell] / count
            slope[cell] = cross / spreadOfTime
            let residual = max(0, squareSums[cell] - deviationSums[cell] * deviationSums[cell] / count - slope[cell] * cross)
            errorSum += (residual / max(count - 2, 1) / spreadOfTime).squareRoot()
        }
        // A slowly moving reading crosses a rounding step now and then: one step over the fit is no evidence.
        let roundingError = resolution / seconds
        let standardError = max(errorSum / Double(cells), roundingError)
        CrossCellTest.scores(slope, into: score, scratch: scratch, floor: standardError, sign: -1)
    }

    /// Across a gap: each cell's change of open-circuit deviation against the pack's changes, then as a
    /// slope over the gap (V/s) for the leak estimate.
    private func testGap(_ ocvDeviation: UnsafeMutableBufferPointer<Double>, seconds: Double) {
        for cell in 0..<cells { slope[cell] = ocvDeviation[cell] - lastDeviation[cell] }
        CrossCellTest.scores(slope, into: score, scratch: scratch, floor: max(Self.gapFloor, 1.5 * resolution), sign: -1)
        for cell in 0..<cells { slope[cell] /= seconds }
    }

    /// Below this change across a gap (V), about a reading's resolution, no cell is told apart.
    static let gapFloor = 0.0015

    /// Seconds of settled rest a slope is fitted over before it is compared.
    static let minimumFit = 300.0
}
