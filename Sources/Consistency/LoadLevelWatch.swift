/// Each cell's deviation under load against its own deviation at the last rest, the test that sees a
/// resistance while the current hardly changes (a constant-current charge) and at the first seconds of
/// a load after a rest or a night, where the pair test (ResistanceChange) has no steps to use.
///
/// Under a current I a cell ΔR above the others sits ΔR·I lower (discharge) or higher (charge) than its
/// rest deviation. That shift, taken in the direction a rise of resistance pushes it, is compared across
/// the cells (median and 1.4826 MAD, never below two reading steps): whatever the pack shares (cooling,
/// polarization, charge moved) cancels. A CUSUM of shift × (z − shift/2) takes a check at the first
/// loaded snapshot after a rest and every `checkInterval` seconds of load.
final class LoadLevelWatch {
    let cells: Int
    let shift: Double
    let checkInterval: Double
    /// Each cell's deviation at the last rest, and whether there was one since the start or a gap.
    let restDeviation: UnsafeMutableBufferPointer<Double>
    private let offset: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// Per cell: the latest z-score, the CUSUM statistic, and its rest-to-load shift over the current (Ω).
    let score: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    let change: UnsafeMutableBufferPointer<Double>
    private(set) var haveRest = false
    private var nextCheck = -Double.infinity
    private var loadedBefore = false

    init(cells: Int, shift: Double, checkInterval: Double) {
        self.cells = cells
        self.shift = shift
        self.checkInterval = checkInterval
        restDeviation = .zeroed(cells)
        offset = .zeroed(cells)
        scratch = .zeroed(cells)
        score = .zeroed(cells)
        statistic = .zeroed(cells)
        change = .zeroed(cells)
    }

    deinit {
        for buffer in [restDeviation, offset, scratch, score, statistic, change] { buffer.deallocate() }
    }

    /// True when a check updated `score` and `statistic`.
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, current: Double, resting: Bool, loaded: Bool,
                resolution: Double) -> Bool {
        if resting {
            for cell in 0..<cells { restDeviation[cell] = deviation[cell] }
            haveRest = true
            loadedBefore = false
            return false
        }
        guard haveRest, loaded, current.isFinite, current != 0 else { return false }
        // The first loaded snapshot after a rest is checked at once; then one check an interval.
        guard !loadedBefore || time >= nextCheck else { return false }
        loadedBefore = true
        nextCheck = time + checkInterval
        let direction: Double = current > 0 ? -1 : 1
        for cell in 0..<cells {
            offset[cell] = (deviation[cell] - restDeviation[cell]) * direction
            change[cell] = -(deviation[cell] - restDeviation[cell]) / current
        }
        CrossCellTest.scores(offset, into: score, scratch: scratch, floor: resolution.isFinite ? 2 * resolution : 0.002, sign: 1)
        CrossCellTest.accumulate(score, into: statistic, shift: shift)
        return true
    }
}
