/// What one log line turned out to be. The message of `invalid` is built only on that path.
public enum LineOutcome {
    case frame
    case skip
    case invalid(String)
}

/// The log formats celldrift reads.
public enum LogFormat: String, Sendable, CaseIterable {
    case candump
    case asc
    case trc
    case gvret
    case pcanText = "pcan-text"
    case blf
    case mf4

    /// Binary formats are not line by line: read by their own readers.
    public var isBinary: Bool { self == .blf || self == .mf4 }

    /// Recognizes a binary format from a file's first eight bytes.
    public static func detect(magic: UnsafeBufferPointer<UInt8>) -> LogFormat? {
        if magic.count >= 4, magic[0] == 0x4C, magic[1] == 0x4F, magic[2] == 0x47, magic[3] == 0x47 { return .blf }  // LOGG
        if magic.count >= 8 {
            let text = String(decoding: magic[0..<8], as: UTF8.self)
            if text == "MDF     " || text == "UnFinMF " { return .mf4 }
        }
        return nil
    }

    /// Recognizes a format from one line of content (a header or a data line).
    public static func detect(_ line: UnsafeBufferPointer<UInt8>) -> LogFormat? {
        var scanner = ByteScanner(line)
        guard let first = scanner.token() else { return nil }
        // candump -L: "(seconds.fraction)"; a parenthesized word in a text (a Python docstring's
        // "(docs/mapping.md)") is not one.
        if first.count > 2, first[0] == UInt8(ascii: "("), first.last == UInt8(ascii: ")"),
           ByteParse.fixedPoint(UnsafeBufferPointer(rebasing: first[1..<(first.count - 1)])) != nil { return .candump }
        if ByteParse.hasPrefix(first, ";$FILEVERSION") || ByteParse.hasPrefix(first, ";##########") { return .trc }
        if ByteParse.hasPrefix(first, "Timestamp:") { return .pcanText }
        if ByteParse.hasPrefix(first, "Time", ignoringCase: true),
           let second = scanner.token(), ByteParse.hasPrefix(second, "Stamp,ID,", ignoringCase: true) { return .gvret }
        if ByteParse.equals(first, "date") || ByteParse.equals(first, "base") || ByteParse.hasPrefix(first, "//")
            || ByteParse.equals(first, "internal") || ByteParse.equals(first, "Begin") || ByteParse.equals(first, "begin") {
            return .asc
        }
        if ByteParse.equals(first, "no"), let second = scanner.token(), ByteParse.equals(second, "internal") { return .asc }
        // A headerless ASC body: "<seconds> <channel> <id> Rx d ..." or "<seconds> CANFD ...".
        if ByteParse.fixedPoint(first) != nil, let second = scanner.token() {
            if ByteParse.equals(second, "CANFD") || ByteParse.decimal(second) != nil { return .asc }
        }
        return nil
    }
}

/// Parses one data line of a format into a frame, keeping whatever state the format's header sets.
protocol LineParser {
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome
}

/// Trailing digits of an interface name ("can1" -> 1, "vcan0" -> 0); 0 when there are none.
@inline(__always)
func channelNumber(_ name: UnsafeBufferPointer<UInt8>) -> UInt16 {
    var index = name.count
    while index > 0, name[index - 1] >= 0x30, name[index - 1] <= 0x39 { index -= 1 }
    guard index < name.count, name.count - index <= 4 else { return 0 }
    return UInt16(ByteParse.decimal(UnsafeBufferPointer(rebasing: name[index...])) ?? 0)
}
