import Agent
import ArgumentParser
import CAN
import JSON

#if canImport(Glibc)
import Glibc
#endif

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Read CAN logs in any supported format and write them as candump -L, ASC, Vector BLF or JSON lines."
    )

    @Argument(help: "Logs to read (format recognized from content; .gz works). Standard input when none.")
    var logs: [String] = []

    @Option(name: .long, help: "Force the input format.")
    var format: LogFormat?

    @Option(name: [.customLong("asc-zone"), .customLong("log-zone")], parsing: .unconditional,
            help: "The zone of the logger's clock that dated the log (an ASC header, a BLF start, an MDF start marked local time; written without a zone): UTC, +02:00, -05:00.")
    var ascZone = "UTC"

    @Option(name: .long, help: "Output: candump, asc, blf or jsonl.")
    var to: String = "candump"

    @Option(name: [.short, .long], help: "Write to this file instead of standard output (BLF's header is completed only in a file).")
    var output: String?

    func validate() throws {
        guard ["candump", "asc", "blf", "jsonl"].contains(to) else { throw ValidationError("--to must be candump, asc, blf or jsonl") }
    }

    func run() throws {
        let output = try self.output.map(createOutput) ?? OutputBuffer(fd: 1)
        defer { if output.fd != 1 { close(output.fd) } }
        let blf = to == "blf" ? BLFWriter(fd: output.fd, path: self.output ?? "<stdout>") : nil
        var writeError: LogError?
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
            case "blf":
                do { if writeError == nil { try blf!.write(frame) } } catch let error as LogError { writeError = error } catch {}
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
        do { if writeError == nil { try blf?.finish() } } catch { writeError = error }
        if let writeError { StandardError.line("error: \(writeError)") }
        StandardError.line("converted \(count) frames, \(counts.invalidLines) bad lines skipped"
            + (counts.unreadableFiles > 0 ? ", \(counts.unreadableFiles) files could not be read" : ""))
        if output.failure != 0 || writeError != nil || counts.unreadableFiles > 0 { throw ExitCode(1) }
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
