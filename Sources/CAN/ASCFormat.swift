/// Vector ASC: classic (`<t> <ch> <id>[x] Rx d <dlc> <bytes>`), remote (`r`), `ErrorFrame`,
/// and `CANFD` lines; `base hex|dec`, `timestamps absolute|relative`. Other events
/// (statistics, chip status, system variables) are skipped. Timestamps are seconds since the
/// measurement start, which the header's `date` (or a `Begin Triggerblock` date) gives as absolute time
/// (`ASCDate`); channels are stored 0-based (ASC channel 1 is channel 0), as python-can does.
struct ASCParser: LineParser {
    /// Seconds east of UTC of the logger's clock, which wrote the header's date.
    let zoneSeconds: Int64
    private var decimalBase = false
    private var relativeTimestamps = false
    private var previousTimestamp: Int64 = 0
    private var start: Int64 = 0

    init(zoneSeconds: Int64 = 0) { self.zoneSeconds = zoneSeconds }

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        var scanner = ByteScanner(line)
        guard let first = scanner.token() else { return .skip }
        guard let offset = ByteParse.fixedPoint(first) else { return header(first, &scanner) }
        guard let second = scanner.token() else { return .invalid("a timestamp alone on a line") }
        let (timestamp, overflow) = relativeTimestamps ? previousTimestamp.addingReportingOverflow(offset)
                                                        : start.addingReportingOverflow(offset)
        guard !overflow else { return .invalid("time stamp out of range") }
        let outcome: LineOutcome
        if ByteParse.equals(second, "CANFD") {
            outcome = parseFD(&scanner, into: &frame)
        } else if let channel = ByteParse.decimal(second) {
            outcome = parseClassic(&scanner, channel: channel, into: &frame)
        } else {
            return .skip  // system variables, "Start of measurement", bus statistics and other events
        }
        if case .frame = outcome {
            frame.timestamp = timestamp
            previousTimestamp = timestamp
        }
        return outcome
    }

    private mutating func header(_ first: UnsafeBufferPointer<UInt8>, _ scanner: inout ByteScanner) -> LineOutcome {
        if ByteParse.equals(first, "base") {
            while let word = scanner.token() {
                if ByteParse.equals(word, "dec") { decimalBase = true }
                if ByteParse.equals(word, "hex") { decimalBase = false }
                if ByteParse.equals(word, "relative") { relativeTimestamps = true }
                if ByteParse.equals(word, "absolute") { relativeTimestamps = false }
            }
            return .skip
        }
        let isDate = ByteParse.equals(first, "date")
        let isTrigger = ByteParse.equals(first, "Begin") || ByteParse.equals(first, "begin")
        if isDate || isTrigger {
            let words = String(decoding: scanner.bytes[scanner.position...], as: UTF8.self)
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            let dateWords = isTrigger ? Array(words.dropFirst()) : words  // "Begin Triggerblock <date>"
            guard !isTrigger || words.first?.lowercased() == "triggerblock", dateWords.count > 1 else { return .skip }
            // A form python-can does not read either (`Thu, 09 Nov 2023 20:29:27 GMT`): relative times, as there.
            guard let date = ASCDate.epochNanoseconds(dateWords, zoneSeconds: zoneSeconds) else { return .skip }
            guard date != Int64.min else { return .invalid("the header's date is not between 1970 and 2100") }
            start = date
            previousTimestamp = date
            return .skip
        }
        for keyword: StaticString in ["internal", "no", "End", "end"] where ByteParse.equals(first, keyword) {
            return .skip
        }
        if ByteParse.hasPrefix(first, "//") { return .skip }
        return .invalid("expected a timestamp or an ASC header keyword")
    }

    private func number(_ token: UnsafeBufferPointer<UInt8>) -> UInt64? {
        decimalBase ? ByteParse.decimal(token) : ByteParse.hex(token)
    }

    private func identifier(_ token: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> Bool {
        var digits = token
        var extended = false
        if let last = token.last, last == UInt8(ascii: "x") || last == UInt8(ascii: "X") {
            extended = true
            digits = UnsafeBufferPointer(rebasing: token[..<(token.count - 1)])
        }
        guard let value = number(digits), value <= (extended ? 0x1FFF_FFFF : 0x7FF) else { return false }
        frame.id = UInt32(value)
        frame.flags = extended ? [.extended] : []
        return true
    }

    private func dataBytes(_ scanner: inout ByteScanner, count: Int, into frame: inout CANFrame) -> Bool {
        frame.payload = FramePayload()
        if !decimalBase { return ByteParse.spacedHexBytes(&scanner, count: count, into: &frame.payload) }
        for index in 0..<count {
            guard let token = scanner.token(), let value = ByteParse.decimal(token), value <= 255 else { return false }
            frame.payload[index] = UInt8(value)
        }
        return true
    }

    private static func channel(_ value: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: value > 0 ? value - 1 : 0) }

    private func direction(_ token: UnsafeBufferPointer<UInt8>?, _ frame: inout CANFrame) -> Bool {
        guard let token else { return false }
        if ByteParse.equals(token, "Rx") { return true }
        if ByteParse.equals(token, "Tx") || ByteParse.equals(token, "TxRq") { frame.flags.insert(.transmit); return true }
        return false
    }

    private func parseClassic(_ scanner: inout ByteScanner, channel: UInt64, into frame: inout CANFrame) -> LineOutcome {
        guard let idToken = scanner.token() else { return .invalid("missing id after the channel") }
        frame.channel = Self.channel(channel)
        if ByteParse.equals(idToken, "ErrorFrame") {
            frame.id = 0
            frame.flags = [.error]
            frame.length = 0
            frame.payload = FramePayload()
            return .frame
        }
        guard identifier(idToken, into: &frame) else {
            // "Statistic:", "Chip status" and the like are events, not frames.
            return idToken.last == UInt8(ascii: ":") || ByteParse.hasPrefix(idToken, "Chip") ? .skip
                : .invalid("bad identifier")
        }
        guard direction(scanner.token(), &frame) else { return .invalid("expected Rx or Tx after the id") }
        guard let kind = scanner.token() else { return .invalid("expected d or r after the direction") }
        if ByteParse.equals(kind, "r") {
            frame.flags.insert(.remote)
            frame.payload = FramePayload()
            if let dlcToken = scanner.token(), let dlc = ByteParse.hex(dlcToken), dlc <= 15 {
                frame.length = UInt8(min(dlc, 8))
            } else {
                frame.length = 0
            }
            return .frame
        }
        guard ByteParse.equals(kind, "d") else { return .invalid("expected d or r after the direction") }
        guard let dlcToken = scanner.token(), let dlc = ByteParse.hex(dlcToken), dlc <= 15 else {
            return .invalid("bad DLC")
        }
        let count = Int(min(dlc, 8))
        guard dataBytes(&scanner, count: count, into: &frame) else {
            return .invalid("expected \(count) data bytes")
        }
        frame.length = UInt8(count)
        return .frame
    }

    private func parseFD(_ scanner: inout ByteScanner, into frame: inout CANFrame) -> LineOutcome {
        guard let channelToken = scanner.token(), let channel = ByteParse.decimal(channelToken) else {
            return .invalid("expected a channel number after CANFD")
        }
        frame.channel = Self.channel(channel)
        let directionToken = scanner.token()
        guard let idToken = scanner.token() else { return .invalid("missing id") }
        if ByteParse.equals(idToken, "ErrorFrame") {
            frame.id = 0
            frame.flags = [.error, .fd]
            frame.length = 0
            frame.payload = FramePayload()
            return .frame
        }
        guard identifier(idToken, into: &frame) else { return .invalid("bad identifier") }
        guard direction(directionToken, &frame) else { return .invalid("expected Rx or Tx after the channel") }
        frame.flags.insert(.fd)
        // An optional symbolic message name stands between the id and the BRS flag.
        var brsToken = scanner.token()
        if let token = brsToken, !(ByteParse.equals(token, "0") || ByteParse.equals(token, "1")) {
            brsToken = scanner.token()
        }
        guard let brs = brsToken, ByteParse.equals(brs, "0") || ByteParse.equals(brs, "1"),
              let esi = scanner.token(), ByteParse.equals(esi, "0") || ByteParse.equals(esi, "1") else {
            return .invalid("expected BRS and ESI flags (0 or 1)")
        }
        if brs[0] == UInt8(ascii: "1") { frame.flags.insert(.bitRateSwitch) }
        if esi[0] == UInt8(ascii: "1") { frame.flags.insert(.errorStateIndicator) }
        guard let dlcToken = scanner.token(), let dlc = ByteParse.hex(dlcToken), dlc <= 15,
              let lengthToken = scanner.token(), let length = ByteParse.decimal(lengthToken),
              length <= 64, DataLengthCode.isValidFDLength(Int(length)) else {
            return .invalid("bad DLC or data length")
        }
        guard dataBytes(&scanner, count: Int(length), into: &frame) else {
            return .invalid("expected \(length) data bytes")
        }
        frame.length = UInt8(length)
        // Then message duration, bit count and Vector's flags: 0x1000 EDL (an FD frame), 0x10 remote.
        // Logs from FD-capable interfaces carry classic frames on CANFD lines with EDL clear.
        _ = scanner.token()
        _ = scanner.token()
        if let flagsToken = scanner.token(), let flags = ByteParse.hex(flagsToken), flags != 0 {
            if flags & 0x1000 == 0 {
                frame.flags.subtract([.fd, .bitRateSwitch, .errorStateIndicator])
                if flags & 0x10 != 0 {
                    frame.flags.insert(.remote)
                    frame.length = UInt8(DataLengthCode.length(forDLC: Int(min(dlc, 8))) ?? 0)
                }
            }
        }
        return .frame
    }
}
