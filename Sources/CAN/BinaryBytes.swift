/// Little-endian fields of binary logs (BLF, MDF4) read at byte offsets, unaligned.
extension UnsafeRawBufferPointer {
    @inline(__always) func u8(_ offset: Int) -> UInt8 { self[offset] }
    @inline(__always) func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always) func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    @inline(__always) func f64(_ offset: Int) -> Double { Double(bitPattern: u64(offset)) }

    /// Whether the four bytes at `offset` are `tag` (an ASCII block or object signature).
    @inline(__always) func hasTag(_ tag: UInt32, at offset: Int) -> Bool {
        offset >= 0 && offset + 4 <= count && u32(offset) == tag
    }
}

/// A four-character signature as the little-endian word it is in a file ("LOBJ", "##DT").
@inline(__always) func fourCC(_ text: StaticString) -> UInt32 {
    let bytes = text.utf8Start
    return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
}

/// A growable byte buffer for blocks whose size a file declares: grown (rarely) to the largest block
/// met, then reused, so reading allocates nothing in steady state. A class, so that it is freed however
/// its owner goes (a reader whose init throws half-way never runs its deinit).
final class BlockBuffer {
    // Read per record: a class property's runtime exclusivity check there cost more than the read.
    @exclusivity(unchecked) private(set) var bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)

    deinit { bytes.deallocate() }

    func reserve(_ count: Int, keeping kept: Int = 0) {
        guard count > bytes.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, bytes.count * 2), alignment: 8)
        if kept > 0 { grown.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: kept) }
        bytes.deallocate()
        bytes = grown
    }
}

/// A scratch buffer for a header read once (typed throws cannot pass through the standard library's
/// rethrowing `withUnsafeMutableBytes`).
final class ScratchBytes {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ count: Int) { bytes = .allocate(byteCount: count, alignment: 8); bytes.initializeMemory(as: UInt8.self, repeating: 0) }
    deinit { bytes.deallocate() }
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }
}
