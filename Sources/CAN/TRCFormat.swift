/// PEAK PCAN-View TRC, versions 1.0 to 1.3 (fixed columns) and 2.x (columns from `$COLUMNS`).
/// Times are milliseconds after `$STARTTIME` (days since 1899-12-30), so frames come out with
/// Unix-epoch timestamps when the header has a start time, as python-can's reader gives them.
struct TRCParser: LineParser {
    enum Column: UInt8 {
        case number = 78 /* N */, offset = 79 /* O */, type = 84 /* T */, bus = 66 /* B */
        case identifier = 73 /* I */, direction = 100 /* d */, reserved = 82 /* R */
        case dlc = 76 /* L */, length = 108 /* l */, data = 68 /* D */
    }

    private var columns: [Column] = [.number, .offset, .identifier, .length, .data]
    private var startNanoseconds: Int64 = 0
    private var majorVersion = 1

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        guard !line.isEmpty else { return .skip }
        if line[0] == UInt8(ascii: ";") { return header(line) }
        var scanner = ByteScanner(line)
        frame = CANFrame(id: 0)
        var flags: FrameFlags = []
        var declaredLength: Int?
        var sawIdentifier = false
        for column in columns {
            if column == .data {
                return data(&scanner, flags: flags, declaredLength: declaredLength, sawIdentifier: sawIdentifier, into: &frame)
            }
            guard let token = scanner.token() else { return .invalid("line ends before column \(Character(UnicodeScalar(column.rawValue)))") }
            switch column {
            case .number, .reserved:
                continue
            case .offset:
                guard let nanos = ByteParse.fixedPoint(token, fractionDigits: 6) else { return .invalid("bad time offset") }
                let (sum, overflow) = startNanoseconds.addingReportingOverflow(nanos)
                guard !overflow else { return .invalid("time offset too large") }
                frame.timestamp = sum
            case .type:
                switch Self.typeFlags(token) {
                case .some(let typeFlags): flags.formUnion(typeFlags)
                case .none: return .skip  // status, error counter and event lines carry no frame
                }
            case .bus:
                guard let bus = ByteParse.decimal(token) else {
                    if ByteParse.equals(token, "-") { continue }
                    return .invalid("bad bus number")
                }
                frame.channel = UInt16(truncatingIfNeeded: bus > 0 ? bus - 1 : 0)
            case .identifier:
                guard let id = ByteParse.hex(token), id <= 0x1FFF_FFFF else { return .invalid("bad identifier") }
                frame.id = UInt32(id)
                if token.count > 4 { flags.insert(.extended) }
                sawIdentifier = true
            case .direction:
                if ByteParse.equals(token, "Tx") { flags.insert(.transmit) }
                else if ByteParse.equals(token, "Warng") { return .skip }
                else if ByteParse.equals(token, "Error") { flags.insert(.error) }
                else if !ByteParse.equals(token, "Rx") { return .invalid("expected Rx or Tx") }
            case .dlc:
                guard let dlc = ByteParse.decimal(token), dlc <= 15, let length = DataLengthCode.length(forDLC: Int(dlc)) else {
                    return .invalid("bad DLC")
                }
                declaredLength = flags.contains(.fd) ? length : min(length, 8)
            case .length:
                guard let length = ByteParse.decimal(token), length <= 64 else { return .invalid("bad data length") }
                declaredLength = Int(length)
            case .data:
                break
            }
        }
        return .invalid("no data column")
    }

    private func data(_ scanner: inout ByteScanner, flags: FrameFlags, declaredLength: Int?, sawIdentifier: Bool,
                      into frame: inout CANFrame) -> LineOutcome {
        guard sawIdentifier || flags.contains(.error), let length = declaredLength else { return .invalid("missing id or length") }
        frame.flags = flags
        frame.length = UInt8(length)
        if flags.contains(.error) { frame.length = 0; return .frame }
        let save = scanner.position
        if let token = scanner.token(), ByteParse.equals(token, "RTR") {
            frame.flags.insert(.remote)
            return .frame
        }
        scanner.position = save
        if flags.contains(.remote) { return .frame }
        guard ByteParse.spacedHexBytes(&scanner, count: length, into: &frame.payload) else {
            return .invalid("expected \(length) data bytes")
        }
        return .frame
    }

    private static func typeFlags(_ token: UnsafeBufferPointer<UInt8>) -> FrameFlags? {
        if ByteParse.equals(token, "DT") { return [] }
        if ByteParse.equals(token, "FD") { return [.fd] }
        if ByteParse.equals(token, "FB") { return [.fd, .bitRateSwitch] }
        if ByteParse.equals(token, "FE") { return [.fd, .errorStateIndicator] }
        if ByteParse.equals(token, "BI") { return [.fd, .bitRateSwitch, .errorStateIndicator] }
        if ByteParse.equals(token, "RR") { return [.remote] }
        if ByteParse.equals(token, "ER") { return [.error] }
        return nil
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) -> LineOutcome {
        var scanner = ByteScanner(line)
        guard let token = scanner.token() else { return .skip }
        let text = ByteParse.string(token)
        if text.hasPrefix(";$FILEVERSION=") {
            let version = text.dropFirst(";$FILEVERSION=".count)
            majorVersion = version.hasPrefix("2") ? 2 : 1
            switch version {
            case "1.1": columns = [.number, .offset, .direction, .identifier, .length, .data]
            case "1.2", "1.3": columns = [.number, .offset, .bus, .direction, .identifier, .reserved, .length, .data]
            case "2.0": columns = [.number, .offset, .type, .identifier, .direction, .length, .data]
            case "2.1": columns = [.number, .offset, .type, .bus, .identifier, .direction, .reserved, .dlc, .data]
            default: break
            }
        } else if text.hasPrefix(";$STARTTIME=") {
            // Days since 1899-12-30; 1970 (25569) to 2100 (73051) keeps every time in nanoseconds in range.
            guard let days = Double(text.dropFirst(";$STARTTIME=".count)), days >= 25569, days < 73051 else {
                return .invalid("$STARTTIME must be days since 1899-12-30 between 1970 and 2100")
            }
            // Round to whole microseconds: the header has only ~10 µs of precision in a double anyway.
            startNanoseconds = Int64(((days - 25569) * 86_400 * 1e6).rounded()) * 1000
        } else if text.hasPrefix(";$COLUMNS=") {
            let names = text.dropFirst(";$COLUMNS=".count).split(separator: ",")
            let parsed = names.compactMap { $0.utf8.count == 1 ? Column(rawValue: $0.utf8.first!) : nil }
            if parsed.count == names.count, parsed.last == .data { columns = parsed }
        }
        return .skip
    }
}

/// The PCAN-style text some tools print, as in foxBMS' capture:
/// `Timestamp: 132.072247  ID: 0241  S Rx  DL: 8  00 07 ec ...` (S = standard, E = extended id).
struct PCANTextParser: LineParser {
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        var scanner = ByteScanner(line)
        guard let label = scanner.token() else { return .skip }
        guard ByteParse.equals(label, "Timestamp:"), let time = scanner.token(),
              let nanos = ByteParse.fixedPoint(time) else { return .invalid("expected 'Timestamp: <seconds>'") }
        guard let idLabel = scanner.token(), ByteParse.equals(idLabel, "ID:"), let idToken = scanner.token(),
              let id = ByteParse.hex(idToken) else { return .invalid("expected 'ID: <hex>'") }
        guard let kind = scanner.token(), ByteParse.equals(kind, "S") || ByteParse.equals(kind, "E") else {
            return .invalid("expected S or E after the id")
        }
        let extended = kind[0] == UInt8(ascii: "E")
        guard id <= (extended ? 0x1FFF_FFFF : 0x7FF) else { return .invalid("id out of range") }
        var flags: FrameFlags = extended ? [.extended] : []
        guard let direction = scanner.token() else { return .invalid("expected Rx or Tx") }
        if ByteParse.equals(direction, "Tx") { flags.insert(.transmit) }
        else if !ByteParse.equals(direction, "Rx") { return .invalid("expected Rx or Tx") }
        guard let lengthLabel = scanner.token(), ByteParse.equals(lengthLabel, "DL:"), let lengthToken = scanner.token(),
              let length = ByteParse.decimal(lengthToken), length <= 8 else { return .invalid("expected 'DL: <0..8>'") }
        frame.payload = FramePayload()
        guard ByteParse.spacedHexBytes(&scanner, count: Int(length), into: &frame.payload) else {
            return .invalid("expected \(length) data bytes")
        }
        frame.timestamp = nanos
        frame.id = UInt32(id)
        frame.flags = flags
        frame.length = UInt8(length)
        frame.channel = 0
        return .frame
    }
}

/// SavvyCAN / GVRET CSV: `Time Stamp,ID,Extended,[Dir,]Bus,LEN,D1,...` with the time in microseconds.
/// Column positions come from the header line.
struct GVRETParser: LineParser {
    private var timeColumn = 0, idColumn = 1, extendedColumn = 2, busColumn = 3, lengthColumn = 4, firstDataColumn = 5
    private var directionColumn = -1

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> LineOutcome {
        guard !line.isEmpty else { return .skip }
        if ByteParse.hasPrefix(line, "Time", ignoringCase: true) { header(line); return .skip }
        var scanner = ByteScanner(line)
        var column = 0
        var length = -1
        frame = CANFrame(id: 0)
        while let field = scanner.field(separatedBy: UInt8(ascii: ",")) {
            defer { column += 1 }
            if column >= firstDataColumn {
                let index = column - firstDataColumn
                if index >= length { continue }
                guard field.count == 2 || field.count == 1, let byte = ByteParse.hex(field) else {
                    return .invalid("bad data byte D\(index + 1)")
                }
                frame.payload[index] = UInt8(byte)
                continue
            }
            switch column {
            case timeColumn:
                guard let micros = ByteParse.decimal(field), micros <= UInt64(Int64.max / 1000) else {
                    return .invalid("bad time stamp (microseconds)")
                }
                frame.timestamp = Int64(micros) * 1000
            case idColumn:
                guard let id = ByteParse.hex(field), id <= 0x1FFF_FFFF else { return .invalid("bad id") }
                frame.id = UInt32(id)
            case extendedColumn:
                if ByteParse.equals(field, "true") { frame.flags.insert(.extended) }
                else if !ByteParse.equals(field, "false") { return .invalid("Extended must be true or false") }
            case busColumn:
                guard let bus = ByteParse.decimal(field) else { return .invalid("bad bus") }
                frame.channel = UInt16(truncatingIfNeeded: bus)
            case directionColumn:
                if ByteParse.equals(field, "Tx") { frame.flags.insert(.transmit) }
            case lengthColumn:
                guard let value = ByteParse.decimal(field), value <= 64 else { return .invalid("bad LEN") }
                length = Int(value)
                frame.length = UInt8(value)
                if value > 8 { frame.flags.insert(.fd) }
            default:
                break
            }
        }
        guard length >= 0, column >= firstDataColumn + length else { return .invalid("fewer data bytes than LEN") }
        if !frame.isExtended, frame.id > 0x7FF { return .invalid("standard id above 0x7FF") }
        return .frame
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) {
        let names = ByteParse.string(line).split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters() }
        for (index, name) in names.enumerated() {
            switch name {
            case "time stamp": timeColumn = index
            case "id": idColumn = index
            case "extended": extendedColumn = index
            case "bus": busColumn = index
            case "dir": directionColumn = index
            case "len": lengthColumn = index
            case "d1": firstDataColumn = index
            default: break
            }
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()).lowercased()
    }
}
