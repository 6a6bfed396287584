import Agent
import ArgumentParser

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and explain each mistake with its line.",
        discussion: "Loads the file as `run` and `replay` do: the TOML, the DBC, the pack mapping, the rules, the model, the MQTT "
            + "and outbox settings. Prints what it found, or `file:line: key: what is wrong` and exits 1."
    )

    @Argument(help: "The configuration file (TOML).")
    var file = "/etc/celldrift/celldrift.toml"

    func run() throws {
        let config = try PipelineConfig(path: file)
        print("\(file): OK")
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
}
