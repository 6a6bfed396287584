import Testing
@testable import Consistency

#if canImport(Glibc)
import Glibc
#endif

/// A stuck sensor on a pack whose temperature does not move reads what a healthy one would: only a
/// reading's own noise can give it away, and only where that noise dithers the rounding.
@Suite struct SensorWatchTests {
    /// Six sensors on a parked pack, each reading its place plus noise `noise` (K), rounded to `step` (K);
    /// the pack's temperature moves by `swing` (K) over hours. Sensor 3 holds its reading from `heldFrom`.
    /// The BMS sends the temperatures every `sentEvery` snapshots (the cells' frames come more often).
    func parkedPack(step: Double, noise: Double, swing: Double, heldFrom: Double?, sentEvery: Int = 1) -> (raised: [Detection], times: [Double]) {
        var pack = SyntheticPack()
        let detectors = CellDetectors(cells: pack.cells, sensors: 6, settings: DetectionSettings())
        var random = SplitMix(seed: 11)
        var held: Double?
        var sent: [Double] = []
        let raised = pack.run(detectors, from: 0, seconds: 4 * 3600, resting: true, temperatures: { time in
            if sent.isEmpty || Int(time) % sentEvery == 0 {
                sent = (0..<6).map { (sensor: Int) -> Double in
                    let truth = 21.3 + 0.17 * Double(sensor) + swing * sin(time / 2500)
                    return ((truth + noise * random.normal()) / step).rounded() * step
                }
            }
            var readings = sent
            if let heldFrom, time >= heldFrom {
                held = held ?? readings[3]
                readings[3] = held!
            }
            return readings
        })
        return (raised, pack.raisedTimes)
    }

    @Test func aDitheringReadingThatStopsChangingIsNamedWhileThePackIsStill() {
        let (raised, times) = parkedPack(step: 0.1, noise: 0.1, swing: 0.1, heldFrom: 3000)
        #expect(raised.map(\.sensor) == [3], "\(raised.map { ($0.kind, $0.sensor ?? -1) })")
        #expect(raised.first?.evidence.rawValue == "held_reading")
        if let time = times.first { #expect(time > 3000 && time - 3000 < 120, "named \(time - 3000) s after it held") }
    }

    /// Temperatures sent every 5 snapshots repeat between: a reading that stays put for 5 snapshots at a
    /// time is no held one (each new value is put as often as one sent every snapshot), but one that
    /// stays for a minute is.
    @Test func aDitheringReadingSentLessOftenThanTheSnapshotsIsHeldOnlyWhenItStops() {
        let healthy = parkedPack(step: 0.1, noise: 0.1, swing: 0.1, heldFrom: nil, sentEvery: 5)
        #expect(healthy.raised.isEmpty, "\(healthy.raised.map { ($0.evidence, $0.sensor ?? -1) })")
        let (raised, times) = parkedPack(step: 0.1, noise: 0.1, swing: 0.1, heldFrom: 3000, sentEvery: 5)
        #expect(raised.map(\.sensor) == [3], "\(raised.map { ($0.evidence, $0.sensor ?? -1) })")
        if let time = times.first { #expect(time > 3000 && time - 3000 < 300, "named \(time - 3000) s after it held") }
    }

    /// Half-kelvin readings with a tenth of a kelvin of noise flicker near a rounding boundary and hold
    /// for hours between: a held one is not told from them until the pack moves by a step or more.
    @Test func aCoarseReadingHoldingOnAStillPackIsNotRaised() {
        for heldFrom in [nil, 3000.0] {
            let (raised, _) = parkedPack(step: 0.5, noise: 0.1, swing: 0.3, heldFrom: heldFrom)
            #expect(raised.isEmpty, "held from \(heldFrom ?? -1): \(raised.map { ($0.evidence, $0.sensor ?? -1) })")
        }
    }

    @Test func ditheringReadingsOnAHealthyPackAreNotRaised() {
        let (raised, _) = parkedPack(step: 0.1, noise: 0.07, swing: 1, heldFrom: nil)
        #expect(raised.isEmpty, "\(raised.map { ($0.evidence, $0.sensor ?? -1) })")
    }

    /// One sensor per cell (our simulator's packs). A rest, then a C/3 charge: the sensor over cell 7
    /// warms with the pack's heat (3 K at full heat, through a 15-minute lag, as a loose connection's
    /// I²R does), so its alarm names cell 7 as well (before: its sensor alone, the cell named hours
    /// later, after the rule, by the resistance tests). On another such pack the sensor over cell 3 takes
    /// a 3 K offset an hour into the charge, the heat steady by then: its sensor alone is named. (On one
    /// pack the second would not stand out: a sensor is tested against the farthest of the others.)
    @Test func aSensorWarmingWithThePacksHeatOverOneCellNamesTheCell() {
        func charge(warming: Bool) -> [Detection] {
            var pack = SyntheticPack()
            let detectors = CellDetectors(cells: pack.cells, sensors: pack.cells, settings: DetectionSettings())
            let base = flatTemperatures(pack.cells)
            let loadStart = 3600.0
            let temperatures: (Double) -> [Double] = { time in
                var readings = base(time)
                let heat = time < loadStart ? 0 : 1 - exp(-(time - loadStart) / 900)
                if warming { readings[7] += 3 * heat } else if time >= loadStart + 3600 { readings[3] += 3 }
                return readings
            }
            var raised = pack.run(detectors, from: 0, seconds: Int(loadStart), resting: true, temperatures: temperatures)
            raised += pack.run(detectors, from: loadStart, seconds: 7200, steadyCurrent: -pack.capacity / 3, temperatures: temperatures)
            return raised.filter { $0.kind == .sensor }
        }
        let warming = charge(warming: true), offset = charge(warming: false)
        #expect(warming.map(\.sensor) == [7] && warming.map(\.cell) == [7])
        #expect(offset.map(\.sensor) == [3] && offset.map(\.cell) == [nil])
    }

    /// A liquid-cooled pack of five sensors along the coolant's path: an hour's rest, then a steady current
    /// of `cRate` (+ discharge) for 40 minutes, in which the coolant warms from inlet to outlet with the
    /// pack's heat (`gradient` K at full heat, after a 5-minute lag), each sensor by its place; `joint` K
    /// more on sensor 1 alone with the same heat (a hot joint). The sensors raised.
    func coolantPath(cRate: Double, gradient: Double, joint: Double) -> [Int?] {
        var pack = SyntheticPack()
        let sensors = 5
        let detectors = CellDetectors(cells: pack.cells, sensors: sensors, settings: DetectionSettings())
        let base = flatTemperatures(sensors)
        let loadStart = 3600.0
        let temperatures: (Double) -> [Double] = { time in
            let heat = time < loadStart ? 0 : 1 - exp(-(time - loadStart) / 300)
            var readings = base(time)
            for sensor in 0..<sensors { readings[sensor] += gradient * heat * Double(sensor) / Double(sensors - 1) }
            readings[1] += joint * heat
            return readings
        }
        var raised = pack.run(detectors, from: 0, seconds: Int(loadStart), resting: true, temperatures: temperatures)
        raised += pack.run(detectors, from: loadStart, seconds: 2400, steadyCurrent: cRate * pack.capacity, temperatures: temperatures)
        return raised.filter { $0.kind == .sensor }.map(\.sensor)
    }

    /// A 1.5C charge parts them by 9 K, the inlet's 4.5 K below the median's and the outlet's as far above:
    /// none is raised (before: the inlet's and the outlet's). A 3 K joint among them is no longer told from
    /// its place, but it names no other sensor either (measured against the median sensor's shift instead
    /// of the farthest other's, the joint moved the median and the inlet's sensor was raised).
    @Test func sensorsPartingAlongTheCoolantsPathInAFastChargeAreNotRaised() {
        #expect(coolantPath(cRate: -1.5, gradient: 9, joint: 0) == [])
        #expect(coolantPath(cRate: -1.5, gradient: 9, joint: 3).allSatisfy { $0 == 1 })
    }

    /// In a drive at 0.5C the coolant parts them by 1 K: a 3 K joint on sensor 1 is named, and no other.
    @Test func aJointWarmingOneSensorWhileThePackPartsLittleIsNamed() {
        #expect(coolantPath(cRate: 0.5, gradient: 1, joint: 3) == [1])
        #expect(coolantPath(cRate: 0.5, gradient: 1, joint: 0) == [])
    }
}
