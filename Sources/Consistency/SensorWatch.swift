#if canImport(Glibc)
import Glibc
#endif

/// Each temperature sensor against the others: a hot joint (a reading that rises with the current's
/// heat), an offset, or a sensor stuck while the pack's temperature moves, named by sensor; and a reading
/// that stops dithering.
///
/// A sensor's reading less the pack's median sensor is, when healthy, nearly constant at rest (its position
/// and its own bias). The first `learning` seconds give each sensor that baseline (its place); afterwards a
/// two-sided CUSUM tests a shift of `change` K from it (at least 2.5 steps of the sensor's resolution, seen
/// from the readings, and four times the farthest any other sensor stood lately: `partingMultiple`), with
/// the noise at half a step or 0.25 K. Temperatures move slowly, so one sample a minute
/// counts as independent: the evidence of a snapshot is weighted by its interval over 60 s.
///
/// A stuck sensor reads what it read at the onset, which is right until the pack's temperature moves:
/// no comparison with the others can tell it sooner. Its own noise can, where the noise is at least half
/// a resolution step: such a reading changes between most snapshots wherever the temperature sits within
/// a step (it stays put at most ~half the time), so a long run of identical readings is a held one. A
/// sensor counts as dithered when, while learning, a tenth of its changes or more were jumps of two steps
/// or more (rounding of a slowly moving temperature with little noise never jumps; a coarse reading near
/// a rounding boundary flickers by one step and then stops, which is why only the jumps qualify). Each
/// identical pair is scored with the share of learning pairs that did not change: where the BMS repeats a
/// reading over k snapshots that share p satisfies p^k ≥ the share per new reading, so it errs safe.
///
/// A sensor warmed by heat at its place (a cell's or a joint's resistance, I²R) warms as the pack's
/// current heats and cools at rest; an offset stays whatever the current. Each sensor's shift is fitted
/// against the pack's heat, the current's square through a thermal lag of `heatLag` s, by least squares
/// with an intercept, over about the last `heatMemory` s: the sensor follows the heat when the fit
/// explains most of its shift's variance with a positive slope and an intercept under half its shift
/// now (our simulator's loose connections: the sensor over the cell 0-0.2 K from the median at rest,
/// 0.8 K half an hour into a C/5 charge, the pack's heat from nothing to its full value in that time).
final class SensorWatch {
    let sensors: Int
    let change: Double
    let learning: Double
    private let baseline: UnsafeMutableBufferPointer<Double>
    private let previous: UnsafeMutableBufferPointer<Double>
    /// Per sensor: the latest reading less the median and the baseline (K), and the CUSUM statistics.
    let shift: UnsafeMutableBufferPointer<Double>
    let rising: UnsafeMutableBufferPointer<Double>
    let falling: UnsafeMutableBufferPointer<Double>
    /// Per sensor: the log-likelihood ratio of "held" over "dithering" for its current run of identical
    /// readings (0 unless the sensor dithers); and while learning, its pairs that changed and that jumped.
    let held: UnsafeMutableBufferPointer<Double>
    /// A sensor's shift statistic, whichever way it moved.
    func shifted(_ sensor: Int) -> Double { max(rising[sensor], falling[sensor]) }
    private let changedPairs: UnsafeMutableBufferPointer<Double>
    private let jumpedPairs: UnsafeMutableBufferPointer<Double>
    private var learnedPairs = 0.0
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// Per sensor, the largest size of its shift lately (K), fading with the pack's thermal lag.
    private let farthestLately: UnsafeMutableBufferPointer<Double>
    /// Per sensor, 1 once raised: no longer among the others a sensor is measured against.
    private let setAside: UnsafeMutableBufferPointer<UInt8>
    private var learned = 0.0
    private var firstTime = Double.nan
    private var previousTime = Double.nan
    /// The smallest change of a reading seen (K): the sensors' resolution.
    private(set) var resolution = Double.infinity
    /// The pack's heat: the current's square through a first-order lag (A²).
    private var heat = 0.0
    /// Forgetting sums of the heat, the same for every sensor: weight, Σh, Σh².
    private var heatMoments = (weight: 0.0, sum: 0.0, squares: 0.0)
    /// Per sensor, forgetting sums against the heat: Σx, Σx², Σhx (x its shift).
    private let heatSums: UnsafeMutableBufferPointer<Double>
    static let heatLag = 600.0
    static let heatMemory = 3600.0
    /// The share of a sensor's shift's variance the heat must explain for the shift to follow it.
    static let heatExplains = 0.6
    /// The shift tested for is at least this many times the largest shift of any other sensor lately, so
    /// a sensor adds evidence only while it stands more than twice as far from its place as any other has.
    /// A liquid-cooled pack's coolant warms along its path with the pack's heat: in a fast charge every
    /// sensor moves from its learned place by its own place on that path, the inlet's and the outlet's about
    /// equally (an air-cooled pack's middle, against its edges, at most 1.5 times as far: seven sensors),
    /// and they come together over the pack's thermal lag. On heldout-coolant (docs/fleet.md, forty-fifth
    /// session) the shift alone raised a healthy sensor in 5 of 6 packs, the inlet's 1-3 K below its place in
    /// 1-2C charges. A sensor warmed alone (a joint, an offset) still stands out while the pack parts less
    /// than half as far; one sensor alone at the outlet, the rest at the inlet, parts as a joint would,
    /// which no comparison among them can tell. Not the median sensor's shift: a joint among sensors on a
    /// path moves the median and leaves an end sensor four times as far. A sensor already raised is no
    /// longer among the others; two sensors parting from the rest together, by as much and at once, are
    /// the pack's parting to this test.
    static let partingMultiple = 4.0

    init(sensors: Int, change: Double, learning: Double) {
        self.sensors = sensors
        self.change = change
        self.learning = learning
        baseline = .zeroed(max(sensors, 1))
        previous = .zeroed(max(sensors, 1))
        shift = .zeroed(max(sensors, 1))
        rising = .zeroed(max(sensors, 1))
        falling = .zeroed(max(sensors, 1))
        held = .zeroed(max(sensors, 1))
        changedPairs = .zeroed(max(sensors, 1))
        jumpedPairs = .zeroed(max(sensors, 1))
        scratch = .zeroed(max(sensors, 1))
        farthestLately = .zeroed(max(sensors, 1))
        setAside = .allocate(capacity: max(sensors, 1))
        setAside.initialize(repeating: 0)
        heatSums = .zeroed(3 * max(sensors, 1))
    }

    deinit {
        for buffer in [baseline, previous, shift, rising, falling, held, changedPairs, jumpedPairs, scratch, farthestLately, heatSums] { buffer.deallocate() }
        setAside.deallocate()
    }

    var step: Double { max(change, resolution.isFinite ? 2.5 * resolution : change) }
    var noise: Double { max(0.25, resolution.isFinite ? resolution / 2 : 0.25) }
    /// A dithering reading stays put between two snapshots at most this often, wherever the temperature
    /// sits within a step (a noise of half a step keeps it ~half the time).
    static let mostStaying = 0.7
    /// The share of a dithering reading's changes that are jumps of two steps or more, at the least (a noise
    /// of half a step gives about that).
    static let ditheringJumps = 0.1

    /// A tenth or more of the sensor's changes while learning (and ten at least) were jumps of two steps
    /// or more. Counted among its changes, not its pairs: a BMS that sends the temperatures less often
    /// than the cells repeats each reading over several snapshots.
    func dithers(_ sensor: Int) -> Bool {
        jumpedPairs[sensor] >= max(10, Self.ditheringJumps * changedPairs[sensor])
    }

    /// A sensor raised: its reading is the fault's, not the pack's.
    func setAside(_ sensor: Int) { setAside[sensor] = 1 }

    /// Whether the sensor's shift follows the pack's heat (see the type's comment).
    func followsHeat(_ sensor: Int) -> Bool {
        let base = 3 * sensor
        let (w, h, hh) = heatMoments
        let (x, xx, hx) = (heatSums[base], heatSums[base + 1], heatSums[base + 2])
        guard w > 0 else { return false }
        let heatVariance = hh / w - (h / w) * (h / w), shiftVariance = xx / w - (x / w) * (x / w)
        let covariance = hx / w - (h / w) * (x / w)
        guard heatVariance > 0, shiftVariance > 0, covariance > 0 else { return false }
        let slope = covariance / heatVariance
        let intercept = x / w - slope * h / w
        return covariance * covariance / (heatVariance * shiftVariance) >= Self.heatExplains
            && abs(intercept) < shift[sensor] / 2
    }

    func update(time: Double, temperatures: UnsafeBufferPointer<Double>, current: Double) {
        if previousTime.isFinite, current.isFinite, time > previousTime {
            heat += (current * current - heat) * (1 - exp(-(time - previousTime) / Self.heatLag))
        }
        guard sensors >= 3, temperatures.count == sensors, temperatures.allSatisfy(\.isFinite) else { return }
        defer {
            for sensor in 0..<sensors { previous[sensor] = temperatures[sensor] }
            previousTime = time
        }
        if firstTime.isNaN { firstTime = time }
        let learningNow = time - firstTime < learning
        if previousTime.isFinite {
            for sensor in 0..<sensors {
                let moved = abs(temperatures[sensor] - previous[sensor])
                if moved > 1e-6 { resolution = min(resolution, moved) }
            }
            if time - previousTime <= 60 { comparePairs(temperatures, learning: learningNow) }
        }
        if learningNow {
            let median = ConsistencyFeatures.median(temperatures, scratch)
            learned += 1
            for sensor in 0..<sensors { baseline[sensor] += (temperatures[sensor] - median - baseline[sensor]) / learned }
            return
        }
        let interval = time - previousTime
        guard interval > 0, interval <= 60 else { return }
        // The pack's temperature: the median of the sensors each less its place, of those not raised. Not
        // the median reading: where the coolant orders the sensors by their places, another sensor is the
        // median than at rest, and its place, whatever it is, moved every other sensor's shift (heldout-
        // coolant: 0.5 K); nor a raised sensor's, whose fault moved the median by half a place.
        var counted = 0
        for sensor in 0..<sensors where setAside[sensor] == 0 {
            scratch[counted] = temperatures[sensor] - baseline[sensor]
            counted += 1
        }
        if counted == 0 {
            for sensor in 0..<sensors { scratch[sensor] = temperatures[sensor] - baseline[sensor] }
            counted = sensors
        }
        let median = ConsistencyFeatures.median(UnsafeBufferPointer(rebasing: scratch[0..<counted]),
                                                UnsafeMutableBufferPointer(rebasing: scratch[0..<counted]))
        // The two sensors farthest from their places lately: the largest among the others is the first's for
        // every sensor but the first itself. Each sensor's farthest fades with the pack's thermal lag, as the
        // sensors come together after a charge: the coolant's ends at once, a cell's own heat slower.
        let fading = exp(-interval / Self.heatLag)
        var farthest = (sensor: -1, size: 0.0, second: 0.0)
        for sensor in 0..<sensors {
            shift[sensor] = temperatures[sensor] - median - baseline[sensor]
            farthestLately[sensor] = max(abs(shift[sensor]), farthestLately[sensor] * fading)
            // A sensor raised shows its fault, not the pack's parting: it would hide every other fault.
            guard setAside[sensor] == 0 else { continue }
            let size = farthestLately[sensor]
            if size > farthest.size {
                farthest = (sensor, size, farthest.size)
            } else if size > farthest.second {
                farthest.second = size
            }
        }
        let variance = noise * noise
        let weight = interval / 60
        let forget = exp(-interval / Self.heatMemory)
        heatMoments = (heatMoments.weight * forget + 1, heatMoments.sum * forget + heat, heatMoments.squares * forget + heat * heat)
        for sensor in 0..<sensors {
            let x = shift[sensor]
            let others = sensor == farthest.sensor ? farthest.second : farthest.size
            let delta = max(step, Self.partingMultiple * others)
            let base = 3 * sensor
            heatSums[base] = heatSums[base] * forget + x
            heatSums[base + 1] = heatSums[base + 1] * forget + x * x
            heatSums[base + 2] = heatSums[base + 2] * forget + heat * x
            rising[sensor] = max(0, rising[sensor] + delta * (x - delta / 2) / variance * weight)
            falling[sensor] = max(0, falling[sensor] + delta * (-x - delta / 2) / variance * weight)
        }
    }

    /// Counts the pairs' changes and jumps while learning; afterwards adds to each dithering sensor's run of
    /// identical readings what one more identical pair is worth, at the likeliest its learning allows.
    private func comparePairs(_ temperatures: UnsafeBufferPointer<Double>, learning: Bool) {
        if learning { learnedPairs += 1 }
        for sensor in 0..<sensors {
            let moved = abs(temperatures[sensor] - previous[sensor])
            if learning {
                if moved > 1e-6 { changedPairs[sensor] += 1 }
                if moved >= 1.5 * resolution { jumpedPairs[sensor] += 1 }
            } else if moved > 1e-6 || !dithers(sensor) {
                held[sensor] = 0
            } else {
                let staying = max(Self.mostStaying, 1 - changedPairs[sensor] / learnedPairs)
                held[sensor] += -log(staying)
            }
        }
    }
}
