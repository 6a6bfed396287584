/// One token of a DBC file, with where it starts for error messages.
struct Token {
    enum Kind: Equatable {
        case identifier
        case number
        case string
        case punctuation(UInt8)
        case end
    }

    let kind: Kind
    let text: String
    let line: Int
    let column: Int
    /// First token on its line: DBC lists (receivers, nodes, NS_) end at a line break.
    let startsLine: Bool

    func isIdentifier(_ name: String) -> Bool { kind == .identifier && text == name }
    func isPunctuation(_ character: UInt8) -> Bool { kind == .punctuation(character) }

    var described: String {
        switch kind {
        case .end: return "end of file"
        case .string: return "string \"\(text)\""
        default: return "'\(text)'"
        }
    }
}

/// Splits DBC text into tokens. Signs are separate punctuation so `0-7` (a SG_MUL_VAL_ range),
/// `@1-` and `-40` all lex the same way; the parser puts signs back on numbers.
struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var lastTokenLine = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func tokenize() throws(DBCError.Kind) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(bytes.count / 4)
        while true {
            let token = try nextToken()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private static func isIdentifierHead(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte >= 0x80
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private mutating func nextToken() throws(DBCError.Kind) -> Token {
        skipSpaceAndComments()
        let column = index - lineStart + 1
        let startsLine = line != lastTokenLine
        let tokenLine = line
        guard index < bytes.count else {
            return Token(kind: .end, text: "", line: line, column: column, startsLine: true)
        }
        lastTokenLine = line
        let byte = bytes[index]
        let begin = index
        if Self.isIdentifierHead(byte) {
            while index < bytes.count, Self.isIdentifierHead(bytes[index]) || Self.isDigit(bytes[index]) { index += 1 }
            return Token(kind: .identifier, text: text(begin, index), line: tokenLine, column: column, startsLine: startsLine)
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && index + 1 < bytes.count && Self.isDigit(bytes[index + 1])) {
            while index < bytes.count, Self.isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".") { index += 1 }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                var lookahead = index + 1
                if lookahead < bytes.count, bytes[lookahead] == UInt8(ascii: "+") || bytes[lookahead] == UInt8(ascii: "-") {
                    lookahead += 1
                }
                if lookahead < bytes.count, Self.isDigit(bytes[lookahead]) {
                    index = lookahead
                    while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
                }
            }
            // "m0M"-style words never start with a digit, but node names like "2ndECU" would: keep them whole.
            if index < bytes.count, Self.isIdentifierHead(bytes[index]) {
                while index < bytes.count, Self.isIdentifierHead(bytes[index]) || Self.isDigit(bytes[index]) { index += 1 }
                return Token(kind: .identifier, text: text(begin, index), line: tokenLine, column: column, startsLine: startsLine)
            }
            return Token(kind: .number, text: text(begin, index), line: tokenLine, column: column, startsLine: startsLine)
        }
        if byte == UInt8(ascii: "\"") {
            return Token(kind: .string, text: try stringBody(), line: tokenLine, column: column, startsLine: startsLine)
        }
        index += 1
        return Token(kind: .punctuation(byte), text: String(UnicodeScalar(byte)), line: tokenLine, column: column,
                     startsLine: startsLine)
    }

    private func text(_ begin: Int, _ end: Int) -> String {
        String(decoding: bytes[begin..<end], as: UTF8.self)
    }

    private mutating func stringBody() throws(DBCError.Kind) -> String {
        let startLine = line
        let startColumn = index - lineStart + 1
        index += 1
        var content: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                content.append(bytes[index + 1])
                index += 2
                continue
            }
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: content, as: UTF8.self)
            }
            if byte == 0x0A { line += 1; lineStart = index + 1 }
            if byte != 0x0D { content.append(byte) }
            index += 1
        }
        throw .unterminatedString(line: startLine, column: startColumn)
    }

    private mutating func skipSpaceAndComments() {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A {
                line += 1
                index += 1
                lineStart = index
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0C || byte == 0x0B {
                index += 1
            } else if byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
            } else if index == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                index = 3  // UTF-8 byte order mark
                lineStart = 3
            } else {
                return
            }
        }
    }
}
