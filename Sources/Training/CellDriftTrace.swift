import Consistency
import Model
import Simulator

/// One simulated vehicle scored by a cell-drift model every `scoreInterval` seconds: the pack score and
/// its cell at each scoring, and when the BMS's 50 mV rule first fired.
public struct CellDriftTrace: Sendable {
    public let run: VehicleRun
    public let times: [Double]
    public let scores: [Double]
    public let cells: [Int]
    public let ruleFirstFired: Double?
    public let ruleCell: Int?
    public let days: Double

    /// Healthy seconds: the whole run of a healthy vehicle, the time before the onset of a faulty one.
    public var healthySeconds: Double { run.fault.kind == .healthy ? days * 86_400 : min(run.fault.onset, days * 86_400) }

    /// Simulates `run` and scores it.
    public static func score(_ run: VehicleRun, model: CellDriftModel, settings: FleetSettings) -> CellDriftTrace {
        var times: [Double] = [], scores: [Double] = [], cells: [Int] = []
        let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: settings.cells)
        defer { buffer.deallocate() }
        var scoring = settings
        scoring.scoreInterval = model.scoreInterval
        var observer: FleetFeatureObserver!
        observer = FleetFeatureObserver(cells: settings.cells, settings: scoring) { time in
            let best = model.score(observer.drift, into: buffer)
            times.append(time)
            scores.append(best.score)
            cells.append(best.cell)
        }
        let rule = ThresholdRule()
        Simulation(pack: settings.pack, fault: run.fault, days: settings.days, seed: run.seed).run(observers: [rule, observer])
        return CellDriftTrace(run: run, times: times, scores: scores, cells: cells, ruleFirstFired: rule.firstFired,
                              ruleCell: rule.cellAtFirstFire, days: settings.days)
    }

    /// The highest score held for `hold` seconds in the healthy part (what a threshold must stay above for
    /// no false alarm).
    public func highestHeldHealthyScore(hold: Double) -> Double {
        Self.highestHeld(times: times, scores: scores, before: healthySeconds, hold: hold)
    }

    /// The highest score that stayed at or above itself for `hold` seconds among the scorings before `end`.
    public static func highestHeld(times: [Double], scores: [Double], before end: Double, hold: Double) -> Double {
        var best = 0.0
        var window: [(time: Double, score: Double)] = []  // increasing scores: a sliding minimum
        for index in times.indices where times[index] < end {
            while let last = window.last, last.score >= scores[index] { window.removeLast() }
            window.append((times[index], scores[index]))
            // The minimum over the scores of the last `hold` seconds, once `hold` seconds are covered.
            while let first = window.first, first.time < times[index] - hold - 1e-6 { window.removeFirst() }
            guard times[index] - times[0] >= hold, let minimum = window.first?.score else { continue }
            best = max(best, minimum)
        }
        return best
    }

    /// Every vehicle of the fleet scored, two at a time on two cores, in fleet order.
    public static func score(_ settings: FleetSettings, model: CellDriftModel) -> [CellDriftTrace] {
        nonisolated(unsafe) let shared = model  // each thread scores with its own copy; a copy only reads
        return forEachVehicle(settings.fleet) { run in score(run, model: shared.copy(), settings: settings) }
    }

    /// What the pipeline's alarm (`model.alarm()`) makes of this trace: each raise, with its time and cell.
    public func alarms(_ model: CellDriftModel) -> [(time: Double, cell: Int)] {
        var alarm = model.alarm()
        var raised: [(Double, Int)] = []
        for index in times.indices {
            if case .raised? = alarm.observe(scores[index], at: times[index]) { raised.append((times[index], cells[index])) }
        }
        return raised
    }
}
