/// A SocketCAN interface that may go away and come back (a controller restarted after bus-off, a USB
/// adapter unplugged): when a read fails the socket is closed, and it is reopened every `retryInterval`
/// seconds until the interface is there again. Driven from the caller's loop with the current time;
/// nothing blocks and nothing runs in the background.
public final class SocketCANLink {
    public enum Change: Equatable, Sendable {
        /// The read failed (the reason names the interface); the socket is closed.
        case down(String)
        /// Reopened after being down.
        case up
    }

    public let interface: String
    public let retryInterval: Double
    public private(set) var reader: SocketCANReader?
    /// Reopen attempts since the link went down, failed ones included.
    public private(set) var attempts = 0
    private var nextAttempt = Double.infinity
    private let open: () throws(LogError) -> SocketCANReader

    /// Opens `interface` now: at start-up a missing interface or kernel support is the caller's error to report.
    public convenience init(interface: String, ids: [UInt32], retryInterval: Double = 2) throws(LogError) {
        try self.init(interface: interface, retryInterval: retryInterval) { () throws(LogError) in
            try SocketCANReader(interface: interface, ids: ids)
        }
    }

    /// Opens through `open`, now and at every retry (tests hand readers over socketpairs).
    public init(interface: String, retryInterval: Double, open: @escaping () throws(LogError) -> SocketCANReader) throws(LogError) {
        self.interface = interface
        self.retryInterval = retryInterval
        self.open = open
        reader = try open()
    }

    /// The socket to poll, while the link is up.
    public var descriptor: Int32? { reader?.descriptor }

    /// Reopens the socket when it is down and a retry is due, then hands every data frame waiting to
    /// `body`. Returns what changed, for the caller's log.
    public func read(now: Double, _ body: (inout CANFrame) -> Void) -> Change? {
        var change: Change?
        if reader == nil, now >= nextAttempt {
            attempts += 1
            reader = try? open()
            nextAttempt = reader == nil ? now + retryInterval : .infinity
            if reader != nil { change = .up }
        }
        guard let reader else { return change }
        var frame = CANFrame(id: 0)
        do {
            while try reader.read(into: &frame) { body(&frame) }
        } catch {
            self.reader = nil
            attempts = 0
            nextAttempt = now + retryInterval
            return .down(error.description)
        }
        return change
    }
}
