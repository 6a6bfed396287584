#if canImport(Glibc)
import Glibc
#endif
import CAN
import JSON
import ArgumentParser

/// Diagnostics go to standard error, one line each, unbuffered so they interleave sanely.
enum StandardError {
    static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// Without a line break: the progress bar redraws its line.
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension LogFormat: ExpressibleByArgument {}

/// What reading the logs met besides frames.
struct ReadCounts {
    var invalidLines = 0
    var unreadableFiles = 0
}

/// Opens each log in turn (standard input when none is given) and hands every frame to `body`.
/// Bad lines are reported once each on standard error; a file that cannot be read at all is
/// reported and skipped, and the caller fails after printing its summary.
func forEachFrame(in logs: [String], format: LogFormat?, ascZoneSeconds: Int64 = 0, _ body: (inout CANFrame) -> Void) throws -> ReadCounts {
    var counts = ReadCounts()
    for path in logs.isEmpty ? ["-"] : logs {
        do {
            let reader = try LogReader(path: path, format: format, ascZoneSeconds: ascZoneSeconds, report: StandardError.line)
            try reader.forEach(body)
            counts.invalidLines += reader.invalidLines
        } catch let error as LogError {
            StandardError.line("error: \(error)")
            counts.unreadableFiles += 1
        }
    }
    return counts
}

/// A failure while running (a file that cannot be opened, a DBC with an error): printed as
/// `Error: <what>` without the usage text that argument mistakes get.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Creates (or truncates) an output file, buffered.
func createOutput(_ path: String) throws -> OutputBuffer {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CommandError("\(path): cannot create: \(String(cString: strerror(errno)))") }
    return OutputBuffer(fd: fd)
}

/// Writes out what is buffered; a failed write (a full disk) is an error naming the file.
func finishOutput(_ buffer: OutputBuffer, _ path: String) throws {
    buffer.flush()
    if buffer.failure != 0 { throw CommandError("\(path): write failed: \(String(cString: strerror(buffer.failure)))") }
}
