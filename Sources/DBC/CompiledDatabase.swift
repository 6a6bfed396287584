import CAN

/// Per-message facts for users of a compiled database.
public struct MessagePlan: Sendable {
    public let name: String
    public let id: UInt32
    public let isExtended: Bool
    public let length: Int
    public let signalCount: Int
}

/// A list of signals decoded together (a message's always-present signals, or one multiplexer page
/// with them). `start` indexes both `listMembers` (DBC order, what callers see) and `listGrouped` (the
/// same signals grouped by how they are extracted, so each group's loop has no per-signal branch):
/// Intel unsigned up to `intelUnsignedEnd`, Intel signed, Motorola unsigned, Motorola signed, then
/// signals wider than one 8-byte window.
struct SignalList: Sendable {
    let start: Int32
    let count: Int32
    let intelUnsignedEnd: Int32
    let intelSignedEnd: Int32
    let motorolaUnsignedEnd: Int32
    let motorolaSignedEnd: Int32
}

/// A signal's one-word extraction stored in the grouped list itself, in 8 bytes, so the extraction
/// loops read one short sequential stream instead of an index and then a 16-byte record elsewhere
/// (a DBC of a few thousand signals then stays within the first-level cache). Signals wider than one
/// word read their full `BitField` from `fields`.
struct GroupedField: Sendable {
    let signal: Int32
    let byteOffset: UInt8
    let leftShift: UInt8
    let rightShift: UInt8

    init(signal: Int, field: BitField) {
        self.signal = Int32(signal)
        byteOffset = UInt8(field.byteOffset)
        leftShift = field.leftShift
        rightShift = field.rightShift
    }
}

/// The hot-path view of a message: plain integers into the flat arrays, so reading it copies no references.
struct MessageLayout: Sendable {
    let length: Int32
    let firstSignal: Int32
    let signalCount: Int32
    /// All signals, every multiplexer before what it selects (the general path).
    let orderStart: Int32
    /// Index into `lists` of the always-present signals (multiplexer included); -1 when the message
    /// needs the general path (nested multiplexers, or pages too many to tabulate).
    let baseList: Int32
    /// Multiplexer whose raw value keys `pageKeys[pageStart..<pageStart+pageCount]`; each page's list
    /// (in `pageLists`) holds the base signals plus the page's own, so a frame touches only those.
    let pagedMultiplexer: Int32
    let pageStart: Int32
    let pageCount: Int32
    /// Multiplexer values below 1024 index `pageDirect[directStart + value]` instead (list, or -1).
    let directStart: Int32
    let directCount: Int32

    init(length: Int, firstSignal: Int, signalCount: Int, orderStart: Int, baseList: Int,
         pagedMultiplexer: Int, pageStart: Int, pageCount: Int, directStart: Int, directCount: Int) {
        self.length = Int32(length)
        self.firstSignal = Int32(firstSignal)
        self.signalCount = Int32(signalCount)
        self.orderStart = Int32(orderStart)
        self.baseList = Int32(baseList)
        self.pagedMultiplexer = Int32(pagedMultiplexer)
        self.pageStart = Int32(pageStart)
        self.pageCount = Int32(pageCount)
        self.directStart = Int32(directStart)
        self.directCount = Int32(directCount)
    }
}

/// How a raw value becomes physical, in the hot table.
struct Scale: Sendable {
    let factor: Double
    let offset: Double
    let numeric: SignalNumeric

    @inline(__always) func physical(_ raw: UInt64) -> Double { numeric.value(raw) * factor + offset }
}

/// Raw copies of the tables the per-frame path reads: no reference counting, no bounds checks.
/// Written once at start-up, read-only afterwards, owned and freed by `CompiledDatabase`.
struct HotTables: @unchecked Sendable {
    let fields: UnsafeMutableBufferPointer<BitField>
    let scales: UnsafeMutableBufferPointer<Scale>
    let layouts: UnsafeMutableBufferPointer<MessageLayout>
    let lists: UnsafeMutableBufferPointer<SignalList>
    let listMembers: UnsafeMutableBufferPointer<Int32>
    let listGrouped: UnsafeMutableBufferPointer<GroupedField>
    let pageKeys: UnsafeMutableBufferPointer<UInt64>
    let pageLists: UnsafeMutableBufferPointer<Int32>
    let pageDirect: UnsafeMutableBufferPointer<Int32>
    let standardLookup: UnsafeMutableBufferPointer<Int32>

    static func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return buffer
    }

    func deallocate() {
        fields.deallocate()
        scales.deallocate()
        layouts.deallocate()
        lists.deallocate()
        listMembers.deallocate()
        listGrouped.deallocate()
        pageKeys.deallocate()
        pageLists.deallocate()
        pageDirect.deallocate()
        standardLookup.deallocate()
    }
}

/// A DBC compiled once into flat decode plans. Immutable and shareable between threads; decoding
/// with it (through `FrameDecoder`) allocates nothing.
public final class CompiledDatabase: Sendable {
    public let database: Database
    let hot: HotTables
    public let messages: [MessagePlan]
    let layouts: [MessageLayout]
    let signals: [SignalPlan]
    let ranges: [ClosedRange<UInt64>]
    let orderMembers: [Int32]
    let standardLookup: [Int32]
    let extendedIDs: [UInt32]
    let extendedLookup: [Int32]
    /// The largest number of signals in one message: the size of a decoder's scratch space.
    public let maximumSignalCount: Int

    /// Pages of one multiplexer expanded from ranges beyond this many values use the general path.
    static let pageTableLimit = 4096

    public init(_ database: Database) {
        self.database = database
        var messages: [MessagePlan] = []
        var layouts: [MessageLayout] = []
        var signals: [SignalPlan] = []
        var ranges: [ClosedRange<UInt64>] = []
        var orderMembers: [Int32] = []
        var lists: [SignalList] = []
        var listMembers: [Int32] = []
        var listGrouped: [GroupedField] = []
        var pageKeys: [UInt64] = []
        var pageLists: [Int32] = []
        var pageDirect: [Int32] = []
        var standard = [Int32](repeating: -1, count: 2048)
        var extended: [(UInt32, Int32)] = []
        for (messageIndex, message) in database.messages.enumerated() {
            let first = signals.count
            let indexByName = Dictionary(message.signals.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            for (signalIndex, signal) in message.signals.enumerated() {
                let parent = signal.multiplexerName.flatMap { indexByName[$0] } ?? -1
                signals.append(SignalPlan(index: signalIndex, signal: signal, parent: parent, rangeStart: ranges.count))
                ranges.append(contentsOf: signal.multiplexerValues)
            }
            let orderStart = orderMembers.count
            orderMembers += Self.decodeOrder(message, indexByName).map { Int32($0) }
            var baseList = -1
            var paged = -1
            let pageStart = pageKeys.count
            let directStart = pageDirect.count
            if let table = Self.pageTable(message, indexByName) {
                let fields = signals[first...].map(\.bits)
                func addList(_ members: [Int]) -> Int {
                    let kinds = members.map { Self.extractionKind(fields[fields.startIndex + $0]) }
                    let grouped = members.indices.sorted { (kinds[$0], $0) < (kinds[$1], $1) }.map { members[$0] }
                    func end(_ kind: Int) -> Int32 { Int32(listMembers.count + kinds.filter { $0 <= kind }.count) }
                    lists.append(SignalList(start: Int32(listMembers.count), count: Int32(members.count),
                                            intelUnsignedEnd: end(0), intelSignedEnd: end(1),
                                            motorolaUnsignedEnd: end(2), motorolaSignedEnd: end(3)))
                    listMembers += members.map { Int32($0) }
                    listGrouped += grouped.map { GroupedField(signal: $0, field: fields[fields.startIndex + $0]) }
                    return lists.count - 1
                }
                paged = table.multiplexer
                baseList = addList(table.base)
                for (key, members) in table.pages {
                    pageKeys.append(key)
                    pageLists.append(Int32(addList((table.base + members).sorted())))
                }
                if let largest = table.pages.last?.0, largest < 1024 {
                    pageDirect += [Int32](repeating: -1, count: Int(largest) + 1)
                    for (offset, key) in pageKeys[pageStart...].enumerated() {
                        pageDirect[directStart + Int(key)] = pageLists[pageStart + offset]
                    }
                }
            }
            layouts.append(MessageLayout(length: message.length, firstSignal: first, signalCount: message.signals.count,
                                         orderStart: orderStart, baseList: baseList,
                                         pagedMultiplexer: paged, pageStart: pageStart, pageCount: pageKeys.count - pageStart,
                                         directStart: directStart, directCount: pageDirect.count - directStart))
            messages.append(MessagePlan(name: message.name, id: message.id, isExtended: message.isExtended,
                                        length: message.length, signalCount: message.signals.count))
            if message.isExtended { extended.append((message.id, Int32(messageIndex))) }
            else { standard[Int(message.id)] = Int32(messageIndex) }
        }
        extended.sort { $0.0 < $1.0 }
        self.messages = messages
        self.layouts = layouts
        self.signals = signals
        self.ranges = ranges
        self.orderMembers = orderMembers
        standardLookup = standard
        extendedIDs = extended.map(\.0)
        extendedLookup = extended.map(\.1)
        maximumSignalCount = messages.map(\.signalCount).max() ?? 0
        hot = HotTables(
            fields: HotTables.copy(signals.map(\.bits)),
            scales: HotTables.copy(signals.map { Scale(factor: $0.factor, offset: $0.offset, numeric: $0.numeric) }),
            layouts: HotTables.copy(layouts), lists: HotTables.copy(lists), listMembers: HotTables.copy(listMembers),
            listGrouped: HotTables.copy(listGrouped), pageKeys: HotTables.copy(pageKeys), pageLists: HotTables.copy(pageLists),
            pageDirect: HotTables.copy(pageDirect),
            standardLookup: HotTables.copy(standard))
    }

    deinit { hot.deallocate() }

    /// 0 Intel unsigned, 1 Intel signed, 2 Motorola unsigned, 3 Motorola signed, 4 wider than one word.
    static func extractionKind(_ field: BitField) -> Int {
        guard field.flags & BitField.oneWord != 0 else { return 4 }
        return (field.flags & BitField.bigEndian != 0 ? 2 : 0) + (field.flags & BitField.signed != 0 ? 1 : 0)
    }

    /// For a message with no multiplexer or exactly one, not itself multiplexed: the signals that are
    /// always decoded (multiplexer first) and, per raw multiplexer value, the signals it selects.
    private static func pageTable(_ message: Message, _ indexByName: [String: Int])
        -> (multiplexer: Int, base: [Int], pages: [(UInt64, [Int])])? {
        let multiplexers = message.signals.indices.filter { message.signals[$0].isMultiplexer }
        guard multiplexers.count <= 1 else { return nil }
        guard let multiplexer = multiplexers.first else { return (-1, Array(message.signals.indices), []) }
        guard message.signals[multiplexer].multiplexerName == nil else { return nil }
        var base: [Int] = []
        var pages: [UInt64: [Int]] = [:]
        var expanded = 0
        for (index, signal) in message.signals.enumerated() where index != multiplexer {
            guard signal.multiplexerName != nil else { base.append(index); continue }
            for range in signal.multiplexerValues {
                expanded += Int(min(range.upperBound - range.lowerBound, UInt64(pageTableLimit))) + 1
                guard expanded <= pageTableLimit else { return nil }
                for value in range { pages[value, default: []].append(index) }
            }
        }
        return (multiplexer, ([multiplexer] + base).sorted(), pages.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    public convenience init(path: String) throws(DBCError) {
        self.init(try DBCParser.parse(path: path))
    }

    private static func decodeOrder(_ message: Message, _ indexByName: [String: Int]) -> [Int] {
        func depth(_ index: Int) -> Int {
            var depth = 0
            var parent = message.signals[index].multiplexerName
            while let name = parent, let next = indexByName[name] {
                depth += 1
                parent = message.signals[next].multiplexerName
            }
            return depth
        }
        return message.signals.indices.sorted { (depth($0), $0) < (depth($1), $1) }
    }

    /// The message for an identifier, or nil when the DBC has none.
    @inline(__always)
    public func messageIndex(id: UInt32, extended: Bool) -> Int? {
        if !extended {
            guard id < 2048 else { return nil }
            let index = standardLookup[Int(id)]
            return index >= 0 ? Int(index) : nil
        }
        var low = 0
        var high = extendedIDs.count
        while low < high {
            let middle = (low + high) / 2
            if extendedIDs[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < extendedIDs.count && extendedIDs[low] == id ? Int(extendedLookup[low]) : nil
    }

    public func messageIndex(named name: String) -> Int? { messages.firstIndex { $0.name == name } }

    /// The plan of signal `signal` of message `message`.
    @inline(__always)
    public func plan(message: Int, signal: Int) -> SignalPlan { signals[Int(layouts[message].firstSignal) + signal] }

    /// Signal indices of a message in decode order (every multiplexer before what it selects).
    func decodeOrder(message: Int) -> ArraySlice<Int32> {
        let layout = layouts[message]
        return orderMembers[Int(layout.orderStart)..<Int(layout.orderStart + layout.signalCount)]
    }

    public func signal(message: Int, signal: Int) -> Signal { database.messages[message].signals[signal] }

    @inline(__always)
    func selects(_ plan: SignalPlan, _ multiplexerRaw: UInt64) -> Bool {
        for index in plan.rangeStart..<(plan.rangeStart + plan.rangeCount) where ranges[index].contains(multiplexerRaw) {
            return true
        }
        return false
    }
}
