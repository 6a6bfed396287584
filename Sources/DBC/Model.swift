/// Bit order of a signal: `@1` Intel (little endian), `@0` Motorola (big endian, start bit = MSB).
public enum ByteOrder: Sendable, Equatable {
    case littleEndian
    case bigEndian
}

/// How a signal's raw bits are read: as an integer, or as an IEEE float (SIG_VALTYPE_ 1 or 2).
public enum SignalValueType: Sendable, Equatable {
    case integer
    case float32
    case float64
}

/// A signal of a message, as written in the DBC.
public struct Signal: Sendable {
    public var name: String
    public var startBit: Int
    public var length: Int
    public var byteOrder: ByteOrder
    public var isSigned: Bool
    public var valueType: SignalValueType = .integer
    public var factor: Double
    public var offset: Double
    /// Exact integer factor and offset: physical values are then integers, as cantools gives them.
    public var isIntegerScaled: Bool
    public var minimum: Double
    public var maximum: Double
    public var unit: String
    public var receivers: [String]
    public var comment: String?
    /// Value table (VAL_), raw value -> name.
    public var choices: [Int64: String] = [:]
    /// This signal selects a multiplexer page (`M`, or `mNM` in extended multiplexing).
    public var isMultiplexer: Bool
    /// The multiplexer signal this one depends on, if any.
    public var multiplexerName: String?
    /// The raw multiplexer values (inclusive ranges) that select this signal.
    public var multiplexerValues: [ClosedRange<UInt64>]
    /// Where the signal is declared, for messages about it.
    public var line: Int
}

/// A message (BO_) and its signals.
public struct Message: Sendable {
    public var id: UInt32
    public var isExtended: Bool
    public var name: String
    public var length: Int
    public var senders: [String]
    public var signals: [Signal]
    public var comment: String?
    /// GenMsgCycleTime in milliseconds, when the DBC gives one.
    public var cycleTime: Int?
    /// VFrameFormat says CAN FD.
    public var isFD: Bool = false
    public var line: Int

    public func signal(named name: String) -> Signal? { signals.first { $0.name == name } }
}

/// An attribute definition (BA_DEF_) with its default (BA_DEF_DEF_).
public struct AttributeDefinition: Sendable {
    public enum Scope: Sendable { case network, node, message, signal, environment }
    public var name: String
    public var scope: Scope
    public var type: String
    public var enumValues: [String]
    public var defaultValue: AttributeValue?
}

public enum AttributeValue: Sendable, Equatable {
    case number(Double)
    case string(String)
}

/// Everything a DBC file says that celldrift uses.
public struct Database: Sendable {
    public var path: String
    public var version: String = ""
    public var nodes: [String] = []
    public var messages: [Message] = []
    public var valueTables: [String: [Int64: String]] = [:]
    public var attributeDefinitions: [String: AttributeDefinition] = [:]
    /// Problems that were tolerated (a VAL_ for an unknown message, say), with file:line.
    public var warnings: [String] = []

    public func message(named name: String) -> Message? { messages.first { $0.name == name } }
    public func message(id: UInt32, extended: Bool) -> Message? {
        messages.first { $0.id == id && $0.isExtended == extended }
    }
}
