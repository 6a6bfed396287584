/// A DBC that cannot be used, with the place and what was expected there.
public struct DBCError: Error, CustomStringConvertible {
    public enum Kind: Error {
        case unterminatedString(line: Int, column: Int)
        case syntax(line: Int, column: Int, message: String)
        case cannotRead(reason: String)
    }

    public let path: String
    public let kind: Kind

    public var line: Int? {
        switch kind {
        case let .unterminatedString(line, _), let .syntax(line, _, _): return line
        case .cannotRead: return nil
        }
    }

    public var description: String {
        switch kind {
        case let .unterminatedString(line, column): return "\(path):\(line):\(column): string is never closed"
        case let .syntax(line, column, message): return "\(path):\(line):\(column): \(message)"
        case let .cannotRead(reason): return "\(path): \(reason)"
        }
    }
}
