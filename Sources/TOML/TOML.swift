/// A TOML value. Tables keep their keys in file order and remember each key's line, so a
/// configuration checker can point at the line of a mistake.
public indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let value) = self { return value }; return nil }
    public var integer: Int64? { if case .integer(let value) = self { return value }; return nil }
    /// A float, or an integer read as one.
    public var number: Double? {
        switch self {
        case .float(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }
    public var bool: Bool? { if case .bool(let value) = self { return value }; return nil }
    public var array: [TOMLValue]? { if case .array(let value) = self { return value }; return nil }
    public var table: TOMLTable? { if case .table(let value) = self { return value }; return nil }
}

/// A table: keys in file order, each with the line it was set on.
public struct TOMLTable: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public let key: String
        public var value: TOMLValue
        public let line: Int
    }

    public var entries: [Entry] = []

    public init() {}

    public subscript(key: String) -> TOMLValue? { entries.first { $0.key == key }?.value }
    public func line(of key: String) -> Int? { entries.first { $0.key == key }?.line }
    public var keys: [String] { entries.map(\.key) }
}

/// Where and why a TOML file cannot be read.
public struct TOMLError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "\(path):\(line):\(column): \(message)" }
}

/// A parser for the TOML that configuration files use: tables, arrays of tables, dotted and quoted keys,
/// basic and literal strings, integers, floats, booleans, arrays and inline tables, comments.
/// (Dates and multi-line strings are not supported; they are reported as errors.)
public struct TOMLParser {
    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var line = 1
    private var lineStart = 0

    public static func parse(_ text: String, path: String = "<string>") throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8), path: path)
        return try parser.document()
    }

    private init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func error(_ message: String) -> TOMLError {
        TOMLError(path: path, line: line, column: index - lineStart + 1, message: message)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipBlanks() {
        while let byte = current, byte == 0x20 || byte == 0x09 { index += 1 }
    }

    /// Blanks, then a comment, then the end of the line (or of the file).
    private mutating func endOfLine() throws(TOMLError) {
        skipBlanks()
        if current == UInt8(ascii: "#") { while let byte = current, byte != 0x0A { index += 1 } }
        if current == 0x0D { index += 1 }
        guard let byte = current else { return }
        guard byte == 0x0A else { throw error("expected the end of the line") }
        newline()
    }

    private mutating func newline() {
        index += 1
        line += 1
        lineStart = index
    }

    /// Blanks, comments and line breaks (inside arrays).
    private mutating func skipWhitespaceAndComments() {
        while let byte = current {
            if byte == 0x20 || byte == 0x09 || byte == 0x0D { index += 1 }
            else if byte == 0x0A { newline() }
            else if byte == UInt8(ascii: "#") { while let next = current, next != 0x0A { index += 1 } }
            else { return }
        }
    }

    private mutating func document() throws(TOMLError) -> TOMLTable {
        var root = TOMLTable()
        var path: [String] = []
        var definedTables: Set<[String]> = []
        while true {
            skipWhitespaceAndComments()
            guard let byte = current else { return root }
            let keyLine = line
            if byte == UInt8(ascii: "[") {
                index += 1
                let arrayOfTables = current == UInt8(ascii: "[")
                if arrayOfTables { index += 1 }
                skipBlanks()
                path = try key()
                skipBlanks()
                guard current == UInt8(ascii: "]") else { throw error("expected ']' after the table name") }
                index += 1
                if arrayOfTables {
                    guard current == UInt8(ascii: "]") else { throw error("expected ']]' after the table name") }
                    index += 1
                    try Self.appendTable(&root, path, line: keyLine, error: error("'\(path.joined(separator: "."))' is not an array of tables"))
                    path.append("\u{0}last")
                } else {
                    guard definedTables.insert(path).inserted else {
                        throw error("table [\(path.joined(separator: "."))] is defined twice")
                    }
                    try Self.table(&root, path, line: keyLine,
                                   error: error("'\(path.joined(separator: "."))' is already a value, not a table"))
                }
                try endOfLine()
                continue
            }
            let keys = try key()
            skipBlanks()
            guard current == UInt8(ascii: "=") else { throw error("expected '=' after the key") }
            index += 1
            skipBlanks()
            let value = try self.value()
            try Self.set(&root, path + keys, value, line: keyLine, error: error("key '\(keys.joined(separator: "."))' is set twice"))
            try endOfLine()
        }
    }

    // MARK: tables

    /// Creates the tables of a `[table]` header.
    private static func table(_ root: inout TOMLTable, _ path: [String], line: Int, error: TOMLError) throws(TOMLError) {
        try visit(&root, path[...], line: line, error: error) { (_: inout TOMLTable) throws(TOMLError) in }
    }

    /// Runs `body` on the table at `path`, creating tables on the way. "\0last", and a key whose value
    /// is an array of tables, lead into that array's last table.
    private static func visit(_ table: inout TOMLTable, _ path: ArraySlice<String>, line: Int, error: TOMLError,
                              _ body: (inout TOMLTable) throws(TOMLError) -> Void) throws(TOMLError) {
        guard let head = path.first else { return try body(&table) }
        let rest = path.dropFirst()
        if rest.first == "\u{0}last" {
            guard let position = table.entries.firstIndex(where: { $0.key == head }),
                  case .array(var elements) = table.entries[position].value, case .table(var last)? = elements.last else { throw error }
            try visit(&last, rest.dropFirst(), line: line, error: error, body)
            elements[elements.count - 1] = .table(last)
            table.entries[position].value = .array(elements)
            return
        }
        if let position = table.entries.firstIndex(where: { $0.key == head }) {
            switch table.entries[position].value {
            case .table(var inner):
                try visit(&inner, rest, line: line, error: error, body)
                table.entries[position].value = .table(inner)
            case .array(var elements):
                guard case .table(var last)? = elements.last else { throw error }
                try visit(&last, rest, line: line, error: error, body)
                elements[elements.count - 1] = .table(last)
                table.entries[position].value = .array(elements)
            default:
                throw error
            }
        } else {
            var inner = TOMLTable()
            try visit(&inner, rest, line: line, error: error, body)
            table.entries.append(.init(key: head, value: .table(inner), line: line))
        }
    }

    private static func set(_ root: inout TOMLTable, _ path: [String], _ value: TOMLValue, line: Int,
                            error: TOMLError) throws(TOMLError) {
        try visit(&root, path.dropLast(), line: line, error: error) { (table: inout TOMLTable) throws(TOMLError) in
            guard table[path.last!] == nil else { throw error }
            table.entries.append(.init(key: path.last!, value: value, line: line))
        }
    }

    private static func appendTable(_ root: inout TOMLTable, _ path: [String], line: Int, error: TOMLError) throws(TOMLError) {
        try visit(&root, path.dropLast(), line: line, error: error) { (table: inout TOMLTable) throws(TOMLError) in
            let key = path.last!
            if let position = table.entries.firstIndex(where: { $0.key == key }) {
                guard case .array(var elements) = table.entries[position].value else { throw error }
                elements.append(.table(TOMLTable()))
                table.entries[position].value = .array(elements)
            } else {
                table.entries.append(.init(key: key, value: .array([.table(TOMLTable())]), line: line))
            }
        }
    }

    // MARK: keys and values

    private mutating func key() throws(TOMLError) -> [String] {
        var parts: [String] = []
        repeat {
            skipBlanks()
            if current == UInt8(ascii: "\"") { parts.append(try basicString()) }
            else if current == UInt8(ascii: "'") { parts.append(try literalString()) }
            else {
                let begin = index
                while let byte = current, Self.isBareKey(byte) { index += 1 }
                guard index > begin else { throw error("expected a key") }
                parts.append(String(decoding: bytes[begin..<index], as: UTF8.self))
            }
            skipBlanks()
        } while current == UInt8(ascii: ".") && { index += 1; return true }()
        return parts
    }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    static let maximumDepth = 64
    private var depth = 0

    private mutating func value() throws(TOMLError) -> TOMLValue {
        guard let byte = current else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            if bytes[index...].starts(with: Array("\"\"\"".utf8)) { throw error("multi-line strings are not supported") }
            return .string(try basicString())
        case UInt8(ascii: "'"): return .string(try literalString())
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            // Each level is a frame of the parser's stack: a file of nested brackets must not exhaust it.
            guard depth < Self.maximumDepth else { throw error("arrays and inline tables nested more than \(Self.maximumDepth) deep") }
            depth += 1
            defer { depth -= 1 }
            return byte == UInt8(ascii: "[") ? try array() : try inlineTable()
        default: break
        }
        let begin = index
        while let next = current, !(next == 0x20 || next == 0x09 || next == 0x0A || next == 0x0D || next == UInt8(ascii: ",")
                                     || next == UInt8(ascii: "]") || next == UInt8(ascii: "}") || next == UInt8(ascii: "#")) {
            index += 1
        }
        let word = String(decoding: bytes[begin..<index], as: UTF8.self)
        if word == "true" { return .bool(true) }
        if word == "false" { return .bool(false) }
        let digits = word.replacingUnderscores()
        if let integer = Int64(digits) { return .integer(integer) }
        if digits.hasPrefix("0x"), let integer = Int64(digits.dropFirst(2), radix: 16) { return .integer(integer) }
        if word.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let float = Double(digits), float.isFinite {
            return .float(float)
        }
        index = begin
        throw error(word.isEmpty ? "expected a value" : "'\(word)' is not a string, number, boolean, array or table (strings need quotes)")
    }

    private mutating func array() throws(TOMLError) -> TOMLValue {
        index += 1
        var elements: [TOMLValue] = []
        while true {
            skipWhitespaceAndComments()
            if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
            elements.append(try value())
            skipWhitespaceAndComments()
            if current == UInt8(ascii: ",") { index += 1; continue }
            guard current == UInt8(ascii: "]") else { throw error("expected ',' or ']' in the array") }
        }
    }

    private mutating func inlineTable() throws(TOMLError) -> TOMLValue {
        index += 1
        var table = TOMLTable()
        skipBlanks()
        if current == UInt8(ascii: "}") { index += 1; return .table(table) }
        while true {
            let keyLine = line
            let keys = try key()
            guard current == UInt8(ascii: "=") else { throw error("expected '=' after the key") }
            index += 1
            skipBlanks()
            let value = try self.value()
            try Self.set(&table, keys, value, line: keyLine, error: error("key '\(keys.joined(separator: "."))' is set twice"))
            skipBlanks()
            if current == UInt8(ascii: ",") { index += 1; continue }
            guard current == UInt8(ascii: "}") else { throw error("expected ',' or '}' in the inline table") }
            index += 1
            return .table(table)
        }
    }

    private mutating func literalString() throws(TOMLError) -> String {
        index += 1
        let begin = index
        while let byte = current, byte != UInt8(ascii: "'") {
            guard byte != 0x0A else { throw error("string is not closed on its line") }
            index += 1
        }
        guard current != nil else { throw error("string is not closed") }
        let text = String(decoding: bytes[begin..<index], as: UTF8.self)
        index += 1
        return text
    }

    private mutating func basicString() throws(TOMLError) -> String {
        index += 1
        var result: [UInt8] = []
        while let byte = current {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: result, as: UTF8.self)
            case 0x0A:
                index -= 1
                throw error("string is not closed on its line")
            case UInt8(ascii: "\\"):
                guard let escape = current else { throw error("string is not closed") }
                index += 1
                switch escape {
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): result.append(escape)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let width = escape == UInt8(ascii: "u") ? 4 : 8
                    guard index + width <= bytes.count,
                          let scalar = UInt32(String(decoding: bytes[index..<(index + width)], as: UTF8.self), radix: 16),
                          let unicode = Unicode.Scalar(scalar) else { throw error("bad \\u escape") }
                    result.append(contentsOf: Array(String(Character(unicode)).utf8))
                    index += width
                default: throw error("unknown escape \\\(Character(Unicode.Scalar(escape)))")
                }
            default:
                result.append(byte)
            }
        }
        throw error("string is not closed")
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
