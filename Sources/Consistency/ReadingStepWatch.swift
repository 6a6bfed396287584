/// A cell whose reading steps to a new level while the current holds still: a voltage sense channel that
/// took an offset (a corroded or loosened sense wire, a drifting AFE channel), or a connection that gave
/// way under load.
///
/// No cell's voltage steps on its own: at a steady current its deviation from the median moves with its
/// state of charge and its polarisation, over minutes. So a cell whose open-circuit deviation moves by
/// many reading steps between two snapshots, beyond what the current's change explains (its own
/// resistance is put back; what that may miss, `resistance_share` of the median's, is added to the step
/// asked for; the current, latest and in force when the cells were measured, moved by at most C/5), and
/// then holds the new level as it held the old one, has had its reading moved, not its charge. Each side
/// is a window of `window` snapshots whose deviations stay within half the step of their median; the
/// level after differs from the level before in the step's sign by at least three quarters of it, beyond
/// what the windows' mean currents explain. A spike does not hold, an OCV's knee run down keeps moving:
/// neither passes. A cell a few seconds ahead of the median reaches a knee of the OCV first: its
/// deviation rises by its lead times the median's change of rate and holds, and where the lead is
/// shorter than the snapshots' spacing that rise falls between two snapshots. It is at most the spacing
/// times the change of the median's rate of rise (its open-circuit voltage, over the windows before and
/// after), so a step is tested less that (our simulator's LFP packs as 10-s snapshots in 0.1 mV: three
/// false steps in 954 h at the knees of evening charges). When more than max(2, 5 %) of the cells move
/// by half the step together the pack moved (a page, a module, the BMS's measurement) and no cell is
/// tested.
///
/// Every comparison puts back one resistance change, the cell's when it is made (frozen for a step's
/// windows), times the current's change between the snapshots compared: never the change's own movement
/// times the current. A resistance estimate that moves while a charger holds 60 A would otherwise move the
/// open-circuit deviation by millivolts at a steady current, which is what this test looks for (our
/// simulator's LFP packs: 0.28 mΩ set at the first pair of a taper, 16 mV at 58 A, three false steps).
final class ReadingStepWatch {
    let cells: Int
    let window: Int
    /// Per cell: the last `window` deviations as read (V), oldest first from `head` (their currents in
    /// `currents`), and a step waiting for its window after: the level before it (NaN: none waiting), its
    /// size, the resistance change put back for it, the open-circuit deviations seen since.
    private let recent: UnsafeMutableBufferPointer<Double>
    private var head = 0
    private var filled = 0
    private let levelBefore: UnsafeMutableBufferPointer<Double>
    private let stepSize: UnsafeMutableBufferPointer<Double>
    private let currentBefore: UnsafeMutableBufferPointer<Double>
    private let stepChange: UnsafeMutableBufferPointer<Double>
    private let after: UnsafeMutableBufferPointer<Double>
    private var afterCount: [Int]
    /// Per cell: the level moved (V, after less before) once a step held, NaN otherwise; and then how far
    /// the test was passed (the level moved over three quarters of the smallest step tested at the step's
    /// snapshot, ≥ 1).
    let confirmed: UnsafeMutableBufferPointer<Double>
    let confidence: UnsafeMutableBufferPointer<Double>
    private let stepThreshold: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private let windowLevels: UnsafeMutableBufferPointer<Double>
    private let currents: UnsafeMutableBufferPointer<Double>
    /// The median cell's open-circuit voltage (V: its reading plus the median resistance's drop, where
    /// known) and the time of each of the last `window` snapshots, in `head`'s order; and per cell, that
    /// voltage's rate of rise (V/s) over the window before a waiting step.
    private let medians: UnsafeMutableBufferPointer<Double>
    private let times: UnsafeMutableBufferPointer<Double>
    private let rateBefore: UnsafeMutableBufferPointer<Double>
    private let stepInterval: UnsafeMutableBufferPointer<Double>
    private var previousCurrent = Double.nan
    private var previousTime = Double.nan
    private var spacing = SnapshotSpacing()
    /// A resistance learned from pairs further apart than the cells' polarization takes in part of it,
    /// which a step put back with it leaves in the open-circuit deviation: at such spacings nothing is
    /// put back, as where no resistance is known (30-s snapshots of our simulator: a healthy cell's
    /// reading raised as a step at a charge's top, with 30-s pairs in the resistance test).
    private var putsBack: Bool { !(spacing.seconds > ResistanceChange.polarizationFreePair) }
    /// The cells' one-snapshot movement at a steady current (V, a robust standard deviation, smoothed).
    private(set) var noise = 0.0

    init(cells: Int, window: Int = ReadingStepWatch.window) {
        self.cells = cells
        self.window = window
        recent = .zeroed(cells * window)
        levelBefore = .zeroed(cells)
        levelBefore.update(repeating: .nan)
        stepSize = .zeroed(cells)
        currentBefore = .zeroed(cells)
        stepChange = .zeroed(cells)
        after = .zeroed(cells * window)
        afterCount = Array(repeating: 0, count: cells)
        confirmed = .zeroed(cells)
        confirmed.update(repeating: .nan)
        confidence = .zeroed(cells)
        stepThreshold = .zeroed(cells)
        scratch = .zeroed(max(cells, window))
        windowLevels = .zeroed(window)
        currents = .zeroed(window)
        medians = .zeroed(window)
        times = .zeroed(window)
        rateBefore = .zeroed(cells)
        stepInterval = .zeroed(cells)
    }

    deinit {
        for buffer in [recent, levelBefore, stepSize, currentBefore, stepChange, after, confirmed, confidence, stepThreshold, scratch,
                       windowLevels, currents, medians, times, rateBefore, stepInterval] {
            buffer.deallocate()
        }
    }

    /// The smallest step tested (V): `steps` reading steps, and never within the cells' own movement.
    private func threshold(resolution: Double) -> Double {
        max(Self.steps * resolution, Self.noiseMultiple * noise)
    }

    /// Takes a snapshot's deviations from the median as read (V) and each cell's resistance change from
    /// the median's (Ω, NaN: unknown, none put back). `current` and `periodStartCurrent` (A), `oneC` (A);
    /// `unexplained` (Ω): how far a cell's resistance may be from what was put back (NaN while the
    /// median's is unknown: then only a current that moved by at most `stillCRate` counts as steady); the
    /// readings' resolution (V); `balancing`: the BMS bleeds cells now or did at the last snapshot (a
    /// bleed through a sense wire moves its reading). Afterwards `confirmed` holds, per cell, the level a
    /// held step moved it by.
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, change: UnsafeMutableBufferPointer<Double>,
                median: Double, medianResistance: Double,
                current: Double, periodStartCurrent: Double, oneC: Double, unexplained: Double, stillCRate: Double,
                resolution: Double, balancing: Bool) {
        confirmed.update(repeating: .nan)
        let interval = time - previousTime
        previousTime = time
        // NaN (a current unknown, no scale yet) is never steady.
        let moved = max(abs(current - previousCurrent), abs(periodStartCurrent - previousCurrent))
        previousCurrent = current
        let gap = spacing.isGap(interval, minimum: 0)
        let known = putsBack && unexplained.isFinite && unexplained >= 0
        let steadyAmps = (known ? Self.steadyCRate : stillCRate) * oneC
        // A gap, a current unknown or moving, a bleed, a scale not yet known: the levels start again.
        guard !gap, moved <= steadyAmps, resolution.isFinite, !balancing else {
            restart()
            return
        }
        let threshold = self.threshold(resolution: resolution) + (known ? unexplained * moved : 0)
        let medianOCV = median + (putsBack && medianResistance.isFinite ? medianResistance * current : 0)
        if filled == window { updateNoise(deviation, change: change, current: current) }
        // Steps waiting for their window after.
        for cell in 0..<cells where !levelBefore[cell].isNaN {
            after[cell * window + afterCount[cell]] = deviation[cell] + putBack(stepChange[cell], current)
            afterCount[cell] += 1
            guard afterCount[cell] == window else { continue }
            for index in 0..<window { windowLevels[index] = after[cell * window + index] }
            let levelAfter = quietLevel(within: abs(stepSize[cell]) / 2)
            let shift = levelAfter - levelBefore[cell]
            let currentMoved = abs(meanCurrent(replacingOldestWith: current) - currentBefore[cell])
            let bend = abs(medianRate(replacingOldestWith: (time, medianOCV)) - rateBefore[cell]) * stepInterval[cell]
            if shift * stepSize[cell] > 0, currentMoved <= steadyAmps, abs(stepSize[cell]) - bend >= stepThreshold[cell],
               abs(shift) - (known ? unexplained * currentMoved : 0) >= 0.75 * abs(stepSize[cell]) {
                confirmed[cell] = shift
                confidence[cell] = abs(shift) / (0.75 * stepThreshold[cell])
            }
            levelBefore[cell] = .nan
        }
        if filled == window {
            var together = 0
            for cell in 0..<cells where abs(moveSinceLatest(cell, deviation, change, current)) >= threshold / 2 { together += 1 }
            if together <= max(2, cells / 20) {
                for cell in 0..<cells where levelBefore[cell].isNaN {
                    let step = moveSinceLatest(cell, deviation, change, current)
                    guard abs(step) >= threshold else { continue }
                    for index in 0..<window {
                        windowLevels[index] = recent[cell * window + index] + putBack(change[cell], currents[index])
                    }
                    let level = quietLevel(within: abs(step) / 2)
                    guard level.isFinite else { continue }
                    levelBefore[cell] = level
                    stepSize[cell] = step
                    stepChange[cell] = change[cell]
                    stepThreshold[cell] = threshold
                    currentBefore[cell] = meanCurrent(replacingOldestWith: nil)
                    rateBefore[cell] = medianRate(replacingOldestWith: nil)
                    stepInterval[cell] = interval
                    after[cell * window] = deviation[cell] + putBack(change[cell], current)
                    afterCount[cell] = 1
                }
            }
        }
        for cell in 0..<cells { recent[cell * window + head] = deviation[cell] }
        currents[head] = current
        medians[head] = medianOCV
        times[head] = time
        head = (head + 1) % window
        filled = min(filled + 1, window)
    }

    private func restart() {
        filled = 0
        head = 0
        levelBefore.update(repeating: .nan)
    }

    /// How far a cell's open-circuit deviation moved since the last snapshot taken in (V): its reading's
    /// move with its resistance change times the current's change put back.
    private func moveSinceLatest(_ cell: Int, _ deviation: UnsafeMutableBufferPointer<Double>,
                                 _ change: UnsafeMutableBufferPointer<Double>, _ current: Double) -> Double {
        let latest = (head + window - 1) % window
        return deviation[cell] - recent[cell * window + latest] + putBack(change[cell], current - currents[latest])
    }

    /// A resistance change's share of the drop at `current` (V): none while the change is unknown.
    private func putBack(_ change: Double, _ current: Double) -> Double {
        putsBack && change.isFinite ? change * current : 0
    }

    /// The mean current of the last `window` snapshots: before a step, those taken in; after it, with
    /// this snapshot's `current` in place of the oldest (the one before the step).
    private func meanCurrent(replacingOldestWith current: Double?) -> Double {
        var sum = current.map { $0 - currents[head] } ?? 0
        for index in 0..<window { sum += currents[index] }
        return sum / Double(window)
    }

    /// The median cell's open-circuit voltage's rate of rise (V/s, least squares) over the last `window`
    /// snapshots, or with this snapshot's in place of the oldest; 0 where their times do not spread.
    private func medianRate(replacingOldestWith latest: (time: Double, voltage: Double)?) -> Double {
        var (t, tt, v, tv) = (0.0, 0.0, 0.0, 0.0)
        let origin = times[(head + window - 1) % window]
        for index in 0..<window {
            let replaced = index == head ? latest : nil
            let time = (replaced?.time ?? times[index]) - origin
            let voltage = replaced?.voltage ?? medians[index]
            (t, tt, v, tv) = (t + time, tt + time * time, v + voltage, tv + time * voltage)
        }
        let count = Double(window)
        let denominator = count * tt - t * t
        return denominator > 0 ? (count * tv - t * v) / denominator : 0
    }

    /// The median of the window of open-circuit deviations in `windowLevels` (in any order), or NaN when
    /// any of it strays more than `within` from it.
    private func quietLevel(within: Double) -> Double {
        let values = UnsafeBufferPointer(windowLevels)
        let level = ConsistencyFeatures.median(values, UnsafeMutableBufferPointer(rebasing: scratch[0..<window]))
        for value in values where abs(value - level) > within { return .nan }
        return level
    }

    /// The cells' one-snapshot movement (1.4826 × the median absolute step), smoothed over snapshots.
    private func updateNoise(_ deviation: UnsafeMutableBufferPointer<Double>, change: UnsafeMutableBufferPointer<Double>,
                             current: Double) {
        for cell in 0..<cells { scratch[cell] = abs(moveSinceLatest(cell, deviation, change, current)) }
        let spread = 1.4826 * ConsistencyFeatures.median(UnsafeBufferPointer(rebasing: scratch[0..<cells]),
                                                         UnsafeMutableBufferPointer(rebasing: scratch[0..<cells]))
        noise += (spread - noise) / 256
    }

    /// Snapshots each side of a step, reading steps a step must span, and multiples of the cells' own
    /// movement it must exceed.
    static let window = 10
    static let steps = 5.0
    /// The largest change of current (× 1C) between two snapshots a step is tested at, once the median
    /// resistance is known.
    static let steadyCRate = 0.2
    static let noiseMultiple = 5.0
}
