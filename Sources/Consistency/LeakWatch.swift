/// Each cell's self-discharge against the pack's, from rests.
///
/// At rest a cell that leaks loses charge the others keep, so its deviation from the median falls at
/// leak ÷ capacity × dOCV/dSOC. During settled rest every cell's deviation is fitted against time; each
/// minute the slopes are compared with the pack's (median and spread across cells, never below the fit's
/// own standard error, nor below what the cells' unequal relaxation can account for while the pack still
/// relaxes) and a CUSUM over those checks raises a cell whose slope stays apart. Across a gap
/// in the data (a logger asleep overnight), the change of each cell's open-circuit deviation is tested
/// the same way: against the first snapshot after the gap when that rests, else against the deviation at
/// zero current extrapolated from the load's first seconds (a cell whose resistance rose while the logger
/// slept stands apart under load, and that is no leak). A log that stops under load (a capture ending
/// mid-charge) is tested from its last open-circuit deviations, with room for the polarisation they may
/// still hold. Estimates are in C (leak ÷ capacity) through the pack's own OCV slope; no chemistry table.
final class LeakWatch {
    let cells: Int
    let settle: Double
    let checkInterval: Double
    /// The z-score shift the test is tuned to: each check adds shift × (z − shift/2), the log-likelihood
    /// ratio of N(shift, 1) against N(0, 1).
    let shift: Double
    /// Where no balancing flag is mapped, the CUSUM of a cell's rise against the pack that ends a rest's test
    /// (the other cells are being bled); infinite where a flag is mapped.
    let riseThreshold: Double
    // Least-squares sums of the settled rest: shared time sums, per cell deviation sums.
    private var count = 0.0, timeSum = 0.0, timeSquares = 0.0
    // For the fall's curvature (fallIsSteady): higher time sums, and per cell Σt²·deviation (squareTimeSums).
    private var timeCubes = 0.0, timeFourths = 0.0
    // The median cell's voltage over the same fit (from its value at the fit's origin).
    private var medianSum = 0.0, timeMedianSum = 0.0
    private var restOrigin = Double.nan
    private var medianOrigin = Double.nan
    private var restStart = Double.nan
    private var nextCheck = Double.nan
    private let deviationSums: UnsafeMutableBufferPointer<Double>
    private let crossSums: UnsafeMutableBufferPointer<Double>
    private let squareSums: UnsafeMutableBufferPointer<Double>
    private let squareTimeSums: UnsafeMutableBufferPointer<Double>
    // The last check's fit: its snapshots and seconds (0 after a gap's test, which fits nothing).
    private var checkedCount = 0.0, checkedSeconds = 0.0
    /// The last check's allowance for the cells' unequal relaxation (V/s: a quarter of the median cell's
    /// slope over the fit; 0 after a gap's test): a fall within twice it is no leak's to size.
    private(set) var relaxationFloor = 0.0
    /// Per cell: the latest rest slope against the pack's (V/s, negative when falling), its z-score, the
    /// CUSUM statistic and the open-circuit deviation at the last snapshot (V).
    let slope: UnsafeMutableBufferPointer<Double>
    let score: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    private let riseStatistic: UnsafeMutableBufferPointer<Double>
    /// This rest's test ended by a cell rising apart (`riseThreshold`).
    private var bleedsInferred = false
    /// A snapshot has said the BMS balances: its flag counts from then on, not the cells' rises.
    private var balancingSaid = false
    private let lastDeviation: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var lastTime = Double.nan
    private var lastResting = false
    private var lastBalancing = false
    private var lastDrop = Double.nan
    /// What the deviations before the present gap may hold of the cells' polarisation (V; 0 from a rest).
    private var gapPolarisation = 0.0
    // A gap whose far side is under load: the deviations before it, its length, when the load began.
    private let beforeGap: UnsafeMutableBufferPointer<Double>
    private let zeroCurrentDeviation: UnsafeMutableBufferPointer<Double>
    private let afterGap: ZeroCurrentFit
    private var pendingGap = Double.nan
    private var loadAfterGap = Double.nan
    private var resolution = 0.0
    private var spacing = SnapshotSpacing()

    init(cells: Int, settle: Double, checkInterval: Double, shift: Double, riseThreshold: Double = .infinity) {
        self.cells = cells
        self.settle = settle
        self.checkInterval = checkInterval
        self.shift = shift
        self.riseThreshold = riseThreshold
        riseStatistic = .zeroed(cells)
        deviationSums = .zeroed(cells)
        crossSums = .zeroed(cells)
        squareSums = .zeroed(cells)
        squareTimeSums = .zeroed(cells)
        slope = .zeroed(cells)
        score = .zeroed(cells)
        statistic = .zeroed(cells)
        lastDeviation = .zeroed(cells)
        beforeGap = .zeroed(cells)
        zeroCurrentDeviation = .zeroed(cells)
        afterGap = ZeroCurrentFit(cells: cells)
        scratch = .zeroed(cells)
    }

    deinit {
        for buffer in [deviationSums, crossSums, squareSums, squareTimeSums, slope, score, statistic, riseStatistic, lastDeviation, scratch,
                       beforeGap, zeroCurrentDeviation] {
            buffer.deallocate()
        }
    }

    /// Takes a snapshot: `ocvDeviation` is each cell's deviation with its resistance's share of the drop
    /// put back (V), `median` the median cell's voltage (V); `current` (A) and `oneC` (A, the pack's
    /// capacity or its largest current) size the load after a gap; `drop` is the median cell's resistive
    /// drop at this current (V, NaN while its resistance is unknown). True when a check or a gap test
    /// updated `score` and `statistic`.
    ///
    /// `balancing`: the BMS bleeds its highest cells (passive balancing) and says so. Their deviations
    /// then fall as a leak's would (our simulator's BMS bleeds 60 mA while parked near full: 4 of 6
    /// healthy packs raised over 72 h before the flag was read), so no rest fit runs while it lasts and a
    /// gap it may have gone on through is not tested. The cells it bled stay lower, which a later rest's
    /// slope does not see.
    ///
    /// `resting`: the current is within the rest band; `restHolds`: the pack's rest goes on (RestSpan, true
    /// whenever `resting`), so a snapshot a current sensor's noise put outside the band is left out of the
    /// fit without ending it.
    func update(time: Double, resting: Bool, restHolds: Bool, balancing: Bool = false, current: Double, oneC: Double,
                median: Double, drop: Double, ocvDeviation: UnsafeMutableBufferPointer<Double>, resolution: Double) -> Bool {
        self.resolution = resolution.isFinite ? resolution : 0
        if balancing { balancingSaid = true }
        defer {
            for cell in 0..<cells { lastDeviation[cell] = ocvDeviation[cell] }
            lastTime = time
            lastResting = resting
            lastBalancing = balancing
            lastDrop = abs(drop)
        }
        let interval = time - lastTime
        if spacing.isGap(interval, minimum: Self.gapSeconds) {
            restStart = .nan
            pendingGap = .nan
            // Under load each cell's deviation holds, beyond the resistive share put back, its polarisation,
            // which differs from cell to cell as their relaxations do after a load.
            gapPolarisation = lastResting ? 0 : Self.relaxationShare * lastDrop
            guard gapPolarisation.isFinite, !lastBalancing, !balancing else { return false }
            if resting {
                testGap(ocvDeviation, before: lastDeviation, seconds: interval)
                return true
            }
            for cell in 0..<cells { beforeGap[cell] = lastDeviation[cell] }
            pendingGap = interval
            loadAfterGap = time
            afterGap.reset()
        }
        if balancing { pendingGap = .nan }
        if !pendingGap.isNaN, let tested = testAfterGap(time: time, resting: resting, current: current, oneC: oneC,
                                                         ocvDeviation: ocvDeviation) {
            return tested
        }
        guard restHolds, !balancing else {
            restStart = .nan
            return false
        }
        guard resting else { return false }
        if restStart.isNaN {
            restStart = time
            count = 0
            nextCheck = time + settle + checkInterval
            bleedsInferred = false
            for cell in 0..<cells { riseStatistic[cell] = 0 }
        }
        guard !bleedsInferred, time - restStart >= settle else { return false }
        if count == 0 {
            restOrigin = time
            medianOrigin = median
            timeSum = 0
            timeSquares = 0
            timeCubes = 0
            timeFourths = 0
            medianSum = 0
            timeMedianSum = 0
            for cell in 0..<cells {
                deviationSums[cell] = 0; crossSums[cell] = 0; squareSums[cell] = 0; squareTimeSums[cell] = 0
            }
        }
        let t = time - restOrigin
        count += 1
        timeSum += t
        let squared = t * t
        timeSquares += squared
        timeCubes += squared * t
        timeFourths += squared * squared
        if median.isFinite, medianOrigin.isFinite {
            medianSum += median - medianOrigin
            timeMedianSum += t * (median - medianOrigin)
        }
        for cell in 0..<cells {
            let d = ocvDeviation[cell]
            deviationSums[cell] += d
            crossSums[cell] += t * d
            squareSums[cell] += d * d
            squareTimeSums[cell] += squared * d
        }
        guard time >= nextCheck else { return false }
        nextCheck = time + checkInterval
        // A fit through a handful of sparse snapshots has no residuals to tell its error by.
        guard t >= Self.minimumFit, count >= Self.minimumPoints else { return false }
        let stillRelaxing = check(seconds: t)
        if inferBleeds() { return false }
        CrossCellTest.accumulate(score, into: statistic, shift: shift)
        // The fit's first minutes carry the pack's fastest relaxation: while that is what bounds the test,
        // the fit starts again from here, where the pack moves slower.
        if stillRelaxing { count = 0 }
        return true
    }

    /// Whether a cell has risen apart from the pack over this rest as a leaking one falls (the same shift
    /// and false-alarm rate): at rest only the others' bleeding lifts a cell against their median, and the
    /// cells a BMS bleeds fall as leaking ones do until it stops (heldout-bleed without its flags: 17 of its
    /// 18 leaks raised on cells that do not leak came in rests where 11-15 of 12-16 cells were bled at once).
    /// The rest's test ends there, as while a mapped flag is set; the falls it had counted stay. A cell or
    /// two bled alone lift nothing and stay unseen.
    private func inferBleeds() -> Bool {
        guard riseThreshold.isFinite, !balancingSaid else { return false }
        // The leak test's own CUSUM on the rises; many cells rising together is what is looked for here.
        for cell in 0..<cells { scratch[cell] = -score[cell] }
        CrossCellTest.accumulate(scratch, into: riseStatistic, shift: shift, apartScore: .infinity)
        for cell in 0..<cells where riseStatistic[cell] > riseThreshold { bleedsInferred = true }
        return bleedsInferred
    }

    /// Scores every cell's slope; true when the cells' unequal relaxation, not the fit's error, bounded it.
    private func check(seconds: Double) -> Bool {
        let spreadOfTime = timeSquares - timeSum * timeSum / count
        guard spreadOfTime > 0 else { return false }
        checkedCount = count
        checkedSeconds = seconds
        var errorSum = 0.0
        for cell in 0..<cells {
            let cross = crossSums[cell] - timeSum * deviationSums[cell] / count
            slope[cell] = cross / spreadOfTime
            let residual = max(0, squareSums[cell] - deviationSums[cell] * deviationSums[cell] / count - slope[cell] * cross)
            scratch[cell] = (residual / max(count - 2, 1)).squareRoot()
            errorSum += scratch[cell] / spreadOfTime.squareRoot()
        }
        // A slowly moving reading crosses a rounding step now and then: a step over the fit is no evidence.
        // Readings whose noise dithers the rounding (residuals of half a step or more, the cells' readings
        // flickering) show a slope finer than their step, so there half a step over the fit is the floor.
        // (On the tuning fleets, dithered, the whole step held NMC leaks back by 5-20 minutes of rest and
        // some to the next morning; a tenth raised leaks on healthy LFP packs, whose cells drift apart by a
        // step at rest; a third was the least that raised nothing. Our own simulator's readings are not
        // dithered: half a step there raised 9 leaks on healthy packs.)
        let dithered = ConsistencyFeatures.median(UnsafeBufferPointer(scratch), scratch) >= Self.ditheredResidual * resolution
        let roundingError = (dithered ? Self.ditheredSteps : 1) * resolution / seconds
        // After a load every cell relaxes, each by its own amount: one that relaxes less than the median falls
        // against it as a leaking one would, in proportion to the median's own movement (a held-out
        // ORegan2022 pack's false alarm, docs/fleet.md, tenth session). No slope within a share of the
        // median's counts.
        let medianSlope = (timeMedianSum - timeSum * medianSum / count) / spreadOfTime
        let relaxation = Self.relaxationShare * abs(medianSlope)
        relaxationFloor = relaxation.isFinite ? relaxation : 0
        let fitError = max(errorSum / Double(cells), roundingError)
        let standardError = max(fitError, relaxationFloor)
        CrossCellTest.scores(slope, into: score, scratch: scratch, floor: standardError, sign: -1)
        return standardError > fitError
    }

    /// Whether `cell`'s fall over the last check's fit held its pace: a leak's fall is steady, where a cell
    /// apart from the others in SOC can cross a step of its OCV while the pack relaxes after a charge and
    /// fall tens of millivolts in minutes against a median that hardly moves (HELDOUTNOISYCURRENT002, an NMC
    /// pack at -4 °C: a C/98 leak named 4 min into such a fall, from 22 to 32 mV under the median, was sized
    /// 12.6 times its leak). A parabola a + b·u + c·u² is fitted to the deviation over the fit's span scaled
    /// to u in 0...1; c is what the pace changed by over the span (the end's slope b + 2c, the line's about
    /// b + c). Steady unless c is both beyond `steadyShare` of the line's slope and `steadyScore` of its
    /// own standard error. True after a gap's test (no fit to judge).
    func fallIsSteady(_ cell: Int) -> Bool {
        let n = checkedCount, span = checkedSeconds
        guard span > 0, n > 3 else { return true }
        // Sums of u = t / span: u⁰…u⁴, and of u^k · deviation.
        let u1 = timeSum / span, u2 = timeSquares / (span * span)
        let u3 = timeCubes / (span * span * span), u4 = timeFourths / (span * span * span * span)
        let y0 = deviationSums[cell], y1 = crossSums[cell] / span, y2 = squareTimeSums[cell] / (span * span)
        // The normal equations [n u1 u2; u1 u2 u3; u2 u3 u4]·(a, b, c) = (y0, y1, y2), by Cramer's rule.
        let det = n * (u2 * u4 - u3 * u3) - u1 * (u1 * u4 - u2 * u3) + u2 * (u1 * u3 - u2 * u2)
        guard det > 0 else { return true }
        let a = (y0 * (u2 * u4 - u3 * u3) - u1 * (y1 * u4 - u3 * y2) + u2 * (y1 * u3 - u2 * y2)) / det
        let b = (n * (y1 * u4 - u3 * y2) - y0 * (u1 * u4 - u2 * u3) + u2 * (u1 * y2 - y1 * u2)) / det
        let c = (n * (u2 * y2 - u3 * y1) - u1 * (u1 * y2 - u2 * y1) + y0 * (u1 * u3 - u2 * u2)) / det
        let residual = max(0, squareSums[cell] - a * y0 - b * y1 - c * y2) / (n - 3)
        let curvatureError = (residual * (n * u2 - u1 * u1) / det).squareRoot()
        let line = slope[cell] * span
        return abs(c) <= max(Self.steadyShare * abs(line), Self.steadyScore * curvatureError)
    }

    /// Across a gap: each cell's change of open-circuit deviation against the pack's changes, then as a
    /// slope over the gap (V/s) for the leak estimate.
    private func testGap(_ after: UnsafeMutableBufferPointer<Double>, before: UnsafeMutableBufferPointer<Double>, seconds: Double) {
        checkedSeconds = 0
        relaxationFloor = 0
        for cell in 0..<cells { slope[cell] = after[cell] - before[cell] }
        CrossCellTest.scores(slope, into: score, scratch: scratch, floor: max(Self.gapFloor, 1.5 * resolution, gapPolarisation), sign: -1)
        for cell in 0..<cells { slope[cell] /= seconds }
        CrossCellTest.accumulate(score, into: statistic, shift: shift)
    }

    /// The load after a gap: its first seconds fitted for the deviations at zero current, then tested; or,
    /// when rest comes within the fit's minute, the rest's first snapshot is the far side. False while
    /// collecting or when the load did not vary enough to extrapolate; nil when this snapshot is not the
    /// gap's to test (the rest's usual course takes it).
    private func testAfterGap(time: Double, resting: Bool, current: Double, oneC: Double,
                              ocvDeviation: UnsafeMutableBufferPointer<Double>) -> Bool? {
        let seconds = pendingGap + (time - loadAfterGap)
        if resting || !current.isFinite {
            pendingGap = .nan
            guard resting, time - loadAfterGap <= Self.loadFit else { return nil }
            testGap(ocvDeviation, before: beforeGap, seconds: seconds)
            return true
        }
        afterGap.add(current: current, deviation: ocvDeviation)
        let spanned = afterGap.currentRange >= Self.loadRange * oneC
        guard spanned && afterGap.count >= Self.loadPoints || time - loadAfterGap >= Self.loadFit else { return false }
        pendingGap = .nan
        guard spanned, afterGap.intercepts(into: zeroCurrentDeviation) else { return false }
        testGap(zeroCurrentDeviation, before: beforeGap, seconds: seconds)
        return true
    }

    /// Residuals (in reading steps) from which readings count as dithered, and the rounding steps over a
    /// rest fit that are then no evidence of a slope.
    static let ditheredResidual = 0.45
    static let ditheredSteps = 0.5

    /// How far apart the cells' relaxations may be, as a share of the median cell's. On the tuning fleets'
    /// rests after a load (healthy cells, 15-30 min fits) the cell farthest from the median relaxed within
    /// 0.1-0.3 of it, at most 0.6; a slope counts from twice this share (a z-score of 2) on.
    static let relaxationShare = 0.25

    /// How far a fall's pace may change over its fit (its curvature, as a share of the line's slope), and
    /// how many standard errors that change must stand out by, before the fall is no leak's to size.
    static let steadyShare = 0.5
    static let steadyScore = 3.0

    /// Below this change across a gap (V), about a reading's resolution, no cell is told apart.
    static let gapFloor = 0.0015

    /// Seconds of settled rest a slope is fitted over before it is compared, and the fewest snapshots.
    static let minimumFit = 300.0
    static let minimumPoints = 12.0

    /// A silence longer than this (s), and than three usual spacings, is a gap: the deviations on either
    /// side are compared instead of fitted.
    static let gapSeconds = 600.0

    /// The load after a gap is fitted for the zero-current deviations as soon as it spans this range of
    /// current (× 1C) in this many snapshots, for at most this many seconds.
    static let loadRange = 0.1
    static let loadPoints = 5.0
    static let loadFit = 60.0
}
