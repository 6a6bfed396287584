import Model
import Testing

@Suite struct PackWindowsTests {
    /// 30 days of one vehicle, an alarm on day 20: days 14 to 16 are windows (14 days before, 14 from).
    static func table(lineEnding: String) -> String {
        var lines = ["VIN,Date,TotalVoltage,TotalCurrent,CellMaxVoltage,CellMinVoltage,MaxTemperature,MinTemperature,Label"]
        for day in 1...30 {
            let date = "2026-01-\(day < 10 ? "0" : "")\(day)"
            lines.append("VIN1,\(date),390.5,-1.5,4.01,3.99,25.0,24.0,\(day == 20 ? "1.0" : "0.0")")
        }
        return lines.joined(separator: lineEnding) + lineEnding
    }

    @Test func aSpreadsheetsCRLFTableGivesTheSameWindows() throws {
        let plain = try PackWindows(csv: Self.table(lineEnding: "\n"), path: "daily.csv")
        let exported = try PackWindows(csv: Self.table(lineEnding: "\r\n"), path: "daily.csv")
        #expect(plain.windows.count == 3)
        #expect(exported.windows.map(\.day) == plain.windows.map(\.day))
        #expect(exported.windows.map(\.label) == [1, 1, 1])
        #expect(exported.windows[0].inputs == plain.windows[0].inputs)
    }
}
