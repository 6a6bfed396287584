/// The date of an ASC header (`date Thu Nov 21 10:12:34.123 am 2024`, `Begin Triggerblock ...`): the
/// measurement's start, to which every frame's seconds are added, as python-can's reader does. Vector
/// writes the logger's wall clock without a zone; celldrift reads it as UTC (`zoneSeconds` east of UTC
/// otherwise). English month names, and the German ones CANoe writes in a German locale.
enum ASCDate {
    private static let months: [(String, Int)] = [
        ("Jan", 1), ("Feb", 2), ("Mar", 3), ("Mär", 3), ("Apr", 4), ("May", 5), ("Mai", 5), ("Jun", 6), ("Jul", 7),
        ("Aug", 8), ("Sep", 9), ("Oct", 10), ("Okt", 10), ("Nov", 11), ("Dec", 12), ("Dez", 12),
    ]

    /// Nanoseconds since the epoch of the date after the weekday in `words` (the header keyword removed);
    /// nil when it is not one in python-can's forms (then, as there, the times stay relative), or
    /// `Int64.min` for such a date outside 1970 to 2100.
    static func epochNanoseconds(_ words: [Substring], zoneSeconds: Int64 = 0) -> Int64? {
        // [weekday] month day time [am|pm] year
        var rest = words.dropFirst()
        guard rest.count >= 4, let month = months.first(where: { $0.0 == rest.first! })?.1 else { return nil }
        rest = rest.dropFirst()
        guard let day = unsignedDecimal(rest.removeFirst(), digits: 1...9), (1...31).contains(day) else { return nil }
        // Split keeping empty parts: a torn clock (`10:12:.`) is then a missing number, not a shorter list.
        let clock = rest.removeFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, var hour = unsignedDecimal(clock[0], digits: 1...9),
              let minute = unsignedDecimal(clock[1], digits: 1...9), hour < 24, minute < 60 else {
            return nil
        }
        let secondParts = clock[2].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let second = unsignedDecimal(secondParts[0], digits: 1...9), second < 61 else { return nil }
        var fraction: Int64 = 0
        if secondParts.count == 2 {
            let fractionDigits = secondParts[1].prefix(9)
            guard let value = unsignedDecimal(fractionDigits, digits: 1...9) else { return nil }
            fraction = Int64(value) * Int64([1, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1][fractionDigits.count])
        }
        if let marker = rest.first?.lowercased(), marker == "am" || marker == "pm" {
            guard (1...12).contains(hour) else { return nil }
            hour = hour % 12 + (marker == "pm" ? 12 : 0)
            rest = rest.dropFirst()
        }
        guard let year = rest.first.flatMap({ unsignedDecimal($0, digits: 1...9) }) else { return nil }
        guard (1970..<2100).contains(year) else { return Int64.min }
        return civilEpochNanoseconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                                     nanoseconds: fraction, zoneSeconds: zoneSeconds)
    }
}
