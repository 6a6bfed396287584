import CAN

/// Where one signal's bits are and how to pull them out: 16 bytes, so the per-frame loop reads a
/// compact table. A window of the payload is loaded at `byteOffset` and shifted.
struct BitField: Sendable {
    let byteOffset: UInt16
    let shift: UInt8
    let length: UInt8
    let flags: UInt8
    /// For the one-word case: raw = (word << leftShift) >> rightShift, for both byte orders.
    let leftShift: UInt8
    let rightShift: UInt8
    let mask: UInt64

    static let bigEndian: UInt8 = 1, oneWord: UInt8 = 2, signed: UInt8 = 4

    init(_ signal: Signal) {
        let layout = BitLayout(startBit: signal.startBit, length: signal.length, byteOrder: signal.byteOrder)
        let first = layout.firstLinearBit
        let oneWordOffset = min(first / 8, 56)
        let fitsOneWord = first - oneWordOffset * 8 + signal.length <= 64
        let offset = fitsOneWord ? oneWordOffset : min(first / 8, 48)
        let shift = first - offset * 8
        byteOffset = UInt16(offset)
        self.shift = UInt8(shift)
        length = UInt8(signal.length)
        mask = signal.length == 64 ? ~0 : (1 << UInt64(signal.length)) - 1
        flags = (signal.byteOrder == .bigEndian ? Self.bigEndian : 0) | (fitsOneWord ? Self.oneWord : 0)
            | (signal.isSigned && signal.valueType == .integer ? Self.signed : 0)
        // Little endian: the field's top bit sits at shift + length - 1 of the word; big endian (after a
        // byte swap): the field starts `shift` bits from the top.
        leftShift = UInt8(fitsOneWord ? (signal.byteOrder == .bigEndian ? shift : 64 - shift - signal.length) : 0)
        rightShift = UInt8(64 - signal.length)
    }

    /// Raw bits of the signal, sign-extended to 64 bits when signed.
    @inline(__always)
    func extract(_ bytes: UnsafeRawPointer) -> UInt64 {
        if flags & Self.oneWord != 0 {
            let loaded = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(byteOffset), as: UInt64.self))
            let word = (flags & Self.bigEndian != 0 ? loaded.byteSwapped : loaded) &<< UInt64(leftShift)
            return flags & Self.signed != 0
                ? UInt64(bitPattern: Int64(bitPattern: word) &>> Int64(rightShift))
                : word &>> UInt64(rightShift)
        }
        return extractWide(bytes)
    }

    /// Signals that span nine bytes or more: a 16-byte window. Rare, so kept out of the inlined path.
    @inline(never)
    private func extractWide(_ bytes: UnsafeRawPointer) -> UInt64 {
        let length = UInt64(self.length)
        var raw: UInt64
        let window = Self.loadWindow(bytes, Int(byteOffset), bigEndian: flags & Self.bigEndian != 0)
        if flags & Self.bigEndian != 0 {
            raw = UInt64(truncatingIfNeeded: (window << UInt128(shift)) >> UInt128(128 - length))
        } else {
            raw = UInt64(truncatingIfNeeded: window >> UInt128(shift)) & mask
        }
        if flags & Self.signed != 0, length < 64 {
            let unused = 64 - length
            raw = UInt64(bitPattern: Int64(bitPattern: raw << unused) >> Int64(unused))
        }
        return raw
    }

    /// Writes the low `length` bits of `raw` into the payload, leaving the other bits alone.
    func insert(_ raw: UInt64, into bytes: UnsafeMutableRawPointer) {
        let offset = min(Int(byteOffset), 48)
        let windowShift = Int(shift) + (Int(byteOffset) - offset) * 8
        let bigEndian = flags & Self.bigEndian != 0
        var window = Self.loadWindow(UnsafeRawPointer(bytes), offset, bigEndian: bigEndian)
        let value = UInt128(raw & mask)
        let fieldMask = UInt128(mask)
        let position = UInt128(bigEndian ? 128 - windowShift - Int(length) : windowShift)
        window = (window & ~(fieldMask << position)) | (value << position)
        let (high, low) = (UInt64(truncatingIfNeeded: window >> 64), UInt64(truncatingIfNeeded: window))
        if bigEndian {
            bytes.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
            bytes.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        } else {
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
}

/// How a signal's raw bits read as a number.
public enum SignalNumeric: UInt8, Sendable {
    case unsigned, signed, float32, float64

    @inline(__always) public func value(_ raw: UInt64) -> Double {
        switch self {
        case .unsigned: return Double(raw)
        case .signed: return Double(Int64(bitPattern: raw))
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw)))
        case .float64: return Double(bitPattern: raw)
        }
    }
}

/// One signal reduced to what decoding and scaling need.
public struct SignalPlan: Sendable {
    public let index: Int
    let bits: BitField
    public let length: Int
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
        bits = BitField(signal)
        length = signal.length
        isSigned = signal.isSigned
        valueType = signal.valueType
        factor = signal.factor
        offset = signal.offset
        isIntegerScaled = signal.isIntegerScaled && signal.valueType == .integer
        self.parent = parent
        self.rangeStart = rangeStart
        rangeCount = signal.multiplexerValues.count
    }

    @inline(__always) func extract(_ bytes: UnsafeRawPointer) -> UInt64 { bits.extract(bytes) }

    func insert(_ raw: UInt64, into bytes: UnsafeMutableRawPointer) { bits.insert(raw, into: bytes) }

    public var numeric: SignalNumeric {
        switch valueType {
        case .integer: return isSigned ? .signed : .unsigned
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    /// The raw value as a number (integer value, or the IEEE value of a float signal).
    @inline(__always)
    public func numericRaw(_ raw: UInt64) -> Double { numeric.value(raw) }

    /// raw * factor + offset, the way cantools computes it.
    @inline(__always)
    public func physical(_ raw: UInt64) -> Double {
        numericRaw(raw) * factor + offset
    }
}
