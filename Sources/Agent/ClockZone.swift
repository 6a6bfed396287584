/// The zone of a logger's wall clock, as written in an ASC header's date (Vector writes no zone): `UTC`,
/// `Z`, or an offset east of UTC such as `+02:00`, `-0530`, `+2`. Seconds east of UTC; nil when not one.
public func clockZoneSeconds(_ text: String) -> Int64? {
    let trimmed = String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    if trimmed == "UTC" || trimmed == "Z" || trimmed == "utc" { return 0 }
    guard let sign = trimmed.first, sign == "+" || sign == "-" else { return nil }
    let digits = trimmed.dropFirst().filter { $0 != ":" }
    guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ $0.isASCII }), let value = Int64(digits) else { return nil }
    let (hours, minutes) = digits.count <= 2 ? (value, Int64(0)) : (value / 100, value % 100)
    guard hours <= 14, minutes < 60 else { return nil }
    return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
}
