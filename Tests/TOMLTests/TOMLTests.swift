import TOML
import Testing

@Suite struct TOMLTests {
    static let config = """
        # celldrift configuration
        vehicle = "CDS65S19PGKTC81AW"   # the VIN
        dbc = '/etc/celldrift/pack.dbc'

        [pack]
        cells = 96
        cell_voltage = "CellVoltage_{index:03}"
        current_positive = "discharge"
        limits = { spread_v = 0.05, hold_s = 10 }
        outbox.max_records = 100_000
        outbox.max_bytes = 0x4000000

        [[rules]]
        name = "cell_spread"
        raise_above = 0.050
        clear_below = 4.0e-2
        enabled = true

        [[rules]]
        name = "temperature_range"
        raise_above = 8
        severities = [1, 2,
                      3,]   # multi-line, trailing comma

        [rules.params]
        unit = "degC \\u00b0 \\"quoted\\""
        """

    @Test func readsAConfiguration() throws {
        let root = try TOMLParser.parse(Self.config, path: "celldrift.toml")
        #expect(root.keys == ["vehicle", "dbc", "pack", "rules"])
        #expect(root["vehicle"]?.string == "CDS65S19PGKTC81AW" && root.line(of: "vehicle") == 2)
        #expect(root["dbc"]?.string == "/etc/celldrift/pack.dbc")
        let pack = try #require(root["pack"]?.table)
        #expect(pack["cells"]?.integer == 96 && pack.line(of: "cells") == 6)
        #expect(pack["limits"]?.table?["spread_v"]?.number == 0.05 && pack["limits"]?.table?["hold_s"]?.integer == 10)
        #expect(pack["outbox"]?.table?["max_records"]?.integer == 100_000)
        #expect(pack["outbox"]?.table?["max_bytes"]?.integer == 0x400_0000)
        let rules = try #require(root["rules"]?.array)
        #expect(rules.count == 2)
        #expect(rules[0].table?["clear_below"]?.number == 0.04 && rules[0].table?["enabled"]?.bool == true)
        #expect(rules[1].table?["raise_above"]?.number == 8)
        #expect(rules[1].table?["severities"]?.array == [.integer(1), .integer(2), .integer(3)])
        #expect(rules[1].table?["params"]?.table?["unit"]?.string == "degC ° \"quoted\"")
        #expect(rules[1].table?.line(of: "name") == 20)
    }

    @Test(arguments: [
        ("a = 1\na = 2\n", "t.toml:2:6: key 'a' is set twice"),
        ("[x]\nb = 1\n[x]\n", "t.toml:3:4: table [x] is defined twice"),
        ("cells = ninety-six\n", "t.toml:1:9: 'ninety-six' is not a string, number, boolean, array or table (strings need quotes)"),
        ("name = \"open\n", "t.toml:1:13: string is not closed on its line"),
        ("list = [1, 2\n", "t.toml:2:1: expected ',' or ']' in the array"),
        ("key 1\n", "t.toml:1:5: expected '=' after the key"),
        ("a = 1 b = 2\n", "t.toml:1:7: expected the end of the line"),
        ("a = 1\n[a]\n", "t.toml:2:4: 'a' is already a value, not a table"),
    ])
    func errorsNameTheLineAndColumn(text: String, message: String) {
        #expect(throws: TOMLError.self) { try TOMLParser.parse(text, path: "t.toml") }
        do {
            _ = try TOMLParser.parse(text, path: "t.toml")
        } catch {
            #expect(error.description == message)
        }
    }
}
