import Consistency
import Testing

@Suite struct ConsistencyTests {
    private func update(_ features: ConsistencyFeatures, _ time: Double, _ voltages: [Double], _ temperatures: [Double] = [],
                        current: Double = .nan) {
        voltages.withUnsafeBufferPointer { cells in
            temperatures.withUnsafeBufferPointer { features.update(time: time, voltages: cells, temperatures: $0, current: current) }
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

    /// The medians (of the voltages and of the absolute deviations behind the modified z) come from a
    /// selection, not a sort: they must equal a sorted list's middle for any count, ties included.
    @Test(arguments: [1, 2, 3, 5, 8, 95, 96, 97, 200])
    func mediansEqualASortedListsMiddle(cells: Int) {
        var generator = SystemRandomNumberGenerator()
        func middle(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let features = ConsistencyFeatures(cells: cells, window: 2)
        for round in 0..<50 {
            // Whole millivolts over a narrow band in most rounds (many equal cells), any value in the rest.
            let voltages = (0..<cells).map { _ in
                round % 3 == 0 ? Double.random(in: 3.0...4.2, using: &generator)
                    : 3.7 + Double(Int.random(in: -3...3, using: &generator)) / 1000
            }
            update(features, Double(round), voltages)
            let median = middle(voltages)
            #expect(features.median == median)
            let spread = middle(voltages.map { abs($0 - median) })
            let largest = spread > 0 ? voltages.map { abs(0.6745 * ($0 - median) / spread) }.max()! : 0
            #expect(features.maximumModifiedZ == largest)
        }
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

@Suite struct DailyMeasuresTests {
    @Test func meansPerDayAndTheSeedsWindowWithMissingDays() {
        let measures = DailyMeasures()
        // Days 100..115, no data on day 110; two snapshots a day.
        for day in 100...115 where day != 110 {
            for (offset, scale) in [(3600.0, 1.0), (7200.0, 3.0)] {
                measures.add(time: Double(day) * 86_400 + offset, packVoltage: 350 * scale, current: Double(day) * scale,
                             highestCell: 4.0 * scale, lowestCell: 3.9 * scale, highestTemperature: 25 * scale,
                             lowestTemperature: 20 * scale)
            }
        }
        measures.close()
        #expect(measures.means(day: 105) == [700, 210, 8, 7.8, 50, 40])
        let inputs = measures.inputs(forDay: 116)
        #expect(inputs.count == 84)
        // Oldest first: day 102 (116 - 14) starts the vector; day 110 is missing; day 115 ends it.
        #expect(inputs[0..<6] == [700, 204, 8, 7.8, 50, 40])
        #expect(inputs[48..<54] == [-1, -1, -1, -1, -1, -1])
        #expect(inputs[78..<84] == [700, 230, 8, 7.8, 50, 40])
        // Fifteen days had data and 14 are kept: day 100 has gone.
        #expect(measures.means(day: 100) == nil && measures.means(day: 101) != nil)
    }
}
