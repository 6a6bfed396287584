#if canImport(Glibc)
import Glibc
#endif

/// Buffered output to a file descriptor in one fixed buffer; appending numbers and
/// pre-encoded names allocates nothing.
public final class OutputBuffer {
    /// The descriptor written to (a writer that also seeks, such as BLF's header, needs it).
    public let fd: Int32
    private let storage: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var count = 0
    /// Set when a write failed (a closed pipe, a full disk); later output is dropped.
    public private(set) var failure: Int32 = 0

    public init(fd: Int32, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        flush()
        storage.deallocate()
    }

    public func flush() {
        var written = 0
        while written < count, failure == 0 {
            let result = write(fd, storage + written, count - written)
            if result < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += result
        }
        count = 0
    }

    @inline(__always) private func reserve(_ needed: Int) {
        if count + needed > capacity { flush() }
    }

    @inline(__always) public func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    public func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count > capacity {
            flush()
            bytes.withMemoryRebound(to: UInt8.self) { _ = write(fd, $0.baseAddress, $0.count) }
            return
        }
        reserve(bytes.count)
        let target = storage + count
        if bytes.count <= 32 {
            // Names and keys are short: a byte loop beats a call to memmove.
            for index in 0..<bytes.count { target[index] = bytes[index] }
        } else {
            target.update(from: bytes.baseAddress!, count: bytes.count)
        }
        count += bytes.count
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    public func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    public func append(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            append(value.magnitude)
        } else {
            append(UInt64(value))
        }
    }

    public func append(_ value: UInt64) {
        reserve(20)
        var digits = 1
        var rest = value
        while rest >= 10 { rest /= 10; digits += 1 }
        var cursor = storage + count + digits
        rest = value
        repeat {
            cursor -= 1
            cursor.pointee = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        count += digits
    }

    /// `value` as exactly `width` digits, zero-padded (fractions of seconds).
    public func append(_ value: UInt64, width: Int) {
        reserve(width)
        var cursor = storage + count + width
        var rest = value
        for _ in 0..<width {
            cursor -= 1
            cursor.pointee = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
        count += width
    }

    /// Shortest round-trip form, as Python prints floats; NaN and Infinity as Python's json writes them.
    public func append(_ value: Double) {
        if value.isNaN { append("NaN" as StaticString); return }
        if value.isInfinite { append(value < 0 ? "-Infinity" as StaticString : "Infinity"); return }
        append(value.description)
    }

    /// A JSON string literal with escapes.
    public func appendJSONString(_ text: String) {
        append(JSONText.quoted(text))
    }
}

public enum JSONText {
    /// A JSON number, or null for NaN and the infinities (JSON has neither).
    public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    /// The UTF-8 of a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> [UInt8] {
        var result: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): result += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): result += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: result += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: result += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: result += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                result += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: result.append(byte)
            }
        }
        result.append(UInt8(ascii: "\""))
        return result
    }
}
