import CAN
import Testing

@Suite struct TRCTests {
    @Test func version11() throws {
        let (frames, reports, format) = try readAll("""
            ;$FILEVERSION=1.1
            ;$STARTTIME=45244.925927354816
            ;   Message Number
            ;   |         Time Offset (ms)
            ;---+--   ----+----  --+--  ----+---  +  -+ -- -- -- -- -- -- --
                 1)      1841.0  Rx         0001  8  00 00 00 00 00 00 00 00
                 2)      1842.5  Tx     18EFC0D0  3  01 02 03
                 3)      1843.0  Rx         0101  2  RTR
                 4)      1844.0  Warng  FFFFFFFF  4  00 00 00 08  BUSHEAVY

            """)
        #expect(format == .trc)
        #expect(reports.isEmpty)
        #expect(frames.count == 3)
        let start: Int64 = 1_700_000_000_123_456_000
        #expect(abs(frames[0].timestamp - (start + 1_841_000_000)) < 20_000)
        #expect(frames[1].timestamp - frames[0].timestamp == 1_500_000)
        #expect(frames[1].isExtended && frames[1].id == 0x18EF_C0D0 && frames[1].bytes == [1, 2, 3])
        #expect(frames[1].flags.contains(.transmit))
        #expect(frames[2].isRemote && frames[2].length == 2)
    }

    @Test func version13BusColumn() throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=1.3
                 1)      1841.0 1  Rx        0001 -  8    00 00 00 00 00 00 00 01
                 2)      1842.0 2  Rx        0002 -  1    FF

            """)
        #expect(reports.isEmpty)
        #expect(frames.map(\.channel) == [0, 1])
        #expect(frames[1].bytes == [0xFF])
    }

    @Test func version21WithColumnsAndFD() throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=2.1
            ;$STARTTIME=45244.925927354816
            ;$COLUMNS=N,O,T,B,I,d,R,L,D
                  1         0.000 DT  1     0123 Rx -  3    01 02 03
                  2        76.544 DT  2 1ABCDEF0 Rx -  8    00 01 02 03 04 05 06 07
                  3       100.000 FB  1     0100 Rx -  9    00 01 02 03 04 05 06 07 08 09 0A 0B
                  4       101.000 RR  1     0101 Rx -  4
                  5       102.000 ST  1          Rx -  4    00 00 00 04
                  6       103.000 DT  1     0123 Rx -  3    01 02

            """)
        #expect(frames.count == 4)
        #expect(reports.count == 1 && reports[0].hasPrefix("FILE:9:"))
        #expect(frames[1].timestamp - frames[0].timestamp == 76_544_000)
        #expect(frames[1].channel == 1 && frames[1].isExtended)
        #expect(frames[2].flags == [.fd, .bitRateSwitch] && frames[2].length == 12)
        #expect(frames[3].isRemote && frames[3].length == 4)
    }

    @Test func version20DefaultColumns() throws {
        let (frames, reports, _) = try readAll("""
            ;$FILEVERSION=2.0
            ;$STARTTIME=43000.5
                  1         1.000 DT     0123 Rx 3    0A 0B 0C

            """)
        #expect(reports.isEmpty)
        #expect(frames.first?.bytes == [0x0A, 0x0B, 0x0C])
        let expected: Int64 = (43000 - 25569) * 86_400_000_000_000 + 43_200_000_000_000 + 1_000_000
        #expect(frames.first?.timestamp == expected)
    }
}

@Suite struct CSVAndTextTests {
    @Test func gvretWithAndWithoutDirection() throws {
        let (frames, reports, format) = try readAll("""
            Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8
            1953613500,00000109,false,0,8,00,01,00,FF,FF,FF,0F,3D
            1953613800,18FF50E5,true,1,2,AA,BB
            1953614000,00000201,false,0,8,D1,00

            """)
        #expect(format == .gvret)
        #expect(frames.count == 2)
        #expect(reports.count == 1 && reports[0].hasPrefix("FILE:4:"))
        #expect(frames[0].timestamp == 1_953_613_500_000 && frames[0].bytes == [0, 1, 0, 0xFF, 0xFF, 0xFF, 0x0F, 0x3D])
        #expect(frames[1].isExtended && frames[1].channel == 1 && frames[1].bytes == [0xAA, 0xBB])

        let (withDirection, more, _) = try readAll("""
            Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8
            100,123,false,Tx,0,1,7F,,,,,,,

            """)
        #expect(more.isEmpty)
        #expect(withDirection.first?.flags == [.transmit] && withDirection.first?.bytes == [0x7F])
    }

    @Test func pcanText() throws {
        let (frames, reports, format) = try readAll("""
            Timestamp:      132.072247        ID: 0241    S Rx                DL:  8    00 07 ec bf 61 fb 2f d9
            Timestamp:      132.164063        ID: 0525    S Rx                DL:  6    04 03 00 00 00 d2
            Timestamp:      132.2             ID: 1FFFFFFF    E Rx            DL:  1    ff
            Timestamp:      132.3             ID: 0525    S Rx                DL:  6    04 03

            """)
        #expect(format == .pcanText)
        #expect(frames.count == 3)
        #expect(reports.count == 1 && reports[0].hasPrefix("FILE:4:"))
        #expect(frames[0].timestamp == 132_072_247_000 && frames[0].id == 0x241)
        #expect(frames[2].isExtended && frames[2].id == 0x1FFF_FFFF)
    }

    @Test func unknownContentIsRefusedWithThePath() throws {
        let text = (0..<100).map { "this is not a log line \($0)" }.joined(separator: "\n")
        #expect(throws: LogError.self) { _ = try readAll(text) }
    }

    @Test func overlongLineIsSkippedInConstantMemory() throws {
        let long = "(1.0) can0 123#" + String(repeating: "AB", count: 70_000)
        let (frames, reports, _) = try readAll("(0.5) can0 123#01\n" + long + "\n(2.0) can0 123#02\n")
        #expect(frames.map(\.bytes) == [[1], [2]])
        #expect(reports.count == 1 && reports[0].hasPrefix("FILE:2:"))
    }

    @Test(arguments: [
        ("logs/kona_bms_main_relay_on.asc", LogFormat.asc, 738),
        ("logs/kona_power_off_on_ready_off.gvret.csv", LogFormat.gvret, 39546),
        ("logs/foxbms_test_log.txt", LogFormat.pcanText, 301),
    ])
    func realCapturesReadCompletely(file: String, format: LogFormat, frames: Int) throws {
        let collector = ReportCollector()
        let reader = try LogReader(path: "\(shippedData)/\(file)", report: collector.add)
        var count = 0
        var frame = CANFrame(id: 0)
        while try reader.next(into: &frame) { count += 1 }
        #expect(reader.format == format)
        #expect(count == frames)
        #expect(collector.lines.isEmpty)
    }
}
