import Consistency
import Testing

@Suite struct ConsistencyTests {
    private func update(_ features: ConsistencyFeatures, _ time: Double, _ voltages: [Double], _ temperatures: [Double] = []) {
        voltages.withUnsafeBufferPointer { cells in
            temperatures.withUnsafeBufferPointer { features.update(time: time, voltages: cells, temperatures: $0) }
        }
    }

    @Test func packFeaturesOfOneSnapshot() {
        let features = ConsistencyFeatures(cells: 5, window: 4)
        update(features, 0, [3.70, 3.71, 3.72, 3.60, 3.71], [20, 25, 21])
        #expect(abs(features.spread - 0.12) < 1e-12)
        #expect(features.median == 3.71)
        // MAD = median(|v - 3.71|) = median(0.01, 0, 0.01, 0.11, 0) = 0.01; the outlier's |z| = 0.6745 * 0.11 / 0.01.
        #expect(abs(features.maximumModifiedZ - 0.6745 * 11) < 1e-9)
        #expect(features.temperatureRange == 5)
        #expect(abs(features.deviation[3] - -0.11) < 1e-12)
    }

    @Test func aDriftingCellHasTheSteepestSlopeAndWindowForgets() {
        let features = ConsistencyFeatures(cells: 4, window: 3)
        for step in 0..<10 {
            let time = Double(step) * 3600
            let drifting = step < 7 ? 3.70 - 0.002 * Double(step) : 3.70 - 0.012  // stops drifting at step 7
            update(features, time, [3.70, 3.701, drifting, 3.699])
            if step == 5 { #expect(abs(features.deviationSlope[2] - -0.002) < 1e-9) }
        }
        // The window holds the last three snapshots only, when the cell no longer moved.
        #expect(abs(features.deviationSlope[2]) < 1e-9)
        #expect(features.count == 3)
    }
}

@Suite struct RuleAlarmTests {
    @Test func raisesAfterTheMinimumDurationAndClearsWithHysteresis() {
        var rule = RuleAlarm(name: "cell_spread", raiseAbove: 0.050, clearBelow: 0.040, minimumDuration: 10, severity: 2)
        var transitions: [(Double, RuleAlarm.Transition)] = []
        // Above for 9 s only, then below: nothing. Then above from t=20 on: raised at t=30.
        let values: [(Double, Double)] = (0...8).map { (Double($0), 0.06) } + [(9, 0.03)]
            + (20...35).map { (Double($0), 0.055) }
            // Between the thresholds: stays raised. Below the clear threshold for 10 s: cleared at t=60.
            + (36...49).map { (Double($0), 0.045) } + (50...61).map { (Double($0), 0.035) }
        for (time, value) in values {
            if let transition = rule.observe(value, at: time) { transitions.append((time, transition)) }
        }
        #expect(transitions.map(\.0) == [30, 60])
        #expect(transitions.map(\.1) == [.raised(since: 20), .cleared(since: 50)])
        #expect(!rule.isActive)
    }
}

@Suite struct RuleAlarmRoundingTests {
    @Test func exactlyAtTheThresholdIsNotAbove() {
        var rule = RuleAlarm(name: "cell_spread", raiseAbove: 0.050, clearBelow: 0.050, minimumDuration: 0, severity: 2)
        #expect(4.150 - 4.100 > 0.050)  // binary floating point
        #expect(rule.observe(4.150 - 4.100, at: 0) == nil)
        #expect(rule.observe(4.151 - 4.100, at: 1) == .raised(since: 1))
    }
}
