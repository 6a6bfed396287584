#if canImport(Glibc)
import Glibc
#endif

/// sd_notify without libsystemd: one datagram per state to the AF_UNIX socket named by $NOTIFY_SOCKET
/// (a leading `@` is the abstract namespace). Inert when the variable is unset (not under systemd).
public struct SystemdNotifier {
    private let path: [UInt8]?
    /// Half of $WATCHDOG_USEC, in seconds: how often `WATCHDOG=1` is due; nil without a watchdog.
    public let watchdogInterval: Double?

    public init() {
        path = getenv("NOTIFY_SOCKET").map { Array(String(cString: $0).utf8) }.flatMap { $0.isEmpty ? nil : $0 }
        watchdogInterval = getenv("WATCHDOG_USEC").flatMap { Double(String(cString: $0)) }.map { $0 / 2_000_000 }
    }

    public var isActive: Bool { path != nil }

    /// Sends `state` (e.g. "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."); false if it could not.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let path, path.count < 108 else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = index == 0 && byte == UInt8(ascii: "@") ? 0 : byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        var message = state
        return message.withUTF8 { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, length) == bytes.count
                }
            }
        }
    }
}
