#if canImport(Glibc)
import Glibc
#endif

/// Each cell's capacity against the pack's, from its state of charge against the pack's at settled rests.
///
/// The cells of a series string carry the same current, so between two rests each gains or loses the
/// same charge; a cell of capacity Cᵢ moves Cₘ/Cᵢ times as far in SOC as the median cell (Cₘ). At each
/// settled rest a cell's SOC offset from the median is its open-circuit deviation over the pack's own
/// dOCV/dSOC (learned from the median cell, no chemistry table). Between rests the change of that offset is
/// regressed on the pack's SOC change (the BMS's SOC) and on the time passed: the first slope is
/// Cₘ/Cᵢ − 1, a weak cell's offset growing with throughput; the second takes up a leak, which grows with
/// time whatever the throughput (the leak test names it). With a charge between discharges the two are
/// told apart; a day of discharges only, where SOC and time move together, gives no estimate.
///
/// The sums forget over `memoryHours`: a group that loses one of its parallel cells (a broken bond) loses
/// a share of its capacity at once, which months of healthy rests would otherwise outweigh for weeks.
final class CapacityWatch {
    let cells: Int
    /// Seconds of rest before a cell's deviation counts as its OCV's: the cells relax by their own amounts
    /// after a load, and a slow one read early stands low after a discharge and high after a charge, the
    /// signature of a weak cell.
    let settle: Double
    /// Per cell: the settled rest's open-circuit deviation (V, smoothed over `smoothing` seconds) and its
    /// SOC offset at the last rest point (unit SOC).
    private let restDeviation: UnsafeMutableBufferPointer<Double>
    private let lastOffset: UnsafeMutableBufferPointer<Double>
    /// Per cell: Σ ΔSOC·Δoffset and Σ Δt·Δoffset over the rest points' steps; shared: Σ ΔSOC², Σ ΔSOC·Δt, Σ Δt².
    private let socCross: UnsafeMutableBufferPointer<Double>
    private let timeCross: UnsafeMutableBufferPointer<Double>
    private var socSquares = 0.0, socTime = 0.0, timeSquares = 0.0
    /// Σ ΔSOC² × (the two offsets' reading noise²): what a reading step over the OCV slope at each rest
    /// point puts into the ratio's numerator (LFP's slope of 0.1 V makes one 1 mV step 1 % of SOC).
    private var readingNoise = 0.0
    /// Per cell: Cₘ/Cᵢ − 1 (NaN while not estimable), its z-score across the cells, and the share of the
    /// median cell's capacity it lacks.
    let ratio: UnsafeMutableBufferPointer<Double>
    let score: UnsafeMutableBufferPointer<Double>
    let loss: UnsafeMutableBufferPointer<Double>
    private(set) var medianRatio = Double.nan
    private let centered: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var restStart = Double.nan
    private var settledSnapshots = 0
    private var pointTaken = false
    private var pending = (soc: Double.nan, time: Double.nan, slope: Double.nan, noise: Double.nan)
    private var last = (soc: Double.nan, time: Double.nan, noise: Double.nan)
    /// The last `remembered` rest points' SOC (unit) and time (s), oldest overwritten first: the span the
    /// points within the memory cover.
    private let pointSOC: UnsafeMutableBufferPointer<Double>
    private let pointTime: UnsafeMutableBufferPointer<Double>
    private var pointCount = 0
    private var spacing = SnapshotSpacing()
    private var lastTime = Double.nan

    init(cells: Int, settle: Double) {
        self.cells = cells
        self.settle = settle
        restDeviation = .zeroed(cells)
        lastOffset = .zeroed(cells)
        socCross = .zeroed(cells)
        timeCross = .zeroed(cells)
        ratio = .zeroed(cells)
        score = .zeroed(cells)
        loss = .zeroed(cells)
        centered = .zeroed(cells)
        scratch = .zeroed(cells)
        pointSOC = .zeroed(Self.remembered)
        pointTime = .zeroed(Self.remembered)
        ratio.update(repeating: .nan)
    }

    deinit {
        for buffer in [restDeviation, lastOffset, socCross, timeCross, ratio, score, loss, centered, scratch, pointSOC, pointTime] {
            buffer.deallocate()
        }
    }

    /// The SOC range the rest points within the memory span (unit SOC), and how many they are.
    var socSpan: Double { rememberedPoints().span }
    var points: Int { rememberedPoints().count }

    private func rememberedPoints() -> (span: Double, count: Int) {
        guard pointCount > 0 else { return (0, 0) }
        let newest = pointTime[(pointCount - 1) % Self.remembered]
        var lowest = Double.infinity, highest = -Double.infinity, count = 0
        for index in 0..<min(pointCount, Self.remembered) where newest - pointTime[index] <= Self.memoryHours * 3600 {
            lowest = min(lowest, pointSOC[index])
            highest = max(highest, pointSOC[index])
            count += 1
        }
        return (highest - lowest, count)
    }

    /// Takes a snapshot: `ocvDeviation` (V, each cell's deviation with its resistive share put back), the
    /// BMS's SOC (%), the median cell's dOCV/dSOC where it may size a cell's offset (V per unit SOC, NaN on
    /// a plateau or while unknown) and the readings' step (V). A rest point is taken when a settled rest
    /// ends (a load, a gap, a balancing; not a current sensor's noise: `restHolds`, as in LeakWatch) or
    /// has lasted `pointAfter` more; true when one was, and `ratio`, `score` and `loss` were updated.
    ///
    /// `balancing`: a bleed takes charge from the cells it bleeds between two rest points, which no
    /// capacity explains: the chain of rest points starts again after one.
    func update(time: Double, resting: Bool, restHolds: Bool, balancing: Bool, soc: Double, ocvSlope: Double,
                readingStep: Double, ocvDeviation: UnsafeMutableBufferPointer<Double>) -> Bool {
        let interval = time - lastTime
        lastTime = time
        let gap = spacing.isGap(interval, minimum: Self.gapSeconds)
        var committed = false
        if gap || !restHolds || balancing {
            committed = commit()
            if balancing { last = (.nan, .nan, .nan) }
            restStart = .nan
            guard resting, !balancing else { return committed }
        }
        guard resting else { return committed }
        if restStart.isNaN { restStart = time; settledSnapshots = 0; pointTaken = false }
        guard time - restStart >= settle, !pointTaken else { return committed }
        let weight = settledSnapshots == 0 || !(interval > 0) ? 1 : min(1, interval / Self.smoothing)
        settledSnapshots += 1
        for cell in 0..<cells { restDeviation[cell] += weight * (ocvDeviation[cell] - restDeviation[cell]) }
        let usable = soc.isFinite && ocvSlope.isFinite && ocvSlope > 0
        pending = usable ? (soc / 100, time, ocvSlope, readingStep / ocvSlope) : (.nan, .nan, .nan, .nan)
        // A long rest gives its point once smoothed over `pointAfter` of it: the rest may outlast the log
        // (a capture that ends parked) and the cells have relaxed by then.
        if time - restStart >= settle + Self.pointAfter, pending.slope.isFinite {
            pointTaken = true
            return commit()
        }
        return committed
    }

    /// The pending rest point, if any, as a step from the last: its SOC offsets, the sums, the estimates.
    private func commit() -> Bool {
        guard pending.slope.isFinite else { return false }
        let point = pending
        pending = (.nan, .nan, .nan, .nan)
        let stepped = last.soc.isFinite
        let socStep = point.soc - last.soc, hours = (point.time - last.time) / 3600
        if stepped { forget(hours) }
        for cell in 0..<cells {
            let offset = restDeviation[cell] / point.slope
            if stepped {
                socCross[cell] += socStep * (offset - lastOffset[cell])
                timeCross[cell] += hours * (offset - lastOffset[cell])
            }
            lastOffset[cell] = offset
        }
        if stepped {
            socSquares += socStep * socStep
            readingNoise += socStep * socStep * (point.noise * point.noise + last.noise * last.noise)
            socTime += socStep * hours
            timeSquares += hours * hours
        }
        last = (point.soc, point.time, point.noise)
        pointSOC[pointCount % Self.remembered] = point.soc
        pointTime[pointCount % Self.remembered] = point.time
        pointCount += 1
        estimate()
        return true
    }

    /// Weighs every sum down by the hours since the last rest point over `memoryHours`.
    private func forget(_ hours: Double) {
        let kept = exp(-max(0, hours) / Self.memoryHours)
        for cell in 0..<cells {
            socCross[cell] *= kept
            timeCross[cell] *= kept
        }
        socSquares *= kept
        socTime *= kept
        timeSquares *= kept
        readingNoise *= kept
    }

    /// Each cell's Cₘ/Cᵢ − 1 from the two-regressor fit, once the steps span `minimumSpan` of SOC and the
    /// SOC and time steps are not nearly proportional; its z-score across the cells (never below
    /// `floor`, nor below what the readings' steps at the rest points put into it) and the capacity share it
    /// lacks against the median cell.
    private func estimate() {
        let determinant = socSquares * timeSquares - socTime * socTime
        guard socSpan >= Self.minimumSpan, determinant > Self.separable * socSquares * timeSquares else {
            ratio.update(repeating: .nan)
            medianRatio = .nan
            score.update(repeating: 0)
            loss.update(repeating: 0)
            return
        }
        for cell in 0..<cells {
            ratio[cell] = (timeSquares * socCross[cell] - socTime * timeCross[cell]) / determinant
            centered[cell] = ratio[cell]
        }
        // The ratio's own uncertainty from the readings' steps (as if the SOC steps alone were fitted).
        let readingFloor = readingNoise.squareRoot() / socSquares
        medianRatio = CrossCellTest.scores(centered, into: score, scratch: scratch, floor: max(Self.floor, readingFloor), sign: 1)
        for cell in 0..<cells { loss[cell] = 1 - (1 + medianRatio) / (1 + ratio[cell]) }
    }

    static let gapSeconds = 600.0
    static let smoothing = 300.0
    static let pointAfter = 900.0
    /// The rest points' SOC range below which no capacity is estimated (a 5 % weak cell moves 1 % of SOC
    /// against the others over it, about 7 mV on NMC's mid-range slope).
    static let minimumSpan = 0.2
    /// 1 − the squared correlation of the SOC and time steps above which they are told apart.
    static let separable = 0.1
    /// The capacity ratios' spread never taken below 1 % (cells are made within about that of each other).
    static let floor = 0.01
    /// Hours over which the rest points' sums are forgotten: a week of a car's days holds 7-14 swings of
    /// SOC, which size a ratio to about a per cent; a fade of a few per cent a month is hardly weighed down.
    static let memoryHours = 168.0
    static let remembered = 64
}
