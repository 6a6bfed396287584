import ArgumentParser
import CAN
import DBC
import JSON

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode signal values into frames with a DBC (the inverse of decode).",
        discussion: """
            Reads one JSON object per line on standard input: {"name": message (or "id" and "ext"), \
            "signals": {"<signal>": value, ...}, "t": seconds (optional)}. Values are physical unless \
            --raw (raw integers beyond 2^53 may be decimal strings, to stay exact), or a value-table \
            name as `decode --choices` prints it; the multiplexer \
            value picks which signals are needed. Writes one frame per line as a candump -L log (or ASC with --to asc).
            """
    )

    @Option(name: .long, help: "The DBC file.")
    var dbc: String

    @Flag(name: .long, help: "Values are raw integers, not physical.")
    var raw = false

    @Option(name: .long, help: "Output log format.")
    var to: EncodeFormat = .candump

    @Option(name: .long, help: "Interface name prefix for candump output.")
    var interface = "can"

    func run() throws {
        let database: CompiledDatabase
        do { database = try CompiledDatabase(path: dbc) } catch { throw CommandError(error.description) }
        let output = OutputBuffer(fd: 1)
        var asc = ASCWriter()
        var lineNumber = 0
        var failures = 0
        var wroteHeader = false
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " }) { continue }
            do {
                var frame = try encode(line, database)
                if frame.timestamp == 0 { frame.timestamp = Int64(lineNumber - 1) * 1_000_000 }
                if to == .asc {
                    if !wroteHeader { output.append(ASCWriter.header(epochNanoseconds: frame.timestamp)); wroteHeader = true }
                    output.append(asc.line(for: frame) + "\n")
                } else {
                    output.append(CandumpWriter.line(for: frame, interfacePrefix: interface) + "\n")
                }
            } catch {
                failures += 1
                StandardError.line("<stdin>:\(lineNumber): \(error)")
            }
        }
        if to == .asc { if !wroteHeader { output.append(ASCWriter.header(epochNanoseconds: 0)) }; output.append(ASCWriter.footer) }
        output.flush()
        if failures > 0 { throw ExitCode(1) }
    }

    /// The formats encode writes (the readers take more).
    enum EncodeFormat: String, CaseIterable, ExpressibleByArgument {
        case candump, asc
    }

    private func encode(_ line: String, _ database: CompiledDatabase) throws -> CANFrame {
        let request = try JSONParser.parse(line)
        let index: Int
        if let name = request["name"]?.string {
            guard let found = database.messageIndex(named: name) else { throw EncodeError.unknownMessage(name) }
            index = found
        } else if let id = request["id"]?.double, let exact = UInt32(exactly: id) {
            guard let found = database.messageIndex(id: exact, extended: request["ext"]?.bool ?? false) else {
                throw EncodeError.unknownMessage("with id \(exact)")
            }
            index = found
        } else {
            throw CommandError("field \"name\" (or \"id\") is missing")
        }
        guard let members = request["signals"]?.object else { throw CommandError("field \"signals\" is missing or not an object") }
        var bits: [String: UInt64] = [:]
        for (name, value) in members {
            if let number = value.double {
                bits[name] = try database.rawBits(number, message: index, signal: name, physical: !raw)
            } else if raw, let text = value.string, let exact = Int64(text).map({ UInt64(bitPattern: $0) }) ?? UInt64(text) {
                bits[name] = exact  // raw integers beyond 2^53 travel as decimal strings to stay exact
            } else if let choice = value.string {
                bits[name] = try database.rawBits(choice: choice, message: index, signal: name)
            } else {
                throw CommandError("signal \(name): value must be a number, a value-table name" + (raw ? " or a decimal string" : ""))
            }
        }
        var frame = try database.encode(message: index, rawBits: bits)
        if let seconds = request["t"]?.double { frame.timestamp = Int64((seconds * 1e6).rounded()) * 1000 }
        return frame
    }
}
