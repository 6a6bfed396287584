/// Flags of one CAN frame. Stored in one byte so a frame stays a plain value. The flags are computed
/// constants rather than stored statics so that testing one inlines to a bit test (no global accessor).
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 29-bit identifier.
    @inlinable public static var extended: FrameFlags { FrameFlags(rawValue: 1 << 0) }
    /// CAN FD frame (payload up to 64 bytes).
    @inlinable public static var fd: FrameFlags { FrameFlags(rawValue: 1 << 1) }
    /// CAN FD bit rate switch.
    @inlinable public static var bitRateSwitch: FrameFlags { FrameFlags(rawValue: 1 << 2) }
    /// CAN FD error state indicator.
    @inlinable public static var errorStateIndicator: FrameFlags { FrameFlags(rawValue: 1 << 3) }
    /// Remote transmission request (classic CAN only).
    @inlinable public static var remote: FrameFlags { FrameFlags(rawValue: 1 << 4) }
    /// Error frame; the id carries the error class bits as in SocketCAN.
    @inlinable public static var error: FrameFlags { FrameFlags(rawValue: 1 << 5) }
    /// Transmitted by the logger rather than received.
    @inlinable public static var transmit: FrameFlags { FrameFlags(rawValue: 1 << 6) }
}

/// Up to 64 payload bytes stored inline, so creating or copying a frame never touches the heap.
/// Eight named words rather than a tuple: a concrete struct needs no runtime type metadata.
public struct FramePayload: Sendable, Equatable {
    @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    @usableFromInline var w4: UInt64 = 0, w5: UInt64 = 0, w6: UInt64 = 0, w7: UInt64 = 0

    @inlinable public init() {}

    public static let capacity = 64

    @inlinable public subscript(index: Int) -> UInt8 {
        get {
            precondition(index >= 0 && index < 64, "payload index out of range")
            return withUnsafeBytes(of: self) { $0[index] }
        }
        set {
            precondition(index >= 0 && index < 64, "payload index out of range")
            withUnsafeMutableBytes(of: &self) { $0[index] = newValue }
        }
    }

    /// Calls `body` with the 64 raw bytes (the unused tail is zero).
    @inlinable public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: self, body)
    }

    @inlinable public mutating func withMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutableBytes(of: &self, body)
    }
}

/// One CAN or CAN FD frame as read from a bus or a log.
public struct CANFrame: Sendable, Equatable {
    /// Nanoseconds; since the Unix epoch for live buses and absolute logs, since the log's start otherwise.
    public var timestamp: Int64
    /// The 11- or 29-bit identifier, without the extended flag.
    public var id: UInt32
    public var flags: FrameFlags
    /// Payload length in bytes (0...8 classic, one of the FD lengths up to 64). For a remote frame: the requested DLC.
    public var length: UInt8
    /// Bus channel as numbered by the source (candump's canN, ASC's channel column).
    public var channel: UInt16
    public var payload: FramePayload

    @inlinable
    public init(timestamp: Int64 = 0, id: UInt32, flags: FrameFlags = [], length: UInt8 = 0,
                channel: UInt16 = 0, payload: FramePayload = FramePayload()) {
        self.timestamp = timestamp
        self.id = id
        self.flags = flags
        self.length = length
        self.channel = channel
        self.payload = payload
    }

    public init(timestamp: Int64 = 0, id: UInt32, flags: FrameFlags = [], channel: UInt16 = 0, bytes: [UInt8]) {
        precondition(bytes.count <= FramePayload.capacity, "at most 64 payload bytes")
        var payload = FramePayload()
        for (index, byte) in bytes.enumerated() { payload[index] = byte }
        self.init(timestamp: timestamp, id: id, flags: flags, length: UInt8(bytes.count), channel: channel, payload: payload)
    }

    @inlinable public var isExtended: Bool { flags.contains(.extended) }
    @inlinable public var isFD: Bool { flags.contains(.fd) }
    @inlinable public var isRemote: Bool { flags.contains(.remote) }
    @inlinable public var isError: Bool { flags.contains(.error) }

    /// Payload bytes actually carried (a remote frame carries none).
    @inlinable public var dataLength: Int { isRemote ? 0 : Int(length) }

    /// Timestamp in seconds, for printing.
    @inlinable public var seconds: Double { Double(timestamp) / 1e9 }

    /// The payload as an array, for tests and tools off the hot path.
    public var bytes: [UInt8] { (0..<dataLength).map { payload[$0] } }

    public static func == (lhs: CANFrame, rhs: CANFrame) -> Bool {
        guard lhs.timestamp == rhs.timestamp, lhs.id == rhs.id, lhs.flags == rhs.flags,
              lhs.length == rhs.length, lhs.channel == rhs.channel else { return false }
        for index in 0..<lhs.dataLength where lhs.payload[index] != rhs.payload[index] { return false }
        return true
    }
}

/// CAN FD length codes: DLC 0...8 map to themselves, 9...15 to 12, 16, 20, 24, 32, 48, 64.
public enum DataLengthCode {
    public static let fdLengths: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]

    @inlinable public static func length(forDLC dlc: Int) -> Int? {
        switch dlc {
        case 0...8: return dlc
        case 9: return 12
        case 10: return 16
        case 11: return 20
        case 12: return 24
        case 13: return 32
        case 14: return 48
        case 15: return 64
        default: return nil
        }
    }

    @inlinable public static func dlc(forLength length: Int) -> Int? {
        switch length {
        case 0...8: return length
        case 12: return 9
        case 16: return 10
        case 20: return 11
        case 24: return 12
        case 32: return 13
        case 48: return 14
        case 64: return 15
        default: return nil
        }
    }

    /// Whether a payload of this length can be sent on CAN FD.
    @inlinable public static func isValidFDLength(_ length: Int) -> Bool { dlc(forLength: length) != nil }
}
