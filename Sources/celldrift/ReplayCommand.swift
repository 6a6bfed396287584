import ArgumentParser
import CAN
import Consistency
import DBC
import JSON
import Outbox
import Pack
import TOML

#if canImport(Glibc)
import Glibc
#endif

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the pipeline on captured logs in event time: decode, pack state, features, rule alarms into the outbox.",
        discussion: """
            The config (TOML, docs/mapping.md) names the DBC, the pack mapping, the snapshot timing, the \
            feature window and the spread rule. Alarms go into the SQLite outbox (--db). Prints a summary: \
            frames, snapshots, stale cells, bad lines, alarms, frames/s (--json for a machine-readable one).
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

    @Option(help: "Write the seed's daily table (same columns; Label 1.0 on days the spread alarm was active) to this file.")
    var dailyOut: String?

    func run() throws {
        let settings = try ReplaySettings(path: config)
        if logs.isEmpty {
            print("\(config): OK: \(settings.mapping.cells) cells and \(settings.mapping.temperatureSensors) temperature sensors mapped "
                + "in \(settings.database.database.path)")
            return
        }
        let outbox: Outbox
        do { outbox = try Outbox(path: db) } catch { throw CommandError(error.description) }
        let decoder = FrameDecoder(settings.database)
        var summary = ReplaySummary()
        let featuresCSVFormat = featuresOut?.hasSuffix(".csv") ?? false
        let featureFile = try featuresOut.map(createOutput)
        if featuresCSVFormat { featureFile?.append(featuresCSVHeader(cells: settings.mapping.cells)) }
        let dailyFile = try dailyOut.map(createOutput)
        dailyFile?.append("VIN,Date,TotalVoltage,TotalCurrent,CellMaxVoltage,CellMinVoltage,MaxTemperature,MinTemperature,Label\n")
        let started = monotonicSeconds()
        for log in logs {
            let vehicleID = vehicle ?? settings.vehicle ?? String(log.split(separator: "/").last?.split(separator: ".").first ?? "")
            let state = PackState(mapping: settings.mapping, staleAfter: settings.staleAfter, tick: settings.tick)
            let features = ConsistencyFeatures(cells: settings.mapping.cells, window: settings.window)
            var rule = settings.rule
            let daily = DailyMeasures()
            var alarmDays: Set<Int> = []
            /// One complete snapshot, from either input: features, the rule, and the outputs asked for.
            func process(time: Double, voltages: UnsafeBufferPointer<Double>, temperatures: UnsafeBufferPointer<Double>,
                         packVoltage: Double, current: Double) {
                features.update(time: time, voltages: voltages, temperatures: temperatures)
                if let featureFile {
                    featureFile.append(featuresCSVFormat ? featuresCSV(vehicle: vehicleID, time: time, features)
                                                         : featuresJSON(vehicle: vehicleID, time: time, features))
                }
                evaluate(time: time, current: current)
                if dailyFile != nil {
                    daily.add(time: time, packVoltage: packVoltage.isNaN ? voltages.reduce(0, +) : packVoltage, current: current,
                              highestCell: voltages.max() ?? .nan, lowestCell: voltages.min() ?? .nan,
                              highestTemperature: temperatures.max() ?? .nan, lowestTemperature: temperatures.min() ?? .nan)
                }
            }
            func evaluate(time: Double, current: Double) {
                let transition = rule.observe(features.spread, at: time)
                if rule.isActive { alarmDays.insert(Int((time / 86_400).rounded(.down))) }
                guard case .raised(let since)? = transition else { return }
                let cell = (0..<features.cells).max { abs(features.deviation[$0]) < abs(features.deviation[$1]) } ?? 0
                let payload = "{\"spread_v\": \(features.spread), \"median_v\": \(features.median), \"std_v\": \(features.standardDeviation), "
                    + "\"max_modified_z\": \(features.maximumModifiedZ), \"cell_deviation_v\": \(features.deviation[cell]), "
                    + "\"above_since\": \(since), \"current_a\": \(current.isNaN ? "null" : "\(current)")}"
                let record = OutboxRecord(type: .alarm, vehicle: vehicleID, kind: rule.name, severity: rule.severity, cell: cell,
                                          eventTime: time, wallTime: wallSeconds(), payload: payload)
                do {
                    try outbox.append([record])
                    summary.alarms[rule.name, default: 0] += 1
                } catch {
                    summary.outboxErrors += 1
                    StandardError.line("error: \(error)")
                }
            }
            if try isSnapshotFile(log) {
                // The second input: JSON snapshots (the MQTT payload), already one per moment.
                summary.badLines += try forEachSnapshot(in: log) { snapshot in
                    guard snapshot.voltages.count == settings.mapping.cells else {
                        throw CommandError("\(snapshot.voltages.count) cell voltages; the config's pack has \(settings.mapping.cells)")
                    }
                    summary.snapshots += 1
                    snapshot.voltages.withUnsafeBufferPointer { cells in
                        snapshot.temperatures.withUnsafeBufferPointer {
                            process(time: snapshot.time, voltages: cells, temperatures: $0, packVoltage: .nan,
                                    current: snapshot.current ?? .nan)
                        }
                    }
                }
                writeDaily(daily, alarmDays, vehicleID, dailyFile)
                continue
            }
            let counts = try forEachFrame(in: [log], format: nil) { frame in
                summary.frames += 1
                guard case .decoded = decoder.decode(frame) else { summary.skipped += 1; return }
                let time = frame.seconds
                guard state.apply(decoder, time: time) else { return }
                summary.snapshots += 1
                let stale = state.takeSnapshot(at: time)
                guard stale == 0 else {
                    // Stale cells are never reused: no features and no rule on an incomplete snapshot.
                    summary.incompleteSnapshots += 1
                    return
                }
                process(time: time, voltages: UnsafeBufferPointer(state.voltages),
                        temperatures: UnsafeBufferPointer(state.temperatures), packVoltage: state.voltage, current: state.current)
            }
            writeDaily(daily, alarmDays, vehicleID, dailyFile)
            summary.badLines += counts.invalidLines
            summary.unreadableFiles += counts.unreadableFiles
        }
        summary.seconds = monotonicSeconds() - started
        if let dailyFile, let dailyOut { try finishOutput(dailyFile, dailyOut) }
        if let featureFile, let featuresOut { try finishOutput(featureFile, featuresOut) }
        print(json ? summary.json : summary.text)
        if summary.unreadableFiles > 0 || summary.outboxErrors > 0 { throw ExitCode(1) }
    }
}

/// Writes the daily table rows of one vehicle (the seed's columns; NaN where a measure was not mapped).
func writeDaily(_ daily: DailyMeasures, _ alarmDays: Set<Int>, _ vehicle: String, _ file: OutputBuffer?) {
    guard let file else { return }
    daily.close()
    for day in daily.heldDays {
        let values = daily.means(day: day) ?? []
        let date = CivilTime(epochNanoseconds: Int64(day) * 86_400_000_000_000).isoDate
        file.append("\(vehicle),\(date)" + values.map { $0.isNaN ? ",nan" : ",\($0)" }.joined()
            + (alarmDays.contains(day) ? ",1.0\n" : ",0.0\n"))
    }
}

/// What a replay saw.
struct ReplaySummary {
    var frames = 0, skipped = 0, snapshots = 0, incompleteSnapshots = 0, badLines = 0, unreadableFiles = 0, outboxErrors = 0
    var alarms: [String: Int] = [:]
    var seconds = 0.0

    var rate: Int { seconds > 0 ? Int(Double(frames) / seconds) : 0 }

    var text: String {
        "\(frames) frames (\(skipped) not in the DBC or too short), \(badLines) bad lines, \(snapshots) snapshots "
            + "(\(incompleteSnapshots) with stale cells), alarms: "
            + (alarms.isEmpty ? "none" : alarms.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            + ", \(rate) frames/s"
    }

    var json: String {
        let alarmList = alarms.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return "{\"frames\": \(frames), \"skipped\": \(skipped), \"bad_lines\": \(badLines), \"snapshots\": \(snapshots), "
            + "\"incomplete_snapshots\": \(incompleteSnapshots), \"alarms\": {\(alarmList)}, \"frames_per_second\": \(rate), "
            + "\"unreadable_files\": \(unreadableFiles)}"
    }
}

/// The replay's configuration, read from TOML with each mistake reported at its line.
struct ReplaySettings {
    let database: CompiledDatabase
    let mapping: PackMapping
    let vehicle: String?
    let staleAfter: Double
    let tick: Double
    let window: Int
    let rule: RuleAlarm

    init(path: String) throws {
        let root: TOMLTable
        do {
            guard let bytes = readFile(path) else { throw CommandError("\(path): cannot read the file") }
            root = try TOMLParser.parse(String(decoding: bytes, as: UTF8.self), path: path)
        } catch let error as TOMLError { throw CommandError(error.description) }
        func number(_ table: TOMLTable?, _ key: String, _ fallback: Double, section: String) throws -> Double {
            guard let value = table?[key] else { return fallback }
            guard let number = value.number else {
                throw CommandError("\(path):\(table?.line(of: key) ?? 0): \(section).\(key) must be a number")
            }
            return number
        }
        guard let dbc = root["dbc"]?.string else { throw CommandError("\(path):\(root.line(of: "dbc") ?? 1): dbc (the DBC file) is required") }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        do { database = try CompiledDatabase(path: dbc.hasPrefix("/") ? dbc : folder + dbc) } catch {
            throw CommandError(error.description)
        }
        guard let pack = root["pack"]?.table else { throw CommandError("\(path): a [pack] section is required (docs/mapping.md)") }
        do { mapping = try PackMapping(pack, path: path, database: database) } catch { throw CommandError(error.description) }
        vehicle = root["vehicle"]?.string
        let snapshot = root["snapshot"]?.table
        staleAfter = try number(snapshot, "stale_after_s", 5, section: "snapshot")
        tick = try number(snapshot, "tick_s", 2, section: "snapshot")
        window = Int(try number(root["features"]?.table, "window", 60, section: "features"))
        let spread = root["rules"]?.table?["cell_spread"]?.table
        let raise = try number(spread, "raise_above_v", 0.050, section: "rules.cell_spread")
        let clear = try number(spread, "clear_below_v", raise, section: "rules.cell_spread")
        guard clear <= raise else {
            throw CommandError("\(path):\(spread?.line(of: "clear_below_v") ?? 0): rules.cell_spread.clear_below_v must not be above raise_above_v")
        }
        rule = RuleAlarm(name: "cell_spread", raiseAbove: raise, clearBelow: clear,
                         minimumDuration: try number(spread, "minimum_duration_s", 10, section: "rules.cell_spread"),
                         severity: Int(try number(spread, "severity", 2, section: "rules.cell_spread")))
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func wallSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
