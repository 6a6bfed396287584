import CAN
import DBC
import Testing

@Suite struct DecodeTests {
    static let fixtures = "Tests/fixtures"

    private func compile(_ text: String) throws -> CompiledDatabase {
        CompiledDatabase(try DBCParser.parse(bytes: Array(text.utf8), path: "inline.dbc"))
    }

    @Test func everyLayoutMatchesTheBitByBitReference() throws {
        var generator = SystemRandomNumberGenerator()
        var text = "VERSION \"\"\nBS_:\nBU_: A\n"
        var layouts: [(Int, Int, ByteOrder, Bool, Int)] = []
        for index in 0..<400 {
            let bytes = [8, 8, 16, 64].randomElement(using: &generator)!
            let (start, length, order) = ReferenceBits.randomLayout(bytes: bytes, using: &generator)
            let signed = Bool.random(using: &generator)
            layouts.append((start, length, order, signed, bytes))
            text += "BO_ \(index + 1) M\(index): \(bytes) A\n SG_ S : \(start)|\(length)@\(order == .littleEndian ? 1 : 0)\(signed ? "-" : "+") (1,0) [0|0] \"\" A\n"
        }
        let database = try compile(text)
        let decoder = FrameDecoder(database)
        for (index, layout) in layouts.enumerated() {
            for _ in 0..<20 {
                let payload = (0..<layout.4).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let frame = CANFrame(id: UInt32(index + 1), flags: layout.4 > 8 ? [.fd] : [], bytes: payload)
                #expect(decoder.decode(frame) == .decoded(index))
                let expected = ReferenceBits.extract(payload, start: layout.0, length: layout.1, order: layout.2, signed: layout.3)
                #expect(decoder.rawBits(0) == expected, "layout \(layout)")

                let encoded = try database.encode(message: index, rawBits: ["S": expected])
                let roundTrip = ReferenceBits.extract(encoded.bytes, start: layout.0, length: layout.1, order: layout.2, signed: layout.3)
                #expect(roundTrip == expected, "encode \(layout)")
                // Only the signal's own bits are written.
                let mask: UInt64 = layout.1 == 64 ? ~0 : (1 << UInt64(layout.1)) - 1
                #expect(encoded.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == (expected & mask).nonzeroBitCount)
            }
        }
    }

    @Test func multiplexedPagesAndNestedMultiplexers() throws {
        let database = try CompiledDatabase(path: "\(Self.fixtures)/features.dbc")
        let decoder = FrameDecoder(database)
        let nested = database.messageIndex(named: "Nested")!
        func present(_ frame: CANFrame) -> [String] {
            guard case .decoded(let index) = decoder.decode(frame) else { return [] }
            return (0..<decoder.signalCount).filter(decoder.isPresent).map { database.signal(message: index, signal: $0).name }.sorted()
        }
        // Outer = 1 selects Inner; Inner = 4 selects DeepA (range 3-4).
        #expect(present(CANFrame(id: 0x200, bytes: [0x41, 1, 2, 3, 4, 5, 6, 7])) == ["Always", "DeepA", "Inner", "Outer"])
        #expect(present(CANFrame(id: 0x200, bytes: [0x51, 1, 2, 3, 4, 5, 6, 7])) == ["Always", "DeepB", "Inner", "Outer"])
        #expect(present(CANFrame(id: 0x200, bytes: [0x21, 1, 2, 3, 4, 5, 6, 7])) == ["Always", "Inner", "Outer"])
        #expect(present(CANFrame(id: 0x200, bytes: [0x09, 1, 2, 3, 4, 5, 6, 7])) == ["Always", "Outer", "Plain"])
        #expect(present(CANFrame(id: 0x200, bytes: [0x05, 1, 2, 3, 4, 5, 6, 7])) == ["Always", "Outer"])
        // Encoding picks the page from the multiplexer values it is given.
        let frame = try database.encode(message: nested, values: ["Outer": 1, "Inner": 5, "DeepB": 100 + 2 * -7, "Always": 3])
        #expect(present(frame) == ["Always", "DeepB", "Inner", "Outer"])
        #expect(decoder.physical(3) == 86)
        #expect(throws: EncodeError.missingSignal(message: "Nested", signal: "DeepA")) {
            _ = try database.encode(message: nested, values: ["Outer": 1, "Inner": 3, "Always": 0])
        }
    }

    @Test func extendedIdsFloatsScalingAndChoices() throws {
        let database = try CompiledDatabase(path: "\(Self.fixtures)/features.dbc")
        let decoder = FrameDecoder(database)
        #expect(decoder.decode(CANFrame(id: 0x18FF_50E5, bytes: [0, 0x10, 0x0E, 0, 0, 0, 0, 0])) == .unknownID)
        let cells = CANFrame(id: 0x18FF_50E5, flags: [.extended], bytes: [2, 0xFF, 0x1F, 0, 0, 0, 0, 0])
        #expect(decoder.decode(cells) == .decoded(database.messageIndex(named: "CellVoltagesExt")!))
        #expect(decoder.isPresent(5) && decoder.physical(5) == -0.5)
        #expect(decoder.choice(0) == "Spread")

        let floats = try database.encode(message: "Floats", values: ["Temperature": 25.5, "Energy": -1234.5678, "Big": 7])
        #expect(floats.isFD && floats.length == 24)
        _ = decoder.decode(floats)
        #expect(decoder.physical(0) == 25.5 && decoder.physical(1) == -1234.5678 && decoder.physical(2) == 7)

        let status = try database.encode(message: "PackStatus", values: [
            "PackVoltage": 400.12, "PackCurrent": -123.4, "SoC": 55.5, "Contactor": 2, "Counter": 9,
        ])
        _ = decoder.decode(status)
        #expect(abs(decoder.physical(0) - 400.12) < 1e-9 && abs(decoder.physical(1) - -123.4) < 1e-9)
        #expect(decoder.choice(3) == "Closed")
        #expect(decoder.decode(CANFrame(id: 0x100, bytes: [1, 2, 3])) == .shortPayload(0))
        #expect(throws: EncodeError.self) { _ = try database.encode(message: "PackStatus", values: ["PackVoltage": 700, "PackCurrent": 0, "SoC": 0, "Contactor": 0, "Counter": 0]) }
    }
}
