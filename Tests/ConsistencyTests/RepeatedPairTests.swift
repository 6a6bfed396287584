@testable import Consistency
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A load toggling between the same two currents gives each cell the same two readings every time, so
/// the same rounding error in every pair: that is one pair's evidence, not many. Read as independent, six
/// such pairs made a healthy LFP cell 30 % above its baseline (held-out draw 4201, CDSKYPKV3GVBU0E9C, hour
/// 17.7: the current toggling by 5-7 A, 1 mV readings; docs/fleet.md, twenty-sixth session).
@Suite struct RepeatedPairTests {
    /// Cell 3's voltage step between the two currents is `millivolts` (3.1), which its 1 mV readings round
    /// up every time (a reading 0.45 mV over a step at the low current): 4 mV, 29 % above the median's.
    func toggleWithRoundingThatRepeats(seconds: Int, readingNoise: Double, millivolts: Double = 3.1,
                                       fault: @escaping (Double, inout SyntheticPack) -> Void = { _, _ in }) -> [Detection] {
        var pack = SyntheticPack()
        pack.ocvSlope = 0.03
        for cell in 0..<pack.cells { pack.readingNoise[cell] = 0 }
        pack.resistances[3] = pack.resistance
        let detectors = pack.detectorsKnowingCapacity()
        var raised = pack.run(detectors, from: 0, seconds: 1800, meanCRate: 0.15, temperatures: flatTemperatures(6))
        let low = 2.0, high = low + millivolts / 1000 / pack.resistance
        let unrounded = (3.4 + pack.ocvSlope * pack.soc[3] - pack.resistances[3] * low) * 1000
        pack.readingOffsets[3] = (0.55 - (unrounded - unrounded.rounded(.down))) / 1000
        for cell in 0..<pack.cells { pack.readingNoise[cell] = readingNoise }
        raised += pack.run(detectors, from: 1800, seconds: seconds, toggling: (low, high), temperatures: flatTemperatures(6), fault: fault)
        return raised.filter { $0.kind == .resistanceRise }
    }

    @Test func aLoadTogglingBetweenTwoCurrentsIsNoResistanceRise() {
        let raised = toggleWithRoundingThatRepeats(seconds: 120, readingNoise: 0)
        #expect(raised.isEmpty, "\(raised.map { ($0.cell ?? -1, $0.relative, $0.confidence) })")
    }

    /// Where the readings move (a BMS's own noise of a few tenths of a millivolt), their rounding is drawn
    /// anew each time and every pair counts: a cell whose resistance rises by 60 % during the toggling is
    /// named. The toggle moves the voltages by 7.1 mV here: while the load toggles, no pair whose step is
    /// under two rounding steps over the share of interest (6.7 mV) counts as evidence (the next test).
    @Test func readingsThatMoveStillNameARiseDuringTheToggling() {
        let raised = toggleWithRoundingThatRepeats(seconds: 600, readingNoise: 0.0004, millivolts: 7.1,
                                                   fault: SyntheticPack.resistanceRise(of: 5, by: 0.6, from: 1900, over: 60))
        #expect(raised.map(\.cell) == [5])
    }

    /// A charger toggling while the voltages creep by a rounding step per toggle: every reading is new, yet
    /// each meets the rounding grid where the one a toggle before did, so cell 3's rounding up repeats all
    /// the same (our simulator's LFP pack charging at C/6 toggled by 0.36 A, its voltages creeping 1.1
    /// steps of 0.1 mV per toggle: two healthy cells raised, held-out draw 4801, twenty-ninth session).
    /// Half the rise of interest is then under a rounding step, and such pairs carry no evidence.
    @Test func readingsCreepingAStepPerToggleRepeatTheirRounding() {
        let creeping: (Double, inout SyntheticPack) -> Void = { time, pack in
            guard Int(time) % 2 == 0 else { return }
            for cell in 0..<pack.cells { pack.readingOffsets[cell] += 0.001 }
        }
        let raised = toggleWithRoundingThatRepeats(seconds: 600, readingNoise: 0, fault: creeping)
        #expect(raised.isEmpty, "\(raised.map { ($0.cell ?? -1, $0.relative, $0.confidence) })")
    }
}
