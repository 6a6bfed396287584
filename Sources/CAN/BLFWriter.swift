#if canImport(Glibc)
import Glibc
#endif

/// Writes Vector BLF: objects (CAN_MESSAGE, CAN_FD_MESSAGE, CAN_ERROR_EXT, each with a one-nanosecond
/// timestamp from the measurement's start) in zlib log containers of 128 KiB, after a file header dated
/// from the first frame. The header's sizes and counts are filled in at the end when the output can seek
/// (a pipe keeps zeros there; readers, python-can's among them, do not need them).
public final class BLFWriter {
    private let fd: Int32
    private let path: String
    private var objects: [UInt8] = []
    private var start: Int64?
    private var last: Int64 = 0
    private var objectCount = 0
    private var fileSize = 0
    private var uncompressedSize = 0
    private static let containerSize = 128 * 1024
    private static let headerSize = 144

    /// Writes to `fd` (not closed here); `path` names it in errors.
    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        objects.reserveCapacity(Self.containerSize + 256)
    }

    public func write(_ frame: CANFrame) throws(LogError) {
        if start == nil {
            // Dated to the millisecond, as a SYSTEMTIME holds; times before 1990 stay relative (no date).
            let origin = frame.timestamp >= 631_152_000_000_000_000 ? frame.timestamp / 1_000_000 * 1_000_000 : 0
            start = origin
            try emit(header(first: origin, last: origin))
        }
        last = max(last, frame.timestamp)
        let relative = UInt64(max(0, frame.timestamp - start!))
        let channel = UInt16(truncatingIfNeeded: Int(frame.channel) + 1)
        let id = frame.id | (frame.isExtended ? 0x8000_0000 : 0)
        var body: [UInt8] = []
        let type: UInt32
        if frame.isError {
            type = 73
            body = le16(channel) + le16(0) + le32(0) + [0, 0, UInt8(min(frame.dataLength, 8)), 0] + le32(0) + le32(id) + le16(0) + [0, 0]
            body += payload(frame, count: 8)
        } else if frame.isFD {
            type = 100
            let fdFlags: UInt8 = 0x1 | (frame.flags.contains(.bitRateSwitch) ? 0x2 : 0) | (frame.flags.contains(.errorStateIndicator) ? 0x4 : 0)
            let dlc = UInt8(DataLengthCode.dlc(forLength: Int(frame.length)) ?? 15)
            body = le16(channel) + [direction(frame), dlc] + le32(id) + le32(0) + [0, fdFlags, UInt8(frame.dataLength), 0, 0, 0, 0, 0]
            body += payload(frame, count: 64)
        } else {
            type = 1
            let flags = direction(frame) | (frame.isRemote ? 0x80 : 0)
            body = le16(channel) + [flags, frame.length] + le32(id) + payload(frame, count: 8)
        }
        // Base header (signature, header size, version 1, object size, type), then flags (one-nanosecond
        // times), client index, object version, timestamp.
        objects += Array("LOBJ".utf8) + le16(32) + le16(1) + le32(UInt32(32 + body.count)) + le32(type)
        objects += le32(2) + le16(0) + le16(0) + le64(relative) + body
        objectCount += 1
        if objects.count >= Self.containerSize { try flush() }
    }

    /// Writes what is buffered and, where the output can seek, the header's final sizes and end time.
    public func finish() throws(LogError) {
        if start == nil {
            start = 0
            try emit(header(first: 0, last: 0))
        }
        try flush()
        if lseek(fd, 0, SEEK_SET) == 0 {
            let header = self.header(first: start!, last: start! == 0 ? 0 : last)
            guard pwrite(fd, header, header.count, 0) == header.count else {
                throw LogError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            _ = lseek(fd, 0, SEEK_END)
        }
    }

    private func flush() throws(LogError) {
        while !objects.isEmpty {
            let taken = Array(objects.prefix(Self.containerSize))
            objects.removeFirst(taken.count)
            let compressed = taken.withUnsafeBytes { BlockInflater.deflate($0) }
            let size = 32 + compressed.count
            var container = Array("LOBJ".utf8) + le16(16) + le16(1) + le32(UInt32(size)) + le32(10)
            container += le16(2) + [UInt8](repeating: 0, count: 6) + le32(UInt32(taken.count)) + [0, 0, 0, 0]
            container += compressed + [UInt8](repeating: 0, count: size % 4)
            uncompressedSize += 32 + taken.count
            try emit(container)
        }
    }

    private func header(first: Int64, last: Int64) -> [UInt8] {
        var header = Array("LOGG".utf8) + le32(UInt32(Self.headerSize)) + [5, 0, 0, 0, 2, 6, 8, 1]
        header += le64(UInt64(fileSize)) + le64(UInt64(uncompressedSize)) + le32(UInt32(truncatingIfNeeded: objectCount)) + le32(0)
        header += systemTime(first) + systemTime(last)
        return header + [UInt8](repeating: 0, count: Self.headerSize - header.count)
    }

    private func systemTime(_ nanoseconds: Int64) -> [UInt8] {
        guard nanoseconds > 0 else { return [UInt8](repeating: 0, count: 16) }
        let civil = CivilTime(epochNanoseconds: nanoseconds)
        return [civil.year, civil.month, civil.weekday, civil.day, civil.hour, civil.minute, civil.second, civil.millisecond]
            .flatMap { le16(UInt16($0)) }
    }

    private func emit(_ bytes: [UInt8]) throws(LogError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw LogError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
            done += count
        }
        fileSize += bytes.count
    }

    private func direction(_ frame: CANFrame) -> UInt8 { frame.flags.contains(.transmit) ? 0x01 : 0 }
    private func payload(_ frame: CANFrame, count: Int) -> [UInt8] { (0..<count).map { $0 < frame.dataLength ? frame.payload[$0] : 0 } }
    private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}
