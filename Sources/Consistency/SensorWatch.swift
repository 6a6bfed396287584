#if canImport(Glibc)
import Glibc
#endif

/// Each temperature sensor against the others: a hot joint (a reading that rises with the current's
/// heat), an offset, or a sensor stuck while the pack's temperature moves, named by sensor.
///
/// A sensor's reading less the pack's median sensor is, when healthy, nearly constant (its position and
/// its own bias). The first `learning` seconds give each sensor that baseline; afterwards a two-sided
/// CUSUM tests a shift of `change` K from it (at least 2.5 steps of the sensor's resolution, seen from the
/// readings), with the noise at half a step or 0.25 K. Temperatures move slowly, so one sample a minute
/// counts as independent: the evidence of a snapshot is weighted by its interval over 60 s.
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
    private let scratch: UnsafeMutableBufferPointer<Double>
    private var learned = 0.0
    private var firstTime = Double.nan
    private var previousTime = Double.nan
    /// The smallest change of a reading seen (K): the sensors' resolution.
    private(set) var resolution = Double.infinity

    init(sensors: Int, change: Double, learning: Double) {
        self.sensors = sensors
        self.change = change
        self.learning = learning
        baseline = .zeroed(max(sensors, 1))
        previous = .zeroed(max(sensors, 1))
        shift = .zeroed(max(sensors, 1))
        rising = .zeroed(max(sensors, 1))
        falling = .zeroed(max(sensors, 1))
        scratch = .zeroed(max(sensors, 1))
    }

    deinit {
        for buffer in [baseline, previous, shift, rising, falling, scratch] { buffer.deallocate() }
    }

    var step: Double { max(change, resolution.isFinite ? 2.5 * resolution : change) }
    var noise: Double { max(0.25, resolution.isFinite ? resolution / 2 : 0.25) }

    func update(time: Double, temperatures: UnsafeBufferPointer<Double>) {
        guard sensors >= 3, temperatures.count == sensors, temperatures.allSatisfy(\.isFinite) else { return }
        defer {
            for sensor in 0..<sensors { previous[sensor] = temperatures[sensor] }
            previousTime = time
        }
        if firstTime.isNaN { firstTime = time }
        if previousTime.isFinite {
            for sensor in 0..<sensors {
                let moved = abs(temperatures[sensor] - previous[sensor])
                if moved > 1e-6 { resolution = min(resolution, moved) }
            }
        }
        let median = ConsistencyFeatures.median(temperatures, scratch)
        if time - firstTime < learning {
            learned += 1
            for sensor in 0..<sensors { baseline[sensor] += (temperatures[sensor] - median - baseline[sensor]) / learned }
            return
        }
        let interval = time - previousTime
        guard interval > 0, interval <= 60 else { return }
        let (delta, variance) = (step, noise * noise)
        let weight = interval / 60
        for sensor in 0..<sensors {
            let x = temperatures[sensor] - median - baseline[sensor]
            shift[sensor] = x
            rising[sensor] = max(0, rising[sensor] + delta * (x - delta / 2) / variance * weight)
            falling[sensor] = max(0, falling[sensor] + delta * (-x - delta / 2) / variance * weight)
        }
    }
}
