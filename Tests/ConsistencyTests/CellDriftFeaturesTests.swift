import Consistency
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct CellDriftFeaturesTests {
    /// Four cells; from the second snapshot on cell 0 reads 10 mV above the others and cell 3 is 5 °C
    /// warmer. Exponential means of a step reach 1 − e^(−t/τ) of it whatever the snapshot spacing.
    private func run(seconds: Double, every step: Double) -> (CellDriftFeatures, ConsistencyFeatures) {
        let features = ConsistencyFeatures(cells: 4, window: 6)
        let drift = CellDriftFeatures(features: features)
        var time = 0.0
        while time <= seconds + 1e-9 {
            let voltages = time == 0 ? [3.7, 3.7, 3.7, 3.7] : [3.71, 3.7, 3.7, 3.7]
            let temperatures = [25.0, 25, 25, 30]
            voltages.withUnsafeBufferPointer { cells in
                temperatures.withUnsafeBufferPointer { features.update(time: time, voltages: cells, temperatures: $0, current: .nan) }
            }
            temperatures.withUnsafeBufferPointer { drift.update(time: time, temperatures: $0, current: .nan) }
            time += step
        }
        return (drift, features)
    }

    @Test(arguments: [1.0, 10.0, 60.0])
    func meansOfAStepFollowTheirTimeConstants(step: Double) {
        let (drift, _) = run(seconds: 3600, every: step)
        let inputs = drift.inputs(cell: 0)
        #expect(abs(inputs[0] - 10) < 1e-9)
        #expect(abs(inputs[1] - 10 * (1 - exp(-6))) < 1e-6)
        #expect(abs(inputs[2] - 10 * (1 - exp(-1))) < 1e-6)
        #expect(abs(inputs[3] - 10 * (1 - exp(-1.0 / 12))) < 1e-6)
        #expect(drift.inputs(cell: 3)[7] == 5 && drift.inputs(cell: 0)[7] == 0)
        #expect(abs(inputs[8] - 10) < 1e-9 && inputs[9] == 0, "spread in mV; an unknown current counts as 0")
        #expect(drift.inputs(cell: 1)[2] == 0)
        #expect(inputs[10] == 1, "an hour of history")
    }

    /// The change over a day compares the one-hour mean with its value at the oldest hour mark kept.
    @Test func changeOverADayUsesTheHourMarks() {
        let (early, _) = run(seconds: 1800, every: 10)
        #expect(early.inputs(cell: 0)[4] == 0, "no hour mark yet: no change")
        let (drift, _) = run(seconds: 2 * 3600, every: 10)
        let expected = 10 * ((1 - exp(-2.0)) - (1 - exp(-1.0)))
        #expect(abs(drift.inputs(cell: 0)[4] - expected) < 1e-6)
        let (day, _) = run(seconds: 30 * 3600, every: 60)
        // After 30 h the oldest mark is 24 h old (hour 6): the mean has long settled, so no change.
        #expect(abs(day.inputs(cell: 0)[4] - 10 * (exp(-6.0) - exp(-30.0))) < 1e-6)
    }

    @Test func namesMatchTheInputs() {
        #expect(CellDriftFeatures.names.count == CellDriftFeatures.count)
        let (drift, _) = run(seconds: 60, every: 10)
        #expect(drift.inputs(cell: 0).count == CellDriftFeatures.count)
    }

    /// Once a hang (issue 14): each hour mark between two snapshots was stepped through one at a time, and
    /// at 1e300 s adding an hour no longer moved the mark. Any gap now costs at most one ring of hours.
    @Test(arguments: [1e15, 1e300, .infinity])
    func aGapOfAnySizeReturns(later: Double) {
        let features = ConsistencyFeatures(cells: 4, window: 6)
        let drift = CellDriftFeatures(features: features)
        let voltages = [3.71, 3.7, 3.7, 3.7], temperatures = [25.0, 25, 25, 25]
        for time in [0.0, later] {
            voltages.withUnsafeBufferPointer { cells in
                temperatures.withUnsafeBufferPointer { features.update(time: time, voltages: cells, temperatures: $0, current: .nan) }
            }
            temperatures.withUnsafeBufferPointer { drift.update(time: time, temperatures: $0, current: .nan) }
        }
        #expect(abs(drift.inputs(cell: 0)[0] - 10) < 1e-9)
    }
}
