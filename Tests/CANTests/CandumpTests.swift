import CAN
import Testing

@Suite struct CandumpTests {
    @Test func classicExtendedAndSeparators() throws {
        let (frames, reports, format) = try readAll("""
            (1700000000.123456) can0 123#11223344
            (1700000000.200000) vcan1 1ABCDEF0#00.01.02.03.04.05.06.07
            (1700000000.300001) can0 7FF#

            """)
        #expect(format == .candump)
        #expect(reports.isEmpty)
        #expect(frames.count == 3)
        #expect(frames[0] == CANFrame(timestamp: 1_700_000_000_123_456_000, id: 0x123, bytes: [0x11, 0x22, 0x33, 0x44]))
        #expect(frames[1].id == 0x1ABC_DEF0 && frames[1].isExtended && frames[1].channel == 1)
        #expect(frames[1].bytes == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(frames[2].length == 0 && frames[2].timestamp == 1_700_000_000_300_001_000)
    }

    @Test func fdRemoteErrorAndDLCSuffix() throws {
        let (frames, reports, _) = try readAll("""
            (1.000000) can0 100##3000102030405060708090A0B
            (2.000000) can0 7FF#R
            (3.000000) can0 7FF#R5
            (4.000000) can0 20000080#0000000000000000
            (5.000000) can0 123#0102030405060708_C
            (6.000000) can0 123#0102 T

            """)
        #expect(reports.isEmpty)
        #expect(frames.count == 6)
        #expect(frames[0].flags == [.fd, .bitRateSwitch, .errorStateIndicator] && frames[0].length == 12)
        #expect(frames[0].bytes == Array(0..<12))
        #expect(frames[1].isRemote && frames[1].length == 0 && frames[1].dataLength == 0)
        #expect(frames[2].isRemote && frames[2].length == 5)
        #expect(frames[3].isError && frames[3].id == 0x80 && !frames[3].isExtended)
        #expect(frames[4].length == 8)
        #expect(frames[5].flags.contains(.transmit))
    }

    @Test func tornLinesAreReportedWithTheirLineAndSkipped() throws {
        let (frames, reports, _) = try readAll("""
            (1.000000) can0 123#1122
            (1.100000) can0 123#11223
            (1.200000) can0 12#11
            (1.300000) can0 123#GG
            (1.400000) can0
            (1.500000) can0 123#112233445566778899
            (1.600000) can0 100##011223344556677889900
            (1.700000) can0 123#0102

            """)
        #expect(frames.count == 2)
        #expect(frames.map(\.timestamp) == [1_000_000_000, 1_700_000_000])
        #expect(reports.count == 6)
        #expect(reports[0].hasPrefix("FILE:2: "))
        #expect(reports[5].hasPrefix("FILE:7: ") && reports[5].contains("CAN FD length"))
    }

    /// Issue 18: a Python file whose docstring had a parenthesized word at a line's start was taken for
    /// a candump log and every line reported bad (exit 0). Only "(seconds)" makes a candump line.
    @Test func aParenthesizedWordIsNoCandumpTimestamp() throws {
        #expect(throws: LogError.self) {
            try readAll("""
                \"\"\"Each vehicle's BMS speaks its own DBC
                (docs/mapping.md) that goes with each.\"\"\"
                import math

                """)
        }
        let (frames, _, format) = try readAll("(1700000000.5) can0 123#11\n")
        #expect(frames.count == 1 && format == .candump)
    }

    @Test func writerOutputReadsBackIdentically() throws {
        var generator = SystemRandomNumberGenerator()
        var frames: [CANFrame] = []
        for index in 0..<500 {
            let kind = index % 4
            var frame = CANFrame(timestamp: Int64(index) * 1_000_123_000 + 1_600_000_000_000_000_000,
                                 id: UInt32.random(in: 0...0x7FF, using: &generator), channel: UInt16(index % 3))
            switch kind {
            case 0:
                frame.length = UInt8.random(in: 0...8)
            case 1:
                frame.flags = [.extended]
                frame.id = UInt32.random(in: 0...0x1FFF_FFFF, using: &generator)
                frame.length = 8
            case 2:
                frame.flags = [.fd, .bitRateSwitch]
                frame.length = DataLengthCode.fdLengths.randomElement(using: &generator)!
            default:
                frame.flags = [.remote]
                frame.length = UInt8.random(in: 0...8)
            }
            for byte in 0..<frame.dataLength { frame.payload[byte] = UInt8.random(in: 0...255, using: &generator) }
            frames.append(frame)
        }
        let text = frames.map { CandumpWriter.line(for: $0) }.joined(separator: "\n") + "\n"
        let (read, reports, _) = try readAll(text)
        #expect(reports.isEmpty)
        #expect(read == frames)
    }
}
