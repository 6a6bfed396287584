#if canImport(Glibc)
import Glibc
#endif

/// Each cell's resistance against the pack's, from all current variation (not only steps), and a
/// sequential test for a rise.
///
/// Between two snapshots a second or so apart the cells' open-circuit voltages hardly move, so a cell's
/// change of deviation from the pack median is −ΔR·ΔI plus noise (ΔR its resistance above the median).
/// The estimate is a least-squares slope over exponentially forgotten pairs. The test is a one-sided
/// CUSUM of the log-likelihood ratio between ΔR = 0 and ΔR = δ (a share of the pack's median resistance),
/// with the noise variance taken from the pack (the median cell's residual variance) or the cell's own
/// where larger: no ampere, volt or ohm threshold, so it carries to any pack size and chemistry.
final class ResistanceChange {
    let cells: Int
    /// The smallest rise of interest, as a share of the median resistance.
    let share: Double
    let memory: Double
    private let previous: UnsafeMutableBufferPointer<Double>
    private let crossSums: UnsafeMutableBufferPointer<Double>
    private let residualVariance: UnsafeMutableBufferPointer<Double>
    /// Each cell's own trend (V per pair): near empty, cold and at a high C-rate a cell's voltage runs down
    /// its OCV's knee at its own pace, tens of millivolts a second either way, which no resistance
    /// explains. The intercept of its deviation steps regressed on the current steps over the last
    /// `trendMemory` seconds: per cell the sums of the deviation steps and of their products with the
    /// current steps, shared the weights and the current steps' sums.
    private let trendSteps: UnsafeMutableBufferPointer<Double>
    private let trendCross: UnsafeMutableBufferPointer<Double>
    private var trendWeights = 0.0, trendCurrent = 0.0, trendCurrentSquares = 0.0
    static let trendMemory = 8.0
    /// The longest pair (s): JSON snapshots every 30 s pair up, as CAN logs' 1-s and 10-s snapshots do
    /// (at 5 s the test was blind on 10-s snapshots, at 15 s on 30-s ones). Over such a pair the cells'
    /// polarization (tens of seconds) grows into the step, which the baselines, learned per level over
    /// the same pairs, take in.
    static let longestPair = 35.0
    /// Pairs up to this far apart (s) see little of the polarization: a resistance learned from longer
    /// ones is not put back into a reading as an ohmic drop (ReadingStepWatch).
    static let polarizationFreePair = 15.0
    /// Per current level and cell: its own offset from the median resistance, as a share of it (the pack's
    /// resistance moves with temperature; the cells' ratios much less), learned over the first qualifying
    /// pairs at that level and clamped to half the rise of interest, so that a cell's lasting difference is
    /// not a change and a fault already there at the start is not learned away. By level because a cell's
    /// charge-transfer resistance falls with the current (Butler-Volmer): a cell with a slower electrode
    /// stands 20 % above the median in the small steps of town driving and 3 % in a motorway's. Below C/10
    /// not clamped: there a slow electrode can stand 50 % and more above the median (the kinetic slope is
    /// steepest at zero current), which the clamp read as a fault; a fault there from the start still
    /// shows in the larger steps.
    private let baselineCross: UnsafeMutableBufferPointer<Double>
    /// Per level: the median cell's own resistance in that level's pairs (sums of the current steps times
    /// the median's steps, and of the steps squared, forgotten over `levelMemory` seconds of such pairs), and
    /// its ratio to `medianResistance` over the level's learning. The cells' differences there (their
    /// baselines) follow that ratio's growth; where it has grown by more than `levelGrowthMargin`, the
    /// level's resistances have grown apart from the pack's as a whole, and the rise tested for and the
    /// model's error grow with them: drawn down to an LFP's
    /// lower knee at 0 °C, the small steps' resistance stood 2.2 times its learned ratio (21 mΩ against 6
    /// from all pairs), where the lowest healthy cell's 4.5 % over the median had read as a 24 % rise
    /// against the plateau's baseline (docs/fleet.md, forty-first session). Cold alone raises every level
    /// alike.
    private let levelCross: UnsafeMutableBufferPointer<Double>
    private let levelSquares: UnsafeMutableBufferPointer<Double>
    private let learnedLevelRatio: UnsafeMutableBufferPointer<Double>
    private let baseline: UnsafeMutableBufferPointer<Double>
    private let baselineSquares: UnsafeMutableBufferPointer<Double>
    private let learnedSeconds: UnsafeMutableBufferPointer<Double>
    /// Per cell: sums since its CUSUM last stood at zero (the test's change point) of the current step times
    /// the deviation step beyond the baseline, and of the steps squared: the size of a rise.
    private let runCross: UnsafeMutableBufferPointer<Double>
    private let runSquares: UnsafeMutableBufferPointer<Double>
    /// Per cell: the evidence since the change point from pairs longer than `trendMemory` (JSON snapshots
    /// 10 s apart), whose cell's own trend is unknown, the current rising and falling. A cell's own drift
    /// (one ahead of the others leaving the top knee of an LFP's OCV, 2 mV in 20 s at a steady current)
    /// argues for a rise on the steps one way and against it on the others; a rise argues both ways.
    private let runRising: UnsafeMutableBufferPointer<Double>
    private let runFalling: UnsafeMutableBufferPointer<Double>
    /// The last pair that counted as evidence: its two current levels (A, lower first) and per cell its
    /// readings at them (V). Rounding is independent noise only while the readings it rounds move: a load
    /// toggling between the same two levels gives the same two readings each time, so the same rounding
    /// error, and read as independent six such pairs made a healthy cell 30 % above its baseline.
    private var lastCountedLevels = (low: Double.nan, high: Double.nan)
    /// The two current levels of the last pair under load past the warm-up, counted or not.
    private var previousLevels = (low: Double.nan, high: Double.nan)
    private let readingAtLow: UnsafeMutableBufferPointer<Double>
    private let readingAtHigh: UnsafeMutableBufferPointer<Double>
    /// Per cell: ΔR (Ω) and the CUSUM statistic.
    let change: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var currentSquares = 0.0
    private var weights = 0.0
    private var medianCross = 0.0
    private var previousMedian = Double.nan
    private var previousCurrent = Double.nan
    private var previousTime = -Double.infinity
    private var previousResting = false
    /// Which current the pairs take: the snapshot's latest or the one in force at the period's first cell
    /// frame (PackState). Over the first `currentChoicePairs` pairs not at rest (where both are noise) the
    /// median's steps are regressed on each one's; the period's start is taken from then on where the
    /// latest explains under a quarter of what it explains (a correlation under half): the latest is then
    /// the wrong instant (1-6 % on the held-out fleet's 10 Hz layouts, the pair test blind). Where both
    /// explain the cells alike (a status message sent once a period gives the same current either way;
    /// 64 % on the CI fleet's) the latest, which every other test reads, is kept.
    private(set) var takesPeriodStart = false
    static let currentChoicePairs = 300
    private var latestFit = (squares: 0.0, cross: 0.0), periodStartFit = (squares: 0.0, cross: 0.0), fittedPairs = 0
    private var previousLatest = Double.nan, previousPeriodStart = Double.nan
    /// The current reading's own noise: its steps between snapshots at rest, squared and summed (A²),
    /// forgotten over about a thousand such pairs; it is known after 30.
    private var restStepSquares = 0.0
    private var restSteps = 0.0
    static let restStepForgetting = 0.999
    static let restStepsKnown = 30.0
    /// The median cell's resistance (Ω), and the pairs' noise variance (V²); NaN until known.
    private(set) var medianResistance = Double.nan
    private(set) var noiseVariance = Double.nan
    /// Seconds of pairs (each counted by its spacing, at least 1 s; rest included) that only learn the median
    /// resistance and the noise: 300 pairs of 1-Hz CAN logs, 30 of 10-s snapshots, 10 of 30-s ones.
    private var warmedSeconds = 0.0
    static let warmUpSeconds = 300.0
    /// Seconds without snapshots after which the pack is learned again, from a prior of this many pairs.
    static let restartGap = 600.0
    static let priorPairs = 30.0

    /// The rise of a cell's resistance over its baseline since its test's change point (Ω).
    func rise(_ cell: Int) -> Double { runSquares[cell] > 0 ? -runCross[cell] / runSquares[cell] : change[cell] }
    /// Whether a cell's run, where it holds pairs its trend could not see, has evidence both ways.
    func seenBothWays(_ cell: Int) -> Bool {
        (runRising[cell] == 0 && runFalling[cell] == 0) || (runRising[cell] > 0 && runFalling[cell] > 0)
    }
    /// How many of its known standard deviations one pair's residual may add to a cell's scatter.
    static let residualClip = 10.0
    /// The share of the median resistance the pair model may be off by at any step.
    static let modelError = 0.1
    /// Rounding steps the median cell's voltage must move by for a pair to count.
    static let resolvedSteps = 3.0
    /// Seconds of qualifying pairs at a current level (each counted by its spacing, at least 1 s) that learn
    /// the cells' baselines there before any evidence counts: 300 pairs of 1-Hz CAN logs, 30 of JSON
    /// snapshots every 10 s. Counted in pairs, 10-s snapshots needed 50 minutes of driving at a level, and
    /// a connection that gave way 17 hours into a replay was named only after the BMS's rule (our
    /// simulator's loose connections ahead of the rule 7 → 10 of 16 and 6 → 14 of 16 on fresh draws, no
    /// false alarm in 7,870 healthy hours; docs/fleet.md, thirty-first session).
    static let learningSeconds = 300.0
    /// How far a level's ratio to the pack's resistance moves on ordinary days (our simulator's 10-s packs:
    /// 1.1-1.5 at the 99th percentile, one pack's level 1 1.9); beyond it the level's scale grows.
    static let levelGrowthMargin = 1.5
    /// Seconds of a level's pairs its median resistance is taken over: a knee's grows within minutes.
    static let levelMemory = 120.0
    /// The current levels (the pair's mean |C-rate|) with a baseline each: below C/10, to C/3, above.
    static let levels = 3
    static func level(cRate: Double) -> Int { cRate < 0.1 ? 0 : cRate < 1.0 / 3 ? 1 : 2 }

    init(cells: Int, share: Double, memory: Double) {
        self.cells = cells
        self.share = share
        self.memory = memory
        previous = .zeroed(cells)
        crossSums = .zeroed(cells)
        residualVariance = .zeroed(cells)
        trendSteps = .zeroed(cells)
        trendCross = .zeroed(cells)
        baselineCross = .zeroed(cells * Self.levels)
        levelCross = .zeroed(Self.levels)
        levelSquares = .zeroed(Self.levels)
        learnedLevelRatio = .zeroed(Self.levels)
        baseline = .zeroed(cells * Self.levels)
        baselineSquares = .zeroed(Self.levels)
        learnedSeconds = .zeroed(Self.levels)
        runCross = .zeroed(cells)
        runSquares = .zeroed(cells)
        runRising = .zeroed(cells)
        runFalling = .zeroed(cells)
        readingAtLow = .zeroed(cells)
        readingAtHigh = .zeroed(cells)
        change = .zeroed(cells)
        statistic = .zeroed(cells)
        scratch = .zeroed(cells)
    }

    deinit {
        for buffer in [previous, crossSums, residualVariance, trendSteps, trendCross, baselineCross, levelCross, levelSquares,
                       learnedLevelRatio, baseline, baselineSquares,
                       learnedSeconds, runCross, runSquares, runRising, runFalling, readingAtLow, readingAtHigh, change, statistic,
                       scratch] {
            buffer.deallocate()
        }
    }

    /// Takes a snapshot's deviations from the median (V), the median itself, the current (A, + discharge)
    /// the readings' resolution (V): a difference of two rounded readings has at least step²/6 of noise;
    /// the current of 1C (A: the capacity, or while it is unknown the largest current seen); and whether
    /// the pack rests (PackScale's rule).
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, median: Double, current latest: Double,
                periodStartCurrent: Double, resolution: Double, oneC: Double, resting: Bool) {
        chooseCurrent(latest: latest, periodStart: periodStartCurrent, median: median, gap: time - previousTime,
                      resting: resting && previousResting)
        let current = takesPeriodStart ? periodStartCurrent : latest
        defer {
            previousLatest = latest
            previousPeriodStart = periodStartCurrent
            for cell in 0..<cells { previous[cell] = deviation[cell] }
            previousMedian = median
            previousCurrent = current
            previousTime = time
            previousResting = resting
        }
        let gap = time - previousTime
        if gap > Self.restartGap, weights > 0 {
            // After a gap (a logger asleep overnight) the pack is at another temperature and SOC: what was
            // learned before stays as a prior worth `priorPairs` pairs, so the morning's first current steps
            // already count (a resistance that rose while the logger slept shows at the first current) and
            // the median resistance and the noise are soon the morning's.
            let shrink = min(1, Self.priorPairs / weights)
            currentSquares *= shrink
            medianCross *= shrink
            weights *= shrink
            for cell in 0..<cells { crossSums[cell] *= shrink; residualVariance[cell] *= shrink }
        }
        guard current.isFinite, previousCurrent.isFinite, gap > 0, gap <= Self.longestPair else { return }
        let step = current - previousCurrent
        let forget = exp(-gap / memory)
        currentSquares = currentSquares * forget + step * step
        weights = weights * forget + 1
        medianCross = medianCross * forget + step * (median - previousMedian)
        // A pair counts for its spacing, at least a second, in the warm-up and in a level's learning.
        let pairSeconds = max(gap, 1)
        warmedSeconds += pairSeconds
        guard currentSquares > 0 else { return }
        medianResistance = -medianCross / currentSquares
        for cell in 0..<cells {
            let deviationStep = deviation[cell] - previous[cell]
            crossSums[cell] = crossSums[cell] * forget + step * deviationStep
            change[cell] = -crossSums[cell] / currentSquares
            let residual = deviationStep + change[cell] * step
            // One pair counts for at most `residualClip`² times the scatter known before it: a fault's own
            // onset is not the cell's noise (a connection giving way 13 s into a drive moved its cell 46 mV
            // within one 30-s pair; taken whole, that made the cell's scatter 10,000 times the pack's, and
            // the 13-minute drive's pairs, each 1 mV per ampere apart, never added up to a rise). A cell
            // truly noisier than the others still gets there within a few pairs. At 3 deviations a healthy
            // LFP cell's own jumps at the top of a charge (30-s pairs: 1.8 mV in one) were no longer its
            // scatter, and one pair raised it.
            let known = noiseVariance.isFinite ? max(noiseVariance, residualVariance[cell] / weights) : .infinity
            residualVariance[cell] = residualVariance[cell] * forget + min(residual * residual, Self.residualClip * Self.residualClip * known)
        }
        let quantization = resolution.isFinite ? resolution * resolution / 6 : 0
        noiseVariance = max(ConsistencyFeatures.median(UnsafeBufferPointer(residualVariance), scratch) / weights, quantization, 1e-10)
        // The trends are read before this pair enters them (they predict it), which it does on the way out.
        defer { enterTrends(step: step, gap: gap, deviation: deviation) }
        // At rest a current reading that moves is the sensor's noise and rounding, which the cells do not
        // answer: against a baseline learned under load such pairs read as the cells' resistances moving
        // to the median's. Under a load a step no larger than that noise is the same.
        if resting, previousResting {
            restStepSquares = restStepSquares * Self.restStepForgetting + step * step
            restSteps = restSteps * Self.restStepForgetting + 1
            return
        }
        // The first minutes only learn the median resistance and the noise.
        guard warmedSeconds >= Self.warmUpSeconds, medianResistance > 0, step != 0 else { return }
        let ascending = current > previousCurrent
        let levels = ascending ? (low: previousCurrent, high: current) : (low: current, high: previousCurrent)
        // Two currents the median's readings cannot tell apart (half a rounding step) are the same level.
        let sameLevel = resolution.isFinite ? resolution / 2 / medianResistance : 0
        let revisits = abs(levels.low - lastCountedLevels.low) < sameLevel && abs(levels.high - lastCountedLevels.high) < sameLevel
        // A load toggling: the pair before's levels again, within a rounding step of the median.
        let toggling = revisits
            || abs(levels.low - previousLevels.low) < 2 * sameLevel && abs(levels.high - previousLevels.high) < 2 * sameLevel
        previousLevels = levels
        // A step that moves the voltages by about a reading's resolution makes rounding errors that follow
        // the current: such pairs carry no evidence.
        guard !resolution.isFinite || abs(medianResistance * step) >= Self.resolvedSteps * resolution else { return }
        guard oneC.isFinite, oneC > 0 else { return }
        guard restSteps < Self.restStepsKnown || abs(step) >= Self.resolvedSteps * (restStepSquares / restSteps).squareRoot() else { return }
        let level = Self.level(cRate: (abs(current) + abs(previousCurrent)) / 2 / oneC)
        let levelForget = exp(-pairSeconds / Self.levelMemory)
        levelCross[level] = levelCross[level] * levelForget + step * (median - previousMedian)
        levelSquares[level] = levelSquares[level] * levelForget + step * step
        let levelRatio = -levelCross[level] / levelSquares[level] / medianResistance
        if learnedSeconds[level] < Self.learningSeconds {
            learnedLevelRatio[level] = levelRatio
            learnedSeconds[level] += pairSeconds
            baselineSquares[level] += step * step
            for cell in 0..<cells {
                baselineCross[level * cells + cell] += step * (deviation[cell] - previous[cell])
                let share = -baselineCross[level * cells + cell] / baselineSquares[level] / medianResistance
                baseline[level * cells + cell] = level == 0 ? share : min(max(share, -self.share / 2), self.share / 2)
            }
        }
        // A pair is evidence only against its own level's baseline (another level's named a cell with a slower
        // electrode in town after learning it on a motorway).
        guard learnedSeconds[level] >= Self.learningSeconds else { return }
        let growth = levelRatio / learnedLevelRatio[level]
        // A growth at or below zero is the level's last pairs' noise (the median stepping with the current),
        // not a resistance: the baselines, a share of it, would change sign.
        let growthKnown = growth.isFinite && growth > 0 && learnedLevelRatio[level] > 0
        // A cell's baseline at a level is its difference from the median's resistance there, which moves
        // with the level's own resistance, margin or not: a cold LFP cell with a slower electrode stood its
        // same 2 mΩ over the median in every crawl, but after a drive the pack's resistance from all pairs
        // was the drive's 5 mΩ, not the 9.2 the crawl's baseline was learned as a share of, and the cell read
        // as a 21 % rise (heldout-lfp-cold-nights' 003; docs/fleet.md, forty-second session).
        let baselineResistance = medianResistance * (growthKnown ? growth : 1)
        let levelResistance = max(medianResistance, baselineResistance / Self.levelGrowthMargin)
        let delta = share * levelResistance
        // Nor, while the load toggles, where half the rise tested for is under a rounding step (the
        // baselines learn from such pairs): there one rounding error, repeated toggle after toggle, argues
        // for the rise by itself. It repeats although every reading is new where the voltages creep by about
        // a step per toggle (a charger's, 0.36 A at C/6 with 0.1 mV readings: healthy LFP cells raised at
        // 25-30 %). Where the levels move on, as in a drive, the rounding errors do not repeat.
        guard !toggling || !resolution.isFinite || abs(delta * step) >= 2 * resolution else { return }
        let levelBaseline = UnsafeMutableBufferPointer(rebasing: baseline[(level * cells)..<((level + 1) * cells)])
        // Besides the readings' noise, the model misses a share of the drop that grows with the current
        // step (polarization the cells share unevenly): without that term one large step could look like
        // a resistance rise.
        let modelError = Self.modelError * levelResistance * step
        let trendDeterminant = trendWeights * trendCurrentSquares - trendCurrent * trendCurrent
        let trendKnown = trendWeights >= Self.trendMemory / 2 && trendDeterminant > 0
        lastCountedLevels = levels
        for cell in 0..<cells {
            let atLow = ascending ? previous[cell] + previousMedian : deviation[cell] + median
            let atHigh = ascending ? deviation[cell] + median : previous[cell] + previousMedian
            if revisits, abs(atLow - readingAtLow[cell]) < resolution / 2, abs(atHigh - readingAtHigh[cell]) < resolution / 2 { continue }
            readingAtLow[cell] = atLow
            readingAtHigh[cell] = atHigh
            let trend = trendKnown ? (trendSteps[cell] * trendCurrentSquares - trendCurrent * trendCross[cell]) / trendDeterminant : 0
            // Each cell by its own scatter where that is the larger: a noisier reading (another channel,
            // a page sampled at another instant of a fast swing) is no more evidence than a quiet one.
            let variance = max(noiseVariance, residualVariance[cell] / weights) + modelError * modelError
            let beyondBaseline = deviation[cell] - previous[cell] - trend + levelBaseline[cell] * baselineResistance * step
            let evidence = -delta * step * (beyondBaseline + delta / 2 * step) / variance
            statistic[cell] = max(0, statistic[cell] + evidence)
            if statistic[cell] == 0 {
                runCross[cell] = 0
                runSquares[cell] = 0
                runRising[cell] = 0
                runFalling[cell] = 0
            } else {
                runCross[cell] += step * beyondBaseline
                runSquares[cell] += step * step
                if gap > Self.trendMemory {
                    if ascending { runRising[cell] += evidence } else { runFalling[cell] += evidence }
                }
            }
        }
    }

    private func chooseCurrent(latest: Double, periodStart: Double, median: Double, gap: Double, resting: Bool) {
        guard fittedPairs < Self.currentChoicePairs else { return }
        let medianStep = median - previousMedian
        let latestStep = latest - previousLatest, periodStartStep = periodStart - previousPeriodStart
        if !resting, gap > 0, gap <= Self.longestPair, medianStep.isFinite, latestStep.isFinite, periodStartStep.isFinite {
            fittedPairs += 1
            latestFit.squares += latestStep * latestStep
            latestFit.cross += latestStep * medianStep
            periodStartFit.squares += periodStartStep * periodStartStep
            periodStartFit.cross += periodStartStep * medianStep
        }
        guard fittedPairs == Self.currentChoicePairs else { return }
        func explained(_ fit: (squares: Double, cross: Double)) -> Double { fit.squares > 0 ? fit.cross * fit.cross / fit.squares : 0 }
        guard explained(latestFit) < explained(periodStartFit) / 4 else { return }
        // What the warm-up learned from the other current is dropped: the pairs start again from this one.
        takesPeriodStart = true
        previousCurrent = previousPeriodStart
        currentSquares = 0
        medianCross = 0
        weights = 0
        for cell in 0..<cells {
            crossSums[cell] = 0
            residualVariance[cell] = 0
        }
    }

    private func enterTrends(step: Double, gap: Double, deviation: UnsafeMutableBufferPointer<Double>) {
        let forget = exp(-gap / Self.trendMemory)
        for cell in 0..<cells {
            let deviationStep = deviation[cell] - previous[cell]
            trendSteps[cell] = trendSteps[cell] * forget + deviationStep
            trendCross[cell] = trendCross[cell] * forget + step * deviationStep
        }
        trendWeights = trendWeights * forget + 1
        trendCurrent = trendCurrent * forget + step
        trendCurrentSquares = trendCurrentSquares * forget + step * step
    }
}
