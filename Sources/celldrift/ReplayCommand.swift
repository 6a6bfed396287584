import Agent
import ArgumentParser
import CAN
import Dispatch
import JSON
import Outbox

#if canImport(Glibc)
import Glibc
#endif

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the pipeline on captured logs in event time: decode, pack state, features, rule alarms into the outbox.",
        discussion: """
            The config (TOML, docs/mapping.md) names the DBC, the pack mapping, the snapshot timing, the \
            feature window and the rules. Alarms go into the SQLite outbox (--db). Prints a summary: \
            frames, snapshots, stale cells, bad lines, alarms by rule, frames/s (--json for a machine-readable \
            one); a progress bar on standard error when it is a terminal. Each log is one vehicle.
            """
    )

    @Option(help: "The configuration file (TOML).")
    var config: String

    @Argument(help: "CAN logs (any supported format, .gz too) or JSON snapshot files. None: check the config and stop.")
    var logs: [String] = []

    @Option(help: "The outbox database the alarms go into.")
    var db = "celldrift-outbox.db"

    @Option(help: "Vehicle id of the alarms (default: the config's `vehicle`, else the log's file name).")
    var vehicle: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Option(help: "Write every complete snapshot's features to this file: CSV when it ends in .csv, JSON lines otherwise.")
    var featuresOut: String?

    @Option(help: "Write the seed's daily table (same columns; Label 1.0 on days a rule was active) to this file.")
    var dailyOut: String?

    @Option(help: "Write a per-cell summary per vehicle and day (CSV: deviation from the pack median, resistance ratio) to this file.")
    var cellsOut: String?

    @Flag(help: "Pace the replay in real time (event time against the wall clock) instead of as fast as it goes.")
    var realtime = false

    @Option(help: "Logs replayed at once, one vehicle each (outputs stay in the order of the logs).")
    var jobs = 1

    @Flag(help: "No progress bar, even on a terminal.")
    var quiet = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let settings = try PipelineConfig(path: config)
        for warning in settings.warnings { StandardError.line("warning: \(warning)") }
        if logs.isEmpty {
            print("\(config): OK: \(settings.mapping.cells) cells and \(settings.mapping.temperatureSensors) temperature sensors mapped "
                + "in \(settings.database.database.path); rules: " + settings.rules.map(\.alarm.name).joined(separator: ", "))
            return
        }
        do { _ = try Outbox(path: db, limits: settings.outboxLimits) } catch { throw CommandError(error.description) }
        let workers = min(jobs, logs.count)
        // With several jobs each log writes its own part of an output, joined in the logs' order at the end.
        let parts = workers > 1
        let progress = Progress(totalBytes: logs.reduce(0) { $0 + fileSize($1) }, shown: !quiet && isatty(2) == 1)
        let started = monotonicSeconds()
        let options = ReplayJob.Options(config: settings, db: db, vehicle: vehicle, realtime: realtime, progress: progress,
                                        featuresCSV: featuresOut?.hasSuffix(".csv") ?? false)
        let batch = try ReplayBatch(logs: logs, options: options, outputs: ReplayOutputs(features: featuresOut, daily: dailyOut, cells: cellsOut),
                                    parts: parts)
        if workers == 1 {
            for index in logs.indices { batch.replay(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for index in stride(from: worker, to: batch.logs.count, by: workers) { batch.replay(index) }
            }
        }
        progress.finish()
        var summary = ReplaySummary()
        for job in batch.jobs { summary.add(job.summary) }
        summary.seconds = monotonicSeconds() - started
        try batch.finish()
        for failure in batch.jobs.compactMap(\.failure) { StandardError.line("error: \(failure)") }
        print(json ? summary.json : summary.text)
        if summary.unreadableFiles > 0 || summary.outboxErrors > 0 || summary.failedLogs > 0 { throw ExitCode(1) }
    }
}

/// The logs of one replay, the outputs and a slot for each log's job. Unchecked Sendable: under --jobs
/// each slot (and each log's part of an output) is written by the one worker that replays its log, and
/// read only after every worker has finished.
/// The per-vehicle outputs a replay can write, each a path or nil: every complete snapshot's features,
/// the seed's daily table, the per-cell daily summary.
struct ReplayOutputs {
    var features: String?, daily: String?, cells: String?

    var paths: [String?] { [features, daily, cells] }
}

/// One replay's open outputs, in the order of `ReplayOutputs.paths`.
struct ReplayFiles {
    var features: OutputBuffer?, daily: OutputBuffer?, cells: OutputBuffer?

    init(_ files: [OutputBuffer?] = [nil, nil, nil]) { (features, daily, cells) = (files[0], files[1], files[2]) }

    var all: [OutputBuffer?] { [features, daily, cells] }
}

final class ReplayBatch: @unchecked Sendable {
    let logs: [String]
    let options: ReplayJob.Options
    let outputs: ReplayOutputs
    /// Under --jobs each log writes `<output>.part<index>`, joined in the logs' order at the end;
    /// otherwise every log appends to one output.
    let parts: Bool
    private let slots: UnsafeMutableBufferPointer<ReplayJob?>
    private let shared: ReplayFiles

    init(logs: [String], options: ReplayJob.Options, outputs: ReplayOutputs, parts: Bool) throws {
        self.logs = logs
        self.options = options
        self.outputs = outputs
        self.parts = parts
        let mapping = options.config.mapping
        let headers = [options.featuresCSV ? featuresCSVHeader(cells: mapping.cells, firstNumber: mapping.cellNumberBase) : "",
                       "VIN,Date,TotalVoltage,TotalCurrent,CellMaxVoltage,CellMinVoltage,MaxTemperature,MinTemperature,Label\n",
                       CellDays.header]
        var files: [OutputBuffer?] = []
        for (path, header) in zip(outputs.paths, headers) {
            let file = try path.map(createOutput)
            file?.append(header)
            // The headers go first into the joined file, before the parts.
            if parts, let file, let path { try finishOutput(file, path) }
            files.append(parts ? nil : file)
        }
        shared = ReplayFiles(files)
        slots = .allocate(capacity: logs.count)
        slots.initialize(repeating: nil)
    }

    deinit {
        _ = slots.deinitialize()
        slots.deallocate()
    }

    func replay(_ index: Int) {
        guard parts else {
            let job = ReplayJob(log: logs[index], options: options, files: shared)
            job.run()
            slots[index] = job
            return
        }
        do {
            let paths = outputs.paths.map { $0.map { "\($0).part\(index)" } }
            let files = ReplayFiles(try paths.map { try $0.map(createOutput) })
            let job = ReplayJob(log: logs[index], options: options, files: files)
            job.run()
            slots[index] = job
            for (file, path) in zip(files.all, paths) { if let file, let path { try finishOutput(file, path) } }
        } catch {
            slots[index] = ReplayJob(failed: logs[index], options: options, error: "\(error)")
        }
    }

    var jobs: [ReplayJob] { slots.compactMap { $0 } }

    /// Writes out the shared outputs, or joins the parts, in the logs' order.
    func finish() throws {
        for (file, path) in zip(shared.all, outputs.paths) { if let file, let path { try finishOutput(file, path) } }
        guard parts else { return }
        for path in outputs.paths.compactMap({ $0 }) {
            let output = OutputBuffer(fd: open(path, O_WRONLY | O_APPEND | O_CLOEXEC))
            for index in logs.indices {
                let part = "\(path).part\(index)"
                guard let bytes = readFile(part) else { continue }
                output.append(bytes)
                unlink(part)
            }
            try finishOutput(output, path)
        }
    }
}

func fileSize(_ path: String) -> Int {
    var status = stat()
    return stat(path, &status) == 0 ? Int(status.st_size) : 0
}

/// What a replay saw.
struct ReplaySummary {
    var frames = 0, skipped = 0, snapshots = 0, incompleteSnapshots = 0, badLines = 0, unreadableFiles = 0, outboxErrors = 0
    var failedLogs = 0, inferenceEvents = 0, rejectedTimes = 0
    /// Alarms raised, by kind; their later transitions (updated, cleared) counted apart.
    var alarms: [String: Int] = [:]
    var alarmUpdates = 0, alarmClears = 0
    var seconds = 0.0

    var rate: Int { seconds > 0 ? Int(Double(frames) / seconds) : 0 }

    mutating func add(_ other: ReplaySummary) {
        frames += other.frames
        skipped += other.skipped
        snapshots += other.snapshots
        incompleteSnapshots += other.incompleteSnapshots
        badLines += other.badLines
        unreadableFiles += other.unreadableFiles
        outboxErrors += other.outboxErrors
        failedLogs += other.failedLogs
        inferenceEvents += other.inferenceEvents
        rejectedTimes += other.rejectedTimes
        alarms.merge(other.alarms, uniquingKeysWith: +)
        alarmUpdates += other.alarmUpdates
        alarmClears += other.alarmClears
    }

    var text: String {
        "\(frames) frames (\(skipped) not in the DBC or too short), \(badLines) bad lines, \(snapshots) snapshots "
            + "(\(incompleteSnapshots) with stale cells), alarms: "
            + (alarms.isEmpty ? "none" : alarms.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            + (alarmUpdates + alarmClears > 0 ? " (then \(alarmUpdates) updated, \(alarmClears) cleared)" : "")
            + (inferenceEvents > 0 ? ", \(inferenceEvents) inference events" : "")
            + (rejectedTimes > 0 ? ", \(rejectedTimes) frames or snapshots with a time that is not seconds from 1970 to 2100 dropped" : "")
            + ", \(rate) frames/s"
    }

    var json: String {
        let alarmList = alarms.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return "{\"frames\": \(frames), \"skipped\": \(skipped), \"bad_lines\": \(badLines), \"snapshots\": \(snapshots), "
            + "\"incomplete_snapshots\": \(incompleteSnapshots), \"alarms\": {\(alarmList)}, \"alarm_updates\": \(alarmUpdates), "
            + "\"alarm_clears\": \(alarmClears), \"frames_per_second\": \(rate), "
            + "\"seconds\": \(seconds), \"unreadable_files\": \(unreadableFiles), \"failed_logs\": \(failedLogs), "
            + "\"outbox_errors\": \(outboxErrors), \"inference_events\": \(inferenceEvents), \"rejected_times\": \(rejectedTimes)}"
    }
}
