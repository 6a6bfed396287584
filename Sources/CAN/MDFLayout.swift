/// Where one member of a CAN event structure sits in a record.
struct MDFField {
    var byteOffset = 0, bitOffset = 0, bitCount = 0, dataType: UInt8 = 0
    var present: Bool { bitCount > 0 }

    init() {}

    /// 1, 2, 4 or 8 for a little-endian unsigned member of whole bytes (read with one load); 0 otherwise.
    var wholeBytes = 0

    init(_ channel: MDFBlock) {
        dataType = channel.u8(2)
        bitOffset = Int(channel.u8(3))
        byteOffset = Int(channel.u32(4))
        bitCount = Int(channel.u32(8))
        if dataType == 0 || dataType == 2, bitOffset == 0, [8, 16, 32, 64].contains(bitCount) { wholeBytes = bitCount / 8 }
    }

    /// An unsigned integer member (or a "Tx"/"Rx" string: 1 for Tx) of up to 64 bits.
    @inline(__always)
    func value(_ record: UnsafeRawBufferPointer) -> UInt64 {
        switch wholeBytes {
        case 1: return UInt64(record[byteOffset])
        case 2: return UInt64(record.u16(byteOffset))
        case 4: return UInt64(record.u32(byteOffset))
        case 8: return record.u64(byteOffset)
        default: return slowValue(record)
        }
    }

    private func slowValue(_ record: UnsafeRawBufferPointer) -> UInt64 {
        guard present else { return 0 }
        if dataType >= 6 && dataType <= 9 { return byteOffset < record.count && record[byteOffset] == UInt8(ascii: "T") ? 1 : 0 }
        // Members are checked to lie within the record when the layout is read; what does not fit 8 bytes
        // is cut (CAN members are at most 32 bits wide).
        let bytes = min((bitOffset + bitCount + 7) / 8, 8, max(0, record.count - byteOffset))
        guard bytes > 0, bitOffset < 8 * bytes else { return 0 }
        var raw: UInt64 = 0
        if dataType == 1 || dataType == 3 {
            for index in 0..<bytes { raw = raw << 8 | UInt64(record[byteOffset + index]) }
            raw >>= UInt64(8 * bytes - bitOffset - min(bitCount, 8 * bytes - bitOffset))
        } else {
            for index in stride(from: bytes - 1, through: 0, by: -1) { raw = raw << 8 | UInt64(record[byteOffset + index]) }
            raw >>= UInt64(bitOffset)
        }
        return bitCount >= 64 ? raw : raw & ((1 << UInt64(bitCount)) - 1)
    }
}

/// How to read a CAN event channel group's records. Plain values only, so reading it per record needs no
/// reference counting.
struct MDFCANLayout {
    enum Kind { case data, remote, error }
    var kind = Kind.data
    var recordSize = 0
    var time = MDFField()
    /// Time in seconds = factor x raw + offset (float masters are taken as they are).
    var timeFactor = 1.0, timeOffset = 0.0
    var channel = MDFField(), id = MDFField(), ide = MDFField(), dlc = MDFField(), dataLength = MDFField()
    var dataBytes = MDFField(), dir = MDFField(), edl = MDFField(), brs = MDFField(), esi = MDFField()
    /// DataBytes stored out of the record (VLSD): the record holds an offset into signal data blocks, or
    /// into a VLSD channel group's records; this is the channel's link to them (0: in the record).
    var variableData = 0

    /// The layout of a channel group that logs CAN events; nil for any other group.
    init?(file: MDFFile, channelGroup: MDFBlock) throws(LogError) {
        var channel = channelGroup.link(1)
        var structure: MDFBlock?
        var seen = Set<Int>()
        while channel != 0 {
            guard seen.insert(channel).inserted else { throw file.corrupt(channel, "the channel chain loops back") }
            let block = try file.block(at: channel, ["##CN"])
            let name = try file.text(at: block.link(2))
            let type = block.u8(0)
            if type == 2 || type == 3 {
                guard type == 2 else { throw file.corrupt(channel, "a virtual time master (not read)") }
                time = MDFField(block)
                try readConversion(file, block.link(4))
            } else if block.link(1) != 0, let found = Self.kind(of: name) {
                kind = found
                structure = try file.block(at: block.link(1), ["##CN", "##CA"])
            }
            channel = block.link(0)
        }
        guard let structure, structure.tag == fourCC("##CN") else { return nil }
        guard time.present else { throw file.corrupt(channelGroup.offset, "CAN channel group without a time master") }
        var member: MDFBlock? = structure
        seen = []
        while let block = member {
            guard seen.insert(block.offset).inserted else { throw file.corrupt(block.offset, "the structure's members loop back") }
            let name = try file.text(at: block.link(2))
            let field = MDFField(block)
            switch name.split(separator: ".").last.map(String.init) ?? name {
            case "BusChannel": self.channel = field
            case "ID": id = field
            case "IDE": ide = field
            case "DLC": dlc = field
            case "DataLength": dataLength = field
            case "DataBytes":
                dataBytes = field
                if block.u8(0) == 1 {
                    guard block.link(5) != 0 else { throw file.corrupt(block.offset, "\(name) is variable-length data with no data link") }
                    variableData = block.link(5)
                }
            case "Dir": dir = field
            case "EDL": edl = field
            case "BRS": brs = field
            case "ESI": esi = field
            default: break
            }
            member = block.link(0) == 0 ? nil : try file.block(at: block.link(0), ["##CN"])
        }
        guard id.present else { throw file.corrupt(structure.offset, "CAN event structure without an ID member") }
        recordSize = Int(channelGroup.u32(24)) + Int(channelGroup.u32(28))
        guard recordSize <= 1 << 16 else { throw file.corrupt(channelGroup.offset, "CAN records of \(recordSize) bytes") }
        for field in [time, self.channel, id, ide, dlc, dataLength, dataBytes, dir, edl, brs, esi] where field.present {
            guard field.byteOffset + (field.bitOffset + field.bitCount + 7) / 8 <= recordSize else {
                throw file.corrupt(channelGroup.offset, "a CAN member lies past the record's \(recordSize) bytes")
            }
        }
    }

    private static func kind(of name: String) -> Kind? {
        if name.hasSuffix("CAN_DataFrame") { return .data }
        if name.hasSuffix("CAN_RemoteFrame") { return .remote }
        if name.hasSuffix("CAN_ErrorFrame") { return .error }
        return nil
    }

    private mutating func readConversion(_ file: MDFFile, _ link: Int) throws(LogError) {
        guard link != 0 else { return }
        let conversion = try file.block(at: link, ["##CC"])
        switch conversion.u8(0) {
        case 0: break
        case 1:
            timeOffset = conversion.f64(24)
            timeFactor = conversion.f64(32)
        default: throw file.corrupt(link, "time master with a conversion of type \(conversion.u8(0)) (only linear is read)")
        }
    }

    /// The frame a record holds, timed from `start` (nanoseconds since the epoch). For DataBytes stored
    /// out of the record, returns the offset of the bytes (and the length they are cut to); the caller
    /// fetches them.
    @inline(__always)
    func decode(_ record: UnsafeRawBufferPointer, start: Int64, into frame: inout CANFrame) -> (offset: UInt64, limit: Int)? {
        frame = CANFrame(id: 0)
        let seconds: Double
        switch (time.dataType, time.bitCount) {
        case (4, 64): seconds = record.f64(time.byteOffset)
        case (4, 32): seconds = Double(Float(bitPattern: record.u32(time.byteOffset)))
        default: seconds = Double(time.value(record)) * timeFactor + timeOffset
        }
        let nanoseconds = (seconds * 1e9).rounded()
        frame.timestamp = start &+ (nanoseconds.magnitude < 9e18 ? Int64(nanoseconds) : 0)
        let rawID = id.value(record)
        frame.id = UInt32(truncatingIfNeeded: rawID) & 0x1FFF_FFFF
        if ide.value(record) != 0 || rawID & 0x8000_0000 != 0 { frame.flags.insert(.extended) }
        frame.channel = UInt16(truncatingIfNeeded: channel.value(record))
        if dir.value(record) != 0 { frame.flags.insert(.transmit) }
        let fd = edl.value(record) != 0
        if fd {
            frame.flags.insert(.fd)
            if brs.value(record) != 0 { frame.flags.insert(.bitRateSwitch) }
            if esi.value(record) != 0 { frame.flags.insert(.errorStateIndicator) }
        }
        let code = Int(min(dlc.value(record), 255))
        switch kind {
        case .remote:
            frame.flags.insert(.remote)
            frame.length = UInt8(min(code, 15))
            return nil
        case .error:
            frame.flags.insert(.error)
        case .data:
            break
        }
        var length = dataLength.present ? Int(min(dataLength.value(record), 255))
            : (fd ? DataLengthCode.length(forDLC: min(code, 15)) ?? 0 : min(code, 8))
        if variableData != 0 { return (dataBytes.value(record), min(length, 64)) }
        length = min(length, 64, dataBytes.present ? dataBytes.bitCount / 8 : 0)
        if length > 0 {
            frame.payload.withMutableBytes { payload in
                payload.baseAddress!.copyMemory(from: record.baseAddress! + dataBytes.byteOffset, byteCount: length)
            }
        }
        frame.length = UInt8(length)
        return nil
    }
}
