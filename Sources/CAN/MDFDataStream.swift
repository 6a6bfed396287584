/// The bytes of one data group's records, in order, across the blocks that hold them: a DT block, a DZ
/// block (deflate, or deflate after transposing the records' bytes), or a list of those (DL, possibly
/// under an HL). A DT is read in 1 MiB pieces and a DZ inflated whole into buffers grown to the largest
/// block met, so reading allocates nothing in steady state.
final class MDFDataStream {
    private let file: MDFFile
    /// The DT and DZ blocks, in order.
    private let blocks: [Int]
    private var nextBlock = 0
    /// Bytes handed out or skipped so far: the offset a VLSD channel's record points at.
    private(set) var consumed = 0
    /// The current piece of data: `piece.bytes[position..<filled]` not yet handed out.
    private let piece = BlockBuffer()
    private var position = 0, filled = 0
    /// The rest of the current DT block: file offset and bytes left.
    private var storedOffset = 0, storedLeft = 0
    /// File offset where the current piece's block starts, for errors.
    private(set) var blockOffset = 0
    private let compressed = BlockBuffer()
    private let record = BlockBuffer()
    private let inflater = BlockInflater()
    private let zipHeader = ScratchBytes(24)

    init(file: MDFFile, data link: Int) throws(LogError) {
        self.file = file
        var found: [Int] = []
        var lists = Set<Int>()
        if link != 0 { try Self.collect(file, link, into: &found, lists: &lists, depth: 0) }
        blocks = found
    }

    /// The data blocks under `link`, in order. A list met twice (a loop, or one list in two places) is an error.
    private static func collect(_ file: MDFFile, _ link: Int, into found: inout [Int], lists: inout Set<Int>, depth: Int) throws(LogError) {
        guard depth < 4 else { throw file.corrupt(link, "data lists nested too deep") }
        guard found.count < 1 << 22 else { throw file.corrupt(link, "more than \(1 << 22) data blocks") }
        let header = try file.header(at: link)
        switch header.tag {
        case fourCC("##DT"), fourCC("##DZ"), fourCC("##SD"):
            found.append(link)
        case fourCC("##HL"):
            guard lists.insert(link).inserted else { throw file.corrupt(link, "a data list met twice") }
            let list = try file.block(at: link, ["##HL"])
            try collect(file, list.link(0), into: &found, lists: &lists, depth: depth + 1)
        case fourCC("##DL"):
            var next = link
            while next != 0 {
                guard lists.insert(next).inserted else { throw file.corrupt(next, "a data list met twice") }
                let list = try file.block(at: next, ["##DL"])
                let count = Int(list.u32(4))
                guard count <= list.links.count - 1 else { throw file.corrupt(next, "DL block lists \(count) blocks but links \(list.links.count - 1)") }
                for index in 0..<count where list.link(1 + index) != 0 {
                    try collect(file, list.link(1 + index), into: &found, lists: &lists, depth: depth + 1)
                }
                next = list.link(0)
            }
        default:
            throw file.corrupt(link, "data link to a \(header.name) block (expected DT, DZ, DL or HL)")
        }
    }

    /// The next `count` bytes: a pointer into the current piece when they lie in it, else assembled in a
    /// buffer of their own. Nil at the end of the data (a record cut off there is an error).
    @inline(__always)
    func next(_ count: Int) throws(LogError) -> UnsafeRawBufferPointer? {
        consumed += count
        if filled - position >= count {
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(piece.bytes)[position..<(position + count)])
        }
        return try assemble(count)
    }

    /// Whether any data is left (loads the next piece if the current one is used up).
    func peekMore() throws(LogError) -> Bool {
        if filled > position { return true }
        return try load()
    }

    /// Skips `count` bytes (a record of a group that is not read).
    func skip(_ count: Int) throws(LogError) {
        consumed += count
        var left = count
        while left > 0 {
            if filled == position { guard try load() else { throw file.corrupt(blockOffset, "the data ends inside a record") } }
            let step = min(left, filled - position)
            position += step
            left -= step
        }
    }

    @inline(never)
    private func assemble(_ count: Int) throws(LogError) -> UnsafeRawBufferPointer? {
        record.reserve(count)
        var done = 0
        while done < count {
            if filled == position {
                guard try load() else {
                    if done == 0 { consumed -= count; return nil }
                    throw file.corrupt(blockOffset, "the data ends inside a record (\(done) of \(count) bytes)")
                }
            }
            let step = min(count - done, filled - position)
            (record.bytes.baseAddress! + done).copyMemory(from: piece.bytes.baseAddress! + position, byteCount: step)
            position += step
            done += step
        }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(record.bytes)[0..<count])
    }

    /// Loads the next piece of data; false when there is none.
    private func load() throws(LogError) -> Bool {
        position = 0
        filled = 0
        while storedLeft == 0 {
            guard nextBlock < blocks.count else { return false }
            let offset = blocks[nextBlock]
            nextBlock += 1
            blockOffset = offset
            let header = try file.header(at: offset)
            if header.tag == fourCC("##DZ") {
                try inflate(offset, header)
                if filled > 0 { return true }
            } else {
                storedOffset = offset + 24 + 8 * header.linkCount
                storedLeft = header.length - 24 - 8 * header.linkCount
            }
        }
        let count = min(storedLeft, 1 << 20)
        piece.reserve(count)
        try file.read(at: storedOffset, count: count, into: piece.bytes.baseAddress!)
        storedOffset += count
        storedLeft -= count
        filled = count
        return true
    }

    private func inflate(_ offset: Int, _ header: MDFFile.Header) throws(LogError) {
        try file.read(at: offset + 24, count: 24, into: zipHeader.bytes.baseAddress!)
        let raw = zipHeader.raw
        let method = raw.u8(2), columns = Int(raw.u32(4))
        let original = Int(truncatingIfNeeded: raw.u64(8)), stored = Int(truncatingIfNeeded: raw.u64(16))
        guard original >= 0, original <= 1 << 28, stored >= 0, stored <= header.length - 48 else {
            throw file.corrupt(offset, "DZ block declares \(original) bytes from \(stored) stored")
        }
        guard method <= 1 else { throw file.corrupt(offset, "DZ block compressed with unknown method \(method)") }
        compressed.reserve(stored)
        try file.read(at: offset + 48, count: stored, into: compressed.bytes.baseAddress!)
        piece.reserve(original)
        let source = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(compressed.bytes)[0..<stored])
        switch inflater.inflate(source, into: UnsafeMutableRawBufferPointer(rebasing: piece.bytes[0..<original])) {
        case .success(let count):
            guard count == original else { throw file.corrupt(offset, "DZ block inflates to \(count) bytes, declares \(original)") }
        case .failure(let failure): throw file.corrupt(offset, "DZ block: \(failure.reason)")
        }
        if method == 1, columns > 0 { untranspose(original, columns: columns) }
        filled = original
    }

    /// Transposed deflate stores the whole rows' bytes column by column (then the remainder as it was);
    /// put back in row order: in tiles of rows that stay in cache, eight columns by eight rows at a time
    /// as eight 64-bit words transposed in registers, the edges byte by byte.
    private func untranspose(_ count: Int, columns: Int) {
        let rows = count / columns
        guard rows > 1 else { return }
        compressed.reserve(rows * columns)
        let source = UnsafeRawPointer(piece.bytes.baseAddress!)
        let target = compressed.bytes.baseAddress!
        let tile = 128
        let wideColumns = columns - columns % 8
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 8) { word in
        for first in stride(from: 0, to: rows, by: tile) {
            let last = min(first + tile, rows)
            let wideLast = last - (last - first) % 8
            for column in stride(from: 0, to: wideColumns, by: 8) {
                for row in stride(from: first, to: wideLast, by: 8) {
                    for index in 0..<8 { word[index] = source.loadUnaligned(fromByteOffset: (column + index) * rows + row, as: UInt64.self) }
                    Self.transpose8x8(word)
                    for index in 0..<8 { (target + (row + index) * columns + column).storeBytes(of: word[index], as: UInt64.self) }
                }
            }
            for row in first..<last {
                let start = row < wideLast ? wideColumns : 0
                for column in start..<columns {
                    target.storeBytes(of: source.load(fromByteOffset: column * rows + row, as: UInt8.self), toByteOffset: row * columns + column, as: UInt8.self)
                }
            }
        }
        }
        piece.bytes.baseAddress!.copyMemory(from: target, byteCount: rows * columns)
    }

    /// Transposes an 8x8 byte matrix held as eight little-endian words (word i's byte j is element i, j)
    /// by swapping ever larger off-diagonal blocks: bytes, then pairs, then quadruples.
    @inline(__always)
    private static func transpose8x8(_ word: UnsafeMutableBufferPointer<UInt64>) {
        swapBlocks(word, distance: 1, mask: 0x00FF_00FF_00FF_00FF)
        swapBlocks(word, distance: 2, mask: 0x0000_FFFF_0000_FFFF)
        swapBlocks(word, distance: 4, mask: 0x0000_0000_FFFF_FFFF)
    }

    @inline(__always)
    private static func swapBlocks(_ word: UnsafeMutableBufferPointer<UInt64>, distance: Int, mask: UInt64) {
        let shift = UInt64(8 * distance)
        for index in 0..<8 where index & distance == 0 {
            let swapped = ((word[index] >> shift) ^ word[index + distance]) & mask
            word[index + distance] ^= swapped
            word[index] ^= swapped << shift
        }
    }
}
