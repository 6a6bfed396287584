import CAN

/// One signal reduced to what decoding needs: where to load a window of the payload, how far
/// to shift it, and how to scale the result.
public struct SignalPlan: Sendable {
    public let index: Int
    let byteOffset: Int
    let shift: Int
    public let length: Int
    let mask: UInt64
    let bigEndian: Bool
    /// The bits fit in one 8-byte load at `byteOffset`; otherwise a 16-byte window is used.
    let fitsOneWord: Bool
    public let isSigned: Bool
    public let valueType: SignalValueType
    public let factor: Double
    public let offset: Double
    public let isIntegerScaled: Bool
    /// Index (within the message) of the multiplexer signal this one depends on, or -1.
    public let parent: Int
    let rangeStart: Int
    let rangeCount: Int

    init(index: Int, signal: Signal, parent: Int, rangeStart: Int) {
        self.index = index
        let layout = BitLayout(startBit: signal.startBit, length: signal.length, byteOrder: signal.byteOrder)
        let first = layout.firstLinearBit
        let oneWordOffset = min(first / 8, 56)
        fitsOneWord = first - oneWordOffset * 8 + signal.length <= 64
        byteOffset = fitsOneWord ? oneWordOffset : min(first / 8, 48)
        shift = first - byteOffset * 8
        length = signal.length
        mask = signal.length == 64 ? ~0 : (1 << UInt64(signal.length)) - 1
        bigEndian = signal.byteOrder == .bigEndian
        isSigned = signal.isSigned
        valueType = signal.valueType
        factor = signal.factor
        offset = signal.offset
        isIntegerScaled = signal.isIntegerScaled && signal.valueType == .integer
        self.parent = parent
        self.rangeStart = rangeStart
        rangeCount = signal.multiplexerValues.count
    }

    /// Raw bits of the signal, sign-extended to 64 bits when signed.
    @inline(__always)
    func extract(_ bytes: UnsafeRawPointer) -> UInt64 {
        var raw: UInt64
        if fitsOneWord {
            let word = bytes.loadUnaligned(fromByteOffset: byteOffset, as: UInt64.self)
            if bigEndian {
                raw = (UInt64(bigEndian: word) << UInt64(shift)) >> UInt64(64 - length)
            } else {
                raw = (UInt64(littleEndian: word) >> UInt64(shift)) & mask
            }
        } else {
            let window = Self.loadWindow(bytes, byteOffset, bigEndian: bigEndian)
            if bigEndian {
                raw = UInt64(truncatingIfNeeded: (window << UInt128(shift)) >> UInt128(128 - length))
            } else {
                raw = UInt64(truncatingIfNeeded: window >> UInt128(shift)) & mask
            }
        }
        if isSigned, length < 64 {
            let unused = UInt64(64 - length)
            raw = UInt64(bitPattern: Int64(bitPattern: raw << unused) >> Int64(unused))
        }
        return raw
    }

    /// Writes the low `length` bits of `raw` into the payload, leaving the other bits alone.
    func insert(_ raw: UInt64, into bytes: UnsafeMutableRawPointer) {
        let offset = min(byteOffset, 48)
        let windowShift = shift + (byteOffset - offset) * 8
        var window = Self.loadWindow(UnsafeRawPointer(bytes), offset, bigEndian: bigEndian)
        let value = UInt128(raw & mask)
        let fieldMask = UInt128(mask)
        if bigEndian {
            let position = UInt128(128 - windowShift - length)
            window = (window & ~(fieldMask << position)) | (value << position)
            let (high, low) = (UInt64(truncatingIfNeeded: window >> 64), UInt64(truncatingIfNeeded: window))
            bytes.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
            bytes.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        } else {
            let position = UInt128(windowShift)
            window = (window & ~(fieldMask << position)) | (value << position)
            let (high, low) = (UInt64(truncatingIfNeeded: window >> 64), UInt64(truncatingIfNeeded: window))
            bytes.storeBytes(of: low.littleEndian, toByteOffset: offset, as: UInt64.self)
            bytes.storeBytes(of: high.littleEndian, toByteOffset: offset + 8, as: UInt64.self)
        }
    }

    @inline(__always)
    private static func loadWindow(_ bytes: UnsafeRawPointer, _ offset: Int, bigEndian: Bool) -> UInt128 {
        let first = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        let second = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
        if bigEndian {
            return UInt128(UInt64(bigEndian: first)) << 64 | UInt128(UInt64(bigEndian: second))
        }
        return UInt128(UInt64(littleEndian: second)) << 64 | UInt128(UInt64(littleEndian: first))
    }

    /// The raw value as a number (integer value, or the IEEE value of a float signal).
    @inline(__always)
    public func numericRaw(_ raw: UInt64) -> Double {
        switch valueType {
        case .integer: return isSigned ? Double(Int64(bitPattern: raw)) : Double(raw)
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw)))
        case .float64: return Double(bitPattern: raw)
        }
    }

    /// raw * factor + offset, the way cantools computes it.
    @inline(__always)
    public func physical(_ raw: UInt64) -> Double {
        numericRaw(raw) * factor + offset
    }
}

/// Per-message decode order and bounds.
public struct MessagePlan: Sendable {
    public let name: String
    public let id: UInt32
    public let isExtended: Bool
    public let length: Int
    /// Position of this message's first signal in the flat signal array.
    let firstSignal: Int
    public let signalCount: Int
    /// Signal indices (within the message) in an order where every multiplexer precedes what it selects.
    let order: [Int]
}

/// A DBC compiled once into flat decode plans. Immutable and shareable between threads; decoding
/// with it (through `FrameDecoder`) allocates nothing.
public final class CompiledDatabase: Sendable {
    public let database: Database
    public let messages: [MessagePlan]
    let signals: [SignalPlan]
    let ranges: [ClosedRange<UInt64>]
    let standardLookup: [Int32]
    let extendedIDs: [UInt32]
    let extendedLookup: [Int32]
    /// The largest number of signals in one message: the size of a decoder's scratch space.
    public let maximumSignalCount: Int

    public init(_ database: Database) {
        self.database = database
        var messages: [MessagePlan] = []
        var signals: [SignalPlan] = []
        var ranges: [ClosedRange<UInt64>] = []
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
            messages.append(MessagePlan(name: message.name, id: message.id, isExtended: message.isExtended,
                                        length: message.length, firstSignal: first, signalCount: message.signals.count,
                                        order: Self.decodeOrder(message, indexByName)))
            if message.isExtended { extended.append((message.id, Int32(messageIndex))) }
            else { standard[Int(message.id)] = Int32(messageIndex) }
        }
        extended.sort { $0.0 < $1.0 }
        self.messages = messages
        self.signals = signals
        self.ranges = ranges
        standardLookup = standard
        extendedIDs = extended.map(\.0)
        extendedLookup = extended.map(\.1)
        maximumSignalCount = messages.map(\.signalCount).max() ?? 0
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
    public func plan(message: Int, signal: Int) -> SignalPlan { signals[messages[message].firstSignal + signal] }

    public func signal(message: Int, signal: Int) -> Signal { database.messages[message].signals[signal] }

    @inline(__always)
    func selects(_ plan: SignalPlan, _ multiplexerRaw: UInt64) -> Bool {
        for index in plan.rangeStart..<(plan.rangeStart + plan.rangeCount) where ranges[index].contains(multiplexerRaw) {
            return true
        }
        return false
    }
}
