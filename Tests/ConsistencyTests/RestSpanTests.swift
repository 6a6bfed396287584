import Testing
@testable import Consistency

/// A rest that a current sensor's noise pokes out of the rest band now and then: still a rest.
@Suite struct RestSpanTests {
    /// A 15 Ah pack whose current sensor has σ 0.15 A of noise (C/100; the rest band C/50 is 2σ): a
    /// snapshot leaves the band about every 20 s, and the rest test needs ten unbroken minutes. A C/150
    /// leak is named at its cell within the hour of rest all the same, and sized (22 min, 1.04x, as without
    /// the noise: 23 min, 1.03x; before RestSpan it was not named in two hours).
    @Test func aLeakIsNamedThroughACurrentSensorsNoise() throws {
        var pack = SyntheticPack()
        pack.currentSensor = (noise: 0.15, step: 0.01)
        let detectors = pack.detectorsKnowingCapacity()
        let flat = flatTemperatures(6)
        var raised = pack.twentyMinutesOfRest(detectors)
        raised += pack.run(detectors, from: 1200, seconds: 3600, steadyCurrent: pack.capacity / 5, temperatures: flat)
        pack.leaks[7] = pack.capacity / 150
        raised += pack.run(detectors, from: 4800, seconds: 2 * 3600, resting: true, temperatures: flat)
        #expect(raised.map(\.cell) == [7])
        let leak = try #require(raised.first)
        #expect(leak.kind == .leak)
        #expect(pack.raisedTimes[0] - 4800 < 3600, "named after \(pack.raisedTimes[0] - 4800) s of rest")
        #expect(leak.magnitude > 0.7 * pack.leaks[7] && leak.magnitude < 1.4 * pack.leaks[7], "\(leak.magnitude) A")
    }

    /// One snapshot outside the band does not end the rest; a load of C/10 does, and so does a small
    /// current that goes on until 0.5 % of the capacity has moved (a real load, however light).
    @Test func noiseDoesNotEndARestButALoadOrMovedChargeDoes() {
        let capacity = 15.0
        func span(_ currents: [Double]) -> [Bool] {
            var span = RestSpan()
            return currents.enumerated().map { second, current in
                span.update(time: Double(second), current: current, resting: abs(current) <= capacity / 50,
                            loaded: abs(current) >= capacity / 10, capacity: capacity)
                return span.holds
            }
        }
        #expect(span([0, 0.1, 0.4, -0.1, 0.35, 0]) == [true, true, true, true, true, true])
        #expect(span([0, 0, 1.5, 0]) == [true, true, false, true])
        // C/25 (0.6 A, outside the band, under C/10): 0.5 % of 15 Ah is 450 s of it.
        let light = span([0] + Array(repeating: 0.6, count: 500))
        #expect(light.prefix(450).allSatisfy { $0 } && !light[452])
        // Before the capacity is known any snapshot outside the band ends the rest.
        var unknown = RestSpan()
        unknown.update(time: 0, current: 0, resting: true, loaded: false, capacity: .nan)
        #expect(unknown.holds && unknown.since == 0)
        unknown.update(time: 1, current: 0.4, resting: false, loaded: false, capacity: .nan)
        #expect(!unknown.holds && unknown.since.isNaN)
    }

    /// A snapshot without a current (a stale or missing status message) says nothing of a rest: it ends
    /// it, as it did before the rest went on through a sensor's noise.
    @Test func aSnapshotWithoutACurrentEndsTheRest() {
        let scale = PackScale(capacity: 15, restCRate: 0.02)
        for second in 0..<60 {
            scale.update(time: Double(second), current: 0, reportedSOC: 50, medianVoltage: 3.7, medianResistance: .nan)
        }
        #expect(scale.restHolds)
        scale.update(time: 60, current: .nan, reportedSOC: 50, medianVoltage: 3.7, medianResistance: .nan)
        #expect(!scale.restHolds)
    }

    /// A drive whose current was not read (the status message lost) ends the rest before it, so the OCV
    /// learned after it waits for ten minutes of the new rest: the median cell's voltage just after a drive
    /// still carries its polarisation. (The rest's start was PackScale's own clock, which a snapshot without
    /// a current did not reset: the first snapshot after such a drive was taken as settled.)
    @Test func aRestAfterADriveWithoutACurrentSettlesAnew() {
        let scale = PackScale(capacity: 15, restCRate: 0.02)
        for second in 0...700 {
            scale.update(time: Double(second), current: 0, reportedSOC: 60, medianVoltage: 3.80, medianResistance: .nan)
        }
        for second in 701...1900 {
            scale.update(time: Double(second), current: .nan, reportedSOC: 55, medianVoltage: 3.70, medianResistance: .nan)
        }
        for second in 1901...2400 {
            scale.update(time: Double(second), current: 0, reportedSOC: 55, medianVoltage: 3.74, medianResistance: .nan)
        }
        #expect(scale.ocvSlopeBasis == nil, "an OCV learned \(2400 - 1901) s into the rest")
        for second in 2401...2600 {
            scale.update(time: Double(second), current: 0, reportedSOC: 55, medianVoltage: 3.77, medianResistance: .nan)
        }
        #expect(abs(scale.ocvSlope - 0.6) < 1e-9)
    }
}
