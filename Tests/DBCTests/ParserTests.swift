import DBC
import Testing

@Suite struct ParserTests {
    private func parse(_ text: String) throws(DBCError) -> Database {
        try DBCParser.parse(bytes: Array(text.utf8), path: "bad.dbc")
    }

    private func error(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func attributesCommentsAndTables() throws {
        let database = try DBCParser.parse(path: "Tests/fixtures/features.dbc")
        let status = database.message(named: "PackStatus")!
        #expect(status.cycleTime == 100 && status.comment == "Pack summary,\nsent every 100 ms")
        #expect(status.signal(named: "PackCurrent")?.comment == "Positive when discharging;\na \"escaped\" word")
        #expect(status.signal(named: "PackCurrent")?.offset == -10)
        #expect(status.signal(named: "Contactor")?.choices[3] == "Welded")
        #expect(database.valueTables["ContactorState"]?[1] == "Precharge")
        #expect(database.message(named: "FDCells")?.isFD == true)
        #expect(database.message(named: "CellVoltagesExt")?.isExtended == true)
        #expect(database.message(named: "Nested")?.cycleTime == nil)
        #expect(database.message(named: "Floats")?.signal(named: "Energy")?.valueType == .float64)
        #expect(database.nodes == ["BMS", "Gateway"])
    }

    @Test(arguments: [
        ("foxbms.dbc", 41, 0), ("gm_volt_hv_management.dbc", 12, 0), ("kona_pcan.dbc", 107, 0), ("tesla_model3.dbc", 146, 2),
    ])
    func realDatabasesLoad(file: String, messages: Int, warnings: Int) throws {
        let database = try DBCParser.parse(path: "firmware-samples/\(file)")
        #expect(database.messages.count == messages)
        #expect(database.warnings.count == warnings)
    }

    @Test func errorsNameLineColumnAndWhatWasExpected() {
        let header = "VERSION \"\"\nBS_:\nBU_: A\n"
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 0|8@2+ (1,0) [0|0] \"\" A\n")
            == "bad.dbc:5:14: expected 0 (Motorola) or 1 (Intel) after '@', found '2'")
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 0|8@1* (1,0) [0|0] \"\" A\n")
            == "bad.dbc:5:15: expected '+' (unsigned) or '-' (signed) after the byte order, found '*'")
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 0|0@1+ (1,0) [0|0] \"\" A\n")
            == "bad.dbc:5:12: signal S has length 0; 1 to 64 bits")
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S m1 : 0|8@1+ (1,0) [0|0] \"\" A\n")
            == "bad.dbc:5:1: signal S is multiplexed (m<n>) but message M has no multiplexer signal (M)")
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 0|8@1+ (1,0 [0|0] \"\" A\n")
            == "bad.dbc:5:22: expected ')' after the offset, found '['")
        #expect(error(header + "CM_ BO_ 1 \"never closed;\n") == "bad.dbc:4:11: string is never closed")
        #expect(error(header + "BO_ 1 M: 8 A\nBO_ 1 N: 8 A\n") == "bad.dbc:5:1: message id 1 is used by M and N")
        #expect(error(header + "BO_ 3000 M: 8 A\n") == "bad.dbc:4:1: message id 3000 is above 0x7FF without the extended bit (0x80000000)")
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" A\nSIG_VALTYPE_ 1 S : 1;\n")
            == "bad.dbc:6:1: SIG_VALTYPE_ 1 (float) needs a 32-bit signal; S has 8 bits")
        #expect(error(header + " SG_ S : 0|8@1+ (1,0) [0|0] \"\" A\n") == "bad.dbc:4:2: SG_ outside a message: a signal must follow its BO_ line")
        #expect(error(header + "FOO_ 1;\n") == "bad.dbc:4:1: unknown keyword 'FOO_'")
        // Once a trap (issue 14): a start bit beyond any integer.
        #expect(error(header + "BO_ 1 M: 8 A\n SG_ S : 9223372036854775808|8@1+ (1,0) [0|0] \"\" A\n")
            == "bad.dbc:5:10: signal S starts at bit 9223372036854775808; at most 511")
    }

    /// Once traps (found by the dbc fuzz target in CI): attribute numbers beyond any integer.
    @Test func attributeNumbersBeyondAnIntegerAreLeftOut() throws {
        let definitions = "VERSION \"\"\nBS_:\nBU_: A\nBO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|255] \"\" A\n"
            + "BA_DEF_ BO_ \"GenMsgCycleTime\" INT 0 65535;\nBA_DEF_ BO_ \"VFrameFormat\" ENUM \"StandardCAN\",\"CAN FD\";\n"
        let perMessage = try parse(definitions + "BA_ \"GenMsgCycleTime\" BO_ 100 1e300;\nBA_ \"VFrameFormat\" BO_ 100 -1e300;\n")
        #expect(perMessage.messages[0].cycleTime == nil && perMessage.messages[0].isFD == false)
        #expect(perMessage.warnings == ["bad.dbc:8: GenMsgCycleTime 1e+300 ms for message M is beyond 4294967295 ms; ignored"])
        let byDefault = try parse(definitions + "BA_DEF_DEF_ \"GenMsgCycleTime\" 99999999999999999999;\n"
            + "BA_DEF_DEF_ \"VFrameFormat\" 1.5;\n")
        #expect(byDefault.messages[0].cycleTime == nil && byDefault.messages[0].isFD == false)
        #expect(byDefault.warnings == ["bad.dbc:8: GenMsgCycleTime 1e+20 ms for every message is beyond 4294967295 ms; ignored"])
        let inRange = try parse(definitions + "BA_DEF_DEF_ \"GenMsgCycleTime\" 4294967295;\nBA_DEF_DEF_ \"VFrameFormat\" 1;\n")
        #expect(inRange.messages[0].cycleTime == 4_294_967_295 && inRange.messages[0].isFD == true && inRange.warnings.isEmpty)
    }

    @Test func sloppyButUnambiguousFilesLoad() throws {
        // No BS_/BU_, CRLF line ends, a comment for an unknown message, an unknown section.
        let database = try parse("VERSION \"\"\r\nNS_ :\r\n\tCM_\r\n\r\nBO_ 100 M: 2 X\r\n SG_ S : 0|16@1+ (0.5,0) [0|0] \"V\" Y,Z\r\n"
            + "CM_ BO_ 999 \"gone\";\r\nBA_DEF_REL_ BU_SG_REL_ \"x\" INT 0 1;\r\nEV_ v: 0 [0|1] \"\" 0 1 DUMMY_NODE_VECTOR0 X;\r\n")
        #expect(database.messages.count == 1)
        #expect(database.messages[0].signals[0].receivers == ["Y", "Z"])
        #expect(database.warnings == ["bad.dbc:7: comment for unknown message 999 ignored"])
    }
}
