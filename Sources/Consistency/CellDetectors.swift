#if canImport(Glibc)
import Glibc
#endif

/// The per-cell estimators (resistance from all current variation, self-discharge from rests) and the
/// sensor watch, with their sequential tests. Sized at creation; an update allocates nothing unless it
/// raises (a detection is handed out once per cell and kind).
public final class CellDetectors {
    public let settings: DetectionSettings
    public let scale: PackScale
    let resistance: ResistanceChange
    let steadyLoad: SteadyLoadWatch
    let leak: LeakWatch
    let sensorWatch: SensorWatch
    let readingSteps: ReadingStepWatch
    let capacities: CapacityWatch
    let chargeEnds: ChargeEndWatch
    /// Only where the settings give a bleed current (the mapping names per-cell flags).
    let bleeds: BleedWatch?
    let ocvDeviation: UnsafeMutableBufferPointer<Double>
    /// Per cell, what has been raised: 1 a resistance rise, 2 a leak, 4 a reading step, 8 a capacity.
    let raised: UnsafeMutableBufferPointer<UInt8>
    private let sensorRaised: UnsafeMutableBufferPointer<UInt8>
    private var recentPeak = 0.0
    private var wasBalancing = false
    private var previousTime = Double.nan
    private let previousVoltage: UnsafeMutableBufferPointer<Double>
    /// The smallest change of a cell's reading seen (V): the readings' resolution.
    public private(set) var voltageResolution = Double.infinity

    public init(cells: Int, sensors: Int, settings: DetectionSettings) {
        self.settings = settings
        scale = PackScale(capacity: settings.capacity, restCRate: settings.restCRate)
        resistance = ResistanceChange(cells: cells, share: settings.resistanceShare, memory: settings.resistanceMemory)
        steadyLoad = SteadyLoadWatch(cells: cells, shift: Self.steadyLoadShift, window: settings.leakCheckInterval,
                                     settle: settings.restSettle, threshold: settings.minuteThreshold)
        leak = LeakWatch(cells: cells, settle: settings.restSettle, checkInterval: settings.leakCheckInterval,
                         shift: settings.leakShift, riseThreshold: settings.balancingUnflagged ? settings.minuteThreshold : .infinity)
        sensorWatch = SensorWatch(sensors: sensors, change: settings.sensorChange, learning: settings.sensorLearning)
        readingSteps = ReadingStepWatch(cells: cells)
        capacities = CapacityWatch(cells: cells, settle: Self.capacitySettleRests * settings.restSettle)
        chargeEnds = ChargeEndWatch(cells: cells)
        bleeds = settings.bleedCurrent.map { BleedWatch(cells: cells, bleedCurrent: $0) }
        ocvDeviation = .allocate(capacity: cells)
        ocvDeviation.initialize(repeating: 0)
        raised = .allocate(capacity: cells)
        raised.initialize(repeating: 0)
        previousVoltage = .allocate(capacity: cells)
        previousVoltage.initialize(repeating: .nan)
        sensorRaised = .allocate(capacity: max(sensors, 1))
        sensorRaised.initialize(repeating: 0)
    }

    deinit {
        ocvDeviation.deallocate()
        previousVoltage.deallocate()
        raised.deallocate()
        sensorRaised.deallocate()
    }

    public var medianResistance: Double { resistance.medianResistance }

    /// A cell's resistance over the pack median's, from all current variation (1: as the median; NaN
    /// until the median is known).
    public func relativeResistance(_ cell: Int) -> Double {
        let median = resistance.medianResistance
        return median > 0 && resistance.change[cell].isFinite ? 1 + resistance.change[cell] / median : .nan
    }

    /// A cell's capacity over the median cell's, from the capacity test's rest points (1: as the median;
    /// NaN while its rest points do not span enough SOC).
    public func relativeCapacity(_ cell: Int) -> Double {
        capacities.ratio[cell].isFinite ? 1 - capacities.loss[cell] : .nan
    }

    /// The pack's 1C (A): its capacity, or its largest current until the capacity is known; 0 before any current.
    public var oneC: Double { scale.capacity.isFinite ? scale.capacity : scale.largestCurrent }

    /// A cell's estimates with the pack's scale taken out, for the cell-drift model: its resistance over
    /// the median's minus 1, each test's statistic over its threshold (current changes, steady load, rest
    /// slopes), and its fall at rest against the pack in thousandths of C; 0 where not yet known.
    func scaleFreeEstimates(_ cell: Int) -> (resistance: Double, changes: Double, steadyLoad: Double, rest: Double, leakMilliC: Double) {
        let ratio = relativeResistance(cell)
        let slopePerSOC = scale.ocvSlope
        let fall = -leak.slope[cell]
        return (ratio.isFinite ? ratio - 1 : 0, resistance.statistic[cell] / settings.resistanceThreshold,
                steadyLoad.statistic[cell] / steadyLoad.threshold, leak.statistic[cell] / settings.minuteThreshold,
                slopePerSOC > 0 && fall.isFinite ? fall / slopePerSOC * 3_600_000 : 0)
    }

    /// The shift (in cross-cell standard deviations) the steady-load test is tuned to, on the tuning fleet.
    static let steadyLoadShift = 12.0

    /// dOCV/dSOC (V per unit SOC) no pack's mid-SOC range is steeper than (NMC's is 0.5-1, LFP's plateau
    /// 0.03-0.1): while the pack's own is unknown, a fall counts as a leak from the minimum's fall on it.
    static let steepestOCVSlope = 1.0

    /// Takes a complete snapshot (after the consistency features): `deviation` from the median (V),
    /// `spread` (V), temperatures, current (A, + discharge), the BMS's SOC (%, NaN when unmapped); the
    /// current in force when the snapshot's first cell frame came, where it differs (PackState); whether
    /// the BMS says it is bleeding cells (passive balancing), where its DBC has the flag, and which
    /// (`cellBleeding`), where it has one per cell.
    public func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, median: Double, spread: Double,
                       temperatures: UnsafeBufferPointer<Double>, current: Double, periodStartCurrent: Double? = nil, soc: Double,
                       balancing: Bool = false, cellBleeding: UnsafeBufferPointer<Bool>? = nil, raise: (Detection) -> Void) {
        guard settings.enabled else { return }
        let interval = time - previousTime
        previousTime = time
        if current.isFinite {
            // The recent peak current decays with an hour's time constant.
            recentPeak = max(abs(current), interval > 0 ? recentPeak * exp(-interval / 3600) : recentPeak)
        }
        for cell in 0..<resistance.cells {
            let voltage = deviation[cell] + median
            let moved = abs(voltage - previousVoltage[cell])
            if moved > 1e-7 { voltageResolution = min(voltageResolution, moved) }
            previousVoltage[cell] = voltage
        }
        let oneC = self.oneC
        resistance.update(time: time, deviation: deviation, median: median, current: current,
                          periodStartCurrent: periodStartCurrent ?? current, resolution: voltageResolution, oneC: oneC,
                          resting: scale.isRest(current))
        scale.update(time: time, current: current, reportedSOC: soc, medianVoltage: median,
                     medianResistance: resistance.medianResistance)
        let medianResistance = resistance.medianResistance
        for cell in 0..<resistance.cells {
            let change = resistance.change[cell]
            ocvDeviation[cell] = deviation[cell] + (change.isFinite && current.isFinite ? change * current : 0)
        }
        let threshold = settings.resistanceThreshold
        // A cell fault is one cell: when many cross together (a disturbance shared by a message's or a
        // module's cells) none is raised and their tests start again.
        var crossing = 0
        for cell in 0..<resistance.cells where raised[cell] & 1 == 0 && resistance.statistic[cell] > threshold { crossing += 1 }
        if crossing > max(2, resistance.cells / 20) {
            for cell in 0..<resistance.cells where resistance.statistic[cell] > threshold { resistance.statistic[cell] = 0 }
        }
        // One resistance alarm per cell, from whichever test gets there first.
        func raiseResistance(_ cell: Int, change: Double, confidence: Double, evidence: Detection.Evidence) {
            raised[cell] |= 1
            raise(Detection(kind: .resistanceRise, evidence: evidence, cell: cell, sensor: nil, magnitude: change,
                            relative: medianResistance > 0 ? change / medianResistance : .nan,
                            confidence: confidence, timeToRule: .nan, deviationAtPeak: change * recentPeak))
        }
        for cell in 0..<resistance.cells where raised[cell] & 1 == 0 && resistance.statistic[cell] > threshold
            && resistance.seenBothWays(cell) {
            raiseResistance(cell, change: resistance.rise(cell), confidence: resistance.statistic[cell] / threshold, evidence: .currentChanges)
        }
        let resting = scale.isRest(current)
        if steadyLoad.update(time: time, deviation: deviation, median: median, current: current, resting: resting, loaded: scale.isLoaded(current),
                             resolution: voltageResolution) {
            for cell in 0..<resistance.cells where raised[cell] & 1 == 0 && steadyLoad.raises(cell) {
                raiseResistance(cell, change: steadyLoad.change[cell], confidence: steadyLoad.statistic[cell] / steadyLoad.threshold,
                                evidence: .steadyLoad)
            }
        }
        if leak.update(time: time, resting: resting, restHolds: scale.restHolds, balancing: balancing, current: current,
                       oneC: oneC, median: median, drop: medianResistance > 0 ? medianResistance * current : .nan,
                       ocvDeviation: ocvDeviation, resolution: voltageResolution) {
            checkLeaks(time: time, spread: spread, raise: raise)
        }
        checkReadingSteps(time: time, deviation: deviation, median: median, current: current,
                          periodStartCurrent: periodStartCurrent ?? current,
                          oneC: oneC, balancing: balancing, raise: raise)
        if chargeEnds.update(time: time, deviation: deviation, median: median, current: current,
                             chargingAbove: settings.restCRate * oneC, resolution: voltageResolution) {
            checkChargeEnds(raise: raise)
        }
        // The slope's two bins are searched for only at rest, the one time the capacity test reads it.
        let sizingSlope = resting && scale.ocvSlopeSizesAFall(resolution: voltageResolution) ? scale.ocvSlope : .nan
        if capacities.update(time: time, resting: resting, restHolds: scale.restHolds, balancing: balancing, soc: soc,
                             ocvSlope: sizingSlope, readingStep: voltageResolution.isFinite ? voltageResolution : 0,
                             ocvDeviation: ocvDeviation) {
            checkCapacities(raise: raise)
        }
        if let bleeds, bleeds.update(time: time, bleeding: cellBleeding) {
            checkBleeds(bleeds, raise: raise)
        }
        sensorWatch.update(time: time, temperatures: temperatures, current: current)
        let sensorThreshold = settings.minuteThreshold
        for sensor in 0..<sensorWatch.sensors where sensorRaised[sensor] == 0 {
            let shifted = sensorWatch.shifted(sensor)
            let statistic = max(shifted, sensorWatch.held[sensor])
            guard statistic > sensorThreshold else { continue }
            sensorRaised[sensor] = 1
            sensorWatch.setAside(sensor)
            let warmer = shifted > sensorThreshold && sensorWatch.shift[sensor] > 0
            raise(Detection(kind: .sensor, evidence: shifted > sensorThreshold ? .sensorShift : .heldReading,
                            cell: warmer ? alarmedCell(coveredBy: sensor) ?? heatedCell(coveredBy: sensor) : nil, sensor: sensor,
                            magnitude: sensorWatch.shift[sensor], relative: sensorWatch.shift[sensor] / sensorWatch.step,
                            confidence: statistic / sensorThreshold, timeToRule: .nan, deviationAtPeak: .nan))
        }
    }

    /// The cells a sensor covers (positions): sensors are taken to sit in order along the string, each
    /// among an equal share of the cells.
    public func cellsCovered(bySensor sensor: Int) -> ClosedRange<Int> {
        let cells = resistance.cells, count = max(sensorWatch.sensors, 1)
        let first = min(sensor * cells / count, cells - 1)
        return first...max(first, (sensor + 1) * cells / count - 1)
    }

    /// Of the cells a sensor covers, the one already raised (leak or resistance) furthest from the median:
    /// a sensor warming over it reads that cell's heat (an internal short's, or a high resistance's under
    /// load), which no joint or sensor fault explains better. Nil when none is raised.
    private func alarmedCell(coveredBy sensor: Int) -> Int? {
        var source: Int?
        for cell in cellsCovered(bySensor: sensor) where raised[cell] & 3 != 0 {
            if source.map({ abs(ocvDeviation[cell]) > abs(ocvDeviation[$0]) }) ?? true { source = cell }
        }
        return source
    }

    /// The one cell a sensor covers, where its shift follows the pack's heat: heat at that cell's place
    /// (its resistance or its connection's). Nil where the sensor covers several cells (which one is
    /// not told) or its shift does not follow the heat (an offset).
    private func heatedCell(coveredBy sensor: Int) -> Int? {
        let covered = cellsCovered(bySensor: sensor)
        return covered.count == 1 && sensorWatch.followsHeat(sensor) ? covered.lowerBound : nil
    }

    /// The `count`-th lowest open-circuit deviation (V).
    private func lowestDeviation(count: Int) -> Double {
        var bound = -Double.infinity
        for _ in 0..<count {
            var next = Double.infinity
            for cell in 0..<resistance.cells where ocvDeviation[cell] > bound { next = min(next, ocvDeviation[cell]) }
            guard next.isFinite else { break }
            bound = next
        }
        return bound
    }

    private func checkReadingSteps(time: Double, deviation: UnsafeMutableBufferPointer<Double>, median: Double, current: Double,
                                   periodStartCurrent: Double, oneC: Double, balancing: Bool, raise: (Detection) -> Void) {
        // Where the BMS measures while it bleeds, a bleed through a sense wire moves its cell's reading as
        // it starts or stops, which only the pack-wide flag tells of: nothing is tested while it is set.
        let medianResistance = resistance.medianResistance
        readingSteps.update(time: time, deviation: deviation, change: resistance.change, median: median,
                            medianResistance: medianResistance, current: current,
                            periodStartCurrent: periodStartCurrent, oneC: oneC,
                            unexplained: medianResistance > 0 ? settings.resistanceShare * medianResistance : .nan,
                            stillCRate: settings.restCRate,
                            resolution: voltageResolution,
                            balancing: settings.balancingMovesReadings && (balancing || wasBalancing))
        wasBalancing = balancing
        for cell in 0..<readingSteps.cells where raised[cell] & 4 == 0 && readingSteps.confirmed[cell].isFinite {
            raised[cell] |= 4
            let shift = readingSteps.confirmed[cell]
            raise(Detection(kind: .readingStep, evidence: .readingStep, cell: cell, sensor: nil, magnitude: shift,
                            relative: shift / voltageResolution, confidence: readingSteps.confidence[cell],
                            timeToRule: .nan, deviationAtPeak: .nan))
        }
    }

    private func checkLeaks(time: Double, spread: Double, raise: (Detection) -> Void) {
        let threshold = settings.minuteThreshold
        // Passive balancing bleeds the high cells down to the lowest, never below: a leak is raised once its
        // cell is among the lowest tenth of the pack.
        let lowest = lowestDeviation(count: max(1, leak.cells / 10))
        for cell in 0..<leak.cells where raised[cell] & 2 == 0 && leak.statistic[cell] > threshold {
            guard standsAmongLowest(cell, lowest: lowest) else { continue }
            let (leakC, ocvSlope) = leakRate(cell)
            let fall = -leak.slope[cell]
            let slopeKnown = (ocvSlope?.slope ?? .nan) > 0
            guard leakC >= settings.minimumLeak else { continue }
            raised[cell] |= 2
            // No size off a plateau's slope (LFP's put it up to 185 times the true leak, docs/features.md);
            // the cell is named all the same. Nor a time to the rule: the fall in volts keeps its rate only
            // where the OCV's slope is known and steady (on the held-out LFP leaks it was 1-23 h early and
            // 11 h late otherwise; docs/fleet.md, "Twentieth session"), nor from a fall that changed its pace
            // over the fit (LeakWatch.fallIsSteady).
            let steady = leak.fallIsSteady(cell)
            // Nor from a fall the cells' unequal relaxation can account for (LeakWatch.relaxationFloor): the
            // statistic may have been built by a leak under `minimumLeak` over a night's rest and the alarm
            // come at the next short rest after a drive, whose relaxation set the fall (CIBLEED001, C/1,773:
            // sized 10 times the leak). The cell is named on the statistic all the same.
            let sized = slopeKnown && ocvSlope?.sizesAFall == true && steady && fall >= 2 * leak.relaxationFloor
            raise(Detection(kind: .leak, evidence: .restSlopes, cell: cell, sensor: nil,
                            magnitude: sized ? leakC * scale.capacity : .nan, relative: sized ? leakC : .nan,
                            confidence: leak.statistic[cell] / threshold,
                            timeToRule: sized && fall > 0 ? max(0, 0.050 - spread) / fall : .nan, deviationAtPeak: .nan,
                            ocvSlope: ocvSlope, fallSteady: steady))
        }
    }

    /// Whether a cell's open-circuit deviation is within half a reading step of `lowest` (the highest of the
    /// pack's lowest tenth): the only cells the leak test raises.
    private func standsAmongLowest(_ cell: Int, lowest: Double) -> Bool { ocvDeviation[cell] <= lowest + voltageResolution / 2 }

    /// A cell's fall at rest against the pack as a leak (C) and the OCV slope it was read through. V/s of
    /// the fall, through dOCV/dSOC where the cell stands, is SOC per second: × 3600 is C. Until two settled
    /// rests (or a slow charge's climb) have taught the pack's OCV slope (a gateway's first rests, a log
    /// that begins with the fault) the fall is held to the least leak on the steepest slope instead: a
    /// lower bound of the leak, no size.
    private func leakRate(_ cell: Int) -> (c: Double, slope: OCVSlope?) {
        let ocvSlope = scale.sizingSlope(depth: -ocvDeviation[cell], resolution: voltageResolution)
        let slopePerSOC = ocvSlope?.slope ?? .nan
        return (-leak.slope[cell] / (slopePerSOC > 0 ? slopePerSOC : Self.steepestOCVSlope) * 3600, ocvSlope)
    }

    /// How near each sequential test stands to raising each cell (and each temperature sensor) now: the
    /// least of the test's conditions, each as a share of what raises (one that holds or not counts 1 or 0),
    /// so 1 and over where it raises (once per cell; many cells crossing together raise none). For judging a
    /// fleet's margins (`evaluate fleet`'s closest call); not on the per-frame path.
    public func nearness(changes: inout [Double], steadyLoad steady: inout [Double], rest: inout [Double],
                         sensorShift: inout [Double], heldReading: inout [Double]) {
        for sensor in 0..<sensorWatch.sensors {
            sensorShift[sensor] = sensorWatch.shifted(sensor) / settings.minuteThreshold
            heldReading[sensor] = sensorWatch.held[sensor] / settings.minuteThreshold
        }
        let lowest = lowestDeviation(count: max(1, leak.cells / 10))
        for cell in 0..<resistance.cells {
            changes[cell] = resistance.seenBothWays(cell) ? resistance.statistic[cell] / settings.resistanceThreshold : 0
            steady[cell] = steadyLoad.nearness(cell)
            let statistic = leak.statistic[cell] / settings.minuteThreshold
            rest[cell] = statistic > 0 && standsAmongLowest(cell, lowest: lowest) ? min(statistic, max(0, leakRate(cell).c / settings.minimumLeak)) : 0
        }
    }
}
