import CAN

/// Errors of encoding values into a frame.
public enum EncodeError: Error, CustomStringConvertible, Equatable {
    case unknownMessage(String)
    case unknownSignal(message: String, signal: String)
    case missingSignal(message: String, signal: String)
    case outOfRange(message: String, signal: String, value: Double)
    case unknownChoice(message: String, signal: String, choice: String, known: [String])

    public var description: String {
        switch self {
        case .unknownMessage(let name): return "no message \(name) in the DBC"
        case let .unknownSignal(message, signal): return "message \(message) has no signal \(signal)"
        case let .missingSignal(message, signal): return "signal \(signal) of \(message) is needed for the selected multiplexer page"
        case let .outOfRange(message, signal, value): return "value \(value) of \(message).\(signal) does not fit its bits"
        case let .unknownChoice(message, signal, choice, known):
            return "\(message).\(signal) has no value named \"\(choice)\""
                + (known.isEmpty ? " (it has no value table)" : " (its values: \(known.joined(separator: ", ")))")
        }
    }
}

extension CompiledDatabase {
    /// Encodes values into a frame, as cantools' `encode` does. `physical` values are scaled to
    /// raw (round half to even); raw values are used as they are. Signals outside the selected
    /// multiplexer pages are ignored; a selected signal without a value is an error.
    public func encode(message index: Int, values: [String: Double], physical: Bool = true) throws(EncodeError) -> CANFrame {
        var bits: [String: UInt64] = [:]
        for (name, value) in values {
            bits[name] = try rawBits(value, message: index, signal: name, physical: physical)
        }
        return try encode(message: index, rawBits: bits)
    }

    /// Encodes raw bit patterns (two's complement for signed signals, IEEE bits for floats) exactly.
    public func encode(message index: Int, rawBits values: [String: UInt64]) throws(EncodeError) -> CANFrame {
        let message = messages[index]
        let definition = database.messages[index]
        for name in values.keys where definition.signal(named: name) == nil {
            throw .unknownSignal(message: message.name, signal: name)
        }
        var rawValues = [UInt64](repeating: 0, count: message.signalCount)
        var active = [Bool](repeating: false, count: message.signalCount)
        var frame = CANFrame(id: message.id, flags: message.isExtended ? [.extended] : [], length: UInt8(message.length))
        if definition.isFD { frame.flags.insert(.fd) }
        for member in decodeOrder(message: index) {
            let signalIndex = Int(member)
            let plan = plan(message: index, signal: signalIndex)
            // Multiplexer pages compare the sign-extended raw value, as decoding does.
            if plan.parent >= 0, !(active[plan.parent] && selects(plan, rawValues[plan.parent])) { continue }
            let signal = definition.signals[signalIndex]
            guard let value = values[signal.name] else { throw .missingSignal(message: message.name, signal: signal.name) }
            rawValues[signalIndex] = plan.isSigned && plan.length < 64 && plan.valueType == .integer
                ? UInt64(bitPattern: Int64(bitPattern: value << UInt64(64 - plan.length)) >> Int64(64 - plan.length))
                : value
            active[signalIndex] = true
        }
        frame.payload.withMutableBytes { bytes in
            for signalIndex in 0..<message.signalCount where active[signalIndex] {
                plan(message: index, signal: signalIndex).insert(rawValues[signalIndex], into: bytes.baseAddress!)
            }
        }
        return frame
    }

    public func encode(message name: String, values: [String: Double], physical: Bool = true) throws(EncodeError) -> CANFrame {
        guard let index = messageIndex(named: name) else { throw .unknownMessage(name) }
        return try encode(message: index, values: values, physical: physical)
    }

    /// The raw bits for a value of a signal, as `encode` computes them.
    public func rawBits(_ value: Double, message index: Int, signal name: String, physical: Bool) throws(EncodeError) -> UInt64 {
        let definition = database.messages[index]
        guard let signalIndex = definition.signals.firstIndex(where: { $0.name == name }) else {
            throw .unknownSignal(message: definition.name, signal: name)
        }
        guard let raw = Self.rawBits(value, plan: plan(message: index, signal: signalIndex), physical: physical) else {
            throw .outOfRange(message: definition.name, signal: name, value: value)
        }
        return raw
    }

    /// The raw bits of a value-table name (the signal's `VAL_` entry, as `decode --choices` prints it), as
    /// cantools encodes a choice's name.
    public func rawBits(choice: String, message index: Int, signal name: String) throws(EncodeError) -> UInt64 {
        let definition = database.messages[index]
        guard let signal = definition.signals.first(where: { $0.name == name }) else {
            throw .unknownSignal(message: definition.name, signal: name)
        }
        guard let raw = signal.choices.first(where: { $0.value == choice })?.key else {
            throw .unknownChoice(message: definition.name, signal: name, choice: choice,
                                 known: signal.choices.sorted { $0.key < $1.key }.map(\.value))
        }
        return UInt64(bitPattern: raw)
    }

    /// The raw bits for a value, or nil when it does not fit the signal.
    static func rawBits(_ value: Double, plan: SignalPlan, physical: Bool) -> UInt64? {
        var number = value
        if physical { number = (value - plan.offset) / plan.factor }
        switch plan.valueType {
        case .float32: return UInt64(Float(number).bitPattern)
        case .float64: return number.bitPattern
        case .integer:
            let rounded = number.rounded(.toNearestOrEven)
            guard rounded.isFinite else { return nil }
            if plan.isSigned {
                let limit = plan.length == 64 ? 9.223372036854775807e18 : Double(UInt64(1) << UInt64(plan.length - 1))
                guard rounded >= -limit, rounded < limit else { return nil }
                return UInt64(bitPattern: Int64(rounded))
            }
            let limit = plan.length == 64 ? 1.8446744073709552e19 : Double(UInt64(1) << UInt64(plan.length))
            guard rounded >= 0, rounded < limit else { return nil }
            return UInt64(rounded)
        }
    }

    /// Writes the given signals of a message into a frame, by signal index, for generators that build
    /// many frames: no lookups by name, no page check (the caller passes one page's signals).
    public func encode(message index: Int, signals: [Int], rawValues: [UInt64]) -> CANFrame {
        let message = messages[index]
        var frame = CANFrame(id: message.id, flags: message.isExtended ? [.extended] : [], length: UInt8(message.length))
        if database.messages[index].isFD { frame.flags.insert(.fd) }
        frame.payload.withMutableBytes { bytes in
            for (signal, raw) in zip(signals, rawValues) {
                plan(message: index, signal: signal).insert(raw, into: bytes.baseAddress!)
            }
        }
        return frame
    }

    /// The raw value for a physical one, rounded and clamped to what the signal's bits hold, as a
    /// BMS saturates a reading rather than wrapping it.
    public func saturatedRaw(_ value: Double, message: Int, signal: Int) -> UInt64 {
        let plan = plan(message: message, signal: signal)
        switch plan.valueType {
        case .float32: return UInt64(Float((value - plan.offset) / plan.factor).bitPattern)
        case .float64: return ((value - plan.offset) / plan.factor).bitPattern
        case .integer:
            let raw = ((value - plan.offset) / plan.factor).rounded(.toNearestOrEven)
            let bits = plan.length
            if plan.isSigned {
                let high = bits == 64 ? Double(Int64.max) : Double((Int64(1) << Int64(bits - 1)) - 1)
                let low = bits == 64 ? Double(Int64.min) : -Double(Int64(1) << Int64(bits - 1))
                let clamped = raw.isNaN ? 0 : min(max(raw, low), high)
                return UInt64(bitPattern: Int64(clamped))
            }
            let high = bits == 64 ? Double(UInt64.max) : Double((UInt64(1) << UInt64(bits)) - 1)
            let clamped = raw.isNaN ? 0 : min(max(raw, 0), high)
            return clamped >= 1.8446744073709552e19 ? UInt64.max : UInt64(clamped)
        }
    }
}
