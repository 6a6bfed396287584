/// Writes Vector ASC: a header dated from the first frame, then one line per frame with the
/// time in seconds since that first frame. Channels are written 1-based.
public struct ASCWriter {
    private var start: Int64?

    public init() {}

    /// The header; `epochNanoseconds` dates the measurement (the first frame's time when absolute).
    public static func header(epochNanoseconds: Int64) -> String {
        let date = CivilTime(epochNanoseconds: epochNanoseconds).ascDate
        return "date \(date)\nbase hex  timestamps absolute\ninternal events logged\n// version 9.0.0\n"
            + "Begin Triggerblock \(date)\n   0.000000 Start of measurement\n"
    }

    public static let footer = "End TriggerBlock\n"

    public mutating func line(for frame: CANFrame) -> String {
        let origin = start ?? frame.timestamp
        start = origin
        let time = formatSeconds(frame.timestamp - origin, fractionDigits: 6)
        let pad = String(repeating: " ", count: max(0, 11 - time.count))
        let channel = String(Int(frame.channel) + 1)
        let id = String(frame.id, radix: 16, uppercase: true) + (frame.isExtended ? "x" : "")
        let direction = frame.flags.contains(.transmit) ? "Tx" : "Rx"
        var data = ""
        for index in 0..<frame.dataLength { data += " " + hexString(UInt64(frame.payload[index]), width: 2) }
        if frame.isError {
            return frame.isFD ? "\(pad)\(time) CANFD \(channel) \(direction) ErrorFrame" : "\(pad)\(time) \(channel)  ErrorFrame"
        }
        if frame.isFD {
            let brs = frame.flags.contains(.bitRateSwitch) ? "1" : "0"
            let esi = frame.flags.contains(.errorStateIndicator) ? "1" : "0"
            let dlc = String(DataLengthCode.dlc(forLength: Int(frame.length)) ?? 15, radix: 16, uppercase: true)
            // Duration, bit count, CRC and bit timings are not known from a frame: zero. Flags: EDL, BRS, ESI.
            let flags = 0x1000 | (brs == "1" ? 0x2000 : 0) | (esi == "1" ? 0x4000 : 0)
            return "\(pad)\(time) CANFD \(channel) \(direction) \(id) \(brs) \(esi) \(dlc) \(frame.length)\(data)"
                + "        0    0     \(String(flags, radix: 16))        0        0        0        0        0"
        }
        if frame.isRemote {
            return "\(pad)\(time) \(channel)  \(id)  \(direction)   r \(frame.length)"
        }
        return "\(pad)\(time) \(channel)  \(id)  \(direction)   d \(frame.length)\(data)"
    }
}

/// Calendar fields of a Unix time (UTC), for log headers; no Foundation needed.
public struct CivilTime: Equatable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int, weekday: Int

    public init(epochNanoseconds: Int64) {
        let totalMilliseconds = epochNanoseconds >= 0 ? epochNanoseconds / 1_000_000 : (epochNanoseconds - 999_999) / 1_000_000
        var days = Int(totalMilliseconds >= 0 ? totalMilliseconds / 86_400_000 : (totalMilliseconds - 86_399_999) / 86_400_000)
        let dayMilliseconds = Int(totalMilliseconds - Int64(days) * 86_400_000)
        hour = dayMilliseconds / 3_600_000
        minute = dayMilliseconds / 60_000 % 60
        second = dayMilliseconds / 1000 % 60
        millisecond = dayMilliseconds % 1000
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday; 0 = Sunday
        // Howard Hinnant's days-to-civil algorithm.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// "2023-11-14".
    public var isoDate: String { "\(year)-\(Self.two(month))-\(Self.two(day))" }

    /// "2023-11-14T22:13:20Z" (UTC, whole seconds).
    public var isoTimestamp: String { "\(isoDate)T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z" }

    /// "Tue Nov 14 10:13:20.123 pm 2023" is Vector's form; this uses the 24-hour variant python-can also reads.
    public var ascDate: String {
        let millis = millisecond < 10 ? "00\(millisecond)" : millisecond < 100 ? "0\(millisecond)" : "\(millisecond)"
        return "\(Self.weekdays[weekday]) \(Self.months[month - 1]) \(Self.two(day)) "
            + "\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second)).\(millis) \(year)"
    }
}
