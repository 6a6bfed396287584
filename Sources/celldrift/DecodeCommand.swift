import Agent
import ArgumentParser
import CAN
import DBC
import JSON

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode CAN logs with a DBC into one JSON object per frame.",
        discussion: """
            Each line: {"t": seconds, "id": id without the extended bit, "ext": bool, "name": message, \
            "signals": {...}} with only the signals the frame's multiplexer values select. Reads standard \
            input when no log is given. Unknown ids, short payloads and bad lines are skipped and counted \
            on standard error.
            """
    )

    @Option(name: .long, help: "The DBC file.")
    var dbc: String

    @Argument(help: "Logs to decode (format recognized from content; .gz works). Standard input when none.")
    var logs: [String] = []

    @Option(name: .long, help: "Force the log format: \(LogFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: LogFormat?

    @Option(name: [.customLong("asc-zone"), .customLong("log-zone")], parsing: .unconditional,
            help: "The zone of the logger's clock that dated the log (an ASC header, a BLF start, an MDF start marked local time; written without a zone): UTC, +02:00, -05:00.")
    var ascZone = "UTC"

    @Flag(name: .long, help: "Raw integer values instead of physical (raw * factor + offset).")
    var raw = false

    @Flag(name: .long, help: "Value-table names where the DBC has them.")
    var choices = false

    @Flag(name: .long, help: "Decode without printing; print only the counts.")
    var countOnly = false

    func validate() throws {
        if raw && choices { throw ValidationError("--raw and --choices exclude each other: names apply to physical values") }
    }

    func run() throws {
        let database: CompiledDatabase
        do { database = try CompiledDatabase(path: dbc) } catch { throw CommandError(error.description) }
        for warning in database.database.warnings { StandardError.line("warning: \(warning)") }
        let decoder = FrameDecoder(database)
        let writer = DecodedFrameWriter(database: database, mode: raw ? .raw : choices ? .choices : .physical)
        let output = OutputBuffer(fd: 1)
        var decoded = 0, unknown = 0, short = 0
        let printing = !countOnly  // a local: reading the option's wrapper per frame costs a metadata lookup
        guard let zone = clockZoneSeconds(ascZone) else { throw ValidationError("--asc-zone: \"\(ascZone)\" is not UTC or an offset such as +02:00") }
        let counts = try forEachFrame(in: logs, format: format, ascZoneSeconds: zone) { frame in
            switch withUnsafePointer(to: &frame, decoder.decode(at:)) {
            case .decoded:
                decoded += 1
                if printing { writer.write(frame, decoder, to: output) }
            case .unknownID: unknown += 1
            case .shortPayload: short += 1
            }
        }
        output.flush()
        StandardError.line("decoded \(decoded) frames; skipped \(unknown) with ids not in the DBC, "
            + "\(short) shorter than their message, \(counts.invalidLines) bad lines"
            + (counts.unreadableFiles > 0 ? "; \(counts.unreadableFiles) files could not be read" : ""))
        if output.failure != 0 || counts.unreadableFiles > 0 { throw ExitCode(1) }
    }
}
