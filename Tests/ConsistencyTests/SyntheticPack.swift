@testable import Consistency

#if canImport(Glibc)
import Glibc
#endif

/// A synthetic series pack at 1 Hz: cells with their own resistance (spread a few %) and a common OCV,
/// readings rounded to 1 mV (`readingStep`), a drive-like current; faults injected where a test asks.
struct SyntheticPack {
    var cells = 12, sensors = 6
    var resistance = 0.009, capacity = 15.0
    /// Per cell (Ah), where they differ: a weak cell's capacity; nil, every cell `capacity`.
    var capacities: [Double]?
    /// dOCV/dSOC (V per unit SOC) of every cell: 0.8 is NMC-like; an LFP plateau is 0.03-0.1.
    var ocvSlope = 0.8
    /// A steep step of the OCV (V) centred on an SOC, as a graphite stage change puts into NMC's.
    var ocvStep: (soc: Double, height: Double, width: Double)?
    /// A narrow dip of the OCV (V, Gaussian in SOC), where a charging cell's voltage falls and comes back.
    var ocvDip: (soc: Double, depth: Double, width: Double)?
    /// A knee: above this SOC the OCV's slope grows by `slope` (V per unit SOC) at once, as in a table of
    /// published points joined by straight lines (our simulator's LFP curve).
    var ocvKnee: (soc: Double, slope: Double)?
    /// The readings' rounding (V), and the seconds between the snapshots the detectors are given.
    var readingStep = 0.001
    var snapshotInterval = 1
    var random = SplitMix(seed: 7)
    var resistances: [Double] = []
    var leaks: [Double] = []
    var soc: [Double] = []
    /// Per cell: a charge-transfer overpotential k·asinh(I / (C/20)) (V), whose slope is largest at small currents.
    var kinetics: [Double] = []
    /// Every cell's diffusion: an RC branch of this resistance (Ω) and time constant (s), whose drop
    /// follows the current with a lag (builds up for minutes after a load starts).
    var diffusion: (resistance: Double, tau: Double)?
    /// Per cell: its share of the diffusion branch's resistance (cells relax by different amounts).
    var diffusionShares: [Double] = []
    var diffusionCurrent = 0.0
    /// The current sensor: its noise (A) and the reading's rounding (A); the cells answer the true current.
    var currentSensor: (noise: Double, step: Double)?
    /// Per cell: the reading's noise (V) besides the rounding, and an offset of its sense channel (V).
    var readingNoise: [Double] = []
    var readingOffsets: [Double] = []
    /// The share of the previous second's current in the current the snapshot carries (0: the cells'
    /// instant's): a status message faster than the cell pages, read when the last page comes.
    var statusShift = 0.0
    /// Whether the BMS says it is balancing (passed to the detectors with every snapshot).
    var balancing = false
    private var previousMeasured = Double.nan
    /// When each detection of every run was raised.
    var raisedTimes: [Double] = []

    init(cells: Int = 12) {
        self.cells = cells
        resistances = (0..<cells).map { _ in 0 }
        leaks = Array(repeating: 0, count: cells)
        kinetics = Array(repeating: 0, count: cells)
        diffusionShares = Array(repeating: 1, count: cells)
        soc = Array(repeating: 0.8, count: cells)
        readingNoise = Array(repeating: 0.0004, count: cells)
        readingOffsets = Array(repeating: 0, count: cells)
        for cell in 0..<cells { resistances[cell] = resistance * (1 + 0.03 * random.normal()) }
    }

    /// Runs `seconds` of drive (or rest) through the detectors; `fault(time, &pack)` changes the pack.
    /// The drive's current wanders around `meanCRate`; `steadyCurrent` replaces it by that current (A,
    /// + discharge) with 0.5 % noise, falling from the run's start with the time constant `taper` (s) when
    /// one is given (a charger's constant-voltage end), or growing by `ramp` (A per second); `toggling`
    /// replaces it by a load switching between two currents every second, with no noise.
    mutating func run(_ detectors: CellDetectors, from start: Double, seconds: Int, resting: Bool = false, steadyCurrent: Double? = nil,
                      taper: Double? = nil, ramp: Double = 0, toggling: (Double, Double)? = nil, meanCRate: Double = 0.2,
                      temperatures: (Double) -> [Double], fault: (Double, inout SyntheticPack) -> Void = { _, _ in },
                      snapshot: (ConsistencyFeatures, Double, Double) -> Void = { _, _, _ in }) -> [Detection] {
        var raised: [Detection] = []
        var current = 0.0
        let voltages = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        defer { voltages.deallocate() }
        let features = ConsistencyFeatures(cells: cells, window: 10)
        for second in 0..<seconds {
            let time = start + Double(second)
            fault(time, &self)
            // Driving discharges at 0.2C on average, so SOC moves as on a real day.
            current = resting ? 0 : max(-1.5 * capacity, min(2.5 * capacity, current + 20 * meanCRate * random.normal() - 0.02 * (current - meanCRate * capacity)))
            if let steadyCurrent {
                let falling = taper.map { exp(-Double(second) / $0) } ?? 1
                current = (steadyCurrent * falling + ramp * Double(second)) * (1 + 0.005 * random.normal())
            }
            if let toggling { current = second % 2 == 0 ? toggling.0 : toggling.1 }
            if let diffusion { diffusionCurrent += (current - diffusionCurrent) / diffusion.tau }
            let diffusionDrop = (diffusion?.resistance ?? 0) * diffusionCurrent
            for cell in 0..<cells {
                soc[cell] -= (current + leaks[cell]) / (capacities?[cell] ?? capacity) / 3600
                var ocv = 3.4 + ocvSlope * soc[cell]
                if let step = ocvStep { ocv += step.height * (1 + tanh((soc[cell] - step.soc) / step.width)) / 2 }
                if let dip = ocvDip { ocv -= dip.depth * exp(-pow((soc[cell] - dip.soc) / dip.width, 2)) }
                if let knee = ocvKnee { ocv += knee.slope * max(0, soc[cell] - knee.soc) }
                let reading = ocv - resistances[cell] * current - kinetics[cell] * asinh(current / (capacity / 20)) - diffusionShares[cell] * diffusionDrop + readingNoise[cell] * random.normal()
                    + readingOffsets[cell]
                voltages[cell] = (reading / readingStep).rounded() * readingStep
            }
            guard second % snapshotInterval == 0 else { continue }
            var measured = current
            if let currentSensor {
                measured = ((current + currentSensor.noise * random.normal()) / currentSensor.step).rounded() * currentSensor.step
            }
            features.update(time: time, voltages: UnsafeBufferPointer(voltages), temperatures: UnsafeBufferPointer(start: nil, count: 0),
                            current: measured)
            let readings = temperatures(time).map { ($0 * 10).rounded() / 10 }
            let latest = previousMeasured.isNaN ? measured : (1 - statusShift) * measured + statusShift * previousMeasured
            previousMeasured = measured
            readings.withUnsafeBufferPointer { temperatures in
                detectors.update(time: time, deviation: features.deviation, median: features.median, spread: features.spread,
                                 temperatures: temperatures, current: latest, periodStartCurrent: measured,
                                 soc: soc.reduce(0, +) / Double(cells) * 100, balancing: balancing) {
                    raised.append($0)
                    raisedTimes.append(time)
                }
            }
            snapshot(features, time, measured)
        }
        return raised
    }
}

extension SyntheticPack {
    /// A fault for `run` (none unless `faulty`): `cell`'s resistance grows by `share` of the pack's over
    /// `seconds` from `onset`.
    static func resistanceRise(of cell: Int, by share: Double, from onset: Double, over seconds: Double,
                               if faulty: Bool = true) -> (Double, inout SyntheticPack) -> Void {
        { time, pack in
            if faulty, time >= onset { pack.resistances[cell] = pack.resistance * (1 + share * min(1, (time - onset) / seconds)) }
        }
    }

    /// A fault for `run`: `cell`'s resistance jumps by what drops `volts` at the current's C/3 for `seconds`
    /// from `onset`, and is back after.
    static func resistanceLeap(of cell: Int, volts: Double, from onset: Double, for seconds: Double) -> (Double, inout SyntheticPack) -> Void {
        var innate: Double?
        return { time, pack in
            if innate == nil { innate = pack.resistances[cell] }
            let leaping = time >= onset && time < onset + seconds
            pack.resistances[cell] = innate! + (leaping ? volts / (pack.capacity / 3) : 0)
        }
    }

    /// Twenty minutes of rest from second 0, then `load` from 1,200 s, through detectors told the
    /// capacity: the resistance rises raised.
    mutating func resistanceRisesAfterRest(_ load: (inout SyntheticPack, CellDetectors) -> [Detection]) -> [Detection] {
        let detectors = detectorsKnowingCapacity()
        var raised = twentyMinutesOfRest(detectors)
        raised += load(&self, detectors)
        return raised.filter { $0.kind == .resistanceRise }
    }

    /// Detectors for this pack (6 sensors), told its capacity.
    func detectorsKnowingCapacity(minimumLeak: Double? = nil) -> CellDetectors {
        var settings = DetectionSettings()
        settings.capacity = capacity
        if let minimumLeak { settings.minimumLeak = minimumLeak }
        return CellDetectors(cells: cells, sensors: 6, settings: settings)
    }

    /// 20 minutes of rest and an hour's drive around 0.2C from second 0: with a rest after it, 20 % of SOC
    /// lower, the detectors know the pack's OCV slope and can size a leak.
    mutating func restAndDrive(_ detectors: CellDetectors) -> [Detection] {
        twentyMinutesOfRest(detectors) + run(detectors, from: 1200, seconds: 3600, temperatures: flatTemperatures(6))
    }

    /// The pack at rest from second 0 to 1,200.
    mutating func twentyMinutesOfRest(_ detectors: CellDetectors) -> [Detection] {
        run(detectors, from: 0, seconds: 1200, resting: true, temperatures: flatTemperatures(6))
    }
}

extension SyntheticPack {
    /// A rest, a drive and a rest teach the OCV slope (two rests 20 % of SOC apart); during the second,
    /// three hours long, `cell` leaks `cRate` of the capacity. The leak detections.
    mutating func leakDuringRest(cell: Int, cRate: Double) -> [Detection] {
        let detectors = detectorsKnowingCapacity()
        var raised = restAndDrive(detectors)
        leaks[cell] = capacity * cRate
        raised += run(detectors, from: 4800, seconds: 3 * 3600, resting: true, temperatures: flatTemperatures(6))
        return raised.filter { $0.kind == .leak }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
    mutating func normal() -> Double { (-2 * log(max(next(), 1e-12))).squareRoot() * cos(2 * Double.pi * next()) }
}

func flatTemperatures(_ sensors: Int) -> (Double) -> [Double] {
    { time in
        let swing: Double = 2 * sin(time / 3000)
        return (0..<sensors).map { (sensor: Int) -> Double in 25 + 0.2 * Double(sensor % 2) + swing }
    }
}

/// A pack of 100 Ah that rests settled (700 s) at each (SOC %, median cell's OCV V) in turn, a drive between
/// each rest and the next so that each settles anew: its learned OCV bins.
func packScale(restingAt rests: [(soc: Double, ocv: Double)]) -> PackScale {
    let scale = PackScale(capacity: 100, restCRate: 0.02)
    for (index, rest) in rests.enumerated() {
        let start = Double(index) * 10_000
        for second in 0...700 {
            scale.update(time: start + Double(second), current: 0, reportedSOC: rest.soc, medianVoltage: rest.ocv,
                         medianResistance: .nan)
        }
        scale.update(time: start + 701, current: 30, reportedSOC: rest.soc, medianVoltage: rest.ocv - 0.05,
                     medianResistance: .nan)
    }
    return scale
}
