/// Dates of the proleptic Gregorian calendar as days and nanoseconds since 1970-01-01: a logger's wall
/// clock (ASC headers, BLF's SYSTEMTIME) and the `YYYY-MM-DD` dates of requests, tables and arguments.

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (a four-digit year; month and day of one or two digits).
/// Digits only: `Int` takes signs, and a year of 18 digits overflowed the day count (a trap, once, from a
/// `POST /inference` date).
public func civilDay(_ text: String) -> Int? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, let year = unsignedDecimal(parts[0], digits: 4...4),
          let month = unsignedDecimal(parts[1], digits: 1...2), let day = unsignedDecimal(parts[2], digits: 1...2),
          (1...12).contains(month), (1...31).contains(day) else { return nil }
    return daysFromCivil(year: year, month: month, day: day)
}

/// A logger's wall-clock date and time in the zone `zoneSeconds` east of UTC, as nanoseconds since the epoch.
func civilEpochNanoseconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, nanoseconds: Int64,
                           zoneSeconds: Int64) -> Int64 {
    let days = Int64(daysFromCivil(year: year, month: month, day: day))
    let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - zoneSeconds
    return seconds * 1_000_000_000 + nanoseconds
}

/// The value of a field of ASCII digits only, as many as `digits` allows (at most 18, so it fits): no sign,
/// no spaces, not empty.
func unsignedDecimal(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
    guard digits.contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
    return Int(text)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
private func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let shifted = month <= 2 ? year - 1 : year
    let era = (shifted >= 0 ? shifted : shifted - 399) / 400
    let yearOfEra = shifted - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}
