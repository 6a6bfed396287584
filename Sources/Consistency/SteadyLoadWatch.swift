/// Each cell's resistance against the pack's through a steady load (a constant-current charge, a
/// cruise), against its own value earlier in the same load: the test that sees a resistance that grows
/// while the current hardly changes, minutes after it starts, where the pair test (ResistanceChange) has
/// no current changes to use. (Comparing the load with the last rest instead carries each cell's innate
/// resistance into the test: on the tuning fleet that named healthy cells, and leaks as resistances.)
///
/// Under a steady current I a cell's deviation from its last rest over I is its resistance above the
/// median (with a sign) plus what its open-circuit voltage moved against the pack's. Averaged over a
/// window, compared with the same cell's first steady window of the load, a cell's own resistance
/// cancels and a rise stands out against the other cells (median and 1.4826 MAD, never below half a
/// reading step over the current). A CUSUM of shift × (z − shift/2) takes a step each steady window.
///
/// Cells a little apart in SOC stand apart by their offset times the OCV's slope. Where the slope
/// changes within a few per cent of SOC (a graphite stage's step), the cell furthest ahead crosses first
/// and stands apart, by tens of millivolts, until the median cell gets there; one behind it stands apart
/// afterwards. Where all have crossed, all deviations have scaled alike and the cross-cell spread with
/// them. A cell's lead on the median is its rest deviation over the median cell's rate of rise under the
/// steady current (offset × slope over slope × C-rate; the slowest window's rate, since polarization
/// building up adds to the first windows'), so a cell is raised once it has stood apart
/// (z above shift/2 in each window) for twice its lead, and never before three windows: a cold cell's
/// voltage can leap by hundreds of millivolts for under a minute and come back (seen on the held-out
/// fleet's ORegan2022 cells at 6 °C), which touches two windows at most, while a resistance that has
/// risen stays.
///
/// A cell ahead in SOC where the rest could not show it (LFP's plateau: a per cent of SOC is under a
/// millivolt) climbs a knee of the OCV first and stays apart to the end of the charge. Its deviation is
/// then the median's, some seconds on: the change of its deviation from the reference window is its lead
/// τ times the change of the median's rate of rise, which a resistance rise is not. Each window the
/// cell's τ is fitted (least squares through the origin over the load's windows, the median's rate above
/// the load's slowest by more than a reading step a window). A window in which the cell stands apart but
/// its change less τ times the rate change does not, and is smaller, is explained: it neither adds to
/// the time the cell has stood apart nor resets it; the windows before the median's rate has caught up
/// with a cell ahead wait to be judged (`judge`). (Taking the fitted part out of every cell before the
/// test instead added false alarms on NMC packs: cells whose fit was off stood out more, and the cleaned
/// cells made the spread smaller.) τ is held to what the rest allows: an SOC offset its rest deviation
/// plus a reading step hides, over the median's slowest rate in the whole load (on NMC seconds; on a
/// plateau minutes; not the new reference's, which up a knee is many times faster),
/// plus what a capacity 2 % off the median cell's gains in the load (2 % of the load's duration: a cell
/// level with the median at the rest before reached our simulator's LFP knee 50 s ahead after a
/// 40-minute charge; with 1 mV readings the reading step had covered that, with 0.1 mV it was raised).
///
/// A reference window can catch a cell in a transient: a narrow dip of the OCV crossed by the cells one
/// after another within a minute (held-out ORegan2022 packs near 3.79 V under 0.3C: the cell furthest
/// ahead 16 mV below its rest deviation for a minute, the others in the next). Such a cell then stood
/// apart from its reference for the rest of the load though its deviation from its rest was the pack's;
/// and the cells caught mid-dip spread the cross-cell deviation so that a real rise hid behind them. A
/// cell's reference is therefore the first window in which it held still (its deviation moving within
/// the window by at most three times the median cell's in the pack's stillest window, or a reading step);
/// until then the reference follows it. The cell ahead also crosses the OCV's next step or hump minutes
/// before the median, and stands 5-10 mV apart for as long: it is raised only while it also stands
/// apart above the pack since its rest (z above 3, as the leak test's cells stand apart). A risen
/// resistance does, unless the cell's own was below the pack's by nearly as much as it rose.
///
/// A steady window at another current than the reference window's (a charger's taper, a faster
/// cruise) is another load: the part of each deviation that is OCV offset does not scale with the
/// current, so over a falling current deviation ÷ current grows at the cells ahead as a resistance rise
/// would. That window becomes the new reference, and the time each cell has stood apart starts again: a
/// charge derated step by step (by a loose connection elsewhere in the pack) gave one window against
/// each of several references, which added up to three and named healthy cells ahead on the LFP knee.
/// Within a reference the current still moves by up to a fifth (a derate, a taper): each cell's OCV
/// offset is fitted too, and its lead taken as charge (`fitLeads`; docs/fleet.md, thirty-first session).
final class SteadyLoadWatch {
    let cells: Int
    let shift: Double
    let window: Double
    let settle: Double
    let threshold: Double
    private let restDeviation: UnsafeMutableBufferPointer<Double>
    private var haveRest = false
    private let sums: UnsafeMutableBufferPointer<Double>
    /// Per cell: Σ deviation² over the window, and the deviation's standard deviation within it (V).
    private let squares: UnsafeMutableBufferPointer<Double>
    private let movement: UnsafeMutableBufferPointer<Double>
    /// Per cell: 1 once its reference is a window in which it held still; 0 while the reference follows it.
    private let settled: UnsafeMutableBufferPointer<Double>
    /// The smallest median of the cells' movement over the steady windows so far (V): how still a cell
    /// of this pack holds.
    private var stillest = Double.infinity
    private let reference: UnsafeMutableBufferPointer<Double>
    private let values: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// Per cell: the latest z-score, the CUSUM statistic, and the rise of resistance since the load's first
    /// steady window against the median cell's (Ω).
    let score: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    let change: UnsafeMutableBufferPointer<Double>
    /// Per cell: the seconds it must stand apart before it is raised (twice its lead on the median in
    /// this load), and the seconds it has.
    private let lead: UnsafeMutableBufferPointer<Double>
    private let apartFor: UnsafeMutableBufferPointer<Double>
    /// Per cell: its fitted lead τ on the median (s, clamped to what its rest allows; 0 until fitted),
    /// the seconds of windows it stood apart unexplained that wait for the median's rate τ later, and
    /// the end of the first of them.
    private let fittedLead: UnsafeMutableBufferPointer<Double>
    private let pending: UnsafeMutableBufferPointer<Double>
    private let pendingSince: UnsafeMutableBufferPointer<Double>
    private var loadStart = Double.nan
    private var loadSign = 0.0
    private var previousTime = -Double.infinity
    private var windowStart = Double.nan
    private var samples = 0.0
    private var currentSum = 0.0
    private var currentSquares = 0.0
    private var haveReference = false
    private var referenceCurrent = 0.0
    /// The median's rate of rise (V/s) the leads were set from, and the slowest with its sign and the
    /// window's current (A).
    private var leadRate = Double.infinity
    private var slowestRate = 0.0
    private var slowestCurrent = 0.0
    /// The slowest rate of the whole load (V/s) and its window's current (A), for the leads' bound.
    private var loadSlowestRate = Double.infinity
    private var loadSlowestCurrent = 0.0
    /// The median of the cells' rest deviations, fixed for a load (a rest ends the load).
    private var restCenter = 0.0
    /// Per cell: Σ x·Δv over the reference's windows, x the median's rate above the slowest (both scaled
    /// to the reference current) over that current, Δv the cell's change against the reference window;
    /// and Σ x², for each cell's lead τ.
    private let shiftSums: UnsafeMutableBufferPointer<Double>
    private var shiftSquares = 0.0
    /// The charge through the pack since the reference window (A·s).
    private var chargeSinceReference = 0.0
    /// Per cell: Σ w·Δv, w = 1/I − 1/I_ref (an OCV offset's share of deviation ÷ current); and Σ x·w, Σ w².
    private let offsetSums: UnsafeMutableBufferPointer<Double>
    private var shiftOffset = 0.0
    private var offsetSquares = 0.0
    /// Per cell: its change less what its fitted lead explains, and that change's z-score.
    private let unexplained: UnsafeMutableBufferPointer<Double>
    private let unexplainedScore: UnsafeMutableBufferPointer<Double>
    /// Per cell: its deviation ÷ current from its rest against the other cells' (z-score, a rise positive).
    private let sinceRest: UnsafeMutableBufferPointer<Double>
    private let restScore: UnsafeMutableBufferPointer<Double>
    /// The median cell's voltage against time within the window (sums of the least-squares slope, time
    /// from the window's start).
    private var medianSums = (t: 0.0, tt: 0.0, v: 0.0, tv: 0.0)
    /// The current of a steady window varies by at most this share of its mean.
    static let steadiness = 0.1
    /// The mean current of a window compared with the reference differs from the reference's by at most
    /// this share of it.
    static let sameLoad = 0.2
    /// Seconds between snapshots that end a load.
    static let gap = 60.0
    /// The longest a cell is made to stand apart (s).
    static let longestLead = 1800.0
    /// The fewest windows in a row a cell stands apart before it is raised.
    static let persistence = 3.0
    /// A cell's reference window is one in which it moved at most this many times the stillest median.
    static let stillness = 3.0
    /// The share by which a healthy cell's capacity may differ from the median cell's: through a load it
    /// gains (or loses) that share of the load's duration in lead.
    static let capacitySpread = 0.02
    /// The z-score since the rest a raised cell is above.
    static let aboveSinceRest = CrossCellTest.apartScore

    init(cells: Int, shift: Double, window: Double, settle: Double, threshold: Double) {
        self.cells = cells
        self.shift = shift
        self.window = window
        self.settle = settle
        self.threshold = threshold
        lead = .zeroed(cells)
        apartFor = .zeroed(cells)
        fittedLead = .zeroed(cells)
        pending = .zeroed(cells)
        pendingSince = .zeroed(cells)
        restDeviation = .zeroed(cells)
        sums = .zeroed(cells)
        squares = .zeroed(cells)
        movement = .zeroed(cells)
        settled = .zeroed(cells)
        reference = .zeroed(cells)
        values = .zeroed(cells)
        scratch = .zeroed(cells)
        score = .zeroed(cells)
        statistic = .zeroed(cells)
        change = .zeroed(cells)
        shiftSums = .zeroed(cells)
        offsetSums = .zeroed(cells)
        unexplained = .zeroed(cells)
        unexplainedScore = .zeroed(cells)
        sinceRest = .zeroed(cells)
        restScore = .zeroed(cells)
    }

    deinit {
        for buffer in [restDeviation, sums, squares, movement, settled, reference, values, scratch, score, statistic, change, lead,
                       apartFor, fittedLead, pending, pendingSince, shiftSums, offsetSums, unexplained, unexplainedScore, sinceRest, restScore] { buffer.deallocate() }
    }

    /// True when a steady window updated `score` and `statistic`.
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, median: Double, current: Double, resting: Bool,
                loaded: Bool, resolution: Double) -> Bool {
        let sign: Double = current > 0 ? 1 : -1
        defer { previousTime = time }
        if time - previousTime > Self.gap { haveRest = false }
        if resting {
            for cell in 0..<cells { restDeviation[cell] = deviation[cell] }
            haveRest = true
        }
        guard haveRest, loaded, current.isFinite, sign == loadSign, time - previousTime <= Self.gap else {
            loadStart = time
            loadSign = loaded && current.isFinite ? sign : 0
            loadSlowestRate = .infinity
            haveReference = false
            windowStart = .nan
            return false
        }
        guard time - loadStart >= settle else { return false }
        if windowStart.isNaN { startWindow(at: time) }
        for cell in 0..<cells {
            sums[cell] += deviation[cell]
            squares[cell] += deviation[cell] * deviation[cell]
        }
        let elapsed = time - windowStart
        medianSums = (medianSums.t + elapsed, medianSums.tt + elapsed * elapsed, medianSums.v + median, medianSums.tv + elapsed * median)
        samples += 1
        currentSum += current
        currentSquares += current * current
        guard elapsed >= window else { return false }
        defer { startWindow(at: time) }
        let meanCurrent = currentSum / samples
        let variance = max(0, currentSquares / samples - meanCurrent * meanCurrent)
        guard variance.squareRoot() <= Self.steadiness * abs(meanCurrent) else {
            haveReference = false
            return false
        }
        let step = resolution.isFinite ? resolution : 0.001
        for cell in 0..<cells { values[cell] = (sums[cell] / samples - restDeviation[cell]) / meanCurrent }
        if abs(meanCurrent - referenceCurrent) > Self.sameLoad * abs(referenceCurrent) { haveReference = false }
        // The pack's own polarization builds up for minutes after a load starts and adds to the median's
        // rate at first: the slowest rate seen in the load is the nearest to its OCV's.
        let signedRate = medianRate()
        let rate = max(abs(signedRate), step / window)
        for cell in 0..<cells {
            let mean = sums[cell] / samples
            movement[cell] = max(0, squares[cell] / samples - mean * mean).squareRoot()
        }
        let typicalMovement = ConsistencyFeatures.median(UnsafeBufferPointer(movement), scratch)
        stillest = min(stillest, typicalMovement)
        guard haveReference else {
            settleReferences(step: step)
            referenceCurrent = meanCurrent
            haveReference = true
            leadRate = .infinity
            setLeads(rate: rate, signed: signedRate, current: meanCurrent)
            for cell in 0..<cells {
                shiftSums[cell] = 0
                offsetSums[cell] = 0
                fittedLead[cell] = 0
                pending[cell] = 0
                apartFor[cell] = 0
            }
            shiftSquares = 0
            shiftOffset = 0
            offsetSquares = 0
            chargeSinceReference = 0
            return false
        }
        setLeads(rate: rate, signed: signedRate, current: meanCurrent)
        settleReferences(step: step)
        chargeSinceReference += abs(meanCurrent) * elapsed
        // A rise of resistance lowers deviation ÷ current, in charge and in discharge alike.
        let floor = step / 2 / abs(meanCurrent)
        for cell in 0..<cells { sinceRest[cell] = values[cell] }
        CrossCellTest.scores(sinceRest, into: restScore, scratch: scratch, floor: floor, sign: -1)
        for cell in 0..<cells { values[cell] -= reference[cell] }
        // A lead is charge: a cell ΔQ ahead deviates by ΔQ × rate ÷ current, so its deviation ÷ current
        // moves with rate ÷ current², which at the reference current is the rate change as before.
        fitLeads(rateChange: atReferenceCurrent(signedRate, meanCurrent) - atReferenceCurrent(slowestRate, slowestCurrent),
                 current: referenceCurrent, present: meanCurrent, step: step, loadFor: time - loadStart)
        CrossCellTest.scores(unexplained, into: unexplainedScore, scratch: scratch, floor: floor, sign: -1)
        CrossCellTest.scores(values, into: score, scratch: scratch, floor: floor, sign: -1)
        for cell in 0..<cells { change[cell] = -values[cell] }
        // Only cells whose statistic a window grows (z above shift/2) count towards the pack's disturbance:
        // through a charge, cells a little apart in SOC drift from the first window by a few deviations as
        // the OCV's slope changes under them (a held-out NMC pack: four healthy cells at z 3-4 through
        // its whole constant-current charge), which at the leak test's level silenced the test for the
        // pack while its faulty cell climbed past 15.
        CrossCellTest.accumulate(score, into: statistic, shift: shift, apartScore: shift / 2)
        for cell in 0..<cells { judge(cell, at: time, elapsed: elapsed) }
        return true
    }

    /// Adds the window to the time the cell has stood apart unless its lead explains it, or it does not
    /// stand apart since its rest as well (a cell short of capacity gains on the others through a long
    /// charge on a plateau and stands a little apart from its reference, unexplained, for hours; those
    /// hours counted at once when the knee put it apart since its rest too).
    ///
    /// A cell τ ahead shows now what the median shows τ later: entering a knee of the OCV it climbs
    /// while the median's rate is still the plateau's, so its first windows there look unexplained. Such
    /// windows wait, held out of the time apart, until a window ends τ after the first of them: if one is
    /// explained meanwhile, the median's rate has caught up and they are dropped; if not, they count. A
    /// cell not ahead (τ ≤ 0) is judged at once.
    private func judge(_ cell: Int, at time: Double, elapsed: Double) {
        guard score[cell] > shift / 2 else {
            apartFor[cell] = 0
            pending[cell] = 0
            return
        }
        let explained = unexplainedScore[cell] <= shift / 2 && abs(unexplained[cell]) < abs(values[cell])
        if explained || restScore[cell] <= Self.aboveSinceRest {
            pending[cell] = 0
            return
        }
        if pending[cell] == 0 { pendingSince[cell] = time }
        pending[cell] += elapsed
        if time >= pendingSince[cell] + fittedLead[cell] {
            apartFor[cell] += pending[cell]
            pending[cell] = 0
        }
    }

    /// The cell's statistic is over the threshold, it has stood apart for long enough, and it stands
    /// apart above the pack since its rest as well.
    func raises(_ cell: Int) -> Bool {
        statistic[cell] > threshold && apartFor[cell] >= max(lead[cell], Self.persistence * window)
            && restScore[cell] > Self.aboveSinceRest
    }

    /// How near the cell stands to `raises`: the statistic over the threshold or the time apart over the
    /// time needed, the lesser; 0 while it stands no higher than since its rest.
    func nearness(_ cell: Int) -> Double {
        guard restScore[cell] > Self.aboveSinceRest else { return 0 }
        return min(statistic[cell] / threshold, apartFor[cell] / max(lead[cell], Self.persistence * window))
    }

    /// Each cell not settled yet takes this window as its reference, and is settled when it held still in
    /// it: moved no more than three times what the stillest window's median cell did, or a reading step.
    private func settleReferences(step: Double) {
        let still = max(Self.stillness * stillest, step)
        for cell in 0..<cells where settled[cell] == 0 || !haveReference {
            reference[cell] = values[cell]
            settled[cell] = movement[cell] <= still ? 1 : 0
        }
    }

    /// The median cell's rate of rise (V/s) over the window, least squares; 0 with fewer than two samples.
    private func medianRate() -> Double {
        let (t, tt, v, tv) = medianSums
        let denominator = samples * tt - t * t
        return samples >= 2 && denominator > 0 ? (samples * tv - t * v) / denominator : 0
    }

    /// Each cell's wait: twice its rest deviation from the median's over the median's rate of rise (V/s),
    /// at the slowest rate of the load so far (on a plateau the rate is below a step a window: the
    /// callers bound it by that).
    private func setLeads(rate: Double, signed: Double, current: Double) {
        if rate < loadSlowestRate {
            loadSlowestRate = rate
            loadSlowestCurrent = current
        }
        guard rate < leadRate else { return }
        leadRate = rate
        slowestRate = signed
        slowestCurrent = current
        restCenter = ConsistencyFeatures.median(UnsafeBufferPointer(restDeviation), scratch)
        for cell in 0..<cells { lead[cell] = min(Self.longestLead, 2 * abs(restDeviation[cell] - restCenter) / rate) }
    }

    /// A rate of rise at `current` scaled as a lead's deviation ÷ current moves: by (reference ÷ current)².
    private func atReferenceCurrent(_ rate: Double, _ current: Double) -> Double {
        rate * (referenceCurrent / current) * (referenceCurrent / current)
    }

    /// Each cell's change `values` (Ω) less what its lead and its OCV offset explain, in `unexplained`.
    ///
    /// The lead at the reference current τ explains the median's rate change x (least squares through the
    /// origin, τ held to what the rest allows), and the offset d (V) what is left over a current that moves
    /// within the reference: an OCV offset does not scale with the current, so deviation ÷ current moves by
    /// d × (1/I − 1/I_ref); d is held to the cell's deviation from its rest in the reference window. What
    /// remains is shrunk by what a cell of another capacity gains or loses on its lead since the reference
    /// (the capacity spread of the seconds since, times x).
    private func fitLeads(rateChange: Double, current: Double, present: Double, step: Double, loadFor: Double) {
        let noise = step / window
        let x = rateChange.magnitude > noise ? (rateChange - (rateChange > 0 ? noise : -noise)) / current : 0
        let w = 1 / present - 1 / current
        shiftSquares += x * x
        shiftOffset += x * w
        offsetSquares += w * w
        guard shiftSquares > 0 || offsetSquares > 0 else {
            for cell in 0..<cells { unexplained[cell] = values[cell] }
            return
        }
        let gained = Self.capacitySpread * chargeSinceReference / abs(current) * abs(x)
        // Seconds of lead at the reference current per volt the rest hides.
        let hiddenPerVolt = abs(loadSlowestCurrent / current) / loadSlowestRate
        for cell in 0..<cells {
            shiftSums[cell] += x * values[cell]
            offsetSums[cell] += w * values[cell]
            let hidden = (abs(restDeviation[cell] - restCenter) + step) * hiddenPerVolt
            let bound = min(Self.longestLead, hidden + Self.capacitySpread * loadFor)
            let tau = shiftSquares > 0 ? max(-bound, min(bound, shiftSums[cell] / shiftSquares)) : 0
            let offsetBound = abs(reference[cell] * current) + step
            let offset = offsetSquares > 0
                ? max(-offsetBound, min(offsetBound, (offsetSums[cell] - tau * shiftOffset) / offsetSquares)) : 0
            fittedLead[cell] = tau * abs(current / present)
            let residual = values[cell] - tau * x - offset * w
            unexplained[cell] = residual > 0 ? max(0, residual - gained) : min(0, residual + gained)
        }
    }

    private func startWindow(at time: Double) {
        windowStart = time
        medianSums = (0, 0, 0, 0)
        for cell in 0..<cells {
            sums[cell] = 0
            squares[cell] = 0
        }
        samples = 0
        currentSum = 0
        currentSquares = 0
    }
}
