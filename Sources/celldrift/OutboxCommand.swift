import Agent
import ArgumentParser
import JSON
import Outbox

#if canImport(Glibc)
import Glibc
#endif

struct OutboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Inspect the SQLite outbox of alarms and inference events (also queryable with sqlite3: docs/outbox.md).",
        subcommands: [List.self, Stats.self, Export.self, Stress.self]
    )

    struct Options: ParsableArguments {
        @Option(help: "The outbox database.")
        var db = "celldrift-outbox.db"

        /// An outbox that exists: reading a misspelt path must not create an empty one and report nothing.
        func open() throws -> Outbox {
            try requireOutbox(db)
            do { return try Outbox(path: db) } catch { throw CommandError(error.description) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List records, oldest first.")
        @OptionGroup var options: Options
        @Option(help: "Only records in this state: pending, in_flight, acknowledged.")
        var state: String?
        @Option(help: "At most this many records.")
        var limit = 100

        func run() throws {
            let filter = try state.map { text -> OutboxRecord.State in
                guard let value = OutboxRecord.State(rawValue: text) else {
                    throw ValidationError("--state must be pending, in_flight or acknowledged")
                }
                return value
            }
            for record in try options.open().records(state: filter, limit: limit) {
                print("\(record.id)  \(record.state.rawValue)  \(record.type.rawValue)  \(record.vehicle)  \(record.kind)  "
                    + "severity \(record.severity)" + (record.cellLabel.map { "  \($0)" } ?? "")
                    + (record.transition.map { "  \($0)" } ?? ""))
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts by state, bytes, evictions.")
        @OptionGroup var options: Options
        @Flag(help: "As JSON.")
        var json = false

        func run() throws {
            let statistics = try options.open().statistics()
            if json {
                print("{\"pending\": \(statistics.pending), \"in_flight\": \(statistics.inFlight), "
                    + "\"acknowledged\": \(statistics.acknowledged), \"bytes\": \(statistics.bytes), "
                    + "\"evicted\": \(statistics.evicted), \"evicted_unacknowledged\": \(statistics.evictedUnacknowledged)}")
            } else {
                print("pending \(statistics.pending), in flight \(statistics.inFlight), acknowledged \(statistics.acknowledged), "
                    + "\(statistics.bytes) bytes; evicted \(statistics.evicted) (\(statistics.evictedUnacknowledged) unacknowledged)")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every record as JSON lines or CSV.",
            discussion: "With --type inference --format csv, the columns are the seed's inference event table: "
                + "request_id, vin, date, predicted_prob and the 84 inputs (total_voltage_14 … min_temperature_1).")
        @OptionGroup var options: Options
        @Option(help: "jsonl or csv.")
        var format = "jsonl"
        @Option(help: "Only records of this type: alarm or inference.")
        var type: String?

        func validate() throws {
            guard format == "jsonl" || format == "csv" else { throw ValidationError("--format must be jsonl or csv") }
            guard type == nil || OutboxRecord.RecordType(rawValue: type!) != nil else {
                throw ValidationError("--type must be alarm or inference")
            }
        }

        func run() throws {
            let records = try options.open().records().filter { type == nil || $0.type.rawValue == type }
            if format == "csv", type == "inference" {
                print(InferenceEvent.columns.joined(separator: ","))
                for record in records {
                    let payload = try? JSONParser.parse(Array(record.payload.utf8))
                    print(InferenceEvent.columns.map { column in
                        guard let value = payload?[column] else { return "" }
                        return value.string ?? value.double.map { "\($0)" } ?? ""
                    }.joined(separator: ","))
                }
                return
            }
            if format == "csv" { print("id,type,vehicle,kind,severity,cell,event_time,wall_time,score,state,payload") }
            for record in records {
                let cell = record.cell.map(String.init) ?? ""
                let score = record.score.map { "\($0)" } ?? ""
                if format == "csv" {
                    let payload = "\"" + record.payload.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
                    print("\(record.id),\(record.type.rawValue),\(record.vehicle),\(record.kind),\(record.severity),\(cell),"
                        + "\(record.eventTime),\(record.wallTime),\(score),\(record.state.rawValue),\(payload)")
                } else {
                    print(record.exportJSON)
                }
            }
        }
    }

    /// Commits alarms one transaction at a time and reports each id once it is committed: the child
    /// process of the crash-safety test, which kills it at random moments.
    struct Stress: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Commit test alarms and report each commit.",
                                                        shouldDisplay: false)
        @OptionGroup var options: Options
        @Option var count = 1_000_000
        @Option var maximumRecords = 1_000_000

        func run() throws {
            let outbox: Outbox
            do { outbox = try Outbox(path: options.db, limits: OutboxLimits(maximumRecords: maximumRecords)) } catch {
                throw CommandError(error.description)
            }
            for index in 0..<count {
                let record = OutboxRecord(type: .alarm, vehicle: "STRESS", kind: "cell_spread", severity: index % 4, cell: index % 96,
                                          eventTime: Double(index), wallTime: Double(index),
                                          payload: "{\"spread_v\": \(Double(index % 100) / 1000)}")
                try outbox.append([record])
                var line = "committed \(record.id)\n"
                line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
            }
        }
    }
}

/// Refuses a path with no outbox at it, for the commands that only read one.
func requireOutbox(_ path: String) throws {
    guard access(path, F_OK) == 0 else { throw CommandError("\(path): no such outbox (run, replay and predict --batch make one)") }
}
