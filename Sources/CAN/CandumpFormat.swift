/// SocketCAN's candump -L / log format: `(1700000000.123456) can0 123#11223344`.
/// Covers FD (`##<flags>`), remote (`#R`, `#R<len>`), `.` byte separators, the `_<dlc>` suffix
/// of 8-byte frames with DLC 9..15, error frames (CAN_ERR_FLAG in an 8-digit id) and the
/// optional direction letter newer candump versions append.
struct CandumpParser: LineParser {
    static let errorFlag: UInt64 = 0x2000_0000

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        var scanner = ByteScanner(line)
        guard let stamp = scanner.token() else { return .skip }
        if stamp[0] == UInt8(ascii: "#") { return .skip }
        guard stamp.count >= 3, stamp[0] == UInt8(ascii: "("), stamp[stamp.count - 1] == UInt8(ascii: ")"),
              let nanos = ByteParse.fixedPoint(UnsafeBufferPointer(rebasing: stamp[1..<(stamp.count - 1)])) else {
            return .invalid("expected a timestamp like (1700000000.123456)")
        }
        guard let interface = scanner.token() else { return .invalid("missing interface name after the timestamp") }
        guard let body = scanner.token() else { return .invalid("missing <id>#<data> after the interface") }
        var flags: FrameFlags = []
        if let direction = scanner.token() {
            if ByteParse.equals(direction, "T") { flags.insert(.transmit) }
            else if !ByteParse.equals(direction, "R") { return .invalid("unexpected text after the frame") }
        }
        var cursor = ByteScanner(body)
        guard let idText = cursor.field(separatedBy: UInt8(ascii: "#")), cursor.position <= body.count,
              let idValue = ByteParse.hex(idText) else {
            return .invalid("expected <hex id>#<data>")
        }
        switch idText.count {
        case 3:
            guard idValue <= 0x7FF else { return .invalid("standard id above 0x7FF") }
        case 8:
            if idValue & Self.errorFlag != 0 { flags.insert(.error) } else { flags.insert(.extended) }
            guard idValue & ~UInt64(0x3FFF_FFFF) == 0 else { return .invalid("id has bits above the 29-bit range") }
        default:
            return .invalid("id must have 3 (standard) or 8 (extended) hex digits")
        }
        frame.timestamp = nanos
        frame.id = UInt32(idValue & 0x1FFF_FFFF)
        frame.channel = channelNumber(interface)
        frame.payload = FramePayload()

        if cursor.consume(UInt8(ascii: "#")) {
            guard let flagDigit = cursor.current.flatMap(ByteParse.hexDigit) else {
                return .invalid("expected the FD flags nibble after ##")
            }
            cursor.position += 1
            flags.insert(.fd)
            if flagDigit & 0x1 != 0 { flags.insert(.bitRateSwitch) }
            if flagDigit & 0x2 != 0 { flags.insert(.errorStateIndicator) }
            guard let count = Self.dataBytes(&cursor, limit: 64, into: &frame.payload) else {
                return .invalid("bad FD data bytes")
            }
            guard DataLengthCode.isValidFDLength(count) else { return .invalid("\(count) is not a CAN FD length") }
            frame.length = UInt8(count)
        } else if cursor.current == UInt8(ascii: "R") || cursor.current == UInt8(ascii: "r") {
            cursor.position += 1
            flags.insert(.remote)
            var length: UInt8 = 0
            if let digit = cursor.current.flatMap(ByteParse.hexDigit) {
                guard digit <= 8 else { return .invalid("remote frame length above 8") }
                length = digit
                cursor.position += 1
            }
            if cursor.consume(UInt8(ascii: "_")) { cursor.position += 1 }
            guard cursor.atEnd else { return .invalid("unexpected text after #R") }
            frame.length = length
        } else {
            guard let count = Self.dataBytes(&cursor, limit: 8, into: &frame.payload) else {
                return .invalid("bad data bytes (two hex digits each, at most 8)")
            }
            frame.length = UInt8(count)
            if cursor.consume(UInt8(ascii: "_")) {
                guard count == 8, let dlc = cursor.current.flatMap(ByteParse.hexDigit), dlc > 8 else {
                    return .invalid("_<dlc> is only for 8-byte frames with a DLC of 9 to F")
                }
                cursor.position += 1
            }
            guard cursor.atEnd else { return .invalid("unexpected text after the data bytes") }
        }
        frame.flags = flags
        return .frame
    }

    /// Hex byte pairs with optional '.' separators; returns the count, or nil on a bad digit or odd nibble.
    private static func dataBytes(_ cursor: inout ByteScanner, limit: Int, into payload: inout FramePayload) -> Int? {
        var end = cursor.position
        var separated = false
        while end < cursor.bytes.count, cursor.bytes[end] != UInt8(ascii: "_") {
            separated = separated || cursor.bytes[end] == UInt8(ascii: ".")
            end += 1
        }
        let digits = end - cursor.position
        if !separated {
            // The common case: an even run of hex digits, decoded pairwise, validated once at the end.
            guard digits & 1 == 0, digits / 2 <= limit else { return nil }
            let count = digits / 2
            var invalid: UInt8 = 0
            let start = cursor.position
            payload.withMutableBytes { out in
                for index in 0..<count {
                    let high = ByteParse.nibble(cursor.bytes[start + 2 * index])
                    let low = ByteParse.nibble(cursor.bytes[start + 2 * index + 1])
                    invalid |= high | low
                    out[index] = high &<< 4 | low
                }
            }
            guard invalid < 16 else { return nil }
            cursor.position = end
            return count
        }
        var count = 0
        while cursor.position < end {
            let byte = cursor.bytes[cursor.position]
            if byte == UInt8(ascii: ".") { cursor.position += 1; continue }
            guard count < limit, cursor.position + 1 < end else { return nil }
            let high = ByteParse.nibble(byte), low = ByteParse.nibble(cursor.bytes[cursor.position + 1])
            guard high | low < 16 else { return nil }
            payload[count] = high << 4 | low
            count += 1
            cursor.position += 2
        }
        return count
    }
}

/// Writes frames in candump -L form; read back by candump's log tools and python-can.
public enum CandumpWriter {
    public static func line(for frame: CANFrame, interfacePrefix: String = "can") -> String {
        var text = "(" + formatSeconds(frame.timestamp, fractionDigits: 6) + ") " + interfacePrefix + String(frame.channel) + " "
        if frame.isError {
            text += hexString(UInt64(frame.id) | 0x2000_0000, width: 8) + "#"
            for index in 0..<Int(frame.length) { text += hexString(UInt64(frame.payload[index]), width: 2) }
            return text
        }
        text += hexString(UInt64(frame.id), width: frame.isExtended ? 8 : 3)
        if frame.isRemote {
            text += "#R"
            if frame.length > 0 { text += String(frame.length) }
        } else if frame.isFD {
            var nibble = 0
            if frame.flags.contains(.bitRateSwitch) { nibble |= 1 }
            if frame.flags.contains(.errorStateIndicator) { nibble |= 2 }
            text += "##" + hexString(UInt64(nibble), width: 1)
            for index in 0..<Int(frame.length) { text += hexString(UInt64(frame.payload[index]), width: 2) }
        } else {
            text += "#"
            for index in 0..<Int(frame.length) { text += hexString(UInt64(frame.payload[index]), width: 2) }
        }
        return text
    }
}

/// Upper-case hex with leading zeros.
public func hexString(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Nanoseconds as seconds with a fixed number of decimals, exactly (no binary float).
public func formatSeconds(_ nanoseconds: Int64, fractionDigits: Int) -> String {
    let negative = nanoseconds < 0
    let magnitude = nanoseconds.magnitude
    var divisor: UInt64 = 1
    for _ in 0..<(9 - fractionDigits) { divisor *= 10 }
    let scaled = magnitude / divisor
    var unit: UInt64 = 1
    for _ in 0..<fractionDigits { unit *= 10 }
    let whole = scaled / unit
    let fraction = String(scaled % unit)
    let padded = String(repeating: "0", count: fractionDigits - fraction.count) + fraction
    return (negative ? "-" : "") + String(whole) + (fractionDigits > 0 ? "." + padded : "")
}

/// One candump -L line on its own (an MQTT payload, say): the parser logs use, without a file.
public enum CandumpLine {
    public static func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        var parser = CandumpParser()
        return parser.parse(line, into: &frame)
    }
}
