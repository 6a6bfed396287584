#if canImport(Glibc)
import Glibc
#endif

/// Splits a stream into lines inside one fixed buffer: memory stays constant whatever the file size,
/// and a line is handed out as a pointer into the buffer, valid until the next call.
/// A struct, so a reading loop can keep it in a local (no exclusivity checks per line); whoever
/// creates it calls `deallocate()` once.
public struct LineSource {
    public struct Line {
        public let bytes: UnsafeBufferPointer<UInt8>
        /// 1-based line number in the file.
        public let number: Int
        /// The line was longer than the buffer; only its head is in `bytes`.
        public let truncated: Bool
    }

    private let file: CompressedFile
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var start = 0
    private var end = 0
    private var atEOF = false
    private var lineNumber = 0
    /// Where the line handed out last starts in the buffer, while it is still there (-1 otherwise).
    private var lastLineStart = -1

    public var path: String { file.path }
    public var bytesConsumed: Int { file.bytesConsumed }

    public static let defaultCapacity = 1 << 16

    public init(file: CompressedFile, capacity: Int = LineSource.defaultCapacity) {
        self.file = file
        buffer = .allocate(capacity: capacity)
    }

    public func deallocate() { buffer.deallocate() }

    public mutating func next() throws(LogError) -> Line? {
        while true {
            if let newline = indexOfNewline(from: start) {
                let line = makeLine(from: start, to: newline, truncated: false)
                lastLineStart = start
                start = newline + 1
                return line
            }
            if atEOF {
                guard start < end else { return nil }
                let line = makeLine(from: start, to: end, truncated: false)
                lastLineStart = start
                start = end
                return line
            }
            if start == 0 && end == buffer.count {
                // A line longer than the whole buffer: hand out its head, then drop the rest of it.
                lastLineStart = -1
                let line = makeLine(from: 0, to: end, truncated: true)
                try discardUntilNewline()
                return line
            }
            try refill()
        }
    }

    /// Hands the line returned last out again at the next call: a reader can look at a stream's first line
    /// (standard input cannot be opened twice) and pass the stream on whole. False when that line is
    /// gone (it was longer than the buffer).
    public mutating func unread() -> Bool {
        guard lastLineStart >= 0 else { return false }
        start = lastLineStart
        lastLineStart = -1
        lineNumber -= 1
        return true
    }

    /// The first `count` bytes not yet handed out (fewer at the end of the stream), without consuming them:
    /// a reader looks at a binary log's magic bytes before deciding how to read it.
    public mutating func peek(_ count: Int) throws(LogError) -> UnsafeBufferPointer<UInt8> {
        precondition(count <= buffer.count, "peek beyond the buffer")
        while end - start < count, !atEOF { try refill() }
        return UnsafeBufferPointer(rebasing: buffer[start..<min(end, start + count)])
    }

    /// Reads raw bytes (a binary log read through the same stream): what is buffered first, then the file.
    /// Fills `destination` whole unless the stream ends; returns the count.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) throws(LogError) -> Int {
        lastLineStart = -1
        var filled = 0
        let buffered = min(end - start, destination.count)
        if buffered > 0 {
            destination.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: buffered)
            start += buffered
            filled = buffered
        }
        while filled < destination.count, !atEOF {
            let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[filled...]))
            if count == 0 { atEOF = true } else { filled += count }
        }
        return filled
    }

    private mutating func compact() {
        lastLineStart = -1
        let pending = end - start
        if pending > 0 {
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: buffer.baseAddress! + start, byteCount: pending)
        }
        start = 0
        end = pending
    }

    /// The stream read through: for a binary format that needs the file itself (MDF4 reads by offsets).
    public var underlyingFile: CompressedFile { file }

    private func indexOfNewline(from index: Int) -> Int? {
        guard index < end, let base = buffer.baseAddress,
              let found = memchr(base + index, 0x0A, end - index) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private mutating func makeLine(from lower: Int, to upper: Int, truncated: Bool) -> Line {
        var upper = upper
        if upper > lower, buffer[upper - 1] == 0x0D { upper -= 1 }
        lineNumber += 1
        let slice = UnsafeBufferPointer(rebasing: buffer[lower..<upper])
        return Line(bytes: slice, number: lineNumber, truncated: truncated)
    }

    private mutating func refill() throws(LogError) {
        lastLineStart = -1
        if start > 0 { compact() }
        let count = try file.read(into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[end...])))
        if count == 0 { atEOF = true } else { end += count }
    }

    private mutating func discardUntilNewline() throws(LogError) {
        start = 0
        end = 0
        while !atEOF {
            let count = try file.read(into: UnsafeMutableRawBufferPointer(buffer))
            if count == 0 { atEOF = true; return }
            end = count
            if let newline = indexOfNewline(from: 0) {
                start = newline + 1
                return
            }
        }
        end = 0
    }
}
