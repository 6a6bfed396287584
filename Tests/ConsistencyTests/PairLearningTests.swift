@testable import Consistency
import Testing

/// The pair test's baselines, per current level, are learned over the same seconds of driving whatever
/// the snapshots' spacing.
@Suite struct PairLearningTests {
    /// A drive read every second, every 10 s or every 30 s (JSON snapshots): after an hour and ten minutes
    /// cell 4's resistance rises by 60 %, and the pair test names it within the next twenty minutes in
    /// each. The baselines used to take 300 pairs at a level: 5 minutes at 1 Hz, 50 at 10 s, which left a
    /// 10-s pack blind for its first two hours (our simulator's loose connections, 17 hours into a 4-day
    /// replay, named only after the BMS's rule); the warm-up too took 300 pairs (2.5 hours at 30 s), and
    /// pairs over 15 s apart were not taken at all.
    @Test(arguments: [1, 10, 30]) func aRiseIsNamedAsSoonFromSnapshotsAsFromOneSecondReadings(interval: Int) {
        var pack = SyntheticPack()
        pack.snapshotInterval = interval
        let detectors = pack.detectorsKnowingCapacity()
        let onset = 4200.0
        let raised = pack.run(detectors, from: 0, seconds: 5400, temperatures: flatTemperatures(6),
                              fault: SyntheticPack.resistanceRise(of: 4, by: 0.6, from: onset, over: 60))
            .filter { $0.kind == .resistanceRise }
        #expect(raised.map(\.cell) == [4], "\(raised.map { ($0.cell ?? -1, $0.evidence, $0.relative) })")
        #expect(raised.first?.evidence == .currentChanges)
        #expect(pack.raisedTimes.first.map { $0 > onset } == true, "raised at \(pack.raisedTimes.first ?? .nan) s")
    }
}
