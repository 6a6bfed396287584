import CAN

/// Reads DBC text into a `Database`. Tolerant where real files are sloppy (missing BS_/BU_,
/// unknown sections, comments for unknown messages: warnings), strict where a guess would decode
/// wrongly (bit layout, byte order, sign, multiplexing, a signal outside its message: errors).
public struct DBCParser {
    var tokens: [Token] = []
    var position = 0
    var database: Database
    var pendingMultiplexing: [(message: Int, signal: String, parent: String, ranges: [ClosedRange<UInt64>], line: Int)] = []
    var messageAttributes: [(id: UInt64, name: String, value: AttributeValue, line: Int)] = []
    var attributeDefaultLines: [String: Int] = [:]
    var valueTypes: [(id: UInt64, signal: String, type: Int, token: Token)] = []
    /// Messages left out because a signal does not fit; later references to them are expected.
    var droppedMessages: Set<UInt64> = []
    /// Vector keeps names over 32 characters in attributes: (message id, short signal name or nil for the message, full name).
    var longNames: [(id: UInt64, signal: String?, name: String)] = []
    private var unusableSignal: String?
    /// Lookups by id and by signal name, so comments and value tables of big files resolve in linear time.
    var messageByID: [UInt64: Int] = [:]
    var signalsByName: [[String: Int]] = []

    static let topLevelKeywords: Set<String> = [
        "VERSION", "NS_", "BS_", "BU_", "BO_", "SG_", "CM_", "BA_DEF_", "BA_", "VAL_", "VAL_TABLE_", "BA_DEF_DEF_",
        "SIG_VALTYPE_", "SG_MUL_VAL_", "BO_TX_BU_", "EV_", "ENVVAR_DATA_", "SGTYPE_", "SGTYPE_VAL_", "BA_DEF_SGTYPE_",
        "BA_SGTYPE_", "SIG_TYPE_REF_", "SIG_GROUP_", "SIGTYPE_VALTYPE_", "BA_DEF_REL_", "BA_REL_", "BA_DEF_DEF_REL_",
        "BU_SG_REL_", "BU_EV_REL_", "BU_BO_REL_", "CAT_DEF_", "CAT_", "FILTER", "NS_DESC_",
    ]

    private init(path: String) { database = Database(path: path) }

    /// Parses a DBC file from disk.
    public static func parse(path: String) throws(DBCError) -> Database {
        guard let bytes = readFile(path) else {
            throw DBCError(path: path, kind: .cannotRead(reason: "cannot read the file"))
        }
        return try parse(bytes: bytes, path: path)
    }

    /// Parses DBC text; `path` names it in messages.
    public static func parse(bytes: [UInt8], path: String) throws(DBCError) -> Database {
        var parser = DBCParser(path: path)
        do {
            var lexer = Lexer(bytes: bytes)
            parser.tokens = try lexer.tokenize()
            try parser.parseFile()
            try parser.resolve()
        } catch {
            throw DBCError(path: path, kind: error)
        }
        return parser.database
    }

    // MARK: token helpers

    var current: Token { tokens[position] }

    mutating func advance() -> Token {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    func failure(_ message: String, at token: Token? = nil) -> DBCError.Kind {
        let token = token ?? current
        return .syntax(line: token.line, column: token.column, message: message)
    }

    func fail(expected: String, at token: Token? = nil) -> DBCError.Kind {
        let token = token ?? current
        return failure("expected \(expected), found \(token.described)", at: token)
    }

    mutating func expect(_ character: UInt8, _ what: String) throws(DBCError.Kind) {
        guard current.isPunctuation(character) else { throw fail(expected: what) }
        _ = advance()
    }

    mutating func identifier(_ what: String) throws(DBCError.Kind) -> String {
        guard current.kind == .identifier else { throw fail(expected: what) }
        return advance().text
    }

    mutating func string(_ what: String) throws(DBCError.Kind) -> String {
        guard current.kind == .string else { throw fail(expected: what) }
        return advance().text
    }

    mutating func unsigned(_ what: String) throws(DBCError.Kind) -> UInt64 {
        guard current.kind == .number, let value = UInt64(current.text) else { throw fail(expected: what) }
        _ = advance()
        return value
    }

    /// A number with an optional sign in front.
    mutating func number(_ what: String) throws(DBCError.Kind) -> Double {
        var negative = false
        if current.isPunctuation(UInt8(ascii: "-")) || current.isPunctuation(UInt8(ascii: "+")) {
            negative = advance().text == "-"
        }
        guard current.kind == .number, let value = Double(current.text) else { throw fail(expected: what) }
        _ = advance()
        return negative ? -value : value
    }

    /// Exactly an integer (after an optional sign): for value tables and multiplexer values.
    mutating func integer(_ what: String) throws(DBCError.Kind) -> Int64 {
        let token = current
        let value = try number(what)
        guard value == value.rounded(), abs(value) < 9.2e18 else { throw fail(expected: what, at: token) }
        return Int64(value)
    }

    private mutating func skipStatement() {
        // Unknown or unused sections: skip to ';', or stop at the next keyword that starts a line.
        while current.kind != .end {
            let token = advance()
            if token.isPunctuation(UInt8(ascii: ";")) { return }
            if current.startsLine, current.kind == .identifier, Self.topLevelKeywords.contains(current.text) { return }
        }
    }

    private mutating func skipList() {
        while current.kind != .end {
            if current.kind == .identifier, Self.topLevelKeywords.contains(current.text), current.startsLine { return }
            _ = advance()
        }
    }

    // MARK: statements

    private mutating func parseFile() throws(DBCError.Kind) {
        while current.kind != .end {
            let keyword = current
            guard keyword.kind == .identifier else {
                throw fail(expected: "a DBC keyword (BO_, SG_, CM_, VAL_, BA_ ...)")
            }
            _ = advance()
            switch keyword.text {
            case "VERSION": database.version = try string("a version string after VERSION")
            case "NS_": try parseNewSymbols()
            case "BS_", "BU_": try parseNodes(keyword)
            case "BO_": try parseMessage(keyword)
            case "SG_": throw failure("SG_ outside a message: a signal must follow its BO_ line", at: keyword)
            case "CM_": try parseComment()
            case "VAL_TABLE_": try parseValueTable()
            case "VAL_": try parseValueDescriptions(keyword)
            case "BA_DEF_": try parseAttributeDefinition()
            case "BA_DEF_DEF_": try parseAttributeDefault(keyword)
            case "BA_": try parseAttribute(keyword)
            case "SIG_VALTYPE_": try parseValueType(keyword)
            case "SG_MUL_VAL_": try parseExtendedMultiplexing(keyword)
            default:
                if Self.topLevelKeywords.contains(keyword.text) {
                    skipStatement()
                } else {
                    throw failure("unknown keyword '\(keyword.text)'", at: keyword)
                }
            }
        }
    }

    private mutating func parseNewSymbols() throws(DBCError.Kind) {
        if current.isPunctuation(UInt8(ascii: ":")) { _ = advance() }
        // The symbol list is indented; the next section starts in column 1.
        while current.kind == .identifier, !(current.startsLine && current.column == 1) { _ = advance() }
    }

    private mutating func parseNodes(_ keyword: Token) throws(DBCError.Kind) {
        try expect(UInt8(ascii: ":"), "':' after \(keyword.text)")
        if keyword.text == "BU_" {
            while current.kind == .identifier, !current.startsLine {
                database.nodes.append(advance().text)
            }
        } else {
            skipList()
        }
    }

    private mutating func parseMessage(_ keyword: Token) throws(DBCError.Kind) {
        let rawID = try unsigned("a message id after BO_")
        let name = try identifier("a message name")
        try expect(UInt8(ascii: ":"), "':' after the message name")
        let length = try unsigned("the message length in bytes")
        guard length <= 64 else { throw failure("message \(name) is \(length) bytes long; at most 64", at: keyword) }
        var senders: [String] = []
        while current.kind == .identifier, !current.startsLine { senders.append(advance().text) }
        let extended = rawID & 0x8000_0000 != 0
        let id = UInt32(truncatingIfNeeded: rawID & 0x1FFF_FFFF)
        guard rawID <= 0xFFFF_FFFF, extended || id <= 0x7FF else {
            throw failure("message id \(rawID) is above 0x7FF without the extended bit (0x80000000)", at: keyword)
        }
        var message = Message(id: id, isExtended: extended, name: name, length: Int(length), senders: senders,
                              signals: [], line: keyword.line)
        var byName: [String: Int] = [:]
        while current.isIdentifier("SG_") {
            let signal = try parseSignal(in: message)
            guard byName.updateValue(message.signals.count, forKey: signal.name) == nil else {
                throw failure("signal \(signal.name) appears twice in message \(name)", at: tokens[position - 1])
            }
            message.signals.append(signal)
        }
        if name == "VECTOR__INDEPENDENT_SIG_MSG" { return }  // a container for unplaced signals, never on a bus
        if let problem = unusableSignal {
            // Decoding it would mean guessing the missing bits: leave the message out, keep the rest of the file.
            warn("\(problem); message \(name) left out", at: keyword)
            droppedMessages.insert(rawID)
            unusableSignal = nil
            return
        }
        if let other = messageIndex(rawID) {
            throw failure("message id \(rawID) is used by \(database.messages[other].name) and \(name)", at: keyword)
        }
        messageByID[rawID & 0x9FFF_FFFF] = database.messages.count
        signalsByName.append(byName)
        database.messages.append(message)
    }

    private mutating func parseSignal(in message: Message) throws(DBCError.Kind) -> Signal {
        let keyword = advance()
        let name = try identifier("a signal name after SG_")
        var isMultiplexer = false
        var pageValue: UInt64?
        if current.kind == .identifier {
            let marker = advance()
            var text = Substring(marker.text)
            if text.hasSuffix("M") { isMultiplexer = true; text = text.dropLast() }
            if text.hasPrefix("m") {
                guard let value = UInt64(text.dropFirst()) else {
                    throw failure("bad multiplexer marker '\(marker.text)' (M, m<n> or m<n>M)", at: marker)
                }
                pageValue = value
            } else if !text.isEmpty {
                throw failure("bad multiplexer marker '\(marker.text)' (M, m<n> or m<n>M)", at: marker)
            }
        }
        try expect(UInt8(ascii: ":"), "':' after the signal name")
        let startToken = current
        let startBit = try unsigned("the start bit")
        // 64 bytes (CAN FD) hold bits 0 to 511.
        guard startBit <= 511 else { throw failure("signal \(name) starts at bit \(startBit); at most 511", at: startToken) }
        try expect(UInt8(ascii: "|"), "'|' between start bit and length")
        let lengthToken = current
        let length = try unsigned("the signal length in bits")
        try expect(UInt8(ascii: "@"), "'@' before the byte order")
        let orderToken = current
        let order = try unsigned("0 (Motorola) or 1 (Intel) after '@'")
        guard order <= 1 else { throw fail(expected: "0 (Motorola) or 1 (Intel) after '@'", at: orderToken) }
        guard current.isPunctuation(UInt8(ascii: "+")) || current.isPunctuation(UInt8(ascii: "-")) else {
            throw fail(expected: "'+' (unsigned) or '-' (signed) after the byte order")
        }
        let isSigned = advance().text == "-"
        try expect(UInt8(ascii: "("), "'(' before factor,offset")
        let factorToken = current
        let factor = try number("the factor")
        try expect(UInt8(ascii: ","), "',' between factor and offset")
        let offsetToken = current
        let offset = try number("the offset")
        try expect(UInt8(ascii: ")"), "')' after the offset")
        try expect(UInt8(ascii: "["), "'[' before minimum|maximum")
        let minimum = try number("the minimum")
        try expect(UInt8(ascii: "|"), "'|' between minimum and maximum")
        let maximum = try number("the maximum")
        try expect(UInt8(ascii: "]"), "']' after the maximum")
        let unit = try string("the unit string")
        var receivers: [String] = []
        while !current.startsLine, current.kind == .identifier || current.isPunctuation(UInt8(ascii: ",")) {
            let token = advance()
            if token.kind == .identifier { receivers.append(token.text) }
        }
        guard length >= 1, length <= 64 else { throw failure("signal \(name) has length \(length); 1 to 64 bits", at: lengthToken) }
        guard factor != 0 else { throw failure("signal \(name) has a factor of 0", at: factorToken) }
        let byteOrder: ByteOrder = order == 1 ? .littleEndian : .bigEndian
        let bits = BitLayout(startBit: Int(startBit), length: Int(length), byteOrder: byteOrder)
        if bits.lastByte.map({ $0 >= message.length }) ?? true {
            unusableSignal = "signal \(name) (start \(startBit), \(length) bits, \(order == 1 ? "Intel" : "Motorola")) "
                + "does not fit in the \(message.length) bytes of message \(message.name)"
        }
        let integerScaled = factor == factor.rounded() && offset == offset.rounded()
            && Self.isIntegerLiteral(factorToken.text) && Self.isIntegerLiteral(offsetToken.text)
        return Signal(name: name, startBit: Int(startBit), length: Int(length), byteOrder: byteOrder, isSigned: isSigned,
                      factor: factor, offset: offset, isIntegerScaled: integerScaled, minimum: minimum, maximum: maximum,
                      unit: unit, receivers: receivers, isMultiplexer: isMultiplexer,
                      multiplexerName: nil, multiplexerValues: pageValue.map { [$0...$0] } ?? [], line: keyword.line)
    }

    /// cantools keeps "1" and "0" as Python ints but "1.0" as a float: follow the literal.
    private static func isIntegerLiteral(_ text: String) -> Bool {
        !text.contains(".") && !text.contains("e") && !text.contains("E")
    }

    func messageIndex(_ rawID: UInt64) -> Int? { messageByID[rawID & 0x9FFF_FFFF] }

    func signalIndex(_ rawID: UInt64, _ name: String) -> (message: Int, signal: Int)? {
        guard let message = messageIndex(rawID), let signal = signalsByName[message][name] else { return nil }
        return (message, signal)
    }

    mutating func warn(_ message: String, at token: Token, about id: UInt64? = nil) {
        if let id, droppedMessages.contains(id) { return }
        database.warnings.append("\(database.path):\(token.line): \(message)")
    }
}
