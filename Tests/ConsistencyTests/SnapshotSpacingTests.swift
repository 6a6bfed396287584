import Testing
@testable import Consistency

/// What the leak and reading-step tests count as a gap between two snapshots.
@Suite struct SnapshotSpacingTests {
    /// Which of `intervals` (s) are gaps, each with the gap's `minimum`, in turn.
    static func gaps(_ spacing: inout SnapshotSpacing, _ intervals: [Double], minimum: Double) -> [Bool] {
        intervals.map { spacing.isGap($0, minimum: minimum) }
    }

    @Test func aLoggerThatSamplesEveryTenMinutesHasNoGaps() {
        var spacing = SnapshotSpacing()
        let tenMinutes = Self.gaps(&spacing, Array(repeating: 600, count: 50), minimum: 0)
        #expect(!tenMinutes.contains(true))
        #expect(spacing.seconds == 600)
        // The leak test's floor: twenty minutes is not over three spacings, an hour is.
        let longer = Self.gaps(&spacing, [1_200, 3_600], minimum: 600)
        #expect(longer == [false, true])
    }

    @Test func aSilenceIsAGapAndDoesNotStretchTheSpacing() {
        var spacing = SnapshotSpacing()
        _ = Self.gaps(&spacing, Array(repeating: 1, count: 100), minimum: 0)
        let night = Self.gaps(&spacing, [8 * 3_600], minimum: 600)
        #expect(night == [true])
        #expect(spacing.seconds == 1)
        // So a second silence right after it is a gap too; two spacings are not, four are.
        let after = Self.gaps(&spacing, [700], minimum: 600) + Self.gaps(&spacing, [2, 4], minimum: 0)
        #expect(after == [true, false, true])
    }

    @Test func beforeAnySpacingOnlyTheMinimumTells() {
        var withFloor = SnapshotSpacing(), without = SnapshotSpacing()
        #expect(Self.gaps(&withFloor, [601], minimum: 600) == [true])
        #expect(Self.gaps(&without, [3_600], minimum: 0) == [false])
        #expect(without.seconds == 3_600)
    }
}
