import CAN
import Testing

/// Numbers in logs that once trapped the reader (issue 14): each is now a bad line naming what is wrong,
/// and the lines around it are read.
@Suite struct HostileLogInputTests {
    @Test(arguments: ["1e300", "nan", "inf", "-5"])
    func aTRCStartTimeThatIsNoDateIsABadLine(start: String) throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=1.1
            ;$STARTTIME=\(start)
                 1)      1841.0  Rx         0001  1  00

            """)
        #expect(reports == ["FILE:2: $STARTTIME must be days since 1899-12-30 between 1970 and 2100; line skipped"])
        #expect(frames.count == 1 && frames[0].timestamp == 1_841_000_000)
    }

    @Test func aTRCDataLengthCodeBeyondAnyIntegerIsABadLine() throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=2.1
                  1         1.000 DT 1 0100 Rx - 9223372036854775808  00
                  2         2.000 DT 1 0100 Rx - 1  00

            """)
        #expect(reports == ["FILE:2: bad DLC; line skipped"])
        #expect(frames.count == 1)
    }

    @Test func aGVRETTimeBeyondNanosecondsIsABadLine() throws {
        let (frames, reports, _) = try readAll("""
            Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8
            9223372036854776000,00000100,false,Rx,0,1,00
            9223372036854775,00000100,false,Rx,0,1,00

            """, suffix: ".csv")
        #expect(reports == ["FILE:2: bad time stamp (microseconds); line skipped"])
        #expect(frames.count == 1 && frames[0].timestamp == 9_223_372_036_854_775_000)
    }

    @Test func aTRCOffsetThatOverflowsTheStartTimeIsABadLine() throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=1.1
            ;$STARTTIME=73000
                 1)      9223372036854.0  Rx         0001  1  00

            """)
        #expect(reports == ["FILE:3: time offset too large; line skipped"])
        #expect(frames.isEmpty)
    }
}
