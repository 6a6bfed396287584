import Agent
import ArgumentParser
import Consistency
import JSON
import Outbox
import Pack
import Training

extension EvaluateCommand {
    struct Fleet: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a labelled fleet through the pipeline and judge its alarms against the labels.",
            discussion: """
                Reads labels.json (docs/fleet.md: written by `celldrift simulate` and by scripts/fleet/generate.py), \
                replays every vehicle's log through the same pipeline as `replay` and `run` with its own config, and \
                prints per vehicle and per fault kind and chemistry: found (an alarm after the onset), named (an \
                alarm naming the faulty cell or sensor), the delay from the onset, the lead over the BMS's 50 mV \
                rule (the label's time), and false alarms per 1,000 healthy vehicle-hours. The reference rule's \
                own alarms are not detections. Exit status 1 when a vehicle could not be replayed.
                """
        )

        @Option(help: "The fleet's labels file.")
        var labels: String

        @Option(help: "One config for every vehicle (instead of each label's `config`).")
        var config: String?

        @Option(help: "A folder with <vehicle>.toml per vehicle (instead of each label's `config`).")
        var configDir: String?

        @Option(help: "The folder of the logs (default: the labels file's).")
        var logDir: String?

        @Option(help: "The alarm kind of the BMS's own rule, which detections are measured against.")
        var referenceRule = "cell_spread"

        @Option(help: "Judge only alarms of these kinds (comma-separated), e.g. cell_drift_model for the model alone.")
        var only: String?

        @Option(help: "Vehicles replayed at once.")
        var jobs = 1

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        }

        func run() throws {
            let plans = try FleetReplay.plans(labels: labels, config: config, configDir: configDir, logDir: logDir)
            let kinds = only.map { Set($0.split(separator: ",").map(String.init)) }
            let outcomes = concurrentMap(plans, workers: jobs) { $0.replay(referenceRule: referenceRule, only: kinds) }
            let evaluation = FleetEvaluation(outcomes: outcomes, referenceRule: referenceRule)
            print(json ? evaluation.json() : evaluation.text())
            if evaluation.overall.failed > 0 { throw ExitCode(1) }
        }
    }
}

/// One vehicle to replay: its label, log and config.
struct FleetReplay: @unchecked Sendable {
    let label: FleetLabel
    let log: String
    let config: Result<PipelineConfig, AgentError>

    /// Every vehicle of a labels file with its log (in `logDir`, or the labels file's folder) and config:
    /// `config` for all, `<configDir>/<vehicle>.toml`, or the label's own. Each config is read once, before
    /// any replay: a broken one is reported for its vehicles.
    static func plans(labels: String, config: String?, configDir: String?, logDir: String?) throws -> [FleetReplay] {
        let labelList: [FleetLabel]
        do { labelList = try FleetLabel.load(labels) } catch { throw CommandError("\(error)") }
        let folder = labels.contains("/") ? String(labels[..<labels.lastIndex(of: "/")!]) + "/" : ""
        var configs: [String: Result<PipelineConfig, AgentError>] = [:]
        return labelList.map { label -> FleetReplay in
            let configPath = config ?? configDir.map { "\($0)/\(label.vehicle).toml" }
                ?? label.config.map { $0.hasPrefix("/") ? $0 : folder + $0 }
            let log = label.log ?? "\(label.vehicle).log"
            let logPath = log.hasPrefix("/") ? log : (logDir.map { $0 + "/" } ?? folder) + log
            guard let configPath else {
                return FleetReplay(label: label, log: logPath, config: .failure(AgentError("no config: give --config or --config-dir")))
            }
            if configs[configPath] == nil {
                configs[configPath] = Result { () throws(AgentError) in try PipelineConfig(path: configPath) }
            }
            return FleetReplay(label: label, log: logPath, config: configs[configPath]!)
        }
    }

    /// Feeds the log through `pipeline`, `snapshot` at each complete snapshot as `feed` calls it; what went
    /// wrong, naming the log, when it could not be read.
    func feedLog(into pipeline: VehiclePipeline, settings: PipelineConfig, snapshot: (Double, Double) -> Void) -> String? {
        var pacer: Pacer?
        do {
            let counts = try feed(log: log, into: pipeline, config: settings, progress: nil, pacer: &pacer, snapshot: snapshot)
            return counts.unreadableFiles > 0 ? "\(log): cannot be read" : nil
        } catch {
            return "\(log): \(error)"
        }
    }

    /// `only`: the alarm kinds judged (the reference rule's always are); nil: all.
    func replay(referenceRule: String, only kinds: Set<String>? = nil) -> VehicleOutcome {
        let settings: PipelineConfig
        switch config {
        case .success(let loaded): settings = loaded
        case .failure(let error):
            return VehicleOutcome(label: label, alarms: [], healthyHours: 0, faultyHours: 0, referenceRule: referenceRule,
                                  error: error.description)
        }
        var alarms: [FleetAlarm] = []
        let pipeline = VehiclePipeline(config: settings, vehicle: label.vehicle, wallClock: wallSeconds) { record in
            // An alarm counts once, where it was raised (its updates and clear are the same alarm).
            guard record.type == .alarm, record.transition == nil || record.transition == "raised",
                  kinds?.contains(record.kind) ?? true || record.kind == referenceRule else { return }
            alarms.append(FleetAlarm(kind: record.kind, cell: record.cell, sensor: sensorNamed(in: record.payload), time: record.eventTime))
        }
        // Observed time: the gaps between complete snapshots, up to a minute (a logger that was off
        // between two days observed nothing), split at the onset.
        let onset = label.onsetTime ?? .infinity
        var healthy = 0.0, faulty = 0.0, previous = Double.nan
        var restTimes: [Double] = [], restSeconds: [Double] = [], rested = 0.0
        var peaks = ClosestCalls(mapping: settings.mapping)
        let failure = feedLog(into: pipeline, settings: settings) { time, _ in
            peaks.take(pipeline.detectors, at: time)
            let gap = time - previous
            if gap > 0, gap <= 60 {
                healthy += max(0, min(time, onset) - previous)
                faulty += max(0, time - max(previous, onset))
                if time > onset, pipeline.detectors.scale.isRest(pipeline.latestCurrent) {
                    rested += time - max(previous, onset)
                    restTimes.append(time)
                    restSeconds.append(rested)
                }
            }
            previous = time
        }
        if let failure {
            return VehicleOutcome(label: label, alarms: [], healthyHours: 0, faultyHours: 0, referenceRule: referenceRule, error: failure)
        }
        return VehicleOutcome(label: label, alarms: alarms, healthyHours: healthy / 3600, faultyHours: faulty / 3600,
                              referenceRule: referenceRule, restTimes: restTimes, restSeconds: restSeconds,
                              peaks: peaks.calls(pipeline.detectors))
    }
}

/// Each cell's and each temperature sensor's closest call in any sequential test, after every snapshot.
private struct ClosestCalls {
    let cellNames: [String], sensorNames: [String]
    /// Cells first, then sensors.
    var nearness: [Double], evidence: [Detection.Evidence], times: [Double]
    var changes: [Double], steadyLoad: [Double], rest: [Double], sensorShift: [Double], heldReading: [Double]
    var firstTime = Double.nan

    init(mapping: PackMapping) {
        cellNames = mapping.cellNames
        sensorNames = mapping.sensorNames
        let cells = mapping.cells, sensors = mapping.temperatureSensors
        nearness = Array(repeating: 0, count: cells + sensors)
        evidence = Array(repeating: .currentChanges, count: cells + sensors)
        times = Array(repeating: .nan, count: cells + sensors)
        (changes, steadyLoad, rest) = (Array(repeating: 0, count: cells), Array(repeating: 0, count: cells), Array(repeating: 0, count: cells))
        (sensorShift, heldReading) = (Array(repeating: 0, count: sensors), Array(repeating: 0, count: sensors))
    }

    mutating func take(_ detectors: CellDetectors, at time: Double) {
        if firstTime.isNaN { firstTime = time }
        detectors.nearness(changes: &changes, steadyLoad: &steadyLoad, rest: &rest, sensorShift: &sensorShift, heldReading: &heldReading)
        func keep(_ index: Int, _ value: Double, _ test: Detection.Evidence) {
            guard value > nearness[index] else { return }
            nearness[index] = value
            evidence[index] = test
            times[index] = time
        }
        for cell in changes.indices {
            keep(cell, changes[cell], .currentChanges)
            keep(cell, steadyLoad[cell], .steadyLoad)
            keep(cell, rest[cell], .restSlopes)
        }
        for sensor in sensorShift.indices {
            keep(changes.count + sensor, sensorShift[sensor], .sensorShift)
            keep(changes.count + sensor, heldReading[sensor], .heldReading)
        }
    }

    /// One call per cell or sensor that any test moved.
    func calls(_ detectors: CellDetectors) -> [ClosestCall] {
        nearness.indices.filter { nearness[$0] > 0 }.map { index in
            let cells = changes.count
            let sensor = index >= cells ? index - cells : nil
            let name = sensor.map { $0 < sensorNames.count ? sensorNames[$0] : nil } ?? (index < cellNames.count ? cellNames[index] : nil)
            return ClosestCall(evidence: evidence[index].rawValue, cell: sensor == nil ? index : nil, sensor: sensor, name: name,
                               covers: sensor.map { detectors.cellsCovered(bySensor: $0) }, time: times[index],
                               hoursIntoLog: (times[index] - firstTime) / 3600, nearness: nearness[index])
        }
    }
}

/// A temperature alarm's sensor, where its payload names one (`"sensor": N`).
private func sensorNamed(in payload: String) -> Int? {
    guard payload.contains("\"sensor\""), let value = try? JSONParser.parse(payload)["sensor"]?.double,
          value >= 0, value < 1e6 else { return nil }
    return Int(value)
}
