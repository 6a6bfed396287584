/// The snapshots' usual spacing (s), smoothed over the intervals that are not gaps, so that a logger that
/// samples every ten minutes has no gap between two samples and one long silence does not stretch what
/// counts as usual afterwards.
struct SnapshotSpacing {
    private(set) var seconds = Double.nan

    /// True when `interval` is a gap: longer than three usual spacings and than `minimum`. Before any
    /// spacing is known only `minimum` tells (0: nothing is a gap yet). Any other positive interval is
    /// learned.
    mutating func isGap(_ interval: Double, minimum: Double) -> Bool {
        let gap = seconds.isNaN ? minimum > 0 && interval > minimum : interval > max(minimum, 3 * seconds)
        if interval > 0, !gap { seconds = seconds.isNaN ? interval : seconds + (interval - seconds) / 16 }
        return gap
    }
}
