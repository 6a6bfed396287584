import CAN
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// BLF written by celldrift's writer and read back; cut and damaged files. (Files written by python-can
/// and MF4 files are checked against the peers in Tests/interop/test_binary_logs.py.)
@Suite struct BLFTests {
    /// Every kind of frame the writer knows, at absolute times with nanoseconds.
    static let frames: [CANFrame] = {
        var frames: [CANFrame] = []
        let start: Int64 = 1_764_633_600_123_456_789
        for index in 0..<5000 {
            let time = start + Int64(index) * 1_000_123
            switch index % 5 {
            case 0: frames.append(CANFrame(timestamp: time, id: UInt32(index % 0x7FF), bytes: (0..<(index % 9)).map { UInt8(truncatingIfNeeded: $0 + index) }))
            case 1: frames.append(CANFrame(timestamp: time, id: 0x18DA_F100 | UInt32(index % 256), flags: [.extended, .transmit], channel: 1,
                                           bytes: [1, 2, 3, 4, 5, 6, 7, 8]))
            case 2: frames.append(CANFrame(timestamp: time, id: 0x123, flags: [.fd, .bitRateSwitch], channel: 2, bytes: (0..<48).map { UInt8($0) }))
            case 3: frames.append(CANFrame(timestamp: time, id: 0x7FF, flags: [.remote], length: 4))
            default: frames.append(CANFrame(timestamp: time, id: 0, flags: [.error], bytes: [0x10, 0x20]))
            }
        }
        return frames
    }()

    func written(_ frames: [CANFrame]) throws -> String {
        let path = temporaryFile("", suffix: ".blf")
        let fd = open(path, O_WRONLY | O_TRUNC)
        defer { close(fd) }
        let writer = BLFWriter(fd: fd, path: path)
        for frame in frames { try writer.write(frame) }
        try writer.finish()
        return path
    }

    func read(_ path: String) throws -> (frames: [CANFrame], error: LogError?) {
        let reader = try LogReader(path: path)
        var frames: [CANFrame] = []
        do {
            while let frame = try reader.next() { frames.append(frame) }
        } catch {
            return (frames, error)
        }
        #expect(reader.format == .blf)
        return (frames, nil)
    }

    @Test func writtenFramesReadBackExactly() throws {
        let path = try written(Self.frames)
        defer { unlink(path) }
        let (frames, error) = try read(path)
        #expect(error == nil)
        #expect(frames == Self.frames)
        // The header holds the start (to the millisecond), the size and the object count.
        let bytes = readFile(path)!
        #expect(Array(bytes[0..<4]) == Array("LOGG".utf8))
        bytes.withUnsafeBytes { raw in
            #expect(Int(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) == bytes.count)
            #expect(raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self) == 5000)
            #expect(raw.loadUnaligned(fromByteOffset: 40, as: UInt16.self) == 2025)
        }
    }

    @Test func aCutFileKeepsTheWholeContainersAndNamesTheOffset() throws {
        let path = try written(Self.frames)
        defer { unlink(path) }
        let bytes = readFile(path)!
        let cut = bytes.count - 100
        let torn = temporaryFile("", suffix: ".blf")
        defer { unlink(torn) }
        let fd = open(torn, O_WRONLY | O_TRUNC)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, cut) }
        close(fd)
        let (frames, error) = try read(torn)
        #expect(frames.count > 0 && frames.count < Self.frames.count)
        #expect(frames == Array(Self.frames.prefix(frames.count)))
        guard case .corrupt(let errorPath, let offset, let reason)? = error else {
            Issue.record("expected a corrupt-file error, got \(String(describing: error))")
            return
        }
        #expect(errorPath == torn && offset == cut && reason.hasPrefix("the file ends inside an object"))
    }

    @Test func aFileThatIsNotBLFIsNamedSo() throws {
        let path = temporaryFile("LOGG but not a header", suffix: ".blf")
        defer { unlink(path) }
        #expect(throws: LogError.corrupt(path: path, offset: 21, reason: "BLF file header cut off (21 of 72 bytes)")) {
            _ = try read(path)
        }
    }
}
