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
