import Agent
import ArgumentParser
import CAN
import JSON

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Read CAN logs in any supported format and write them as candump -L, ASC or JSON lines."
    )

    @Argument(help: "Logs to read (format recognized from content; .gz works). Standard input when none.")
    var logs: [String] = []

    @Option(name: .long, help: "Force the input format.")
    var format: LogFormat?

    @Option(name: .long, parsing: .unconditional, help: "The zone of an ASC header's date (Vector writes the logger's clock without one): UTC, +02:00, -05:00.")
    var ascZone = "UTC"

    @Option(name: .long, help: "Output: candump, asc or jsonl.")
    var to: String = "candump"

    func validate() throws {
        guard ["candump", "asc", "jsonl"].contains(to) else { throw ValidationError("--to must be candump, asc or jsonl") }
    }

    func run() throws {
        let output = OutputBuffer(fd: 1)
        var asc = ASCWriter()
        var count = 0
        guard let zone = clockZoneSeconds(ascZone) else { throw ValidationError("--asc-zone: \"\(ascZone)\" is not UTC or an offset such as +02:00") }
        let counts = try forEachFrame(in: logs, format: format, ascZoneSeconds: zone) { frame in
            switch to {
            case "asc":
                if count == 0 { output.append(ASCWriter.header(epochNanoseconds: frame.timestamp)) }
                output.append(asc.line(for: frame) + "\n")
            case "jsonl":
                output.append(Self.json(frame) + "\n")
            default:
                output.append(CandumpWriter.line(for: frame) + "\n")
            }
            count += 1
        }
        if to == "asc" {
            if count == 0 { output.append(ASCWriter.header(epochNanoseconds: 0)) }
            output.append(ASCWriter.footer)
        }
        output.flush()
        StandardError.line("converted \(count) frames, \(counts.invalidLines) bad lines skipped"
            + (counts.unreadableFiles > 0 ? ", \(counts.unreadableFiles) files could not be read" : ""))
        if output.failure != 0 || counts.unreadableFiles > 0 { throw ExitCode(1) }
    }

    /// Every field of a frame, for tools and tests that compare readers.
    static func json(_ frame: CANFrame) -> String {
        let flags = frame.flags
        return "{\"t_ns\": \(frame.timestamp), \"id\": \(frame.id), \"ext\": \(flags.contains(.extended)), "
            + "\"fd\": \(flags.contains(.fd)), \"brs\": \(flags.contains(.bitRateSwitch)), "
            + "\"esi\": \(flags.contains(.errorStateIndicator)), \"rtr\": \(flags.contains(.remote)), "
            + "\"err\": \(flags.contains(.error)), \"tx\": \(flags.contains(.transmit)), "
            + "\"channel\": \(frame.channel), \"len\": \(frame.length), "
            + "\"data\": \"\(frame.bytes.map { hexString(UInt64($0), width: 2) }.joined())\"}"
    }
}
