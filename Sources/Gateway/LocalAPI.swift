import Agent

#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server on loopback for the daemon's local API (`POST /inference`, `GET /healthz`,
/// `GET /metrics`), served from the main loop: `serve()` accepts what is waiting, reads each request
/// (a 250 ms budget, 64 KB at most), answers and closes. No keep-alive, no TLS: loopback only.
public final class LocalAPI {
    public struct Response {
        public let status: Int
        public let contentType: String
        public let body: String
        public init(status: Int, contentType: String = "application/json", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    public let port: Int
    /// The listening socket: readable when a connection waits (for the caller's poll).
    public let listener: Int32

    public init(host: String, port: Int) throws(AgentError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AgentError("api: socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw AgentError("api: \(host) is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw AgentError("api: cannot listen on \(host):\(port): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        listener = fd
    }

    deinit { close(listener) }

    /// Answers every connection waiting now with `handler(method, path, body)`; returns how many.
    @discardableResult
    public func serve(_ handler: (_ method: String, _ path: String, _ body: [UInt8]) -> Response) -> Int {
        var served = 0
        while case let client = accept(listener, nil, nil), client >= 0 {
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            // Accepted sockets do not inherit O_NONBLOCK on Linux: reads below wait, within their timeout.
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
            answer(client, handler)
            close(client)
            served += 1
        }
        return served
    }

    private func answer(_ client: Int32, _ handler: (String, String, [UInt8]) -> Response) {
        var timeout = timeval(tv_sec: 0, tv_usec: 250_000)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        var headerEnd: Int?
        var expected = 0
        while request.count < 65_536 {
            let count = read(client, &chunk, chunk.count)
            if count <= 0 { break }
            request += chunk[0..<count]
            if headerEnd == nil, let end = Self.find([13, 10, 13, 10], in: request) {
                headerEnd = end + 4
                expected = Self.contentLength(request[0..<end])
            }
            if let headerEnd, request.count >= headerEnd + expected { break }
        }
        let response: Response
        if let headerEnd, request.count >= headerEnd + expected,
           let line = String(validating: request[0..<(Self.find([13, 10], in: request) ?? 0)], as: UTF8.self) {
            let parts = line.split(separator: " ")
            response = parts.count >= 2 ? handler(String(parts[0]), String(parts[1]), Array(request[headerEnd..<(headerEnd + expected)]))
                                        : Response(status: 400, body: "{\"error\": \"malformed request line\"}")
        } else {
            response = Response(status: 400, body: "{\"error\": \"incomplete or oversized request\"}")
        }
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Error"
        let text = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\n"
            + "Content-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n" + response.body
        _ = text.withCString { write(client, $0, strlen($0)) }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { start in (0..<needle.count).allSatisfy { bytes[start + $0] == needle[$0] } }
    }

    private static func contentLength(_ header: ArraySlice<UInt8>) -> Int {
        for line in String(decoding: header, as: UTF8.self).split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "content-length" {
                return min(Int(pair[1].filter { $0 != " " }) ?? 0, 60_000)
            }
        }
        return 0
    }
}
