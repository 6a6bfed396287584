import ArgumentParser
import DBC

struct DBCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbc",
        abstract: "Check a DBC file and summarize what celldrift reads from it.",
        discussion: "Exits non-zero with file:line:column and what was expected when the DBC cannot be used."
    )

    @Argument(help: "DBC files to check.")
    var files: [String]

    @Flag(name: .long, help: "List every message and signal.")
    var verbose = false

    func run() throws {
        var failed = false
        for path in files {
            do {
                let database = try DBCParser.parse(path: path)
                let signals = database.messages.reduce(0) { $0 + $1.signals.count }
                let multiplexed = database.messages.filter { $0.signals.contains(where: \.isMultiplexer) }.count
                let fd = database.messages.filter(\.isFD).count
                print("\(path): \(database.messages.count) messages, \(signals) signals, "
                    + "\(multiplexed) multiplexed messages, \(fd) CAN FD messages, \(database.warnings.count) warnings")
                for warning in database.warnings { StandardError.line("warning: \(warning)") }
                if verbose {
                    for message in database.messages {
                        let id = "0x" + String(message.id, radix: 16, uppercase: true) + (message.isExtended ? " (extended)" : "")
                        print("  \(id) \(message.name) [\(message.length)]" + (message.cycleTime.map { " every \($0) ms" } ?? ""))
                        for signal in message.signals { print("    " + Self.describe(signal)) }
                    }
                }
            } catch {
                StandardError.line("error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// One signal as the DBC has it: layout, scaling, range, unit, multiplexing and value table.
    static func describe(_ signal: Signal) -> String {
        let mux = signal.isMultiplexer ? " (multiplexer)" : ""
        let page = signal.multiplexerName.map { name in
            " when \(name) in " + signal.multiplexerValues.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ",")
        } ?? ""
        let choices = signal.choices.isEmpty ? ""
            : " {" + signal.choices.sorted { $0.key < $1.key }.map { "\($0.key) \"\($0.value)\"" }.joined(separator: ", ") + "}"
        return "\(signal.name) \(signal.startBit)|\(signal.length)@\(signal.byteOrder == .littleEndian ? 1 : 0)\(signal.isSigned ? "-" : "+") "
            + "(\(signal.factor),\(signal.offset)) [\(signal.minimum)|\(signal.maximum)] \"\(signal.unit)\"\(mux)\(page)\(choices)"
    }
}
