/// One HTTP/1.1 request as the local API reads it: whole, still arriving, or refused with a status.
/// Only what the API needs: the request line, `Content-Length` and the body; no chunked bodies.
public enum HTTPRequest: Equatable {
    case incomplete
    case complete(method: String, path: String, body: [UInt8])
    case refused(status: Int, reason: String)

    /// Parses what has arrived so far; a request (head and body) longer than `maximumBytes` is refused.
    public static func parse(_ bytes: [UInt8], maximumBytes: Int) -> HTTPRequest {
        guard let headEnd = find([13, 10, 13, 10], in: bytes) else {
            return bytes.count > maximumBytes ? .refused(status: 413, reason: "request head over \(maximumBytes) bytes") : .incomplete
        }
        let lines = bytes[..<headEnd].split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        guard let requestLine = lines.first, requestLine.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            return .refused(status: 400, reason: "malformed request line")
        }
        let parts = requestLine.split(separator: 0x20)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)) else { return .refused(status: 400, reason: "malformed request line") }
        var length = 0
        var sawLength = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return .refused(status: 400, reason: "malformed header line") }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = line[(colon + 1)...].drop { $0 == 0x20 || $0 == 0x09 }
            if name == "transfer-encoding" { return .refused(status: 501, reason: "Transfer-Encoding is not supported; send Content-Length") }
            guard name == "content-length" else { continue }
            // Digits only: no sign, no spaces inside, no second differing value.
            let trimmed = value.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
            guard !trimmed.isEmpty, trimmed.count <= 9, trimmed.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return .refused(status: 400, reason: "Content-Length must be a number of bytes")
            }
            let parsed = trimmed.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard !sawLength || parsed == length else { return .refused(status: 400, reason: "two different Content-Length headers") }
            (length, sawLength) = (parsed, true)
        }
        let bodyStart = headEnd + 4
        guard length <= maximumBytes - min(bodyStart, maximumBytes) else {
            return .refused(status: 413, reason: "request over \(maximumBytes) bytes")
        }
        guard bytes.count >= bodyStart + length else { return .incomplete }
        return .complete(method: String(decoding: parts[0], as: UTF8.self), path: String(decoding: parts[1], as: UTF8.self),
                         body: Array(bytes[bodyStart..<(bodyStart + length)]))
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { start in (0..<needle.count).allSatisfy { bytes[start + $0] == needle[$0] } }
    }
}
