/// Cross-references that need the whole file: value types, message attributes, multiplexer parents.
extension DBCParser {
    private func error(_ line: Int, _ message: String) -> DBCError.Kind {
        .syntax(line: line, column: 1, message: message)
    }

    private func index(of rawID: UInt64) -> Int? {
        let extended = rawID & 0x8000_0000 != 0
        let id = UInt32(truncatingIfNeeded: rawID & 0x1FFF_FFFF)
        return database.messages.firstIndex { $0.id == id && $0.isExtended == extended }
    }

    mutating func resolve() throws(DBCError.Kind) {
        for entry in valueTypes {
            if droppedMessages.contains(entry.id) { continue }
            guard let message = index(of: entry.id),
                  let signal = database.messages[message].signals.firstIndex(where: { $0.name == entry.signal }) else {
                database.warnings.append("\(database.path):\(entry.token.line): SIG_VALTYPE_ for unknown signal \(entry.id) \(entry.signal) ignored")
                continue
            }
            let length = database.messages[message].signals[signal].length
            switch entry.type {
            case 1:
                guard length == 32 else { throw error(entry.token.line, "SIG_VALTYPE_ 1 (float) needs a 32-bit signal; \(entry.signal) has \(length) bits") }
                database.messages[message].signals[signal].valueType = .float32
            case 2:
                guard length == 64 else { throw error(entry.token.line, "SIG_VALTYPE_ 2 (double) needs a 64-bit signal; \(entry.signal) has \(length) bits") }
                database.messages[message].signals[signal].valueType = .float64
            default:
                database.messages[message].signals[signal].valueType = .integer
            }
        }
        try resolveAttributes()
        try resolveMultiplexing()
        applyLongNames()
    }

    /// Replaces names Vector cut at 32 characters with the full ones, multiplexer references included.
    private mutating func applyLongNames() {
        for entry in longNames where !droppedMessages.contains(entry.id) {
            guard let message = index(of: entry.id) else { continue }
            guard let short = entry.signal else {
                database.messages[message].name = entry.name
                continue
            }
            for signal in database.messages[message].signals.indices {
                if database.messages[message].signals[signal].name == short {
                    database.messages[message].signals[signal].name = entry.name
                }
                if database.messages[message].signals[signal].multiplexerName == short {
                    database.messages[message].signals[signal].multiplexerName = entry.name
                }
            }
        }
    }

    private mutating func resolveAttributes() throws(DBCError.Kind) {
        let frameFormats = database.attributeDefinitions["VFrameFormat"]?.enumValues ?? []
        func isFD(_ value: AttributeValue?) -> Bool? {
            switch value {
            case .number(let index)?:
                guard let position = Int(exactly: index), frameFormats.indices.contains(position) else { return nil }
                return frameFormats[position].hasSuffix("FD")
            case .string(let name)?: return name.hasSuffix("FD")
            case nil: return nil
            }
        }
        if case .number(let cycle)? = database.attributeDefinitions["GenMsgCycleTime"]?.defaultValue,
           let milliseconds = cycleTime(cycle, line: attributeDefaultLines["GenMsgCycleTime"] ?? 0, of: "every message") {
            for index in database.messages.indices { database.messages[index].cycleTime = milliseconds }
        }
        if let defaultFD = isFD(database.attributeDefinitions["VFrameFormat"]?.defaultValue) {
            for index in database.messages.indices { database.messages[index].isFD = defaultFD }
        }
        for attribute in messageAttributes where !droppedMessages.contains(attribute.id) {
            guard let message = index(of: attribute.id) else {
                database.warnings.append("\(database.path):\(attribute.line): BA_ for unknown message \(attribute.id) ignored")
                continue
            }
            switch attribute.name {
            case "GenMsgCycleTime":
                if case .number(let value) = attribute.value {
                    database.messages[message].cycleTime = cycleTime(value, line: attribute.line,
                                                                     of: "message \(database.messages[message].name)")
                }
            case "VFrameFormat":
                if let fd = isFD(attribute.value) { database.messages[message].isFD = fd }
            default:
                break
            }
        }
        // A payload above 8 bytes exists only on CAN FD, whatever VFrameFormat says.
        for index in database.messages.indices where database.messages[index].length > 8 {
            database.messages[index].isFD = true
        }
    }

    /// GenMsgCycleTime in whole milliseconds; 0 or less means none (event-driven). Above UInt32's range
    /// (49 days) or not finite it describes no bus, so it is left out with a warning instead of guessed.
    private mutating func cycleTime(_ value: Double, line: Int, of subject: String) -> Int? {
        guard value > 0 else { return nil }
        guard value <= Double(UInt32.max) else {
            database.warnings.append("\(database.path):\(line): GenMsgCycleTime \(value) ms for \(subject) is beyond \(UInt32.max) ms; ignored")
            return nil
        }
        return Int(value)
    }

    private mutating func resolveMultiplexing() throws(DBCError.Kind) {
        for entry in pendingMultiplexing {
            var message = database.messages[entry.message]
            guard let signal = message.signals.firstIndex(where: { $0.name == entry.signal }) else {
                throw error(entry.line, "SG_MUL_VAL_ names signal \(entry.signal), which message \(message.name) does not have")
            }
            guard let parent = message.signals.first(where: { $0.name == entry.parent }), parent.isMultiplexer else {
                throw error(entry.line, "SG_MUL_VAL_ names \(entry.parent) as multiplexer of \(entry.signal), "
                    + "but message \(message.name) has no multiplexer signal (M) of that name")
            }
            message.signals[signal].multiplexerName = parent.name
            message.signals[signal].multiplexerValues = entry.ranges
            database.messages[entry.message] = message
        }
        for messageIndex in database.messages.indices {
            var message = database.messages[messageIndex]
            let multiplexers = message.signals.filter(\.isMultiplexer)
            for signalIndex in message.signals.indices {
                let signal = message.signals[signalIndex]
                guard !signal.multiplexerValues.isEmpty, signal.multiplexerName == nil else { continue }
                let candidates = multiplexers.filter { $0.name != signal.name }
                guard candidates.count == 1 else {
                    throw error(signal.line, candidates.isEmpty
                        ? "signal \(signal.name) is multiplexed (m<n>) but message \(message.name) has no multiplexer signal (M)"
                        : "signal \(signal.name) is multiplexed but message \(message.name) has several multiplexers and no SG_MUL_VAL_ says which")
                }
                message.signals[signalIndex].multiplexerName = candidates[0].name
            }
            // A cycle of multiplexers would make every signal in it depend on itself.
            for signal in message.signals {
                var seen: Set<String> = [signal.name]
                var parentName = signal.multiplexerName
                while let name = parentName {
                    guard seen.insert(name).inserted else {
                        throw error(signal.line, "multiplexers of message \(message.name) form a cycle through \(name)")
                    }
                    parentName = message.signal(named: name)?.multiplexerName
                }
            }
            database.messages[messageIndex] = message
        }
    }
}

/// Where a signal's bits are in the payload.
public struct BitLayout: Sendable {
    public let startBit: Int
    public let length: Int
    public let byteOrder: ByteOrder

    /// For Motorola signals: the bit index counted from the most significant bit of byte 0.
    public var firstLinearBit: Int {
        switch byteOrder {
        case .littleEndian: return startBit
        case .bigEndian: return (startBit / 8) * 8 + (7 - startBit % 8)
        }
    }

    /// Index of the first payload byte the signal touches.
    public var firstByte: Int { firstLinearBit / 8 }

    /// Index of the last payload byte the signal touches, or nil when it runs past 64 bytes.
    public var lastByte: Int? {
        let last = (firstLinearBit + length - 1) / 8
        return last < 64 ? last : nil
    }
}
