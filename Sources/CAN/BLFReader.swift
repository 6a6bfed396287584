/// Vector Binary Logging Format (what CANoe, CANalyzer and Vector loggers write): a file header with the
/// measurement's start (SYSTEMTIME), then objects, most of them inside log containers (zlib or stored).
/// An object may run on from one container into the next. Read as a stream: one container's bytes and
/// its inflated objects in buffers grown to the largest container met, so steady state allocates nothing.
final class BLFReader {
    static let fileHeaderMinimum = 72
    private static let object = fourCC("LOBJ")

    private enum ObjectType {
        static let canMessage: UInt32 = 1, canError: UInt32 = 2, logContainer: UInt32 = 10
        static let canErrorExt: UInt32 = 73, canMessage2: UInt32 = 86, canFDMessage: UInt32 = 100, canFDMessage64: UInt32 = 101
    }

    private let path: String
    private let startNanoseconds: Int64
    private let container = BlockBuffer()
    private let objects = BlockBuffer()
    /// The inflated objects not yet handed out: `objects.bytes[position..<filled]`.
    private var position = 0, filled = 0
    /// File offset of the container the unread objects came from, for errors.
    private var containerOffset = 0
    /// Bytes of the file read so far.
    private var offset = 0
    private let inflater = BlockInflater()
    private let padding = ScratchBytes(4)

    /// Reads the file header from `lines` (positioned at the start of the file).
    init(path: String, lines: inout LineSource, zoneSeconds: Int64) throws(LogError) {
        self.path = path
        let header = ScratchBytes(Self.fileHeaderMinimum)
        let count = try lines.read(into: header.bytes)
        guard count == Self.fileHeaderMinimum else {
            throw LogError.corrupt(path: path, offset: count, reason: "BLF file header cut off (\(count) of \(Self.fileHeaderMinimum) bytes)")
        }
        guard header.raw.hasTag(fourCC("LOGG"), at: 0) else {
            throw LogError.corrupt(path: path, offset: 0, reason: "not a BLF file (no LOGG signature)")
        }
        let headerSize = Int(header.raw.u32(4)), start = Self.systemTime(header.raw, at: 40, zoneSeconds: zoneSeconds)
        guard headerSize >= Self.fileHeaderMinimum, headerSize <= 1 << 20 else {
            throw LogError.corrupt(path: path, offset: 4, reason: "BLF header size \(headerSize) is not plausible")
        }
        offset = Self.fileHeaderMinimum
        startNanoseconds = start
        try skip(headerSize - Self.fileHeaderMinimum, &lines)
    }

    /// A SYSTEMTIME (year, month, weekday, day, hour, minute, second, millisecond) as nanoseconds since the
    /// epoch, read in the zone `zoneSeconds` east of UTC; 0 (times stay relative) when it holds no date.
    static func systemTime(_ raw: UnsafeRawBufferPointer, at base: Int, zoneSeconds: Int64) -> Int64 {
        let field = { (index: Int) in Int(raw.u16(base + 2 * index)) }
        let (year, month, day, hour, minute, second, millisecond) = (field(0), field(1), field(3), field(4), field(5), field(6), field(7))
        guard (1970..<2100).contains(year), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
              second < 61, millisecond < 1000 else { return 0 }
        return civilEpochNanoseconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                                     nanoseconds: Int64(millisecond) * 1_000_000, zoneSeconds: zoneSeconds)
    }

    /// Fills `frame` with the next CAN object; false at the end of the file.
    func next(from lines: inout LineSource, into frame: inout CANFrame) throws(LogError) -> Bool {
        while true {
            if try nextObject(into: &frame) { return true }
            guard try readContainer(&lines) else {
                if filled > position {
                    throw LogError.corrupt(path: path, offset: offset, reason: "the file ends inside an object (\(filled - position) bytes of it)")
                }
                return false
            }
        }
    }

    /// Reads the next top-level object: a container's objects, or an object outside any container, are
    /// appended to the unread ones. False at the end of the file.
    private func readContainer(_ lines: inout LineSource) throws(LogError) -> Bool {
        let objectOffset = offset
        container.reserve(16)
        let got = try read(16, into: 0, &lines)
        if got == 0 { return false }
        let header = UnsafeRawBufferPointer(container.bytes)
        guard got == 16 else { throw LogError.corrupt(path: path, offset: objectOffset, reason: "the file ends inside an object header") }
        guard header.hasTag(Self.object, at: 0) else {
            throw LogError.corrupt(path: path, offset: objectOffset, reason: "no object signature (LOBJ) where an object should start")
        }
        let size = Int(header.u32(8)), type = header.u32(12)
        guard size >= 16, size <= 1 << 30 else {
            throw LogError.corrupt(path: path, offset: objectOffset, reason: "object size \(size) is not plausible")
        }
        container.reserve(size, keeping: 16)
        let body = try read(size - 16, into: 16, &lines)
        guard body == size - 16 else {
            throw LogError.corrupt(path: path, offset: offset, reason: "the file ends inside an object (\(16 + body) of \(size) bytes)")
        }
        try skipPadding(size % 4, &lines)
        let raw = UnsafeRawBufferPointer(container.bytes)
        compactObjects()
        containerOffset = objectOffset
        guard type == ObjectType.logContainer else {
            // An object outside any container (early BLF versions): taken as it stands.
            appendObjects(UnsafeRawBufferPointer(rebasing: raw[0..<size]))
            return true
        }
        guard size >= 32 else { throw LogError.corrupt(path: path, offset: objectOffset, reason: "log container shorter than its header") }
        let method = raw.u16(16), inflated = Int(raw.u32(24))
        let data = UnsafeRawBufferPointer(rebasing: raw[32..<size])
        switch method {
        case 0:
            appendObjects(data)
        case 2:
            guard inflated <= 1 << 28 else { throw LogError.corrupt(path: path, offset: objectOffset, reason: "container declares \(inflated) bytes") }
            objects.reserve(filled + inflated, keeping: filled)
            let target = UnsafeMutableRawBufferPointer(rebasing: objects.bytes[filled..<(filled + inflated)])
            switch inflater.inflate(data, into: target) {
            case .success(let count): filled += count
            case .failure(let failure):
                throw LogError.corrupt(path: path, offset: objectOffset, reason: "log container: \(failure.reason)")
            }
        default:
            throw LogError.corrupt(path: path, offset: objectOffset, reason: "log container compressed with unknown method \(method)")
        }
        return true
    }

    private func compactObjects() {
        let pending = filled - position
        if pending > 0, position > 0 {
            objects.bytes.baseAddress!.copyMemory(from: objects.bytes.baseAddress! + position, byteCount: pending)
        }
        position = 0
        filled = pending
    }

    private func appendObjects(_ data: UnsafeRawBufferPointer) {
        objects.reserve(filled + data.count, keeping: filled)
        if data.count > 0 { (objects.bytes.baseAddress! + filled).copyMemory(from: data.baseAddress!, byteCount: data.count) }
        filled += data.count
    }

    /// Reads `count` bytes into the container buffer at `at`; the number read (short at the end of the file).
    private func read(_ count: Int, into at: Int, _ lines: inout LineSource) throws(LogError) -> Int {
        guard count > 0 else { return 0 }
        let got = try lines.read(into: UnsafeMutableRawBufferPointer(rebasing: container.bytes[at..<(at + count)]))
        offset += got
        return got
    }

    private func skip(_ count: Int, _ lines: inout LineSource) throws(LogError) {
        var left = count
        while left > 0 {
            let got = try read(min(left, container.bytes.count), into: 0, &lines)
            if got == 0 { throw LogError.corrupt(path: path, offset: offset, reason: "the file ends inside the header") }
            left -= got
        }
    }

    /// The 0-3 bytes after a top-level object (the last object's may be missing), read past the buffer
    /// that holds the object.
    private func skipPadding(_ count: Int, _ lines: inout LineSource) throws(LogError) {
        guard count > 0 else { return }
        offset += try lines.read(into: UnsafeMutableRawBufferPointer(rebasing: padding.bytes[0..<count]))
    }

    /// Decodes the next CAN object among the unread ones; false when they hold no whole object more.
    private func nextObject(into frame: inout CANFrame) throws(LogError) -> Bool {
        let raw = UnsafeRawBufferPointer(objects.bytes)
        while filled - position >= 16 {
            // Objects are padded to four bytes, though writers disagree on the amount: the signature is
            // looked for in the next eight bytes, as python-can does.
            var start = position
            while start < position + 8, start + 4 <= filled, !raw.hasTag(Self.object, at: start) { start += 1 }
            guard raw.hasTag(Self.object, at: start) else {
                if start + 4 > filled { return false }
                throw LogError.corrupt(path: path, offset: containerOffset, reason: "no object signature (LOBJ) inside the log container")
            }
            position = start
            guard filled - start >= 16 else { return false }
            let headerSize = Int(raw.u16(start + 4)), version = raw.u16(start + 6)
            let size = Int(raw.u32(start + 8)), type = raw.u32(start + 12)
            guard headerSize >= 16, size >= headerSize, size <= 1 << 30 else {
                throw LogError.corrupt(path: path, offset: containerOffset, reason: "object of size \(size) with a header of \(headerSize) bytes in the log container")
            }
            guard start + size <= filled else { return false }
            position = start + size
            guard version == 1 || version == 2, headerSize >= 32 else { continue }
            let flags = raw.u32(start + 16), stamp = raw.u64(start + 24)
            let ticks = Int64(truncatingIfNeeded: min(stamp, UInt64(Int64.max / 10_000)))
            let time = startNanoseconds &+ (flags & 0x2 == 0 && flags & 0x1 != 0 ? ticks &* 10_000 : ticks)
            let body = UnsafeRawBufferPointer(rebasing: raw[(start + headerSize)..<(start + size)])
            if decode(type, body, objectSize: size, headerSize: headerSize, into: &frame) {
                frame.timestamp = time
                return true
            }
        }
        return false
    }

    /// One CAN object's body as a frame; false for objects that carry none (or are too short for their type).
    private func decode(_ type: UInt32, _ body: UnsafeRawBufferPointer, objectSize: Int, headerSize: Int, into frame: inout CANFrame) -> Bool {
        frame = CANFrame(id: 0)
        switch type {
        case ObjectType.canMessage, ObjectType.canMessage2:
            guard body.count >= 16 else { return false }
            let flags = body.u8(2), dlc = Int(body.u8(3))
            setChannelAndID(UInt32(body.u16(0)), body.u32(4), &frame)
            if flags & 0x01 != 0 { frame.flags.insert(.transmit) }
            if flags & 0x80 != 0 {
                frame.flags.insert(.remote)
                frame.length = UInt8(min(dlc, 15))
            } else {
                copy(body, from: 8, count: min(dlc, 8), into: &frame)
            }
        case ObjectType.canFDMessage:
            guard body.count >= 20 else { return false }
            let flags = body.u8(2), fdFlags = body.u8(13), valid = min(Int(body.u8(14)), 64, body.count - 20)
            setChannelAndID(UInt32(body.u16(0)), body.u32(4), &frame)
            if flags & 0x01 != 0 { frame.flags.insert(.transmit) }
            setFDFlags(edl: fdFlags & 0x1 != 0, brs: fdFlags & 0x2 != 0, esi: fdFlags & 0x4 != 0, &frame)
            if flags & 0x80 != 0 {
                frame.flags.insert(.remote)
                frame.length = UInt8(min(Int(body.u8(3)), 15))
            } else {
                copy(body, from: 20, count: valid, into: &frame)
            }
        case ObjectType.canFDMessage64:
            guard body.count >= 40 else { return false }
            let fdFlags = body.u32(12), valid = min(Int(body.u8(2)), 64)
            setChannelAndID(UInt32(body.u8(0)), body.u32(4), &frame)
            if body.u8(34) != 0 { frame.flags.insert(.transmit) }
            setFDFlags(edl: fdFlags & 0x1000 != 0, brs: fdFlags & 0x2000 != 0, esi: fdFlags & 0x4000 != 0, &frame)
            if fdFlags & 0x10 != 0 {
                frame.flags.insert(.remote)
                frame.length = UInt8(min(Int(body.u8(1)), 15))
            } else {
                // The data ends where extended data begins (an offset from the object's start), if any.
                let extended = Int(body.u8(35))
                let available = max(0, min((extended > 0 ? extended : objectSize) - headerSize, body.count) - 40)
                copy(body, from: 40, count: min(valid, available), into: &frame)
                frame.length = UInt8(valid)  // what is missing reads as zero, as CANoe shows it
            }
        case ObjectType.canErrorExt:
            guard body.count >= 32 else { return false }
            setChannelAndID(UInt32(body.u16(0)), body.u32(16), &frame)
            frame.flags.insert(.error)
            copy(body, from: 24, count: min(Int(body.u8(10)), 8), into: &frame)
        case ObjectType.canError:
            guard body.count >= 4 else { return false }
            setChannelAndID(UInt32(body.u16(0)), 0, &frame)
            frame.flags.insert(.error)
        default:
            return false
        }
        return true
    }

    @inline(__always)
    private func setChannelAndID(_ channel: UInt32, _ id: UInt32, _ frame: inout CANFrame) {
        // BLF numbers channels from 1; celldrift, like python-can, from 0.
        frame.channel = UInt16(truncatingIfNeeded: channel > 0 ? channel - 1 : 0)
        frame.id = id & 0x1FFF_FFFF
        if id & 0x8000_0000 != 0 { frame.flags.insert(.extended) }
    }

    @inline(__always)
    private func setFDFlags(edl: Bool, brs: Bool, esi: Bool, _ frame: inout CANFrame) {
        guard edl else { return }
        frame.flags.insert(.fd)
        if brs { frame.flags.insert(.bitRateSwitch) }
        if esi { frame.flags.insert(.errorStateIndicator) }
    }

    @inline(__always)
    private func copy(_ body: UnsafeRawBufferPointer, from start: Int, count: Int, into frame: inout CANFrame) {
        let count = max(0, min(count, body.count - start, 64))
        frame.payload.withMutableBytes { payload in
            if count > 0 { payload.baseAddress!.copyMemory(from: body.baseAddress! + start, byteCount: count) }
        }
        frame.length = UInt8(count)
    }
}
