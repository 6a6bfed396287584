import Agent

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on loopback for the daemon's local API (`POST /inference`, `GET /healthz`,
/// `GET /metrics`), served from the gateway's loop without ever waiting on a client: connections are
/// non-blocking, read as bytes arrive, answered once whole and closed. Each is bounded in size and in
/// time for the whole request, and there are at most so many at once; past that the oldest gets 503 and
/// is closed. No keep-alive, no TLS: loopback only (the config refuses another address).
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

    private struct Connection {
        let descriptor: Int32
        var received: [UInt8]
        let deadline: Double
    }

    public let port: Int
    /// The listening socket: readable when a connection waits (for the caller's poll).
    public let listener: Int32
    public let limits: APISettings
    private var connections: [Connection] = []
    /// Connections closed with 503 to make room for a newer one, and requests that ran out of time.
    public private(set) var refusedConnections = 0
    public private(set) var timedOut = 0

    public init(_ settings: APISettings) throws(AgentError) {
        limits = settings
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AgentError("api: socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(settings.port).bigEndian)
        guard inet_pton(AF_INET, settings.host, &address.sin_addr) == 1 else {
            close(fd)
            throw AgentError("api: \(settings.host) is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // A deep accept queue: a burst of connections while the loop is busy must not drop a SYN (the
        // client would wait a second to retry).
        guard bound == 0, listen(fd, 1024) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw AgentError("api: cannot listen on \(settings.host):\(settings.port): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: actual.sin_port))
        listener = fd
        connections.reserveCapacity(settings.connections)
    }

    deinit {
        for connection in connections { close(connection.descriptor) }
        close(listener)
    }

    /// The listening socket and every open connection, appended for the caller's poll.
    public func appendDescriptors(to descriptors: inout [Int32]) {
        descriptors.append(listener)
        for connection in connections { descriptors.append(connection.descriptor) }
    }

    /// Accepts what waits, reads what has arrived, answers each request that is whole with
    /// `handler(method, path, body)`, and ends those past their deadline; returns how many were answered.
    @discardableResult
    public func serve(now: Double, _ handler: (_ method: String, _ path: String, _ body: [UInt8]) -> Response) -> Int {
        while case let client = accept(listener, nil, nil), client >= 0 {
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            if connections.count >= limits.connections {
                // The newest client is let in and the oldest let go (answered, if its request has come
                // whole meanwhile): idle connections cannot keep a health check out.
                var oldest = connections.removeFirst()
                if let response = step(&oldest, now: now, handler) {
                    respond(oldest.descriptor, response)
                } else if oldest.descriptor >= 0 {
                    refusedConnections += 1
                    respond(oldest.descriptor, Response(status: 503, body: "{\"error\": \"too many connections\"}"))
                }
            }
            connections.append(Connection(descriptor: client, received: [], deadline: now + limits.requestSeconds))
        }
        var answered = 0
        var index = 0
        while index < connections.count {
            if let response = step(&connections[index], now: now, handler) {
                respond(connections[index].descriptor, response)
                answered += 1
                connections.remove(at: index)
            } else if connections[index].descriptor < 0 {
                connections.remove(at: index)
            } else {
                index += 1
            }
        }
        return answered
    }

    /// The response once the request is whole, refused or out of time; nil while it is still arriving
    /// (or when the client went away: then the descriptor is closed and set to -1).
    private func step(_ connection: inout Connection, now: Double, _ handler: (String, String, [UInt8]) -> Response) -> Response? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while connection.received.count <= limits.requestBytes {
            let count = read(connection.descriptor, &chunk, chunk.count)
            if count > 0 { connection.received += chunk[0..<count]; continue }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                close(connection.descriptor)
                connection = Connection(descriptor: -1, received: [], deadline: 0)
                return nil
            }
            break
        }
        switch HTTPRequest.parse(connection.received, maximumBytes: limits.requestBytes) {
        case .complete(let method, let path, let body): return handler(method, path, body)
        case .refused(let status, let reason): return Response(status: status, body: "{\"error\": \"\(reason)\"}")
        case .incomplete:
            guard now >= connection.deadline else { return nil }
            timedOut += 1
            return Response(status: 408, body: "{\"error\": \"request not complete within \(limits.requestSeconds) s\"}")
        }
    }

    /// Writes the response (small: it fits the socket's buffer) and closes the connection.
    private func respond(_ client: Int32, _ response: Response) {
        let reasons = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
                       413: "Content Too Large", 501: "Not Implemented", 503: "Service Unavailable"]
        let text = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Error")\r\nContent-Type: \(response.contentType)\r\n"
            + "Content-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n" + response.body
        _ = text.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        close(client)
    }
}
