import Testing
@testable import Consistency

/// Which secants between the pack's learned OCV bins size a leak's fall.
@Suite struct OCVSecantTests {
    /// An LFP pack that has rested twice on its plateau (40 % and 55 %, 2 mV apart: 0.013 V per unit SOC)
    /// and then on the steeper stretch at 90 %: the secant down to 55 % is 0.43 V per unit, steep enough
    /// for a size on its own, but on a pack with a plateau it averages the plateau with the step beside
    /// it, and it reaches 35 % of SOC: no size. Without the plateau's two rests (an NMC-like pack, the
    /// same two last rests) it sizes; on the plateau pack a bin within 5 % of SOC does too.
    @Test func aPackThatShowedAPlateauSizesOnlyThroughNearBins() throws {
        let plateau = packScale(restingAt: [(40, 3.300), (55, 3.302), (90, 3.452)])
        #expect(plateau.plateauSeen)
        let far = try #require(plateau.sizingSlope(depth: 0.005, resolution: 0.001))
        #expect(abs(far.slope - 0.15 / 0.35) < 1e-9 && abs(far.reach - 0.35) < 1e-9)
        #expect(!far.sizesAFall)

        let smooth = packScale(restingAt: [(55, 3.302), (90, 3.452)])
        #expect(!smooth.plateauSeen)
        #expect(smooth.sizingSlope(depth: 0.005, resolution: 0.001)?.sizesAFall == true)

        let near = packScale(restingAt: [(40, 3.300), (55, 3.302), (86, 3.440), (90, 3.452)])
        let local = try #require(near.sizingSlope(depth: 0.005, resolution: 0.001))
        #expect(near.plateauSeen && abs(local.reach - 0.04) < 1e-9 && local.sizesAFall)
    }

    /// Two bins closer than 10 % of SOC do not show a plateau, however flat: 5 % apart a plateau's OCV
    /// differs by a reading step or two, and an NMC's flattest stretch comes near it.
    @Test func aPlateauIsSeenOnlyAcrossTenPerCent() {
        #expect(!packScale(restingAt: [(50, 3.300), (55, 3.3005)]).plateauSeen)
        #expect(packScale(restingAt: [(45, 3.300), (55, 3.305)]).plateauSeen)
        #expect(!packScale(restingAt: [(45, 3.600), (55, 3.615)]).plateauSeen, "0.15 V per unit SOC")
    }
}
