import Agent
import CAN
import Consistency
import DBC
import JSON
import Outbox
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The replay of one log (one vehicle) with its own decoder, pipeline and outbox connection, so several
/// run at once under --jobs. Errors end this log only; they are kept in `failure`.
final class ReplayJob {
    struct Options: @unchecked Sendable {
        let config: PipelineConfig
        let db: String
        let vehicle: String?
        let realtime: Bool
        let progress: Progress
        let featuresCSV: Bool
    }

    let log: String
    let options: Options
    let files: ReplayFiles
    private(set) var summary = ReplaySummary()
    private(set) var failure: String?

    /// The outputs are open already, their headers written: the job appends its vehicle's rows.
    init(log: String, options: Options, files: ReplayFiles) {
        self.log = log
        self.options = options
        self.files = files
    }

    /// A job that could not start (its output part could not be created).
    init(failed log: String, options: Options, error: String) {
        self.log = log
        self.options = options
        files = ReplayFiles()
        failure = error
        summary.failedLogs = 1
    }

    func run() {
        do { try replay() } catch {
            // Errors from the log's reader name it already.
            let text = "\(error)"
            failure = text.hasPrefix(log + ":") ? text : "\(log): \(text)"
            summary.failedLogs += 1
        }
    }

    private func replay() throws {
        let config = options.config
        let outbox: Outbox
        do { outbox = try Outbox(path: options.db, limits: config.outboxLimits) } catch { throw CommandError(error.description) }
        let vehicleID = vehicleName(of: log, given: options.vehicle, config: config)
        if let problem = vehicleIDProblem(vehicleID) { throw CommandError("vehicle id \"\(vehicleID)\" (from --vehicle or the file name): \(problem)") }
        let pipeline = VehiclePipeline(config: config, vehicle: vehicleID, wallClock: wallSeconds) { [self] record in
            do {
                try outbox.append([record])
                switch record.transition {
                case _ where record.type == .inference: summary.inferenceEvents += 1
                case "updated": summary.alarmUpdates += 1
                case "cleared": summary.alarmClears += 1
                default: summary.alarms[record.kind, default: 0] += 1
                }
            } catch {
                summary.outboxErrors += 1
                StandardError.line("error: \(log): alarm \(record.id) not stored: \(error)")
            }
        }
        let featuresCSVFormat = options.featuresCSV
        let cellDays = files.cells.map { CellDays(vehicle: vehicleID, mapping: config.mapping, file: $0) }
        func writeFeatures(_ time: Double) {
            cellDays?.add(time: time, pipeline.features)
            guard let featureFile = files.features else { return }
            featureFile.append(featuresCSVFormat ? featuresCSV(vehicle: vehicleID, time: time, pipeline.features)
                                                 : featuresJSON(vehicle: vehicleID, time: time, pipeline.features))
        }
        var pacer = options.realtime ? Pacer() : nil
        let counts = try feed(log: log, into: pipeline, config: config, progress: options.progress, pacer: &pacer) { time, _ in
            writeFeatures(time)
        }
        summary.frames = counts.frames
        summary.skipped = counts.skipped
        summary.badLines += counts.badLines
        summary.unreadableFiles += counts.unreadableFiles
        summary.snapshots = pipeline.snapshots
        summary.incompleteSnapshots = pipeline.incompleteSnapshots
        summary.rejectedTimes = pipeline.rejectedTimes
        if let dailyFile = files.daily { writeDaily(pipeline.daily, pipeline.alarmDays, vehicleID, dailyFile) }
        cellDays?.finish()
    }
}

/// The vehicle a log stands for: the one given, else the config's, else the log's file name up to its first dot.
func vehicleName(of log: String, given: String?, config: PipelineConfig) -> String {
    given ?? config.vehicle ?? String(log.split(separator: "/").last?.split(separator: ".").first ?? "")
}

/// What feeding a log met.
struct FeedCounts {
    var frames = 0, skipped = 0, badLines = 0, unreadableFiles = 0
}

/// Feeds one log, CAN frames or JSON snapshots (recognized from its content), through a vehicle's
/// pipeline; `snapshot` gets the time and SOC of each complete snapshot after the pipeline has taken it.
/// A log that cannot be read is reported and counted; a snapshot of the wrong size ends the log with an error.
func feed(log: String, into pipeline: VehiclePipeline, config: PipelineConfig, progress: Progress?, pacer: inout Pacer?,
          snapshot onSnapshot: (Double, Double) -> Void) throws -> FeedCounts {
    var counts = FeedCounts()
    // One open of the log for both the look at its first line and the reading: standard input can be
    // read only once (a second open lost what the first had buffered, 128 KiB).
    var lines = LineSource(file: try CompressedFile(path: log))
    let snapshots: Bool
    do { snapshots = try holdsSnapshots(&lines) } catch { lines.deallocate(); throw error }
    if snapshots {
        defer { lines.deallocate() }
        // The second input: JSON snapshots (the MQTT payload), already one per moment.
        counts.badLines = try forEachSnapshot(lines: &lines, report: StandardError.line) { snapshot in
            try snapshot.requireCells(config.mapping.cells)
            pacer?.wait(until: snapshot.time)
            pipeline.take(snapshot)
            onSnapshot(snapshot.time, snapshot.soc ?? .nan)
        }
        progress?.advance(bytes: fileSize(log), frames: 0)
        return counts
    }
    let decoder = FrameDecoder(config.database)
    var frames = 0, skipped = 0, reported = 0
    do {
        let reader = LogReader(lines: lines, ascZoneSeconds: config.ascZoneSeconds, report: StandardError.line)
        try reader.forEach { frame in
            frames += 1
            if frames & 0xFFFF == 0, let progress {
                let bytes = reader.bytesConsumed
                progress.advance(bytes: bytes - reported, frames: 0x10000)
                reported = bytes
            }
            guard case .decoded = withUnsafePointer(to: &frame, decoder.decode(at:)) else { skipped += 1; return }
            let time = frame.seconds
            pacer?.wait(until: time)
            if pipeline.frame(decoder, time: time) { onSnapshot(time, pipeline.state.soc) }
        }
        counts.badLines = reader.invalidLines
        progress?.advance(bytes: fileSize(log) - reported, frames: frames & 0xFFFF)
    } catch let error as LogError {
        StandardError.line("error: \(error)")
        counts.unreadableFiles = 1
    }
    counts.frames = frames
    counts.skipped = skipped
    return counts
}

/// Writes the daily table rows of one vehicle (the seed's columns; NaN where a measure was not mapped).
func writeDaily(_ daily: DailyMeasures, _ alarmDays: Set<Int>, _ vehicle: String, _ file: OutputBuffer) {
    daily.close()
    for day in daily.heldDays {
        let values = daily.means(day: day) ?? []
        let date = CivilTime(epochNanoseconds: Int64(day) * 86_400_000_000_000).isoDate
        file.append("\(vehicle),\(date)" + values.map { $0.isNaN ? ",nan" : ",\($0)" }.joined()
            + (alarmDays.contains(day) ? ",1.0\n" : ",0.0\n"))
    }
}

/// Holds the replay back so that event time runs at the wall clock's pace (--realtime).
struct Pacer {
    private var origin: (event: Double, wall: Double)?

    mutating func wait(until eventTime: Double) {
        guard let origin else {
            origin = (eventTime, monotonicSeconds())
            return
        }
        let ahead = (eventTime - origin.event) - (monotonicSeconds() - origin.wall)
        guard ahead > 0.000_5 else { return }
        var pause = timespec(tv_sec: Int(ahead), tv_nsec: Int((ahead - Double(Int(ahead))) * 1e9))
        var remaining = timespec()
        while nanosleep(&pause, &remaining) != 0, errno == EINTR { pause = remaining }
    }
}

/// A progress bar on standard error, shared by the jobs: bytes read of all logs, frames, frames/s.
final class Progress: Sendable {
    let totalBytes: Int
    let shown: Bool
    private let bytes = Atomic<Int>(0)
    private let frames = Atomic<Int>(0)
    private let lastDrawn = Atomic<Int>(0)
    private let started = monotonicSeconds()

    init(totalBytes: Int, shown: Bool) {
        self.totalBytes = max(totalBytes, 1)
        self.shown = shown
    }

    func advance(bytes read: Int, frames count: Int) {
        guard shown else { return }
        bytes.add(read, ordering: .relaxed)
        frames.add(count, ordering: .relaxed)
        let now = Int((monotonicSeconds() - started) * 1000)
        let last = lastDrawn.load(ordering: .relaxed)
        // Five redraws a second at most, by whichever job gets there first.
        guard now - last >= 200, lastDrawn.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        draw(elapsed: Double(now) / 1000)
    }

    func finish() {
        guard shown else { return }
        draw(elapsed: monotonicSeconds() - started)
        StandardError.write("\n")
    }

    private func draw(elapsed: Double) {
        let share = min(1, Double(bytes.load(ordering: .relaxed)) / Double(totalBytes))
        let width = 30, filled = Int(share * Double(width))
        let count = frames.load(ordering: .relaxed)
        let rate = elapsed > 0 ? Int(Double(count) / elapsed) : 0
        StandardError.write("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(Int(share * 100))%  \(count) frames  \(rate) frames/s ")
    }
}
