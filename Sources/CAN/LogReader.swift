/// Reads CAN frames from a log in any supported format, recognized from its content.
/// Memory is constant whatever the file size. A bad line is reported once through `report`
/// with file:line and skipped; `invalidLines` counts them. Binary logs (BLF, MDF4), recognized from
/// their first bytes, go to their own readers; a corrupt one ends with `LogError.corrupt` (the byte
/// offset) after the frames before the damage.
public final class LogReader {
    public let path: String
    public private(set) var format: LogFormat?
    public private(set) var invalidLines = 0
    public private(set) var framesRead = 0
    /// Lines that are seen before the format is known and fit none, at most this many, before giving up.
    public static let detectionWindow = 64

    private var lines: LineSource
    private var parser: AnyLineParser?
    private let report: (String) -> Void
    private let ascZoneSeconds: Int64
    private var undetectedLines: [Int] = []
    private var binary: BinaryLog?
    private var checkedMagic = false

    private enum BinaryLog {
        case blf(BLFReader)
        case mdf(MDFReader)
    }

    /// `format` forces a format instead of recognizing it; `report` receives one message per bad line;
    /// `ascZoneSeconds` is the zone (seconds east of UTC) of an ASC header's date (UTC when 0).
    public init(path: String, format: LogFormat? = nil, ascZoneSeconds: Int64 = 0,
                report: @escaping (String) -> Void = { _ in }) throws(LogError) {
        self.path = path
        self.report = report
        self.ascZoneSeconds = ascZoneSeconds
        lines = LineSource(file: try CompressedFile(path: path))
        if let format {
            self.format = format
            parser = AnyLineParser(format, ascZoneSeconds: ascZoneSeconds)
        }
        try checkMagic()
    }

    /// Reads on from `lines` (taken over: the reader deallocates it), e.g. standard input after a look at its
    /// first line.
    public init(lines: LineSource, format: LogFormat? = nil, ascZoneSeconds: Int64 = 0, report: @escaping (String) -> Void = { _ in }) {
        path = lines.path
        self.report = report
        self.ascZoneSeconds = ascZoneSeconds
        self.lines = lines
        if let format {
            self.format = format
            parser = AnyLineParser(format, ascZoneSeconds: ascZoneSeconds)
        }
    }

    deinit { lines.deallocate() }

    /// Bytes of the file read so far (compressed bytes for a .gz).
    public var bytesConsumed: Int { lines.bytesConsumed }

    /// The next frame, or nil at the end of the log.
    public func next() throws(LogError) -> CANFrame? {
        var frame = CANFrame(id: 0)
        return try next(into: &frame) ? frame : nil
    }

    /// Fills `frame` with the next frame; false at the end of the log. Allocates nothing per frame.
    public func next(into frame: inout CANFrame) throws(LogError) -> Bool {
        if !checkedMagic { try checkMagic() }
        if let binary {
            guard try next(binary, &lines, into: &frame) else { return false }
            framesRead += 1
            return true
        }
        var cursor = Cursor(lines: lines, parser: parser)
        defer { store(cursor) }
        return try step(&cursor, into: &frame)
    }

    /// Calls `body` with every remaining frame. The reader's state stays in locals for the whole file,
    /// which makes this the fastest way through a log.
    public func forEach(_ body: (inout CANFrame) throws -> Void) throws {
        if !checkedMagic { try checkMagic() }
        switch binary {
        case .mdf(let reader)?:
            try reader.forEach { frame in
                framesRead += 1
                try body(&frame)
            }
            return
        case .blf(let reader)?:
            var local = lines
            defer { lines = local }
            var frame = CANFrame(id: 0)
            while try reader.next(from: &local, into: &frame) {
                framesRead += 1
                try body(&frame)
            }
            return
        case nil:
            break
        }
        var cursor = Cursor(lines: lines, parser: parser)
        defer { store(cursor) }
        var frame = CANFrame(id: 0)
        while try step(&cursor, into: &frame) { try body(&frame) }
    }

    @inline(__always)
    private func next(_ binary: BinaryLog, _ lines: inout LineSource, into frame: inout CANFrame) throws(LogError) -> Bool {
        switch binary {
        case .blf(let reader): return try reader.next(from: &lines, into: &frame)
        case .mdf(let reader): return try reader.next(into: &frame)
        }
    }

    /// A binary log is recognized from its first bytes (or the format given) before any line is read.
    @inline(never)
    private func checkMagic() throws(LogError) {
        checkedMagic = true
        if let format, !format.isBinary { return }
        var found = format
        if found == nil { found = LogFormat.detect(magic: try lines.peek(8)) }
        guard let found else { return }
        format = found
        switch found {
        case .blf:
            binary = .blf(try BLFReader(path: path, lines: &lines, zoneSeconds: ascZoneSeconds))
        case .mf4:
            guard path != "-", !lines.underlyingFile.isCompressed else {
                throw LogError.cannotOpen(path: path, reason: "MDF4 is read by block offsets: give it as a plain file (not compressed, not on standard input)")
            }
            binary = .mdf(try MDFReader(path: path, zoneSeconds: ascZoneSeconds))
        default:
            break
        }
    }

    /// The mutable reading state, copied out of the object while a loop runs.
    private struct Cursor {
        var lines: LineSource
        var parser: AnyLineParser?
        var framesRead = 0
    }

    private func store(_ cursor: Cursor) {
        lines = cursor.lines
        parser = cursor.parser
        framesRead += cursor.framesRead
    }

    private func step(_ cursor: inout Cursor, into frame: inout CANFrame) throws(LogError) -> Bool {
        while let line = try cursor.lines.next() {
            if line.truncated || cursor.parser == nil {
                guard try prepare(line, &cursor) else { continue }
            }
            switch cursor.parser!.parse(line.bytes, into: &frame) {
            case .frame:
                cursor.framesRead += 1
                return true
            case .skip:
                continue
            case .invalid(let reason):
                invalid(line.number, reason)
            }
        }
        if format == nil, !undetectedLines.isEmpty { throw LogError.unknownFormat(path: path) }
        return false
    }

    /// A truncated line, or a line before the format is known: whether it is to be parsed. Kept out of
    /// `step`, which otherwise begins a runtime exclusivity access on this object's properties per frame.
    @inline(never)
    private func prepare(_ line: LineSource.Line, _ cursor: inout Cursor) throws(LogError) -> Bool {
        if line.truncated {
            invalid(line.number, "line longer than \(LineSource.defaultCapacity) bytes")
            return false
        }
        guard let detected = LogFormat.detect(line.bytes) else {
            if isBlank(line.bytes) { return false }
            // Held back: a file that is no log at all gets one error, not a line each.
            undetectedLines.append(line.number)
            if undetectedLines.count >= Self.detectionWindow { throw LogError.unknownFormat(path: path) }
            return false
        }
        format = detected
        cursor.parser = AnyLineParser(detected, ascZoneSeconds: ascZoneSeconds)
        if cursor.parser == nil { return false }
        for number in undetectedLines { invalid(number, "not a line of any known CAN log format") }
        return true
    }

    private func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    @inline(never)
    private func invalid(_ line: Int, _ reason: String) {
        invalidLines += 1
        report("\(path == "-" ? "<stdin>" : path):\(line): \(reason); line skipped")
    }
}

/// The format parsers behind one enum, so the per-line call is a switch rather than an existential.
enum AnyLineParser {
    case candump(CandumpParser)
    case asc(ASCParser)
    case trc(TRCParser)
    case gvret(GVRETParser)
    case pcanText(PCANTextParser)

    /// Nil for the binary formats, which have readers of their own.
    init?(_ format: LogFormat, ascZoneSeconds: Int64 = 0) {
        switch format {
        case .blf, .mf4: return nil
        case .candump: self = .candump(CandumpParser())
        case .asc: self = .asc(ASCParser(zoneSeconds: ascZoneSeconds))
        case .trc: self = .trc(TRCParser())
        case .gvret: self = .gvret(GVRETParser())
        case .pcanText: self = .pcanText(PCANTextParser())
        }
    }

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        switch self {
        case .candump(var parser):
            let outcome = parser.parse(line, into: &frame)
            self = .candump(parser)
            return outcome
        case .asc(var parser):
            let outcome = parser.parse(line, into: &frame)
            self = .asc(parser)
            return outcome
        case .trc(var parser):
            let outcome = parser.parse(line, into: &frame)
            self = .trc(parser)
            return outcome
        case .gvret(var parser):
            let outcome = parser.parse(line, into: &frame)
            self = .gvret(parser)
            return outcome
        case .pcanText(var parser):
            let outcome = parser.parse(line, into: &frame)
            self = .pcanText(parser)
            return outcome
        }
    }
}
