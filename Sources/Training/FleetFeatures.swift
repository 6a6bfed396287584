import Consistency
import Dispatch
import Simulator
import Synchronization

/// Feeds one simulated vehicle's BMS readings, as the gateway receives them (1 mV, 0.5 °C, 0.1 A, SOC in
/// 0.1 %), into the consistency features, the detectors (as shipped: capacity from throughput
/// against the SOC) and the cell-drift features every `snapshotInterval` seconds, and calls
/// `onScore` every `scoreInterval` seconds of simulated time once the window is full.
final class FleetFeatureObserver: SimulationObserver {
    let features: ConsistencyFeatures
    let detectors: CellDetectors
    let drift: CellDriftFeatures
    private let voltages: UnsafeMutableBufferPointer<Double>
    private let temperatures: UnsafeMutableBufferPointer<Double>
    private let snapshotInterval: Int
    private let scoreInterval: Double
    private var nextScore: Double
    private let onScore: (Double) -> Void

    init(cells: Int, settings: FleetSettings, onScore: @escaping (Double) -> Void) {
        features = ConsistencyFeatures(cells: cells, window: settings.window)
        detectors = CellDetectors(cells: cells, sensors: cells, settings: DetectionSettings())
        drift = CellDriftFeatures(features: features, detectors: detectors)
        voltages = .allocate(capacity: cells)
        voltages.initialize(repeating: 0)
        temperatures = .allocate(capacity: cells)
        temperatures.initialize(repeating: 0)
        snapshotInterval = settings.snapshotInterval
        scoreInterval = settings.scoreInterval
        nextScore = Double(settings.window * settings.snapshotInterval)
        self.onScore = onScore
    }

    deinit {
        voltages.deallocate()
        temperatures.deallocate()
    }

    func record(_ sample: Sample) {
        guard Int(sample.time) % snapshotInterval == 0 else { return }
        let pack = sample.pack
        for cell in 0..<voltages.count {
            voltages[cell] = (pack.measuredVoltage[cell] * 1000).rounded() / 1000
            temperatures[cell] = (pack.temperature[cell] * 2).rounded() / 2
        }
        let current = (sample.current * 10).rounded() / 10
        let soc = (pack.meanSOC * 1000).rounded() / 10
        features.update(time: sample.time, voltages: UnsafeBufferPointer(voltages),
                        temperatures: UnsafeBufferPointer(temperatures), current: current)
        detectors.update(time: sample.time, deviation: features.deviation, median: features.median, spread: features.spread,
                         temperatures: UnsafeBufferPointer(temperatures), current: current, soc: soc) { _ in }
        drift.update(time: sample.time, temperatures: UnsafeBufferPointer(temperatures), current: current)
        if sample.time >= nextScore {
            onScore(sample.time)
            nextScore += scoreInterval
        }
    }

    func finish() {}
}

/// The simulated fleet a cell-drift model is trained or evaluated on, and how its features are taken.
public struct FleetSettings: Sendable {
    public var vehicles = 48
    public var days = 12.0
    public var faultShare = 0.75
    public var cells = 96
    public var chemistry = Chemistry.nmc
    public var seed: UInt64 = 1
    /// Seconds between snapshots, and the feature window in snapshots (as `[features] window`).
    public var snapshotInterval = 10
    public var window = 60
    /// Seconds between two scorings of every cell.
    public var scoreInterval = 60.0

    public init() {}

    /// The vehicles: every fault kind in turn on the faulty share, the rest healthy.
    public var fleet: [VehicleRun] {
        planFleet(vehicles: vehicles, faultShare: faultShare, faultKinds: Fault.Kind.allCases.filter { $0 != .healthy },
                  cells: cells, days: days, seed: seed, startNanoseconds: epochNanoseconds(date: "2026-01-05")!)
    }

    var pack: PackConfiguration {
        var pack = PackConfiguration()
        pack.cells = cells
        pack.chemistry = chemistry
        return pack
    }

    var summary: String {
        "\"vehicles\": \(vehicles), \"days\": \(days), \"fault_share\": \(faultShare), \"cells\": \(cells), "
            + "\"chemistry\": \"\(chemistry.rawValue)\", \"seed\": \(seed), \"snapshot_interval_s\": \(snapshotInterval), "
            + "\"window\": \(window), \"score_interval_s\": \(scoreInterval)"
    }
}

/// Runs `body` on every vehicle, as many at a time as there are cores, and returns the results in fleet order.
func forEachVehicle<Result: Sendable>(_ fleet: [VehicleRun], _ body: @escaping @Sendable (VehicleRun) -> Result) -> [Result] {
    concurrentMap(fleet, workers: fleet.count, body)
}

/// `body` of every item, on up to `workers` threads (each takes every `workers`-th item), the results in
/// the items' order. `body` is called on one item at a time per thread; it must share nothing mutable.
public func concurrentMap<Item, Value: Sendable>(_ items: [Item], workers: Int, _ body: @escaping (Item) -> Value) -> [Value] {
    let results = ResultSlots<Value>(count: items.count)
    let workers = max(1, min(workers, items.count))
    nonisolated(unsafe) let (items, work) = (items, body)
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        for index in stride(from: worker, to: items.count, by: workers) { results.set(index, work(items[index])) }
    }
    return results.values
}

private final class ResultSlots<Value: Sendable>: Sendable {
    private let slots: Mutex<[Value?]>
    init(count: Int) { slots = Mutex([Value?](repeating: nil, count: count)) }
    func set(_ index: Int, _ value: Value) { slots.withLock { $0[index] = value } }
    var values: [Value] { slots.withLock { $0.map { $0! } } }
}
