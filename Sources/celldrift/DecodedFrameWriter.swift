import CAN
import DBC
import JSON

/// Writes decoded frames as JSON lines from tables built once at start-up (names already encoded,
/// one format record per signal), so the per-frame path copies bytes and formats numbers with no
/// reference counting and no strings built, except for floating-point values.
final class DecodedFrameWriter {
    enum Mode { case physical, raw, choices }

    /// How one signal's value is printed.
    private struct Format {
        enum Kind: UInt8 {
            case unsignedInteger, signedInteger, exactScaled, physical, rawFloat32, rawFloat64
        }
        let kind: Kind
        let numeric: SignalNumeric
        let factor: Double
        let offset: Double
        let integerFactor: Int64
        let integerOffset: Int64
        /// `"name": ` in `keyBytes`.
        let keyStart: Int32
        let keyCount: Int32
    }

    private let mode: Mode
    private let formats: UnsafeMutableBufferPointer<Format>
    private let keyBytes: UnsafeMutableBufferPointer<UInt8>
    /// Per message: its first format record, and its quoted name in `keyBytes`.
    private let messageFirst: UnsafeMutableBufferPointer<Int32>
    private let messageNameStart: UnsafeMutableBufferPointer<Int32>
    private let messageNameCount: UnsafeMutableBufferPointer<Int32>
    /// Value-table names, quoted, per message and signal; read only with --choices.
    private let choices: [[[Int64: [UInt8]]]]

    init(database: CompiledDatabase, mode: Mode) {
        self.mode = mode
        var formats: [Format] = []
        var bytes: [UInt8] = []
        var first: [Int32] = [], nameStart: [Int32] = [], nameCount: [Int32] = []
        for (messageIndex, message) in database.database.messages.enumerated() {
            first.append(Int32(formats.count))
            let name = JSONText.quoted(message.name)
            nameStart.append(Int32(bytes.count))
            nameCount.append(Int32(name.count))
            bytes += name
            for signalIndex in message.signals.indices {
                let plan = database.plan(message: messageIndex, signal: signalIndex)
                let key = JSONText.quoted(message.signals[signalIndex].name) + Array(": ".utf8)
                formats.append(Self.format(plan, mode: mode, keyStart: bytes.count, keyCount: key.count))
                bytes += key
            }
        }
        self.formats = .allocate(capacity: max(formats.count, 1))
        _ = self.formats.initialize(from: formats)
        keyBytes = .allocate(capacity: max(bytes.count, 1))
        _ = keyBytes.initialize(from: bytes)
        messageFirst = .allocate(capacity: max(first.count, 1))
        _ = messageFirst.initialize(from: first)
        messageNameStart = .allocate(capacity: max(nameStart.count, 1))
        _ = messageNameStart.initialize(from: nameStart)
        messageNameCount = .allocate(capacity: max(nameCount.count, 1))
        _ = messageNameCount.initialize(from: nameCount)
        choices = mode == .choices
            ? database.database.messages.map { $0.signals.map { $0.choices.mapValues { JSONText.quoted($0) } } }
            : []
    }

    deinit {
        formats.deallocate()
        keyBytes.deallocate()
        messageFirst.deallocate()
        messageNameStart.deallocate()
        messageNameCount.deallocate()
    }

    private static func format(_ plan: SignalPlan, mode: Mode, keyStart: Int, keyCount: Int) -> Format {
        let kind: Format.Kind
        switch (plan.numeric, mode) {
        case (.float32, .raw): kind = .rawFloat32
        case (.float64, .raw): kind = .rawFloat64
        case (.unsigned, .raw): kind = .unsignedInteger
        case (.signed, .raw): kind = .signedInteger
        case (.unsigned, _) where plan.isIntegerScaled && plan.factor == 1 && plan.offset == 0: kind = .unsignedInteger
        case (.signed, _) where plan.isIntegerScaled && plan.factor == 1 && plan.offset == 0: kind = .signedInteger
        case (_, _) where plan.isIntegerScaled: kind = .exactScaled
        default: kind = .physical
        }
        return Format(kind: kind, numeric: plan.numeric, factor: plan.factor, offset: plan.offset,
                      integerFactor: Int64(exactly: plan.factor) ?? 0, integerOffset: Int64(exactly: plan.offset) ?? 0,
                      keyStart: Int32(keyStart), keyCount: Int32(keyCount))
    }

    func write(_ frame: borrowing CANFrame, _ decoder: FrameDecoder, to output: OutputBuffer) {
        let message = decoder.messageIndex
        output.append("{\"t\": " as StaticString)
        appendSeconds(frame.timestamp, output)
        output.append(", \"id\": " as StaticString)
        output.append(UInt64(frame.id))
        output.append(frame.isExtended ? ", \"ext\": true, \"name\": " as StaticString : ", \"ext\": false, \"name\": ")
        output.append(UnsafeBufferPointer(start: keyBytes.baseAddress! + Int(messageNameStart[message]),
                                          count: Int(messageNameCount[message])))
        output.append(", \"signals\": {" as StaticString)
        let first = Int(messageFirst[message])
        for position in 0..<decoder.presentCount {
            let index = decoder.presentSignal(position)
            if position > 0 { output.append(", " as StaticString) }
            let format = formats[first + index]
            output.append(UnsafeBufferPointer(start: keyBytes.baseAddress! + Int(format.keyStart), count: Int(format.keyCount)))
            let bits = decoder.rawBits(index)
            if mode == .choices, format.numeric != .float32, format.numeric != .float64,
               let name = choices[message][index][Int64(bitPattern: bits)] {
                output.append(name)
                continue
            }
            appendValue(bits, format, output)
        }
        output.append("}}\n" as StaticString)
    }

    @inline(__always)
    private func appendValue(_ bits: UInt64, _ format: Format, _ output: OutputBuffer) {
        switch format.kind {
        case .unsignedInteger: output.append(bits)
        case .signedInteger: output.append(Int64(bitPattern: bits))
        case .rawFloat32: output.append(Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits))))
        case .rawFloat64: output.append(Double(bitPattern: bits))
        case .exactScaled:
            // raw * factor + offset in integers, as cantools keeps integer-scaled values exact.
            let raw: Int64? = format.numeric == .signed ? Int64(bitPattern: bits) : (bits <= UInt64(Int64.max) ? Int64(bits) : nil)
            if let raw {
                let (product, overflow) = raw.multipliedReportingOverflow(by: format.integerFactor)
                let (sum, overflow2) = product.addingReportingOverflow(format.integerOffset)
                if !overflow && !overflow2 { output.append(sum); return }
            }
            output.append(format.numeric.value(bits) * format.factor + format.offset)
        case .physical:
            output.append(format.numeric.value(bits) * format.factor + format.offset)
        }
    }

    /// Seconds with microseconds, or nanoseconds when the source had them, written exactly.
    private func appendSeconds(_ nanoseconds: Int64, _ output: OutputBuffer) {
        var magnitude = nanoseconds.magnitude
        if nanoseconds < 0 { output.append(UInt8(ascii: "-")) }
        output.append(magnitude / 1_000_000_000)
        output.append(UInt8(ascii: "."))
        magnitude %= 1_000_000_000
        if magnitude % 1000 == 0 {
            output.append(magnitude / 1000, width: 6)
        } else {
            output.append(magnitude, width: 9)
        }
    }
}
