import Agent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The config reader on real files: the shipped simulator config, and mistakes reported at their line.
@Suite struct PipelineConfigTests {
    static let root = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/")).withLeadingSlash
    static let shipped = root + "/firmware-samples/celldrift_pack.toml"

    /// Writes the shipped config with `edit` applied into a temporary file beside the DBC.
    private func variant(_ edit: (String) -> String) throws -> String {
        let text = try #require(readText(Self.shipped))
        let path = Self.root + "/firmware-samples/.test-\(getpid())-\(Int.random(in: 0..<1_000_000)).toml"
        let file = try #require(fopen(path, "w"))
        fputs(edit(text), file)
        fclose(file)
        return path
    }

    @Test func theShippedConfigLoads() throws {
        let config = try PipelineConfig(path: Self.shipped)
        #expect(config.mapping.cells == 96)
        #expect(config.rules.map(\.alarm.name).contains("cell_spread"))
        #expect(config.rules.first { $0.alarm.name == "cell_spread" }?.alarm.raiseAbove == 0.050)
    }

    @Test(arguments: [
        ("raise_above = 0.050", "raise_abve = 0.050", "rules.cell_spread.raise_abve: unknown key"),
        ("feature = \"spread\"", "feature = \"sprad\"", "rules.cell_spread: feature \"sprad\" is not one of spread, std"),
        ("window = 60", "window = 1", "features.window: must be at least 2"),
        ("stale_after_s = 5", "stale_after_s = -5", "snapshot.stale_after_s: must be above 0"),
        ("severity = 2", "severity = 7", "rules.cell_spread.severity: must be 0 to 3"),
    ])
    func mistakesNameTheirLine(original: String, replacement: String, message: String) throws {
        let path = try variant { $0.replacingFirst(original, with: replacement) }
        defer { unlink(path) }
        let text = try #require(readText(path))
        let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains(replacement) }) + 1
        #expect(throws: AgentError.self) { try PipelineConfig(path: path) }
        do { _ = try PipelineConfig(path: path) } catch {
            #expect(error.description.hasPrefix("\(path):\(line): \(message)"), "\(error.description)")
        }
    }
}

func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    var withLeadingSlash: String { hasPrefix("/") ? self : "/" + self }

    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
