/// A leak that passive balancing hides, from the BMS's per-cell bleed flags.
///
/// A balancing BMS bleeds every cell it reads above the lowest. A leaking cell falls below the others,
/// so the BMS bleeds the others down after it and never it: the voltages keep only a few millivolts of the
/// leak (our simulator's 47 mA micro-short stayed 3-7 mV under the median for 62 hours), and no rest
/// slope shows it. The charge is still counted, in the bleeds: over a span of time, the median cell's
/// bled seconds minus this cell's, times the bleed current, over the span, is the current this cell lost
/// that the pack's median cell did not (A).
///
/// The spans are the two halves of the last `2 × halfHours`, moved on by the hour; a day each, so that
/// each holds a day's charge and the parking after it, when a BMS balances (most balance near full only).
/// A cell is a leak candidate when both halves put it at or above the floor: a leak goes on from day to
/// day, where the SOC offsets a pack is built with are bled once (in our simulator's 72-hour fleet the
/// first night put a healthy cell at up to 36 mA over 12 hours, under 8 mA over the next 12).
final class BleedWatch {
    let cells: Int
    let halfHours: Int
    /// The current the BMS bleeds a cell with (A).
    let bleedCurrent: Double
    /// Per cell, its bled seconds since the start; the seconds any flag was known.
    private let bled: UnsafeMutableBufferPointer<Double>
    private var covered = 0.0
    /// The hourly marks of `bled` (cells per mark, `slots` marks, oldest overwritten first) and of `covered`.
    private let slots: Int
    private let marks: UnsafeMutableBufferPointer<Double>
    private let markCovered: UnsafeMutableBufferPointer<Double>
    private var markCount = 0
    private var nextMark = Double.nan
    private var lastTime = Double.nan
    /// Per cell: the lesser of the two halves' leak estimates (A; NaN before two halves are marked), and
    /// the later half's (the leak's size now: the earlier may hold its onset).
    let leak: UnsafeMutableBufferPointer<Double>
    let recent: UnsafeMutableBufferPointer<Double>
    private let share: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>

    /// Longer silences than this count as no bleed known (s): a flag holds only until the next status.
    static let longestInterval = 30.0
    /// A half with flags for less than this share of its hours says nothing.
    static let leastCoverage = 0.5

    init(cells: Int, bleedCurrent: Double, halfHours: Int = 24) {
        self.cells = cells
        self.bleedCurrent = bleedCurrent
        self.halfHours = halfHours
        slots = 2 * halfHours + 1
        bled = .zeroed(cells)
        marks = .zeroed(cells * slots)
        markCovered = .zeroed(slots)
        leak = .zeroed(cells)
        leak.update(repeating: .nan)
        recent = .zeroed(cells)
        recent.update(repeating: .nan)
        share = .zeroed(cells)
        scratch = .zeroed(cells)
    }

    deinit {
        for buffer in [bled, marks, markCovered, leak, recent, share, scratch] { buffer.deallocate() }
    }

    /// Whether any flags have come: the first marks an hour at once.
    var seen: Bool { markCount > 0 }

    /// Takes a snapshot's flags (`nil`: none known, the mapping names none or they are stale); true when
    /// an hour was marked and `leak` was estimated again.
    func update(time: Double, bleeding: UnsafeBufferPointer<Bool>?) -> Bool {
        let interval = time - lastTime
        lastTime = time
        guard let bleeding else { return false }
        if interval > 0, interval <= Self.longestInterval {
            covered += interval
            for cell in 0..<cells where bleeding[cell] { bled[cell] += interval }
        }
        if nextMark.isNaN { nextMark = time }
        guard time >= nextMark else { return false }
        nextMark = max(nextMark + 3600, time)
        let slot = markCount % slots
        for cell in 0..<cells { marks[slot * cells + cell] = bled[cell] }
        markCovered[slot] = covered
        markCount += 1
        guard markCount >= slots else { return false }
        let oldest = markCount % slots, middle = (oldest + halfHours) % slots
        leak.update(repeating: .infinity)
        for half in 0..<2 {
            let start = half == 0 ? oldest : middle, end = half == 0 ? middle : slot
            let seconds = markCovered[end] - markCovered[start]
            guard seconds >= Self.leastCoverage * Double(halfHours) * 3600 else {
                leak.update(repeating: .nan)
                recent.update(repeating: .nan)
                return true
            }
            for cell in 0..<cells { share[cell] = marks[end * cells + cell] - marks[start * cells + cell] }
            let median = ConsistencyFeatures.median(UnsafeBufferPointer(share), scratch)
            for cell in 0..<cells {
                recent[cell] = (median - share[cell]) * bleedCurrent / seconds
                leak[cell] = min(leak[cell], recent[cell])
            }
        }
        return true
    }
}
