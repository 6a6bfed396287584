import CAN
#if canImport(Glibc)
import Glibc
#endif

/// A real file under /tmp with the given text, removed by the caller.
func temporaryFile(_ text: String, suffix: String = ".log") -> String {
    var template = Array("/tmp/celldrift-test-XXXXXX\(suffix)".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, Int32(suffix.utf8.count)) }
    precondition(fd >= 0, "mkstemps failed")
    var text = text
    text.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Reads every frame of a log text, with the reports of bad lines.
func readAll(_ text: String, format: LogFormat? = nil, suffix: String = ".log") throws -> (frames: [CANFrame], reports: [String], format: LogFormat?) {
    let path = temporaryFile(text, suffix: suffix)
    defer { unlink(path) }
    let collector = ReportCollector()
    let reader = try LogReader(path: path, format: format, report: collector.add)
    var frames: [CANFrame] = []
    while let frame = try reader.next() { frames.append(frame) }
    return (frames, collector.lines.map { $0.replacingOccurrences(of: path, with: "FILE") }, reader.format)
}

final class ReportCollector {
    var lines: [String] = []
    func add(_ line: String) { lines.append(line) }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// The real captures and seed data as the product ships them (copied unchanged from ../shared/data), so
/// that a clone anywhere tests the same files.
let shippedData = "firmware-samples"
