#if canImport(Glibc)
import Glibc
#endif

/// sd_notify without libsystemd: one datagram per state to the AF_UNIX socket named by $NOTIFY_SOCKET
/// (a leading `@` is the abstract namespace). Inert when the variable is unset (not under systemd).
struct SystemdNotifier {
    private let path: [UInt8]?
    /// Half of $WATCHDOG_USEC, in seconds: how often `WATCHDOG=1` is due; nil without a watchdog.
    let watchdogInterval: Double?

    init() {
        path = getenv("NOTIFY_SOCKET").map { Array(String(cString: $0).utf8) }.flatMap { $0.isEmpty ? nil : $0 }
        watchdogInterval = getenv("WATCHDOG_USEC").flatMap { Double(String(cString: $0)) }.map { $0 / 2_000_000 }
    }

    var isActive: Bool { path != nil }

    /// Sends `state` (e.g. "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."); false if it could not.
    @discardableResult
    func notify(_ state: String) -> Bool {
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

/// The service manager's view of the gateway (Type=notify, WatchdogSec): ready once intake runs, broker
/// or not (alarms are kept in the outbox while it is away); watchdog pings only while the loop turns and
/// the outbox takes every record it is given; reloading and stopping announced.
final class SystemdService {
    private let notifier = SystemdNotifier()
    private let status: String
    private var ready = false
    private var lastWatchdog = -Double.infinity

    init(status: String) { self.status = status }

    /// Each turn of the loop.
    func turn(now: Double, healthy: Bool) {
        guard notifier.isActive else { return }
        if !ready { ready = notifier.notify("READY=1\nSTATUS=\(status)") }
        if let interval = notifier.watchdogInterval, now - lastWatchdog >= interval, healthy {
            notifier.notify("WATCHDOG=1")
            lastWatchdog = now
        }
    }

    func reloading() { notifier.notify("RELOADING=1") }
    func reloaded() { notifier.notify("READY=1") }
    func stopping() { notifier.notify("STOPPING=1") }
}
