/// The statements that annotate messages and signals: comments, value tables, attributes, value
/// types and extended multiplexing.
extension DBCParser {
    mutating func parseComment() throws(DBCError.Kind) {
        let target = current
        if current.kind == .string {
            _ = advance()
        } else {
            let kind = try identifier("BU_, BO_, SG_, EV_ or a string after CM_")
            switch kind {
            case "BU_", "EV_":
                _ = try identifier("a name")
                _ = try string("the comment text")
            case "BO_":
                let id = try unsigned("a message id")
                let text = try string("the comment text")
                if let index = messageIndex(id) { database.messages[index].comment = text }
                else { warn("comment for unknown message \(id) ignored", at: target, about: id) }
            case "SG_":
                let id = try unsigned("a message id")
                let name = try identifier("a signal name")
                let text = try string("the comment text")
                if let (index, signal) = signalIndex(id, name) {
                    database.messages[index].signals[signal].comment = text
                } else {
                    warn("comment for unknown signal \(id) \(name) ignored", at: target, about: id)
                }
            default:
                throw fail(expected: "BU_, BO_, SG_ or EV_ after CM_", at: target)
            }
        }
        try expect(UInt8(ascii: ";"), "';' after the comment")
    }

    mutating func valuePairs() throws(DBCError.Kind) -> [Int64: String] {
        var pairs: [Int64: String] = [:]
        while !current.isPunctuation(UInt8(ascii: ";")) {
            let value = try integer("an integer value or ';'")
            pairs[value] = try string("the value's description string")
        }
        _ = advance()
        return pairs
    }

    mutating func parseValueTable() throws(DBCError.Kind) {
        let name = try identifier("a value table name")
        database.valueTables[name] = try valuePairs()
    }

    mutating func parseValueDescriptions(_ keyword: Token) throws(DBCError.Kind) {
        guard current.kind == .number else {
            _ = try identifier("a message id or environment variable after VAL_")
            _ = try valuePairs()
            return
        }
        let id = try unsigned("a message id")
        let name = try identifier("a signal name")
        let pairs = try valuePairs()
        if let (index, signal) = signalIndex(id, name) {
            database.messages[index].signals[signal].choices = pairs
        } else {
            warn("VAL_ for unknown signal \(id) \(name) ignored", at: keyword, about: id)
        }
    }

    mutating func attributeValue() throws(DBCError.Kind) -> AttributeValue {
        if current.kind == .string { return .string(advance().text) }
        return .number(try number("an attribute value"))
    }

    mutating func parseAttributeDefinition() throws(DBCError.Kind) {
        var scope = AttributeDefinition.Scope.network
        if current.kind == .identifier {
            switch advance().text {
            case "BU_": scope = .node
            case "BO_": scope = .message
            case "SG_": scope = .signal
            case "EV_": scope = .environment
            default: throw fail(expected: "BU_, BO_, SG_, EV_ or the attribute name", at: tokens[position - 1])
            }
        }
        let name = try string("the attribute name")
        let type = try identifier("the attribute type (INT, HEX, FLOAT, STRING, ENUM)")
        var enumValues: [String] = []
        while !current.isPunctuation(UInt8(ascii: ";")) {
            guard current.kind != .end else { throw fail(expected: "';' after the attribute definition") }
            let token = advance()
            if type == "ENUM", token.kind == .string { enumValues.append(token.text) }
        }
        _ = advance()
        database.attributeDefinitions[name] = AttributeDefinition(name: name, scope: scope, type: type,
                                                                  enumValues: enumValues, defaultValue: nil)
    }

    mutating func parseAttributeDefault(_ keyword: Token) throws(DBCError.Kind) {
        let name = try string("the attribute name")
        let value = try attributeValue()
        try expect(UInt8(ascii: ";"), "';' after the default value")
        database.attributeDefinitions[name]?.defaultValue = value
        attributeDefaultLines[name] = keyword.line
    }

    mutating func parseAttribute(_ keyword: Token) throws(DBCError.Kind) {
        let name = try string("the attribute name")
        if current.kind == .identifier {
            switch advance().text {
            case "BO_":
                let id = try unsigned("a message id")
                let value = try attributeValue()
                if name == "SystemMessageLongSymbol", case .string(let longName) = value {
                    longNames.append((id, nil, longName))
                }
                messageAttributes.append((id, name, value, keyword.line))
            case "SG_":
                let id = try unsigned("a message id")
                let signal = try identifier("a signal name")
                let value = try attributeValue()
                if name == "SystemSignalLongSymbol", case .string(let longName) = value {
                    longNames.append((id, signal, longName))
                }
            case "BU_", "EV_":
                _ = try identifier("a name")
                _ = try attributeValue()
            default:
                throw fail(expected: "BU_, BO_, SG_ or EV_", at: tokens[position - 1])
            }
        } else {
            _ = try attributeValue()
        }
        try expect(UInt8(ascii: ";"), "';' after the attribute value")
    }

    mutating func parseValueType(_ keyword: Token) throws(DBCError.Kind) {
        let id = try unsigned("a message id")
        let name = try identifier("a signal name")
        if current.isPunctuation(UInt8(ascii: ":")) { _ = advance() }
        let typeToken = current
        let type = try unsigned("0 (integer), 1 (float) or 2 (double)")
        guard type <= 2 else { throw fail(expected: "0 (integer), 1 (float) or 2 (double)", at: typeToken) }
        try expect(UInt8(ascii: ";"), "';' after SIG_VALTYPE_")
        valueTypes.append((id, name, Int(type), typeToken))
    }

    mutating func parseExtendedMultiplexing(_ keyword: Token) throws(DBCError.Kind) {
        let id = try unsigned("a message id")
        let signal = try identifier("the multiplexed signal")
        let parent = try identifier("the multiplexer signal")
        var ranges: [ClosedRange<UInt64>] = []
        repeat {
            let low = try unsigned("the low end of a value range")
            try expect(UInt8(ascii: "-"), "'-' in a value range")
            let highToken = current
            let high = try unsigned("the high end of a value range")
            guard low <= high else { throw failure("range \(low)-\(high) is empty", at: highToken) }
            ranges.append(low...high)
        } while current.isPunctuation(UInt8(ascii: ",")) && advance().kind != .end
        try expect(UInt8(ascii: ";"), "';' after SG_MUL_VAL_")
        guard let index = messageIndex(id) else {
            warn("SG_MUL_VAL_ for unknown message \(id) ignored", at: keyword, about: id)
            return
        }
        pendingMultiplexing.append((index, signal, parent, ranges, keyword.line))
    }
}
