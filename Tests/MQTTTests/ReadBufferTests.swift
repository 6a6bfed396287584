import CReadBuffer
import Glibc
import MQTT
import Testing

/// CReadBuffer's read, through a socketpair standing in for the broker's socket: the attached descriptor
/// is served from one kernel read, every other one goes straight through; handed to libmosquitto alone,
/// not to the rest of the process.
@Suite(.serialized) struct ReadBufferTests {
    /// A connected pair with a non-blocking reading end, so that "nothing more" is EAGAIN, not a hang.
    private func pair() -> (reader: Int32, writer: Int32) {
        var ends: [Int32] = [-1, -1]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        return (ends[0], ends[1])
    }

    /// `count` pairs for `body`; afterwards the buffer is detached and every end closed.
    private func withPairs(_ count: Int, _ body: ([(reader: Int32, writer: Int32)]) -> Void) {
        let pairs = (0..<count).map { _ in pair() }
        defer {
            celldrift_read_buffer_attach(-1)
            for (reader, writer) in pairs { close(reader); close(writer) }
        }
        body(pairs)
    }

    private func send(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == bytes.count)
    }

    @Test func smallReadsOfTheAttachedSocketAreServedFromOneKernelRead() {
        withPairs(1) { pairs in
            let (reader, writer) = pairs[0]
            celldrift_read_buffer_attach(reader)
            send("0123456789abcdef", to: writer)
            var byte: UInt8 = 0
            #expect(celldrift_buffered_read(reader, &byte, 1) == 1)
            #expect(byte == UInt8(ascii: "0"))
            #expect(celldrift_read_buffer_pending() == 15)  // the other 15 came with the same kernel read
            #expect(celldrift_read_buffer_kernel_drained() == 1)
            send("XY", to: writer)
            var rest = [UInt8](repeating: 0, count: 32)
            #expect(celldrift_buffered_read(reader, &rest, 32) == 15)  // what is buffered first, in order
            #expect(String(decoding: rest[0..<15], as: UTF8.self) == "123456789abcdef")
            #expect(celldrift_buffered_read(reader, &rest, 32) == 2)  // then the kernel again
            #expect(String(decoding: rest[0..<2], as: UTF8.self) == "XY")
            #expect(celldrift_buffered_read(reader, &rest, 32) == -1 && errno == EAGAIN)
            #expect(celldrift_read_buffer_pending() == 0)
        }
    }

    @Test func otherDescriptorsAreReadStraightFromTheKernel() {
        withPairs(2) { pairs in
            let (attached, other) = (pairs[0], pairs[1])
            celldrift_read_buffer_attach(attached.reader)
            send("abcdef", to: other.writer)
            var byte: UInt8 = 0
            #expect(celldrift_buffered_read(other.reader, &byte, 1) == 1)
            #expect(byte == UInt8(ascii: "a"))
            #expect(celldrift_read_buffer_pending() == 0)  // nothing taken into the buffer
            var rest = [UInt8](repeating: 0, count: 8)
            #expect(celldrift_buffered_read(other.reader, &rest, 8) == 5)
        }
    }

    @Test func attachingAnotherSocketDropsWhatWasBuffered() {
        withPairs(2) { pairs in
            let (first, second) = (pairs[0], pairs[1])
            celldrift_read_buffer_attach(first.reader)
            send("stale bytes of a lost connection", to: first.writer)
            var byte: UInt8 = 0
            #expect(celldrift_buffered_read(first.reader, &byte, 1) == 1)
            #expect(celldrift_read_buffer_pending() > 0)
            celldrift_read_buffer_attach(second.reader)  // reconnected: a new socket
            #expect(celldrift_read_buffer_pending() == 0)
            send("fresh", to: second.writer)
            var rest = [UInt8](repeating: 0, count: 16)
            #expect(celldrift_buffered_read(second.reader, &rest, 16) == 5)
            #expect(String(decoding: rest[0..<5], as: UTF8.self) == "fresh")
        }
    }

    @Test func theProcessOwnReadIsNotBufferedEvenForTheAttachedSocket() {
        withPairs(1) { pairs in
            let (reader, writer) = pairs[0]
            celldrift_read_buffer_attach(reader)
            send("0123456789", to: writer)
            var byte: UInt8 = 0
            #expect(read(reader, &byte, 1) == 1)  // Glibc's read: straight to the kernel
            #expect(celldrift_read_buffer_pending() == 0)
            var rest = [UInt8](repeating: 0, count: 16)
            #expect(read(reader, &rest, 16) == 9)
        }
    }

    @Test func libmosquittosReadsAreHandedToTheBufferAndNoOtherLibrarysAre() throws {
        #expect(try MQTTClient(clientID: "hooked", subscriptions: [], will: nil, bufferedReads: true).readsBuffered)
        #expect(celldrift_read_buffer_install("libmosquitto.so") >= 1)
        #expect(celldrift_read_buffer_install("libc.so") == 0)  // libc defines read; it does not import it
        #expect(celldrift_read_buffer_install("libnot-loaded.so") == 0)
        #expect(try !MQTTClient(clientID: "plain", subscriptions: [], will: nil).readsBuffered)
    }
}
