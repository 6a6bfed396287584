import Consistency
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct CellDriftFeaturesTests {
    /// Four cells; from the second snapshot on cell 0 reads 10 mV above the others and cell 3 is 5 °C
    /// warmer. Exponential means of a step reach 1 − e^(−t/τ) of it whatever the snapshot spacing. The
    /// other cells read alike, so the pack's cell-to-cell spread is the 1-mV floor: z = 10.
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
        #expect(drift.inputs(cell: 3)[10] == 5 && drift.inputs(cell: 0)[10] == 0)
        #expect(abs(inputs[11] - 0.2) < 1e-9 && inputs[12] == 0, "spread in shares of 50 mV; an unknown current counts as 0")
        #expect(drift.inputs(cell: 1)[2] == 0)
        #expect(inputs[5...9].allSatisfy { $0 == 0 }, "no detectors: no estimates")
        #expect(inputs[13] == 1, "an hour of history")
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

    /// A deviation counts in the pack's own spread: the same pack with every difference between cells three
    /// times larger (a chemistry with a steeper curve, a larger resistance) gives the same inputs.
    @Test func deviationsCountInThePacksOwnSpread() {
        func inputs(scale: Double) -> [Double] {
            let features = ConsistencyFeatures(cells: 6, window: 6)
            let drift = CellDriftFeatures(features: features)
            let offsets = [20.0, 2, -2, 3, -3, 1].map { $0 * scale / 1000 }
            for step in 0..<100 {
                let voltages = offsets.map { 3.6 + $0 }, temperatures = [Double](repeating: 25, count: 6)
                voltages.withUnsafeBufferPointer { cells in
                    temperatures.withUnsafeBufferPointer { features.update(time: Double(step), voltages: cells, temperatures: $0, current: 10 * scale) }
                }
                temperatures.withUnsafeBufferPointer { drift.update(time: Double(step), temperatures: $0, current: 10 * scale) }
            }
            return drift.inputs(cell: 0)
        }
        let small = inputs(scale: 1), large = inputs(scale: 3)
        #expect(small[0] > 2, "cell 0 stands apart")
        for index in [0, 1, 2, 3, 12] { #expect(abs(small[index] - large[index]) < 1e-6, "input \(CellDriftFeatures.names[index])") }
        #expect(abs(large[11] - 3 * small[11]) < 1e-9, "the spread stays in shares of the rule")
    }

    /// With the detectors: a cell of +50 % resistance reads about 0.5 in `resistance_ratio_excess`, in a
    /// 15 Ah pack and in a 150 Ah pack of a tenth the resistance alike, and the current is a C-rate.
    @Test(arguments: [(15.0, 0.009), (150.0, 0.0009)])
    func resistanceAndCurrentAreFreeOfThePacksSize(capacity: Double, resistance: Double) {
        var pack = SyntheticPack()
        pack.capacity = capacity
        pack.resistance = resistance
        for cell in 0..<pack.cells { pack.resistances[cell] = resistance * (1 + 0.03 * pack.random.normal()) }
        pack.resistances[4] = resistance * 1.5
        let detectors = pack.detectorsKnowingCapacity()
        var drift: CellDriftFeatures?
        var largestCRate = 0.0
        _ = pack.run(detectors, from: 0, seconds: 3600, temperatures: flatTemperatures(6), snapshot: { features, time, current in
            if drift == nil { drift = CellDriftFeatures(features: features, detectors: detectors) }
            [Double](repeating: 25, count: features.cells).withUnsafeBufferPointer {
                drift!.update(time: time, temperatures: $0, current: current)
            }
            largestCRate = max(largestCRate, abs(drift!.inputs(cell: 0)[12]))
        })
        let faulty = drift!.inputs(cell: 4)[5]
        let healthy = (0..<pack.cells).filter { $0 != 4 }.map { drift!.inputs(cell: $0)[5] }
        #expect(abs(faulty - 0.5) < 0.1, "faulty \(faulty)")
        #expect(healthy.allSatisfy { abs($0) < 0.1 }, "healthy \(healthy)")
        #expect(largestCRate > 0.3 && largestCRate < 2.6, "C-rate \(largestCRate)")
    }
}
