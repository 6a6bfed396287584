import Testing
@testable import Consistency

/// A healthy cell's rest reading that drops a few millivolts and stays there is no leak: a leak's fall goes
/// on. On HELDOUTCOOLANTCELLSB004 (docs/fleet.md, forty-sixth session) cell 13, the pack's lowest in SOC,
/// dropped 5-6 mV against the median 10-15 minutes into the rest after a charge and held; the rest test
/// raised it as a leak (unsized: its fall was not steady). Not mended yet: the test pins the case, and
/// fails as a known issue no longer recorded once a mend stops the raise.
@Suite struct RelaxationAfterChargeTests {
    /// After a rest, a drive and a 0.75C charge, the pack rests three hours; 10 min in, cell 7 (1 % of SOC
    /// under the others) drops `drop` volts over 5 min and holds.
    private func leaksRaised(drop: Double) -> [Int?] {
        var pack = SyntheticPack()
        pack.soc[7] -= 0.01
        let detectors = pack.detectorsKnowingCapacity()
        var raised = pack.restAndDrive(detectors)
        raised += pack.run(detectors, from: 4800, seconds: 1800, steadyCurrent: -0.75 * pack.capacity, temperatures: flatTemperatures(6))
        raised += pack.run(detectors, from: 6600, seconds: 3 * 3600, resting: true, temperatures: flatTemperatures(6)) { time, pack in
            pack.readingOffsets[7] = -drop * min(1, max(0, time - 7200) / 300)
        }
        return raised.filter { $0.kind == .leak }.map(\.cell)
    }

    @Test func aRestAfterAChargeWithoutADropRaisesNothing() {
        #expect(leaksRaised(drop: 0).isEmpty)
    }

    @Test func aHealthyCellsDropThatHoldsIsNoLeak() {
        withKnownIssue("the rest test raises a drop that stops as a leak (docs/fleet.md, forty-sixth session)") {
            #expect(leaksRaised(drop: 0.006).isEmpty)
        }
    }
}
