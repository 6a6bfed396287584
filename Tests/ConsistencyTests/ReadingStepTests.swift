import Testing
@testable import Consistency

/// A cell's reading that steps to a new level at a steady current (`cell_voltage_step`): our own
/// simulator's voltage-sensor offset, which no other test reads as a reading (docs/features.md).
@Suite struct ReadingStepTests {
    enum Load: String, CaseIterable { case rest, charge, town }

    /// Twenty minutes of rest, then an hour of `load` in which cell 5's sense channel takes `offset` (V)
    /// at 2,400 s (a fault closure may add more). The detections of the hour.
    static func hour(of load: Load, cells: Int = 12, offset: Double, at onset: Double = 2400, balancingMovesReadings: Bool = false,
                     fault: @escaping (Double, inout SyntheticPack) -> Void = { _, _ in }) -> [Detection] {
        var pack = SyntheticPack(cells: cells)
        var settings = DetectionSettings()
        settings.capacity = pack.capacity
        settings.balancingMovesReadings = balancingMovesReadings
        let detectors = CellDetectors(cells: cells, sensors: 6, settings: settings)
        _ = pack.twentyMinutesOfRest(detectors)
        let step: (Double, inout SyntheticPack) -> Void = { time, pack in
            if time >= onset { pack.readingOffsets[5] = offset }
            fault(time, &pack)
        }
        switch load {
        case .rest:
            return pack.run(detectors, from: 1200, seconds: 3600, resting: true, temperatures: flatTemperatures(6), fault: step)
        case .charge:
            return pack.run(detectors, from: 1200, seconds: 3600, steadyCurrent: -pack.capacity / 3, temperatures: flatTemperatures(6), fault: step)
        case .town:
            // Around C/50, wandering by C/40 a second: what the cells' resistances may leave of such a change
            // (30 % of the median's) is within the step's margin over the five reading steps asked for.
            return pack.run(detectors, from: 1200, seconds: 3600, meanCRate: 0.02, temperatures: flatTemperatures(6), fault: step)
        }
    }

    @Test(arguments: Load.allCases) func aSenseChannelsOffsetIsNamedAtItsCell(load: Load) {
        let raised = Self.hour(of: load, offset: -0.008)
        let steps = raised.filter { $0.kind == .readingStep }
        #expect(steps.map(\.cell) == [5], "\(raised.map { ($0.kind, $0.cell ?? -1) })")
        #expect(steps.first.map { abs($0.magnitude + 0.008) < 0.002 && $0.confidence >= 1 } == true, "\(steps.map { ($0.magnitude, $0.confidence) })")
        #expect(raised.allSatisfy { $0.cell == 5 }, "\(raised.map { ($0.kind, $0.cell ?? -1) })")
    }

    /// Named within the windows either side (ten snapshots) and a few seconds' slack, not later.
    @Test func theStepIsNamedWithinSecondsOfItsOnset() {
        var pack = SyntheticPack()
        let detectors = pack.detectorsKnowingCapacity()
        _ = pack.twentyMinutesOfRest(detectors)
        let raised = pack.run(detectors, from: 1200, seconds: 600, resting: true, temperatures: flatTemperatures(6)) { time, pack in
            if time >= 1500 { pack.readingOffsets[2] = 0.009 }
        }
        #expect(raised.map(\.kind) == [.readingStep])
        #expect(pack.raisedTimes.last.map { $0 >= 1500 && $0 <= 1515 } == true, "\(pack.raisedTimes)")
    }

    /// A reading glitch (one snapshot, or a few, then back) holds no new level; a step of three reading
    /// steps is within what the test asks (five).
    @Test(arguments: [(0.012, 1.0), (0.012, 5.0), (0.003, 3600.0)])
    func aSpikeOrASmallStepIsNoReadingStep(offset: Double, seconds: Double) {
        let raised = Self.hour(of: .rest, offset: 0) { time, pack in
            pack.readingOffsets[7] = time >= 2400 && time < 2400 + seconds ? offset : 0
        }
        #expect(raised.isEmpty, "\(raised.map { ($0.kind, $0.cell ?? -1) })")
    }

    /// A BMS that measures its cells while it bleeds them moves a bled cell's reading as the bleed starts
    /// and stops (`balancing_moves_readings`): then nothing is tested while it says it is balancing, nor as
    /// the flag changes. Otherwise (an AFE that pauses the bleed to measure: the default) a step is named
    /// through a balancing as anywhere (our simulator's BMS balances through nearly every rest, where 7 of
    /// 8 one-day draws began their sensor's offset).
    @Test(arguments: [true, false]) func aBleedIsNoReadingStepWhereTheBMSMeasuresWhileItBleeds(movesReadings: Bool) {
        let raised = Self.hour(of: .rest, offset: 0, balancingMovesReadings: movesReadings) { time, pack in
            pack.balancing = time >= 2400 && time < 3000
            pack.readingOffsets[7] = pack.balancing ? -0.006 : 0
        }
        #expect(raised.filter { $0.kind == .readingStep }.map(\.cell) == (movesReadings ? [] : [7]),
                "\(raised.map { ($0.kind, $0.cell ?? -1) })")
    }

    /// Our simulator's LFP packs as 10-s JSON snapshots (0.1 mV readings): where the OCV's slope grows at
    /// once (0.08 → 0.68 V per unit SOC at 90 %), a cell some seconds ahead of the median climbs onto the
    /// steeper part first, and its deviation rises by its lead times the median's change of rate, then
    /// holds. A lead shorter than the snapshots' spacing makes that a step between two snapshots, of at
    /// most the spacing times the median's change of rate: the median's path bends there, a reading
    /// step's does not. Cell 9, 9 s ahead at C/2 (0.125 % of SOC), was raised as a step before; a 3 mV
    /// offset of cell 5's reading on the plateau is still named.
    @Test(arguments: [false, true]) func aCellAheadOfAKneeOfTheOCVIsNoReadingStep(offset: Bool) {
        var pack = SyntheticPack()
        pack.readingStep = 0.0001
        pack.readingNoise = Array(repeating: 0.00005, count: pack.cells)
        pack.snapshotInterval = 10
        pack.ocvSlope = 0.08
        pack.ocvKnee = (soc: 0.9, slope: 0.6)
        for cell in 0..<pack.cells { pack.soc[cell] = 0.6 + 0.0001 * pack.random.normal() }
        pack.soc[9] += 0.00125
        let detectors = pack.detectorsKnowingCapacity()
        var raised = pack.twentyMinutesOfRest(detectors)
        raised += pack.run(detectors, from: 1200, seconds: 2700, steadyCurrent: -pack.capacity / 2, temperatures: flatTemperatures(6)) { time, pack in
            if offset, time >= 2000 { pack.readingOffsets[5] = 0.003 }
        }
        #expect(raised.filter { $0.kind == .readingStep }.map(\.cell) == (offset ? [5] : []), "\(raised.map { ($0.kind, $0.cell ?? -1) })")
    }

    /// A current change the cells answer by their resistances (put back) is no step, even where one
    /// cell's resistance stands 30 % off the median, within what the test allows for.
    @Test func aCurrentStepAnsweredByTheCellsResistancesIsNoReadingStep() {
        var pack = SyntheticPack()
        pack.resistances[3] = 1.3 * pack.resistance
        let detectors = pack.detectorsKnowingCapacity()
        var raised = pack.run(detectors, from: 0, seconds: 1800, meanCRate: 0.2, temperatures: flatTemperatures(6))
        // Steady C/3, then C/3 + C/6 (a current change within the C/5 tested), then back.
        for (index, cRate) in [1.0 / 3, 0.5, 1.0 / 3, 0.5].enumerated() {
            raised += pack.run(detectors, from: 1800 + 600 * Double(index), seconds: 600, steadyCurrent: cRate * pack.capacity,
                               temperatures: flatTemperatures(6))
        }
        #expect(raised.filter { $0.kind == .readingStep }.isEmpty, "\(raised.map { ($0.kind, $0.cell ?? -1) })")
    }
}

/// The watch itself, fed the snapshots a charger's steady current gives.
@Suite struct ReadingStepWatchTests {
    /// Two minutes at a steady 60 A charge (1C), every reading still; cell 4's resistance change as the
    /// pair test has it moves at `changeAt` from 0 to `change` (Ω), and its reading moves by `offset` (V)
    /// at `offsetAt`. The cells whose step held.
    static func steadyCharge(change: Double, changeAt: Int = 40, offset: Double = 0, offsetAt: Int = 60) -> [Int] {
        let cells = 12
        let watch = ReadingStepWatch(cells: cells)
        let deviation = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        let changes = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        defer { deviation.deallocate(); changes.deallocate() }
        changes.initialize(repeating: 0)
        var random = SplitMix(seed: 11)
        var confirmed: Set<Int> = []
        for second in 0..<120 {
            let current = -60 + 0.3 * random.normal()
            for cell in 0..<cells { deviation[cell] = 0.001 * Double(cell % 3 - 1) }
            if second >= offsetAt { deviation[4] += offset }
            changes[4] = second >= changeAt ? change : 0
            watch.update(time: Double(second), deviation: deviation, change: changes, median: 3.3, medianResistance: 0.0005,
                         current: current, periodStartCurrent: current,
                         oneC: 60, unexplained: 0.3 * 0.0005, stillCRate: 0.05, resolution: 0.001, balancing: false)
            for cell in 0..<cells where watch.confirmed[cell].isFinite { confirmed.insert(cell) }
        }
        return confirmed.sorted()
    }

    /// Put back at 60 A, a resistance estimate that moves by 0.3 mΩ moves the open-circuit deviation by
    /// 18 mV while the reading stays: no step (it was one, three times, on our simulator's LFP packs).
    @Test(arguments: [0.0003, -0.0003]) func aResistanceEstimateThatMovesAtASteadyCurrentIsNoStep(change: Double) {
        #expect(Self.steadyCharge(change: change) == [])
    }

    /// A reading that does step is named whatever resistance change is put back with it.
    @Test(arguments: [0.0, 0.0003]) func aReadingsStepAtASteadyCurrentIsNamedWithAResistanceChangePutBack(change: Double) {
        #expect(Self.steadyCharge(change: change, changeAt: 10, offset: -0.008) == [4])
    }
}
