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
final class SteadyLoadWatch {
    let cells: Int
    let shift: Double
    let window: Double
    let settle: Double
    private let restDeviation: UnsafeMutableBufferPointer<Double>
    private var haveRest = false
    private let sums: UnsafeMutableBufferPointer<Double>
    private let reference: UnsafeMutableBufferPointer<Double>
    private let values: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// Per cell: the latest z-score, the CUSUM statistic, and the rise of resistance since the load's first
    /// steady window against the median cell's (Ω).
    let score: UnsafeMutableBufferPointer<Double>
    let statistic: UnsafeMutableBufferPointer<Double>
    let change: UnsafeMutableBufferPointer<Double>
    private var loadStart = Double.nan
    private var loadSign = 0.0
    private var previousTime = -Double.infinity
    private var windowStart = Double.nan
    private var samples = 0.0
    private var currentSum = 0.0
    private var currentSquares = 0.0
    private var haveReference = false
    /// The current of a steady window varies by at most this share of its mean.
    static let steadiness = 0.1
    /// Seconds between snapshots that end a load.
    static let gap = 60.0

    init(cells: Int, shift: Double, window: Double, settle: Double) {
        self.cells = cells
        self.shift = shift
        self.window = window
        self.settle = settle
        restDeviation = .zeroed(cells)
        sums = .zeroed(cells)
        reference = .zeroed(cells)
        values = .zeroed(cells)
        scratch = .zeroed(cells)
        score = .zeroed(cells)
        statistic = .zeroed(cells)
        change = .zeroed(cells)
    }

    deinit {
        for buffer in [restDeviation, sums, reference, values, scratch, score, statistic, change] { buffer.deallocate() }
    }

    /// True when a steady window updated `score` and `statistic`.
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, current: Double, resting: Bool, loaded: Bool,
                resolution: Double) -> Bool {
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
            haveReference = false
            windowStart = .nan
            return false
        }
        guard time - loadStart >= settle else { return false }
        if windowStart.isNaN { startWindow(at: time) }
        for cell in 0..<cells { sums[cell] += deviation[cell] }
        samples += 1
        currentSum += current
        currentSquares += current * current
        guard time - windowStart >= window else { return false }
        defer { startWindow(at: time) }
        let meanCurrent = currentSum / samples
        let variance = max(0, currentSquares / samples - meanCurrent * meanCurrent)
        guard variance.squareRoot() <= Self.steadiness * abs(meanCurrent) else {
            haveReference = false
            return false
        }
        for cell in 0..<cells { values[cell] = (sums[cell] / samples - restDeviation[cell]) / meanCurrent }
        guard haveReference else {
            for cell in 0..<cells { reference[cell] = values[cell] }
            haveReference = true
            return false
        }
        // A rise of resistance lowers deviation ÷ current, in charge and in discharge alike.
        for cell in 0..<cells { values[cell] -= reference[cell] }
        let floor = (resolution.isFinite ? resolution / 2 : 0.0005) / abs(meanCurrent)
        CrossCellTest.scores(values, into: score, scratch: scratch, floor: floor, sign: -1)
        for cell in 0..<cells { change[cell] = -values[cell] }
        CrossCellTest.accumulate(score, into: statistic, shift: shift)
        return true
    }

    private func startWindow(at time: Double) {
        windowStart = time
        for cell in 0..<cells { sums[cell] = 0 }
        samples = 0
        currentSum = 0
        currentSquares = 0
    }
}
