import Agent
import CAN
import ArgumentParser

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and explain each mistake with its line.",
        discussion: "Loads the file as `run` and `replay` do: the TOML, the DBC, the pack mapping, the rules, the model, the MQTT "
            + "and outbox settings. Prints what it found, or each mistake as `file:line: key: what is wrong` and exits 1: "
            + "after a mistake its line is left out and the file read again, so independent mistakes are all listed."
    )

    @Argument(help: "The configuration file (TOML).")
    var file = "/etc/celldrift/celldrift.toml"

    func run() throws {
        let config: PipelineConfig
        do { config = try PipelineConfig(path: file) } catch {
            for mistake in Self.mistakes(in: file, first: error) { StandardError.line("Error: \(mistake)") }
            throw ExitCode(1)
        }
        print("\(file): OK")
        for warning in config.warnings { StandardError.line("warning: \(warning)") }
        print("  DBC \(config.database.database.path): \(config.database.database.messages.count) messages")
        print("  pack: \(config.mapping.cells) cells, \(config.mapping.temperatureSensors) temperature sensors")
        print("  rules: " + config.rules.map { "\($0.alarm.name) (\($0.feature.rawValue) > \($0.alarm.raiseAbove))" }.joined(separator: ", "))
        print("  pack model: \(config.packModelPath ?? "none")")
        print("  cell model: \(config.cellModel.map { "\(config.cellModelPath ?? ""), alarm at \($0.threshold) held \(Int($0.holdSeconds)) s" } ?? "none")")
        print("  mqtt: \(config.mqtt.host):\(config.mqtt.port) as \(config.mqtt.clientID), topics \(config.mqtt.topics.joined(separator: " "))")
        print("  outbox: \(config.outboxPath), at most \(config.outboxLimits.maximumRecords) records and \(config.outboxLimits.maximumBytes) bytes")
        if let uplink = config.uplink {
            let secured = uplink.url.map { $0.hasPrefix("https://") } ?? (uplink.caFile != nil)
            let target = uplink.url ?? "\(uplink.host):\(uplink.port)"
            print("  uplink: \(target), " + (secured ? "TLS" : uplink.insecure ? "PLAINTEXT (insecure = true): records leave in clear"
                                                                         : "plaintext to this machine"))
        }
        if let api = config.api {
            print("  api: http://\(api.host):\(api.port) (loopback), \(api.connections) connections, \(api.requestBytes) bytes "
                + "and \(api.requestSeconds) s a request")
        }
        print("  gateway: at most \(config.gateway.vehicles) vehicles, \(config.gateway.logLinesPerSecond) warnings a second")
    }

    /// The first mistake and those after it: its line left out, the text read again, up to 50 times; a
    /// mistake without a line, or one a left-out line caused (the same key again), ends the list.
    static func mistakes(in path: String, first: AgentError) -> [String] {
        guard let bytes = readFile(path) else { return [first.description] }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found = [first.description]
        var error = first
        for _ in 0..<50 {
            // "path:LINE: key: what"
            let rest = error.description.dropFirst(path.count + 1)
            guard error.description.hasPrefix(path + ":"), let line = Int(rest.prefix { $0.isNumber }), line >= 1, line <= lines.count,
                  !lines[line - 1].hasPrefix("#") else { break }
            let key = lines[line - 1].split(separator: "=").first.map { String($0).filter { $0 != " " } } ?? ""
            // A section header's mistake leaves the header out, and with it the section's keys.
            lines[line - 1] = lines[line - 1].hasPrefix("[") ? "[checked-\(line)]" : "# (left out)"
            do throws(AgentError) {
                _ = try PipelineConfig(path: path, text: lines.joined(separator: "\n"))
                break
            } catch let next {
                if next.description.contains("checked-") { break }
                if !key.isEmpty, next.description.contains(" \(key):") || next.description.contains(".\(key):") { break }
                found.append(next.description)
                error = next
            }
        }
        return found
    }
}
