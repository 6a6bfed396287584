import CDeflate

/// The one place that talks to libdeflate: zlib-format blocks (BLF log containers, MDF4 DZ blocks)
/// inflated whole into caller-owned buffers. libdeflate rather than zlib's inflate because these blocks
/// are whole in memory anyway, and it inflates them about ten times faster here (docs/BENCHMARKS.md);
/// its decompressor is allocated once, so inflating allocates nothing.
public final class BlockInflater {
    private let decompressor: OpaquePointer?

    public init() { decompressor = libdeflate_alloc_decompressor() }

    deinit { if let decompressor { libdeflate_free_decompressor(decompressor) } }

    /// Inflates `source` into `destination`; the byte count written, or why it failed.
    public func inflate(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Result<Int, InflateFailure> {
        guard let decompressor else { return .failure(InflateFailure(reason: "libdeflate could not allocate its decompressor")) }
        guard let input = source.baseAddress, let output = destination.baseAddress else {
            return .failure(InflateFailure(reason: "compressed data is empty"))
        }
        var written = 0
        switch libdeflate_zlib_decompress(decompressor, input, source.count, output, destination.count, &written) {
        case LIBDEFLATE_SUCCESS: return .success(written)
        case LIBDEFLATE_INSUFFICIENT_SPACE:
            return .failure(InflateFailure(reason: "inflates to more than the \(destination.count) bytes the block declares"))
        default: return .failure(InflateFailure(reason: "zlib data is corrupt"))
        }
    }

    /// Compresses `source` as one zlib-format block (for the writers; not on a reading path).
    public static func deflate(_ source: UnsafeRawBufferPointer, level: Int32 = 6) -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(level) else { preconditionFailure("libdeflate could not allocate a compressor") }
        defer { libdeflate_free_compressor(compressor) }
        var output = [UInt8](repeating: 0, count: libdeflate_zlib_compress_bound(compressor, source.count))
        let count = output.withUnsafeMutableBytes { out in
            libdeflate_zlib_compress(compressor, source.baseAddress, source.count, out.baseAddress, out.count)
        }
        precondition(count > 0 || source.isEmpty, "libdeflate could not compress \(source.count) bytes")
        output.removeLast(output.count - count)
        return output
    }
}

public struct InflateFailure: Error {
    public let reason: String
}
