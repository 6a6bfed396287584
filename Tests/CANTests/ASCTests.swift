import CAN
import Testing

@Suite struct ASCTests {
    @Test func classicFDRemoteErrorAndEvents() throws {
        let (frames, reports, format) = try readAll("""
            date Tue Nov 14 22:13:20.123 2023
            base hex  timestamps absolute
            internal events logged
            // version 9.0.0
            Begin Triggerblock Tue Nov 14 22:13:20.123 2023
               0.000000 Start of measurement
               0.100000 1  123             Rx   d 3 01 02 03
               0.200000 2  1ABCDEF0x       Tx   d 8 00 01 02 03 04 05 06 07  Length = 0 BitCount = 0
               0.300000 1  7FF             Rx   r 4
               0.400000 CANFD   1 Rx        100                                   1 0 9 12 00 01 02 03 04 05 06 07 08 09 0A 0B        0    0     3000        0        0        0        0        0
               0.450000 CANFD   2 Rx        18FEF100x  EEC1   0 1 8  8 AA BB CC DD EE FF 00 11   0 0 0 0 0 0 0 0
               0.500000 1  ErrorFrame
               0.600000 1  Statistic: D 0 R 0 XD 0 XR 0 E 0 O 0 B 0.00%
               0.700000 SV: 1 0 1 ::Sys::Var = 1
            End TriggerBlock

            """)
        #expect(format == .asc)
        #expect(reports.isEmpty)
        #expect(frames.count == 6)
        // Issue 18: the header's date is the measurement's start (UTC), as python-can reads it.
        #expect(frames[0] == CANFrame(timestamp: 1_700_000_000_223_000_000, id: 0x123, bytes: [1, 2, 3]))
        #expect(frames[1].isExtended && frames[1].id == 0x1ABC_DEF0 && frames[1].channel == 1)
        #expect(frames[1].flags.contains(.transmit))
        #expect(frames[2].isRemote && frames[2].length == 4)
        #expect(frames[3].flags == [.fd, .bitRateSwitch] && frames[3].length == 12 && frames[3].bytes == Array(0..<12))
        #expect(frames[4].flags == [.fd, .extended, .errorStateIndicator] && frames[4].bytes == [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0, 0x11])
        #expect(frames[5].isError)
    }

    @Test func decimalBaseAndRelativeTimestamps() throws {
        let (frames, reports, _) = try readAll("""
            date Tue Nov 14 22:13:20 2023
            base dec  timestamps relative
            begin triggerblock
               0.100000 1  291             Rx   d 2 255 16
               0.250000 1  291x            Rx   d 1 7
            end triggerblock

            """)
        #expect(reports.isEmpty)
        #expect(frames.count == 2)
        #expect(frames[0].id == 291 && frames[0].bytes == [255, 16] && frames[0].timestamp == 1_700_000_000_100_000_000)
        #expect(frames[1].isExtended && frames[1].timestamp == 1_700_000_000_350_000_000)
    }

    @Test func tornLineReported() throws {
        let (frames, reports, _) = try readAll("""
            base hex  timestamps absolute
               0.100000 1  123             Rx   d 8 01 02 03
               0.200000 1  123             Rx   d 2 01 02
            garbage here
               0.300000 1  12Q             Rx   d 1 01

            """)
        #expect(frames.count == 1)
        #expect(reports.map { String($0.prefix(7)) } == ["FILE:2:", "FILE:4:", "FILE:5:"])
        #expect(reports[0].contains("expected 8 data bytes"))
    }

    @Test func writerRoundTrip() throws {
        var writer = ASCWriter()
        let frames = [
            CANFrame(timestamp: 1_700_000_000_000_000_000, id: 0x123, bytes: [1, 2, 3]),
            CANFrame(timestamp: 1_700_000_000_500_000_000, id: 0x1234567, flags: [.extended], channel: 1, bytes: [9]),
            CANFrame(timestamp: 1_700_000_001_000_000_000, id: 0x100, flags: [.fd, .bitRateSwitch], bytes: Array(0..<16)),
            CANFrame(timestamp: 1_700_000_001_250_000_000, id: 0x7FF, flags: [.remote], length: 2),
        ]
        let text = ASCWriter.header(epochNanoseconds: frames[0].timestamp)
            + frames.map { writer.line(for: $0) + "\n" }.joined() + ASCWriter.footer
        #expect(text.hasPrefix("date Tue Nov 14 22:13:20.000 2023\n"))
        let (read, reports, _) = try readAll(text)
        #expect(reports.isEmpty)
        #expect(read == frames)  // the header carries the absolute start
    }

    /// python-can's header forms: 12-hour clocks, German month names, no fraction; a date out of range
    /// is a bad line.
    @Test func headerDates() throws {
        for (header, expected) in [("date Thu Nov 21 10:12:34.123 pm 2024", 1_732_227_154_123_000_000),
                                   ("date Do Dez 21 00:00:00 2023", 1_703_116_800_000_000_000),
                                   ("date Mon Mär 04 12:00:00.5 am 2024", 1_709_510_400_500_000_000)] {
            let (frames, reports, _) = try readAll(header + "\nbase hex  timestamps absolute\n   1.000000 1  123  Rx   d 1 01\n")
            #expect(reports.isEmpty && frames.first?.timestamp == Int64(expected) + 1_000_000_000, "\(header)")
        }
        let (_, reports, _) = try readAll("date Thu Nov 21 10:12:34 1890\nbase hex  timestamps absolute\n   1.000000 1  123  Rx   d 1 01\n")
        #expect(reports == ["FILE:1: the header's date is not between 1970 and 2100; line skipped"])
        // A form python-can does not read either: the times stay relative, as there.
        let (relative, quiet, _) = try readAll("date Thu, 09 Nov 2023 20:29:27 GMT\nbase hex  timestamps absolute\n   1.000000 1  123  Rx   d 1 01\n")
        #expect(quiet.isEmpty && relative.first?.timestamp == 1_000_000_000)
        // Torn or signed clocks, days and years (the fuzzer's `10:12:.` once trapped): not a date, so the
        // times stay relative; a well-formed one beside them still reads.
        let line = "\nbase hex  timestamps absolute\n   1.000000 1  123  Rx   d 1 01\n"
        for date in ["Nov 21 10:12:.", "Nov 21 10:12:", "Nov 21 ::", "Nov 21 10:-1:00", "Nov 21 +9:00:00",
                     "Nov 21 10:12:34.", "Nov 21 10:12:34.+5", "Nov +5 10:12:34", "Nov 21 10:12:34 +2024"] {
            let (frames, reports, _) = try readAll("date Thu \(date)" + (date.hasSuffix("2024") ? "" : " 2024") + line)
            #expect(reports.isEmpty && frames.first?.timestamp == 1_000_000_000, "\(date)")
        }
        let (frames, _, _) = try readAll("date Thu Nov 21 10:12:34.5 2024" + line)
        #expect(frames.first?.timestamp == 1_732_183_955_500_000_000)
    }

    @Test func civilDates() {
        #expect(CivilTime(epochNanoseconds: 0).ascDate == "Thu Jan 01 00:00:00.000 1970")
        #expect(CivilTime(epochNanoseconds: 951_782_400_123_000_000).ascDate == "Tue Feb 29 00:00:00.123 2000")
        #expect(CivilTime(epochNanoseconds: 4_102_444_799_999_000_000).ascDate == "Thu Dec 31 23:59:59.999 2099")
    }
}

@Suite struct ASCFlagsTests {
    @Test func canfdLinesCarryingClassicFramesFollowTheEDLFlag() throws {
        let (frames, reports, _) = try readAll("""
            base hex  timestamps absolute
               0.100000 CANFD   1 Rx        123   0 0 2  2 0A 0B        0    0     0        0        0        0        0        0
               0.200000 CANFD   1 Rx        124   0 0 3  0        0    0     10        0        0        0        0        0
               0.300000 CANFD   1 Rx        125   1 0 0  0        0    0     3000        0        0        0        0        0

            """)
        #expect(reports.isEmpty)
        #expect(frames[0].flags == [.fd] && frames[0].bytes == [0x0A, 0x0B])
        #expect(frames[1].flags == [.remote] && frames[1].length == 3)
        #expect(frames[2].flags == [.fd, .bitRateSwitch] && frames[2].length == 0)
    }
}

@Suite struct CivilTimeTests {
    @Test func isoForms() {
        let time = CivilTime(epochNanoseconds: 1_700_000_000_123_000_000)
        #expect(time.isoDate == "2023-11-14")
        #expect(time.isoTimestamp == "2023-11-14T22:13:20Z")
    }
}
