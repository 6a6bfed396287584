import CAN
import Testing

@Suite struct FrameTests {
    @Test func payloadIsInlineAndFrameIsSmall() {
        #expect(MemoryLayout<FramePayload>.size == 64)
        #expect(MemoryLayout<CANFrame>.size <= 96)
        var frame = CANFrame(id: 0x123, length: 64)
        frame.payload[63] = 0xAB
        let copy = frame
        #expect(copy.payload[63] == 0xAB && copy.payload[0] == 0)
    }

    @Test func fdLengthCodes() {
        for dlc in 0...15 {
            let length = DataLengthCode.length(forDLC: dlc)!
            #expect(DataLengthCode.dlc(forLength: length) == dlc)
        }
        #expect(DataLengthCode.length(forDLC: 16) == nil)
        #expect(!DataLengthCode.isValidFDLength(9))
    }

    @Test func fixedPointIsExact() {
        func parse(_ text: String, _ digits: Int = 9) -> Int64? {
            var copy = text
            return copy.withUTF8 { ByteParse.fixedPoint($0, fractionDigits: digits) }
        }
        #expect(parse("1700000000.123456") == 1_700_000_000_123_456_000)
        #expect(parse("0.000000001") == 1)
        #expect(parse("-1.5") == -1_500_000_000)
        #expect(parse("1841.5", 6) == 1_841_500_000)
        #expect(parse("1.2.3") == nil)
        #expect(parse("abc") == nil)
        #expect(formatSeconds(1_700_000_000_123_456_789, fractionDigits: 6) == "1700000000.123456")
    }
}
