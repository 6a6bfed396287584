import DBC

/// Bit-at-a-time extraction written from the DBC rules, independent of the compiled plans.
enum ReferenceBits {
    static func extract(_ bytes: [UInt8], start: Int, length: Int, order: ByteOrder, signed: Bool) -> UInt64 {
        var value: UInt64 = 0
        switch order {
        case .littleEndian:
            for index in 0..<length {
                let bit = start + index
                value |= UInt64((bytes[bit / 8] >> UInt8(bit % 8)) & 1) << UInt64(index)
            }
        case .bigEndian:
            var position = start
            for _ in 0..<length {
                value = value << 1 | UInt64((bytes[position / 8] >> UInt8(position % 8)) & 1)
                position = position % 8 == 0 ? position + 15 : position - 1
            }
        }
        if signed, length < 64, value & (1 << UInt64(length - 1)) != 0 {
            value |= ~0 << UInt64(length)
        }
        return value
    }

    /// A start bit whose signal fits in `bytes` bytes.
    static func randomLayout<G: RandomNumberGenerator>(bytes: Int, using generator: inout G) -> (Int, Int, ByteOrder) {
        let length = Int.random(in: 1...64, using: &generator)
        let order: ByteOrder = Bool.random(using: &generator) ? .littleEndian : .bigEndian
        let totalBits = bytes * 8
        switch order {
        case .littleEndian:
            return (Int.random(in: 0...(totalBits - length), using: &generator), length, order)
        case .bigEndian:
            let firstLinear = Int.random(in: 0...(totalBits - length), using: &generator)
            return ((firstLinear / 8) * 8 + 7 - firstLinear % 8, length, order)
        }
    }
}
