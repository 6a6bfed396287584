#if canImport(Glibc)
import Glibc
#endif

/// An MDF4 file read by offsets (its blocks link to each other by absolute position), and its metadata
/// blocks: a 24-byte header (signature, length, link count), the links, the data.
final class MDFFile {
    let path: String
    let size: Int
    private let fd: Int32

    init(path: String) throws(LogError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LogError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        size = fstat(fd, &status) == 0 ? Int(status.st_size) : 0
    }

    deinit { close(fd) }

    func corrupt(_ offset: Int, _ reason: String) -> LogError { .corrupt(path: path, offset: offset, reason: reason) }

    /// Reads exactly `count` bytes at `offset` into `destination`.
    func read(at offset: Int, count: Int, into destination: UnsafeMutableRawPointer) throws(LogError) {
        guard offset >= 0, count >= 0, offset + count <= size else {
            throw corrupt(offset, "a block of \(count) bytes runs past the end of the file (\(size) bytes)")
        }
        var done = 0
        while done < count {
            let got = pread(fd, destination + done, count - done, off_t(offset + done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw LogError.readFailed(path: path, reason: got < 0 ? String(cString: strerror(errno)) : "file shrank") }
            done += got
        }
    }

    /// A metadata block whole (HD, DG, CG, CN, CC, TX, DL, HL), checked against the expected signatures.
    func block(at offset: Int, _ expected: [StaticString]) throws(LogError) -> MDFBlock {
        let header = try self.header(at: offset)
        guard expected.contains(where: { fourCC($0) == header.tag }) else {
            throw corrupt(offset, "expected a \(expected.map { "\($0)" }.joined(separator: " or ")) block, found \(header.name)")
        }
        guard header.length <= 1 << 24, header.length >= 24 + 8 * header.linkCount else {
            throw corrupt(offset, "\(header.name) block of \(header.length) bytes with \(header.linkCount) links")
        }
        let scratch = ScratchBytes(header.length - 24)
        if scratch.bytes.count > 0 { try read(at: offset + 24, count: scratch.bytes.count, into: scratch.bytes.baseAddress!) }
        let bytes = Array(scratch.raw)
        let links = (0..<header.linkCount).map { Int(truncatingIfNeeded: scratch.raw.u64(8 * $0)) }
        for link in links where link < 0 || link > size { throw corrupt(offset, "\(header.name) block links to byte \(link), past the end of the file") }
        return MDFBlock(offset: offset, tag: header.tag, links: links, data: Array(bytes[(8 * header.linkCount)...]))
    }

    struct Header {
        let tag: UInt32
        let length: Int
        let linkCount: Int
        var name: String { String(decoding: withUnsafeBytes(of: tag.littleEndian) { Array($0) }, as: UTF8.self) }
    }

    func header(at offset: Int) throws(LogError) -> Header {
        guard offset > 0 else { throw corrupt(offset, "a link to byte 0 where a block is needed") }
        let scratch = ScratchBytes(24)
        try read(at: offset, count: 24, into: scratch.bytes.baseAddress!)
        let bytes = scratch.raw
        let header = Header(tag: bytes.u32(0), length: Int(truncatingIfNeeded: bytes.u64(8)), linkCount: Int(truncatingIfNeeded: bytes.u64(16)))
        guard bytes.u8(0) == 0x23, bytes.u8(1) == 0x23, header.length >= 24, header.linkCount >= 0, header.linkCount < 1 << 20,
              offset + header.length <= size else {
            throw corrupt(offset, "no MDF block here (or one running past the end of the file)")
        }
        return header
    }

    /// The text of a TX (or the XML of an MD) block; "" for no link.
    func text(at offset: Int) throws(LogError) -> String {
        guard offset != 0 else { return "" }
        let block = try self.block(at: offset, ["##TX", "##MD"])
        return String(decoding: block.data.prefix { $0 != 0 }, as: UTF8.self)
    }
}

struct MDFBlock {
    let offset: Int
    let tag: UInt32
    let links: [Int]
    let data: [UInt8]

    func link(_ index: Int) -> Int { index < links.count ? links[index] : 0 }
    func u8(_ at: Int) -> UInt8 { at < data.count ? data[at] : 0 }
    func u16(_ at: Int) -> UInt16 { at + 2 <= data.count ? data.withUnsafeBytes { $0.u16(at) } : 0 }
    func u32(_ at: Int) -> UInt32 { at + 4 <= data.count ? data.withUnsafeBytes { $0.u32(at) } : 0 }
    func u64(_ at: Int) -> UInt64 { at + 8 <= data.count ? data.withUnsafeBytes { $0.u64(at) } : 0 }
    func f64(_ at: Int) -> Double { Double(bitPattern: u64(at)) }
}
