import Testing
@testable import Consistency

/// A leak sized where the pack rests after a slow charge to the top: through the OCV slope the charge
/// climbed there, not the secant down to the next SOC bin a rest was read in.
@Suite struct ChargeClimbTests {
    /// A rest at 70 % SOC, a charge at C/5 tapering like a constant-voltage end to 99 % (C/37 at its end),
    /// then (with `load`) a short rest and a load, and three hours of rest in which cell 4 leaks C/300. With
    /// `knee`, an LFP-like OCV: a 0.05 V per unit plateau, 6 V per unit steeper above 95 % (the secant
    /// from 70 % is 0.88 where the cells rest on 6.05); without, NMC-like 0.8 throughout.
    static func leakAfterACharge(knee: Bool, load: Bool = false) -> (leaks: [Detection], truth: Double) {
        var pack = SyntheticPack()
        if knee {
            // A current sensor whose noise leaves the rest band (C/50) once in a few hundred snapshots: no
            // load, and the climb stands (RestSpan).
            pack.currentSensor = (noise: 0.1, step: 0.01)
            pack.ocvSlope = 0.05
            pack.ocvKnee = (soc: 0.95, slope: 6.0)
        }
        pack.soc = Array(repeating: 0.70, count: pack.cells)
        let detectors = pack.detectorsKnowingCapacity()
        let flat = flatTemperatures(6)
        var raised = pack.run(detectors, from: 0, seconds: 1200, resting: true, temperatures: flat)
        raised += pack.run(detectors, from: 1200, seconds: 4176, steadyCurrent: -pack.capacity / 5, temperatures: flat)
        raised += pack.run(detectors, from: 5376, seconds: 2400, steadyCurrent: -pack.capacity / 5, taper: 1200, temperatures: flat)
        var start = 7776.0
        if load {
            // Ten minutes parked, then ten minutes' load at C/10: the rest that follows is no longer the charge's.
            raised += pack.run(detectors, from: start, seconds: 600, resting: true, temperatures: flat)
            raised += pack.run(detectors, from: start + 600, seconds: 600, steadyCurrent: pack.capacity / 10, temperatures: flat)
            start += 1200
        }
        pack.leaks[4] = pack.capacity / 300
        raised += pack.run(detectors, from: start, seconds: 3 * 3600, resting: true, temperatures: flat)
        return (raised.filter { $0.kind == .leak }, pack.leaks[4])
    }

    @Test func aLeakAtTheTopOfAKneeIsSizedThroughTheChargesClimb() throws {
        let (leaks, truth) = Self.leakAfterACharge(knee: true)
        #expect(leaks.map(\.cell) == [4])
        let leak = try #require(leaks.first)
        let slope = try #require(leak.ocvSlope)
        #expect(slope.fromChargeClimb)
        #expect(abs(slope.slope - 6.05) < 0.6, "slope \(slope.slope) V per unit SOC")
        // The secant would have given about seven times the leak.
        #expect(leak.magnitude > 0.7 * truth && leak.magnitude < 1.4 * truth, "\(leak.magnitude) A for \(truth) A")
        #expect(leak.timeToRule.isFinite)
    }

    /// Where the OCV has no knee the climb is no steeper than the secant, and the size is as before.
    @Test func aLeakOnAnEvenSlopeKeepsItsSizeAfterACharge() throws {
        let (leaks, truth) = Self.leakAfterACharge(knee: false)
        #expect(leaks.map(\.cell) == [4])
        let leak = try #require(leaks.first)
        #expect(leak.magnitude > 0.7 * truth && leak.magnitude < 1.4 * truth, "\(leak.magnitude) A for \(truth) A")
    }

    /// A load between the charge and the rest: the cells no longer stand where the charge left them,
    /// so the climb is not used (the size falls back to the secant, or to none).
    @Test func aRestAfterALoadIsNotSizedThroughTheCharge() throws {
        let (leaks, _) = Self.leakAfterACharge(knee: true, load: true)
        #expect(leaks.map(\.cell) == [4])
        let leak = try #require(leaks.first)
        #expect(leak.ocvSlope?.fromChargeClimb != true)
    }
}
