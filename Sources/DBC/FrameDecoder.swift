import CAN

/// Decodes frames with a compiled DBC into scratch space sized at creation, so decoding a
/// frame allocates nothing. One decoder per thread; the compiled database is shared.
public final class FrameDecoder {
    public enum Outcome: Equatable {
        /// Decoded; the value is the message index.
        case decoded(Int)
        case unknownID
        /// The payload is shorter than the DBC's message length.
        case shortPayload(Int)
    }

    public let database: CompiledDatabase
    private let hot: HotTables
    private let raw: UnsafeMutablePointer<UInt64>
    /// Present signals of multiplexer-free and single-multiplexer messages are the compiled member
    /// list itself; only the general path writes its own list here.
    private let present: UnsafeMutablePointer<Int32>
    /// Counters live behind a pointer: writing a class's stored property costs a runtime exclusivity check.
    private let state: UnsafeMutablePointer<State>
    private let capacity: Int
    private let payloadOffset = MemoryLayout<CANFrame>.offset(of: \CANFrame.payload)!

    private struct State {
        var presentList: UnsafePointer<Int32>?
        var presentCount = 0
        var messageIndex = -1
        var firstSignal = 0
    }

    /// Number of signals the last frame's multiplexer values selected.
    public var presentCount: Int { state.pointee.presentCount }
    /// The message of the last successful decode.
    public var messageIndex: Int { state.pointee.messageIndex }

    public init(_ database: CompiledDatabase) {
        self.database = database
        hot = database.hot
        capacity = max(database.maximumSignalCount, 1)
        raw = .allocate(capacity: capacity)
        raw.initialize(repeating: 0, count: capacity)
        present = .allocate(capacity: capacity)
        present.initialize(repeating: 0, count: capacity)
        state = .allocate(capacity: 1)
        state.initialize(to: State())
    }

    deinit {
        raw.deallocate()
        present.deallocate()
        state.deallocate()
    }

    public func decode(_ frame: borrowing CANFrame) -> Outcome {
        withUnsafePointer(to: frame) { decode(at: $0) }
    }

    /// Decodes a frame where it lies. A borrowed frame has no stable address, so reading it through a
    /// pointer first copies its 80 bytes; callers holding frames in a buffer or a variable pass it here.
    public func decode(at frame: UnsafePointer<CANFrame>) -> Outcome {
        let flags = frame.pointee.flags
        guard !flags.contains(.error), !flags.contains(.remote) else { return .unknownID }
        let id = frame.pointee.id
        let index: Int
        if flags.contains(.extended) {
            guard let found = database.messageIndex(id: id, extended: true) else { return .unknownID }
            index = found
        } else {
            guard id < 2048, hot.standardLookup[Int(id)] >= 0 else { return .unknownID }
            index = Int(hot.standardLookup[Int(id)])
        }
        // Fields read through the pointer: a copy of the 40-byte layout would go through the stack.
        let layout = UnsafePointer(hot.layouts.baseAddress! + index)
        guard Int(frame.pointee.length) >= Int(layout.pointee.length) else { return .shortPayload(index) }
        let bytes = UnsafeRawPointer(frame) + payloadOffset
        let (list, count) = layout.pointee.baseList >= 0
            ? decodeTabulated(layout, bytes) : decodeGeneral(index, layout.pointee, bytes)
        state.pointee = State(presentList: list, presentCount: count, messageIndex: index, firstSignal: Int(layout.pointee.firstSignal))
        return .decoded(index)
    }

    /// The base list, or the list of the page the multiplexer's raw value selects.
    @inline(__always)
    private func decodeTabulated(_ layout: UnsafePointer<MessageLayout>, _ bytes: UnsafeRawPointer) -> (UnsafePointer<Int32>, Int) {
        let fields = hot.fields.baseAddress! + Int(layout.pointee.firstSignal)
        var list = Int(layout.pointee.baseList)
        if layout.pointee.pagedMultiplexer >= 0 {
            let key = fields[Int(layout.pointee.pagedMultiplexer)].extract(bytes)
            if key < UInt64(layout.pointee.directCount) {
                let direct = hot.pageDirect[Int(layout.pointee.directStart) + Int(key)]
                return decodeList(hot.lists[direct >= 0 ? Int(direct) : list], fields, bytes)
            }
            let keys = hot.pageKeys.baseAddress!
            var low = Int(layout.pointee.pageStart)
            let end = Int(layout.pointee.pageStart + layout.pointee.pageCount)
            var high = end
            while low < high {
                let middle = (low + high) >> 1
                if keys[middle] < key { low = middle + 1 } else { high = middle }
            }
            if low < end, keys[low] == key { list = Int(hot.pageLists[low]) }
        }
        return decodeList(hot.lists[list], fields, bytes)
    }

    /// One loop per extraction kind, so no loop branches on byte order or sign per signal. Shift
    /// amounts are below 64 by construction, so masking shifts (one instruction each) are exact.
    @inline(__always)
    private func decodeList(_ list: SignalList, _ fields: UnsafePointer<BitField>, _ bytes: UnsafeRawPointer) -> (UnsafePointer<Int32>, Int) {
        let grouped = hot.listGrouped.baseAddress!
        var position = Int(list.start)
        @inline(__always) func word(_ entry: GroupedField) -> UInt64 {
            UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(entry.byteOffset), as: UInt64.self))
        }
        while position < Int(list.intelUnsignedEnd) {
            let entry = grouped[position]
            raw[Int(entry.signal)] = (word(entry) &<< UInt64(entry.leftShift)) &>> UInt64(entry.rightShift)
            position += 1
        }
        while position < Int(list.intelSignedEnd) {
            let entry = grouped[position]
            raw[Int(entry.signal)] = UInt64(bitPattern: Int64(bitPattern: word(entry) &<< UInt64(entry.leftShift))
                &>> Int64(entry.rightShift))
            position += 1
        }
        while position < Int(list.motorolaUnsignedEnd) {
            let entry = grouped[position]
            raw[Int(entry.signal)] = (word(entry).byteSwapped &<< UInt64(entry.leftShift)) &>> UInt64(entry.rightShift)
            position += 1
        }
        while position < Int(list.motorolaSignedEnd) {
            let entry = grouped[position]
            raw[Int(entry.signal)] = UInt64(bitPattern: Int64(bitPattern: word(entry).byteSwapped &<< UInt64(entry.leftShift))
                &>> Int64(entry.rightShift))
            position += 1
        }
        let end = Int(list.start + list.count)
        while position < end {
            let entry = grouped[position]
            raw[Int(entry.signal)] = fields[Int(entry.signal)].extract(bytes)
            position += 1
        }
        return (UnsafePointer(hot.listMembers.baseAddress! + Int(list.start)), Int(list.count))
    }

    private func decodeGeneral(_ index: Int, _ layout: MessageLayout, _ bytes: UnsafeRawPointer) -> (UnsafePointer<Int32>, Int) {
        var count = 0
        func isDecoded(_ signal: Int) -> Bool {
            (0..<count).contains { present[$0] == Int32(signal) }
        }
        for member in database.decodeOrder(message: index) {
            let signal = Int(member)
            let plan = database.signals[Int(layout.firstSignal) + signal]
            if plan.parent >= 0, !(isDecoded(plan.parent) && database.selects(plan, raw[plan.parent])) {
                continue
            }
            raw[signal] = plan.extract(bytes)
            present[count] = member
            count += 1
        }
        // Decode order puts multiplexers first; present signals are listed in DBC order.
        for position in 1..<max(count, 1) {
            let value = present[position]
            var slot = position
            while slot > 0, present[slot - 1] > value {
                present[slot] = present[slot - 1]
                slot -= 1
            }
            present[slot] = value
        }
        return (UnsafePointer(present), count)
    }

    /// Signals in the last decoded message.
    public var signalCount: Int { messageIndex >= 0 ? database.messages[messageIndex].signalCount : 0 }

    /// The `position`-th present signal of the last frame, in DBC order.
    @inline(__always) public func presentSignal(_ position: Int) -> Int { Int(state.pointee.presentList![position]) }

    /// Whether the frame's multiplexer values selected this signal (a search of the present few).
    public func isPresent(_ signal: Int) -> Bool {
        (0..<presentCount).contains { presentSignal($0) == signal }
    }

    /// Raw bits of a signal (sign-extended for signed integers; the IEEE bits for float signals).
    @inline(__always) public func rawBits(_ signal: Int) -> UInt64 { raw[signal] }

    @inline(__always) public func plan(_ signal: Int) -> SignalPlan {
        database.plan(message: messageIndex, signal: signal)
    }

    /// raw * factor + offset.
    @inline(__always) public func physical(_ signal: Int) -> Double {
        hot.scales[state.pointee.firstSignal + signal].physical(raw[signal])
    }

    /// The value table name of the raw value, if the DBC has one.
    public func choice(_ signal: Int) -> String? {
        let definition = database.signal(message: messageIndex, signal: signal)
        guard !definition.choices.isEmpty, definition.valueType == .integer else { return nil }
        return definition.choices[Int64(bitPattern: raw[signal])]
    }
}
