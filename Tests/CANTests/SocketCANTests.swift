import CAN
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The SocketCAN read path through a socketpair carrying the kernel's frame structures (this kernel has
/// no AF_CAN), and the clear error where it has none.
@Suite struct SocketCANTests {
    private func pair() -> (reader: Int32, writer: Int32) {
        var descriptors: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &descriptors) == 0)
        return (descriptors[0], descriptors[1])
    }

    /// struct can_frame (16 bytes) or struct canfd_frame (72): id with flags, length, FD flags, data.
    private func send(_ fd: Int32, id: UInt32, data: [UInt8], fd fdFrame: Bool = false, fdFlags: UInt8 = 0) {
        var bytes = [UInt8](repeating: 0, count: fdFrame ? 72 : 16)
        withUnsafeBytes(of: id.littleEndian) { for index in 0..<4 { bytes[index] = $0[index] } }
        bytes[4] = UInt8(data.count)
        bytes[5] = fdFlags
        for (index, byte) in data.enumerated() { bytes[8 + index] = byte }
        #expect(write(fd, bytes, bytes.count) == bytes.count)
    }

    @Test func classicFDExtendedRemoteAndErrorFrames() throws {
        let (readFD, writeFD) = pair()
        defer { close(readFD); close(writeFD) }
        send(writeFD, id: 0x123, data: [1, 2, 3, 4])
        send(writeFD, id: 0x1234_5678 | 0x8000_0000, data: Array(0..<8))
        send(writeFD, id: 0x7FF | 0x4000_0000, data: [])
        send(writeFD, id: 0x2000_0004, data: [0, 0, 0, 0, 0, 0, 0, 0])  // error frame: controller problem
        send(writeFD, id: 0x250, data: Array(0..<64), fd: true, fdFlags: 0x01)
        let reader = SocketCANReader(descriptor: readFD)
        var frames: [CANFrame] = []
        var frame = CANFrame(id: 0)
        for _ in 0..<5 where try reader.read(into: &frame) { frames.append(frame) }
        #expect(frames.count == 4 && reader.errorFrames == 1 && reader.framesRead == 4)
        #expect(frames[0].id == 0x123 && frames[0].length == 4 && frames[0].payload[3] == 4 && !frames[0].isExtended)
        #expect(frames[1].id == 0x1234_5678 && frames[1].isExtended && frames[1].payload[7] == 7)
        #expect(frames[2].id == 0x7FF && frames[2].isRemote)
        #expect(frames[3].id == 0x250 && frames[3].isFD && frames[3].flags.contains(.bitRateSwitch) && frames[3].payload[63] == 63)
        // Without a kernel timestamp the wall clock stamps the frame.
        #expect(abs(Double(frames[0].timestamp) / 1e9 - Double(time(nil))) < 5)
        // Nothing waiting: false, not an error.
        #expect(try reader.read(into: &frame) == false)
    }

    @Test func aTornStructureIsAnErrorNamingTheInterface() {
        let (readFD, writeFD) = pair()
        defer { close(readFD); close(writeFD) }
        _ = write(writeFD, [UInt8](repeating: 0, count: 10), 10)
        let reader = SocketCANReader(descriptor: readFD, interface: "vcan9")
        var frame = CANFrame(id: 0)
        #expect(throws: LogError.readFailed(path: "vcan9", reason: "10 bytes is neither a CAN nor a CAN FD frame")) {
            try reader.read(into: &frame)
        }
    }

    /// The interface goes away (the socket's peer hangs up: the read fails), stays away for one retry,
    /// then comes back: the link says down once, tries again every 2 s, says up, and frames flow again.
    @Test func anInterfaceThatGoesAwayIsReopenedUntilItIsBack() throws {
        var writers: [Int32] = []
        var readers: [Int32] = []
        var away = false
        defer { (writers + readers).forEach { close($0) } }
        let link = try SocketCANLink(interface: "vcan0", retryInterval: 2) { () throws(LogError) -> SocketCANReader in
            if away { throw LogError.cannotOpen(path: "vcan0", reason: "no such CAN interface") }
            let (readFD, writeFD) = pair()
            readers.append(readFD)
            writers.append(writeFD)
            return SocketCANReader(descriptor: readFD, interface: "vcan0")
        }
        var received: [UInt32] = []
        send(writers[0], id: 0x101, data: [1])
        #expect(link.read(now: 100) { received.append($0.id) } == nil)
        #expect(received == [0x101] && link.descriptor == readers[0])

        close(writers.removeFirst())
        away = true
        guard case .down(let reason) = link.read(now: 101, { received.append($0.id) }) else {
            Issue.record("a failed read did not take the link down")
            return
        }
        #expect(reason.contains("vcan0") && link.descriptor == nil)
        #expect(link.read(now: 102.9) { _ in } == nil && link.attempts == 0)  // not yet due
        #expect(link.read(now: 103) { _ in } == nil && link.attempts == 1 && link.descriptor == nil)  // still away
        away = false
        #expect(link.read(now: 104.9) { _ in } == nil && link.attempts == 1)  // the next try is at 105
        #expect(link.read(now: 105) { _ in } == .up && link.descriptor == readers[1] && link.attempts == 2)
        send(writers[0], id: 0x102, data: [2])
        send(writers[0], id: 0x103, data: [3])
        #expect(link.read(now: 105.1) { received.append($0.id) } == nil)
        #expect(received == [0x101, 0x102, 0x103])
    }

    @Test func withoutAFCANTheErrorSaysSo() {
        // On a kernel with CAN support but no such interface, the error names the interface instead.
        do {
            _ = try SocketCANReader(interface: "can0", ids: [0x250])
            Issue.record("opened can0 on a machine without it")
        } catch {
            let text = error.description
            #expect(text.contains("can0") && (text.contains("no AF_CAN") || text.contains("no such CAN interface")), "\(text)")
        }
    }
}
