/// ASAM MDF4 bus logging (what fleet data loggers write to SD cards): channel groups of CAN_DataFrame,
/// CAN_RemoteFrame and CAN_ErrorFrame events, each a structure channel whose members (ID, IDE, DLC,
/// DataLength, DataBytes, BusChannel, Dir, EDL, BRS, ESI) sit at byte offsets of the record, with a
/// time master in seconds since the header's start. Data groups are read side by side and their frames
/// merged by time; an unsorted data group (several channel groups, records prefixed by their group's id)
/// is read in its own order. Other channel groups are skipped.
final class MDFReader {
    private let file: MDFFile
    private let streams: [MDFGroupStream]
    /// The one data group, when there is one (most loggers): read without the merge.
    private let only: MDFGroupStream?

    init(path: String, zoneSeconds: Int64) throws(LogError) {
        file = try MDFFile(path: path)
        guard file.size >= 64 else { throw LogError.corrupt(path: path, offset: file.size, reason: "MDF file shorter than its 64-byte identification") }
        let identification = ScratchBytes(64)
        try file.read(at: 0, count: 64, into: identification.bytes.baseAddress!)
        guard LogFormat.detect(magic: identification.raw.bindMemory(to: UInt8.self)) == .mf4 else {
            throw LogError.corrupt(path: path, offset: 0, reason: "not an MDF file (no MDF identification)")
        }
        let version = String(decoding: identification.raw[8..<12], as: UTF8.self)
        guard version.hasPrefix("4.") else {
            throw LogError.corrupt(path: path, offset: 8, reason: "MDF version \(version) (celldrift reads MDF 4 bus logging)")
        }
        let header = try file.block(at: 64, ["##HD"])
        // Nanoseconds since the epoch, UTC unless the local-time flag says the logger's clock wrote it.
        var start = Int64(truncatingIfNeeded: header.u64(0))
        if header.u8(12) & 0x1 != 0 { start -= zoneSeconds * 1_000_000_000 }
        var dataGroup = header.link(0)
        var seen = Set<Int>()
        var streams: [MDFGroupStream] = []
        while dataGroup != 0 {
            guard seen.insert(dataGroup).inserted else { throw file.corrupt(dataGroup, "the data group chain loops back") }
            let group = try file.block(at: dataGroup, ["##DG"])
            if let stream = try MDFGroupStream(file: file, dataGroup: group, start: start) { streams.append(stream) }
            dataGroup = group.link(0)
        }
        guard !streams.isEmpty else {
            throw LogError.corrupt(path: path, offset: 64, reason: "no CAN bus logging channel group (CAN_DataFrame, CAN_RemoteFrame, CAN_ErrorFrame) in this MDF file")
        }
        self.streams = streams
        only = streams.count == 1 ? streams[0] : nil
        for stream in streams { try stream.advance() }
    }

    /// Calls `body` with every frame: the data group taken out once, not per frame.
    func forEach(_ body: (inout CANFrame) throws -> Void) throws {
        guard let only else {
            var frame = CANFrame(id: 0)
            while try next(into: &frame) { try body(&frame) }
            return
        }
        while only.hasFrame {
            var frame = only.frame
            try only.advance()
            try body(&frame)
        }
    }

    /// The earliest pending frame among the data groups; false when all are done.
    func next(into frame: inout CANFrame) throws(LogError) -> Bool {
        if let only {
            guard only.hasFrame else { return false }
            frame = only.frame
            try only.advance()
            return true
        }
        var earliest = -1
        var time = Int64.max
        for index in streams.indices where streams[index].hasFrame && (earliest < 0 || streams[index].frame.timestamp < time) {
            earliest = index
            time = streams[index].frame.timestamp
        }
        guard earliest >= 0 else { return false }
        frame = streams[earliest].frame
        try streams[earliest].advance()
        return true
    }
}

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

/// One data group's records as frames, one at a time.
final class MDFGroupStream {
    private final class Group {
        let id: UInt64
        let offset: Int
        let layout: MDFCANLayout?
        /// Bytes of a record after its id; -1 for a VLSD channel group (a 4-byte length first).
        let size: Int
        /// Signal data of a VLSD DataBytes stored in SD blocks.
        let signalData: MDFDataStream?

        init(id: UInt64, offset: Int, layout: MDFCANLayout?, size: Int, signalData: MDFDataStream?) {
            (self.id, self.offset, self.layout, self.size, self.signalData) = (id, offset, layout, size, signalData)
        }
    }

    private let file: MDFFile
    private let data: MDFDataStream
    private let start: Int64
    private let recordIDSize: Int
    private let groups: [Group]
    /// A sorted data group's one layout (records back to back, no ids).
    private let sortedLayout: MDFCANLayout?
    private(set) var frame = CANFrame(id: 0)
    private(set) var hasFrame = false
    /// The last VLSD record (of a VLSD channel group, or read from signal data): its offset and bytes.
    private let variable = BlockBuffer()
    private var variableOffset: UInt64 = .max, variableLength = 0
    /// The running offset of the VLSD channel group's records.
    private var variableGroupOffset: UInt64 = 0

    /// Nil for a data group with no CAN event channel group.
    init?(file: MDFFile, dataGroup: MDFBlock, start: Int64) throws(LogError) {
        recordIDSize = Int(dataGroup.u8(0))
        guard [0, 1, 2, 4, 8].contains(recordIDSize) else { throw file.corrupt(dataGroup.offset, "record id size \(recordIDSize)") }
        var found: [Group] = []
        var channelGroup = dataGroup.link(1)
        var seen = Set<Int>()
        while channelGroup != 0 {
            guard seen.insert(channelGroup).inserted else { throw file.corrupt(channelGroup, "the channel group chain loops back") }
            let block = try file.block(at: channelGroup, ["##CG"])
            let isVariable = block.u16(16) & 0x1 != 0
            let layout = isVariable ? nil : try MDFCANLayout(file: file, channelGroup: block)
            var signalData: MDFDataStream?
            if let layout, layout.variableData != 0, try file.header(at: layout.variableData).tag != fourCC("##CG") {
                signalData = try MDFDataStream(file: file, data: layout.variableData)
            }
            found.append(Group(id: block.u64(0), offset: channelGroup, layout: layout,
                               size: isVariable ? -1 : Int(block.u32(24)) + Int(block.u32(28)), signalData: signalData))
            channelGroup = block.link(0)
        }
        guard found.contains(where: { $0.layout != nil }) else { return nil }
        guard recordIDSize > 0 || found.count == 1 else {
            throw file.corrupt(dataGroup.offset, "\(found.count) channel groups in a data group without record ids")
        }
        for group in found {
            guard let link = group.layout?.variableData, link != 0, group.signalData == nil else { continue }
            guard found.contains(where: { $0.offset == link && $0.size < 0 }) else {
                throw file.corrupt(group.offset, "DataBytes point at a channel group that is not a VLSD group of this data group")
            }
        }
        groups = found
        sortedLayout = recordIDSize == 0 ? found[0].layout : nil
        self.start = start
        self.file = file
        data = try MDFDataStream(file: file, data: dataGroup.link(2))
    }

    /// Reads on to the next CAN record of the group; `hasFrame` false at the end.
    func advance() throws(LogError) {
        hasFrame = false
        if let sortedLayout {
            guard let record = try data.next(sortedLayout.recordSize) else { return }
            if let wanted = sortedLayout.decode(record, start: start, into: &frame) { try fillVariable(wanted, group: groups[0]) }
            hasFrame = true
            return
        }
        while let group = try nextGroup() {
            if group.size < 0 {
                try readVariableRecord()
                continue
            }
            guard let layout = group.layout else { try data.skip(group.size); continue }
            guard let record = try data.next(group.size) else {
                throw file.corrupt(data.blockOffset, "the data ends inside a record")
            }
            if let wanted = layout.decode(record, start: start, into: &frame) { try fillVariable(wanted, group: group) }
            hasFrame = true
            return
        }
    }

    private func fillVariable(_ wanted: (offset: UInt64, limit: Int), group: Group) throws(LogError) {
        try fetchVariable(wanted.offset, group: group)
        let count = min(wanted.limit, variableLength)
        if count > 0 {
            frame.payload.withMutableBytes { $0.baseAddress!.copyMemory(from: variable.bytes.baseAddress!, byteCount: count) }
        }
        frame.length = UInt8(count)
    }

    /// The channel group of the next record; nil at the end of the data.
    private func nextGroup() throws(LogError) -> Group? {
        if recordIDSize == 0 {
            return try data.peekMore() ? groups[0] : nil
        }
        guard let prefix = try data.next(recordIDSize) else { return nil }
        var id: UInt64 = 0
        for index in stride(from: recordIDSize - 1, through: 0, by: -1) { id = id << 8 | UInt64(prefix[index]) }
        for group in groups where group.id == id { return group }
        throw file.corrupt(data.blockOffset, "a record of unknown channel group id \(id) in the data block")
    }

    /// A VLSD channel group's record: kept as the latest variable-length value.
    private func readVariableRecord() throws(LogError) {
        guard let prefix = try data.next(4) else { throw file.corrupt(data.blockOffset, "the data ends inside a record") }
        let length = Int(prefix.u32(0))
        variableOffset = variableGroupOffset
        variableGroupOffset += UInt64(4 + length)
        try keepVariable(length, from: data)
    }

    private func keepVariable(_ length: Int, from stream: MDFDataStream) throws(LogError) {
        guard length <= 1 << 24 else { throw file.corrupt(stream.blockOffset, "a variable-length value of \(length) bytes") }
        variable.reserve(length)
        if length > 0 {
            guard let bytes = try stream.next(length) else { throw file.corrupt(stream.blockOffset, "the data ends inside a variable-length value") }
            variable.bytes.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: length)
        }
        variableLength = length
    }

    /// Makes `variable` hold the VLSD value at `offset`: from the signal data (read on to it), or from the
    /// VLSD channel group's record written just before the frame's record or right after it.
    private func fetchVariable(_ offset: UInt64, group: Group) throws(LogError) {
        if offset == variableOffset { return }
        if let signal = group.signalData {
            guard offset >= UInt64(signal.consumed), offset < 1 << 48 else {
                throw file.corrupt(signal.blockOffset, "VLSD offset \(offset) goes back in the signal data, or past it")
            }
            try signal.skip(Int(offset) - signal.consumed)
            guard let prefix = try signal.next(4) else { throw file.corrupt(signal.blockOffset, "VLSD offset \(offset) past the signal data") }
            variableOffset = offset
            try keepVariable(Int(prefix.u32(0)), from: signal)
            return
        }
        let saved = frame
        if let next = try nextGroup(), next.size < 0 { try readVariableRecord() }
        frame = saved
        guard offset == variableOffset else {
            throw file.corrupt(data.blockOffset, "no VLSD record at offset \(offset) next to its frame's record")
        }
    }
}
