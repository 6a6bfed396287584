import JSON
import Testing

@Suite struct JSONTests {
    @Test func parsesNestedDocuments() throws {
        let value = try JSONParser.parse(#"{"a": [1, -2.5e3, true, null, "x\"\u00e9\ud83d\ude00"], "b": {"c": NaN}}"#)
        #expect(value["a"]?.array?.count == 5)
        #expect(value["a"]?.array?[1] == .number(-2500))
        #expect(value["a"]?.array?[4] == .string("x\"é😀"))
        #expect(value["b"]?["c"]?.double?.isNaN == true)
    }

    @Test func errorsSayWhere() {
        #expect(throws: JSONError(offset: 7, message: "expected ',' or '}' in object")) { try JSONParser.parse(#"{"a":1 "b":2}"#) }
        #expect(throws: JSONError(offset: 1, message: "expected a member name in double quotes")) { try JSONParser.parse("{1:2}") }
        #expect(throws: JSONError.self) { try JSONParser.parse("[1,]") }
        #expect(throws: JSONError.self) { try JSONParser.parse("01x") }
        #expect(throws: JSONError.self) { try JSONParser.parse(String(repeating: "[", count: 300)) }
    }

    @Test func quotingEscapesControlCharacters() {
        #expect(String(decoding: JSONText.quoted("a\"b\\c\n\u{01}"), as: UTF8.self) == #""a\"b\\c\n\u0001""#)
    }

    /// Found by the snapshot fuzz target (Fuzz/regressions/snapshot): a high surrogate followed by another
    /// high surrogate's escape overflowed the pair arithmetic. Each lone half is U+FFFD.
    @Test func aHighSurrogateWithoutItsLowHalfIsAReplacementCharacter() throws {
        #expect(try JSONParser.parse("\"\\uDADA\\uDADA\"").string == "\u{FFFD}\u{FFFD}")
        #expect(try JSONParser.parse("\"\\uD83D\\uDE00\"").string == "\u{1F600}")
        #expect(try JSONParser.parse("\"\\uD83Dx\"").string == "\u{FFFD}x")
    }
}
