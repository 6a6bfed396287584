#if canImport(Glibc)
import Glibc
#endif

/// A raw SocketCAN socket (linux/can.h, declared here: Glibc does not export it): classic and FD
/// frames, kernel receive timestamps, kernel filters on the ids the mapping needs, error frames
/// counted. `init(descriptor:)` reads any descriptor carrying the kernel's frame structures, which is
/// how the read path is tested where the kernel has no AF_CAN.
public final class SocketCANReader {
    public static let addressFamily: Int32 = 29  // AF_CAN / PF_CAN
    static let rawProtocol: Int32 = 1  // CAN_RAW
    static let rawSocketOption: Int32 = 101  // SOL_CAN_RAW
    static let filterOption: Int32 = 1  // CAN_RAW_FILTER
    static let fdFramesOption: Int32 = 5  // CAN_RAW_FD_FRAMES
    static let extendedFlag: UInt32 = 0x8000_0000, remoteFlag: UInt32 = 0x4000_0000, errorFlag: UInt32 = 0x2000_0000
    /// struct can_frame and struct canfd_frame.
    public static let classicSize = 16, fdSize = 72

    public let descriptor: Int32
    public let interface: String
    public private(set) var errorFrames = 0
    public private(set) var framesRead = 0
    /// Whether the interface took CAN FD (CAN_RAW_FD_FRAMES).
    public private(set) var fdEnabled = false
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 72, alignment: 8)
    private let control = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
    private let owns: Bool

    /// Opens `interface` with kernel filters for `ids` (11- or 29-bit; empty: every frame).
    public init(interface: String, ids: [UInt32] = []) throws(LogError) {
        let fd = socket(Self.addressFamily, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Self.rawProtocol)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw LogError.cannotOpen(path: interface, reason: errno == EAFNOSUPPORT
                ? "SocketCAN is not available: this kernel has no AF_CAN (\(reason)); load the can and can_raw modules"
                : "cannot open a CAN socket: \(reason)")
        }
        descriptor = fd
        self.interface = interface
        owns = true
        var on: Int32 = 1
        fdEnabled = setsockopt(fd, Self.rawSocketOption, Self.fdFramesOption, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, socklen_t(MemoryLayout<Int32>.size))
        if !ids.isEmpty {
            // struct can_filter { can_id, can_mask }: an exact match on id and frame format.
            var filters = ids.flatMap { id -> [UInt32] in
                id > 0x7FF ? [id | Self.extendedFlag, 0x1FFF_FFFF | Self.extendedFlag | Self.remoteFlag]
                           : [id, 0x7FF | Self.extendedFlag | Self.remoteFlag]
            }
            setsockopt(fd, Self.rawSocketOption, Self.filterOption, &filters, socklen_t(filters.count * 4))
        }
        let index = if_nametoindex(interface)
        guard index != 0 else {
            close(fd)
            throw LogError.cannotOpen(path: interface, reason: "no such CAN interface")
        }
        // struct sockaddr_can: family, ifindex, then addressing we do not use.
        var address = [UInt8](repeating: 0, count: 24)
        address.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(Self.addressFamily), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: Int32(index), toByteOffset: 4, as: Int32.self)
        }
        let bound = address.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 24) }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LogError.cannotOpen(path: interface, reason: "cannot bind the CAN socket: \(reason)")
        }
    }

    /// Reads frames from a descriptor that already carries them (a socketpair in tests).
    public init(descriptor: Int32, interface: String = "test") {
        self.descriptor = descriptor
        self.interface = interface
        owns = false
    }

    deinit {
        buffer.deallocate()
        control.deallocate()
        if owns { close(descriptor) }
    }

    /// Reads one frame into `frame`: true when a data frame was read, false when nothing is waiting (a
    /// non-blocking descriptor) or the read was an error frame (counted). Throws when the interface went
    /// away (the caller reopens it). Stamped with the kernel's receive time, else the wall clock.
    public func read(into frame: inout CANFrame) throws(LogError) -> Bool {
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        var header = msghdr()
        let count = withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
            header.msg_iov = vectorPointer
            header.msg_iovlen = 1
            header.msg_control = control.baseAddress
            header.msg_controllen = control.count
            return recvmsg(descriptor, &header, Int32(MSG_DONTWAIT))
        }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return false }
            throw LogError.readFailed(path: interface, reason: String(cString: strerror(errno)))
        }
        guard count == Self.classicSize || count == Self.fdSize else {
            throw LogError.readFailed(path: interface, reason: "\(count) bytes is neither a CAN nor a CAN FD frame")
        }
        guard Self.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), into: &frame) else {
            errorFrames += 1
            return false
        }
        frame.timestamp = Self.timestamp(header)
        framesRead += 1
        return true
    }

    /// A kernel `can_frame` (16 bytes) or `canfd_frame` (72) into `frame` (timestamp untouched); false
    /// for an error frame. The structures are little-endian on every Linux CAN platform we target.
    public static func decode(_ bytes: UnsafeRawBufferPointer, into frame: inout CANFrame) -> Bool {
        precondition(bytes.count == classicSize || bytes.count == fdSize)
        let rawID = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        if rawID & errorFlag != 0 { return false }
        var flags: FrameFlags = []
        if rawID & extendedFlag != 0 { flags.insert(.extended) }
        if rawID & remoteFlag != 0 { flags.insert(.remote) }
        if bytes.count == fdSize {
            flags.insert(.fd)
            if bytes[5] & 0x01 != 0 { flags.insert(.bitRateSwitch) }
            if bytes[5] & 0x02 != 0 { flags.insert(.errorStateIndicator) }
        }
        let length = min(bytes[4], bytes.count == fdSize ? 64 : 8)
        frame.id = rawID & (flags.contains(.extended) ? 0x1FFF_FFFF : 0x7FF)
        frame.flags = flags
        frame.length = length
        frame.channel = 0
        frame.payload.withMutableBytes { payload in
            for index in 0..<Int(length) { payload[index] = bytes[8 + index] }
        }
        return true
    }

    /// The SO_TIMESTAMP control message's time in nanoseconds, else now.
    private static func timestamp(_ header: msghdr) -> Int64 {
        var message = header.msg_controllen >= MemoryLayout<cmsghdr>.size ? header.msg_control?.assumingMemoryBound(to: cmsghdr.self) : nil
        while let current = message {
            if current.pointee.cmsg_level == SOL_SOCKET, current.pointee.cmsg_type == SO_TIMESTAMP {
                let time = UnsafeRawPointer(current + 1).loadUnaligned(as: timeval.self)
                return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_usec) * 1_000
            }
            let next = UnsafeRawPointer(current) + ((Int(current.pointee.cmsg_len) + 7) & ~7)
            guard next < UnsafeRawPointer(header.msg_control!) + header.msg_controllen else { break }
            message = UnsafeMutableRawPointer(mutating: next).assumingMemoryBound(to: cmsghdr.self)
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
