import CAN
import DBC
import JSON

/// Writes decoded frames as JSON lines from names encoded once at start-up, so the per-frame
/// path copies bytes and formats numbers without building strings.
final class DecodedFrameWriter {
    enum Mode { case physical, raw, choices }

    private struct SignalText {
        let key: [UInt8]  // "name": 
        let choices: [Int64: [UInt8]]
    }

    private let mode: Mode
    private let messageNames: [[UInt8]]
    private let signals: [[SignalText]]

    init(database: CompiledDatabase, mode: Mode) {
        self.mode = mode
        messageNames = database.messages.map { JSONText.quoted($0.name) }
        signals = database.database.messages.map { message in
            message.signals.map { signal in
                SignalText(key: JSONText.quoted(signal.name) + Array(": ".utf8),
                           choices: signal.choices.mapValues { JSONText.quoted($0) })
            }
        }
    }

    func write(_ frame: borrowing CANFrame, _ decoder: FrameDecoder, to output: OutputBuffer) {
        let message = decoder.messageIndex
        output.append("{\"t\": " as StaticString)
        appendSeconds(frame.timestamp, output)
        output.append(", \"id\": " as StaticString)
        output.append(UInt64(frame.id))
        output.append(frame.isExtended ? ", \"ext\": true, \"name\": " as StaticString : ", \"ext\": false, \"name\": ")
        output.append(messageNames[message])
        output.append(", \"signals\": {" as StaticString)
        var first = true
        let texts = signals[message]
        for position in 0..<decoder.presentCount {
            let index = decoder.presentSignal(position)
            if !first { output.append(", " as StaticString) }
            first = false
            output.append(texts[index].key)
            appendValue(index, decoder, texts[index], output)
        }
        output.append("}}\n" as StaticString)
    }

    private func appendValue(_ index: Int, _ decoder: FrameDecoder, _ text: SignalText, _ output: OutputBuffer) {
        let plan = decoder.plan(index)
        let bits = decoder.rawBits(index)
        if mode == .choices, plan.valueType == .integer, let name = text.choices[Int64(bitPattern: bits)] {
            output.append(name)
            return
        }
        if plan.valueType != .integer {
            output.append(mode == .raw ? plan.numericRaw(bits) : plan.physical(bits))
            return
        }
        if mode == .raw || (plan.isIntegerScaled && plan.factor == 1 && plan.offset == 0) {
            if plan.isSigned { output.append(Int64(bitPattern: bits)) } else { output.append(bits) }
            return
        }
        if plan.isIntegerScaled, let exact = Self.exactInteger(bits, plan) {
            output.append(exact)
            return
        }
        output.append(plan.physical(bits))
    }

    /// raw * factor + offset in integers, as cantools keeps integer-scaled values exact.
    private static func exactInteger(_ bits: UInt64, _ plan: SignalPlan) -> Int64? {
        guard let factor = Int64(exactly: plan.factor), let offset = Int64(exactly: plan.offset) else { return nil }
        let raw: Int64
        if plan.isSigned { raw = Int64(bitPattern: bits) } else {
            guard bits <= UInt64(Int64.max) else { return nil }
            raw = Int64(bits)
        }
        let (product, overflow) = raw.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        let (sum, overflow2) = product.addingReportingOverflow(offset)
        return overflow2 ? nil : sum
    }

    /// Seconds with microseconds, or nanoseconds when the source had them, written exactly.
    private func appendSeconds(_ nanoseconds: Int64, _ output: OutputBuffer) {
        var magnitude = nanoseconds.magnitude
        if nanoseconds < 0 { output.append(UInt8(ascii: "-")) }
        output.append(magnitude / 1_000_000_000)
        output.append(UInt8(ascii: "."))
        magnitude %= 1_000_000_000
        let digits = magnitude % 1000 == 0 ? 6 : 9
        var divisor: UInt64 = 100_000_000
        for _ in 0..<digits {
            output.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        }
    }
}
