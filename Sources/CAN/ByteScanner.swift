/// A cursor over one line's bytes. Tokenizes and parses numbers in place, so reading a log line
/// allocates nothing.
public struct ByteScanner {
    public let bytes: UnsafeBufferPointer<UInt8>
    public var position: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var atEnd: Bool { position >= bytes.count }
    public var current: UInt8? { position < bytes.count ? bytes[position] : nil }
    /// 1-based column of the cursor, for messages.
    public var column: Int { position + 1 }

    @inline(__always) static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    public mutating func skipBlanks() {
        while position < bytes.count, Self.isBlank(bytes[position]) { position += 1 }
    }

    /// The next run of non-blank bytes, after any blanks.
    public mutating func token() -> UnsafeBufferPointer<UInt8>? {
        skipBlanks()
        let begin = position
        while position < bytes.count, !Self.isBlank(bytes[position]) { position += 1 }
        return begin == position ? nil : UnsafeBufferPointer(rebasing: bytes[begin..<position])
    }

    /// The next run of bytes up to `separator` (not included); the separator is consumed.
    public mutating func field(separatedBy separator: UInt8) -> UnsafeBufferPointer<UInt8>? {
        guard position <= bytes.count else { return nil }
        let begin = position
        while position < bytes.count, bytes[position] != separator { position += 1 }
        let result = UnsafeBufferPointer(rebasing: bytes[begin..<position])
        position += 1
        return result
    }

    public mutating func consume(_ byte: UInt8) -> Bool {
        if position < bytes.count, bytes[position] == byte { position += 1; return true }
        return false
    }
}

/// Number parsing on raw bytes.
public enum ByteParse {
    @inline(__always) public static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte &- 0x30
        case 0x41...0x46: return byte &- 0x37
        case 0x61...0x66: return byte &- 0x57
        default: return nil
        }
    }

    /// The value of a hex digit, or a value of 16 or more when it is not one (branch-light, for loops
    /// that validate a whole run at once).
    @inline(__always) public static func nibble(_ byte: UInt8) -> UInt8 {
        let digit = byte &- 0x30
        let letter = (byte | 0x20) &- 0x61
        return digit < 10 ? digit : (letter < 6 ? letter &+ 10 : 0xFF)
    }

    public static func hex(_ token: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !token.isEmpty, token.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            guard let digit = hexDigit(byte) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    public static func decimal(_ token: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !token.isEmpty, token.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value
    }

    /// "123.456789" seconds (or milliseconds with `scale` 6) to nanoseconds, exactly, without
    /// going through a binary float. Digits past nanoseconds are dropped. A leading '-' is allowed.
    public static func fixedPoint(_ token: UnsafeBufferPointer<UInt8>, fractionDigits: Int = 9) -> Int64? {
        guard !token.isEmpty else { return nil }
        var index = 0
        var negative = false
        if token[0] == UInt8(ascii: "-") { negative = true; index = 1 }
        var whole: Int64 = 0
        var sawDigit = false
        while index < token.count, token[index] != UInt8(ascii: ".") {
            let byte = token[index]
            guard byte >= 0x30, byte <= 0x39, whole < Int64.max / 100 else { return nil }
            whole = whole * 10 + Int64(byte - 0x30)
            sawDigit = true
            index += 1
        }
        var fraction: Int64 = 0
        var digits = 0
        if index < token.count {
            index += 1
            while index < token.count {
                let byte = token[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                if digits < fractionDigits {
                    fraction = fraction * 10 + Int64(byte - 0x30)
                    digits += 1
                }
                sawDigit = true
                index += 1
            }
        }
        guard sawDigit else { return nil }
        while digits < fractionDigits { fraction *= 10; digits += 1 }
        var scale: Int64 = 1
        for _ in 0..<fractionDigits { scale *= 10 }
        let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        let value = product + fraction
        return negative ? -value : value
    }

    /// Parses data bytes: two hex digits each, separated by blanks, until `count` bytes or the line ends.
    public static func spacedHexBytes(_ scanner: inout ByteScanner, count: Int, into payload: inout FramePayload) -> Bool {
        guard count <= FramePayload.capacity else { return false }
        for index in 0..<count {
            guard let token = scanner.token(), token.count == 2,
                  let high = hexDigit(token[0]), let low = hexDigit(token[1]) else { return false }
            payload[index] = high << 4 | low
        }
        return true
    }

    public static func equals(_ token: UnsafeBufferPointer<UInt8>, _ text: StaticString) -> Bool {
        guard token.count == text.utf8CodeUnitCount else { return false }
        let other = text.utf8Start
        for index in 0..<token.count where token[index] != other[index] { return false }
        return true
    }

    /// Case-insensitive prefix test against an ASCII literal.
    public static func hasPrefix(_ token: UnsafeBufferPointer<UInt8>, _ text: StaticString, ignoringCase: Bool = false) -> Bool {
        guard token.count >= text.utf8CodeUnitCount else { return false }
        let other = text.utf8Start
        for index in 0..<text.utf8CodeUnitCount {
            var lhs = token[index]
            var rhs = other[index]
            if ignoringCase {
                if lhs >= 0x41 && lhs <= 0x5A { lhs += 0x20 }
                if rhs >= 0x41 && rhs <= 0x5A { rhs += 0x20 }
            }
            if lhs != rhs { return false }
        }
        return true
    }

    public static func string(_ token: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: token, as: UTF8.self)
    }
}
