#if canImport(Glibc)
import Glibc
#endif
import CAN
import ArgumentParser

/// Diagnostics go to standard error, one line each, unbuffered so they interleave sanely.
enum StandardError {
    static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

extension LogFormat: ExpressibleByArgument {}

/// Opens each log in turn (standard input when none is given) and hands every frame to `body`.
/// Bad lines are reported once each on standard error. Returns the invalid-line count.
func forEachFrame(in logs: [String], format: LogFormat?, _ body: (inout CANFrame) -> Void) throws -> Int {
    var invalid = 0
    for path in logs.isEmpty ? ["-"] : logs {
        let reader = try LogReader(path: path, format: format, report: StandardError.line)
        try reader.forEach(body)
        invalid += reader.invalidLines
    }
    return invalid
}
