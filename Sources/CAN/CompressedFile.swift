import CZlib

#if canImport(Glibc)
import Glibc
#endif

/// The one place that talks to zlib: a file or descriptor read through gzread, which passes
/// plain files through unchanged, so `.gz` logs and plain logs share one code path. (The binary logs'
/// compressed blocks go through libdeflate: `BlockInflater`.)
public final class CompressedFile {
    private var handle: gzFile?
    public let path: String

    /// Opens `path`; "-" means standard input.
    public init(path: String) throws(LogError) {
        self.path = path
        let fd: Int32 = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LogError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard let handle = gzdopen(fd, "rb") else {
            close(fd)
            throw LogError.cannotOpen(path: path, reason: "zlib could not open the stream")
        }
        gzbuffer(handle, 1 << 17)
        self.handle = handle
    }

    /// Bytes of the file (compressed ones for a .gz) read so far: for progress against the file's size.
    public var bytesConsumed: Int {
        guard let handle else { return 0 }
        return Int(max(0, gzoffset(handle)))
    }

    /// Whether the bytes come out of a gzip stream (false for a plain file read through).
    public var isCompressed: Bool {
        guard let handle else { return false }
        return gzdirect(handle) == 0
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(LogError) -> Int {
        guard let handle, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let count = gzread(handle, base, UInt32(min(buffer.count, Int(Int32.max))))
        if count < 0 {
            var code: Int32 = 0
            let message = gzerror(handle, &code).map { String(cString: $0) } ?? "read error"
            throw LogError.readFailed(path: path, reason: message)
        }
        if count == 0, gzeof(handle) == 0 {
            var code: Int32 = 0
            if let message = gzerror(handle, &code), code != Z_OK {
                throw LogError.readFailed(path: path, reason: String(cString: message))
            }
        }
        return Int(count)
    }

    deinit {
        if let handle { gzclose(handle) }
    }
}

/// Errors that stop reading a whole log (a bad line is not one of them: it is counted and skipped).
public enum LogError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case readFailed(path: String, reason: String)
    case unknownFormat(path: String)
    case writeFailed(path: String, reason: String)
    /// A binary log (BLF, MDF4) that stops making sense at a byte offset of the file; the frames
    /// before it have been handed out.
    case corrupt(path: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .readFailed(path, reason): return "\(path): read failed: \(reason)"
        case let .unknownFormat(path):
            return "\(path): not a CAN log this tool knows (candump -L, Vector ASC, PCAN TRC, GVRET CSV, PCAN text, Vector BLF, MDF4 bus logging)"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .corrupt(path, offset, reason): return "\(path): byte \(offset): \(reason); reading stopped there"
        }
    }
}
