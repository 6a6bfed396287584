import Agent
import ArgumentParser
import Gateway
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGTERM and SIGINT: the main loop stops intake, flushes and exits 0.
private let stopRequested = Atomic<Bool>(false)
/// Set by SIGHUP: the main loop reloads the config's rules and model.
private let reloadRequested = Atomic<Bool>(false)

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The gateway daemon: MQTT and SocketCAN in, alarms into the outbox, out on MQTT and to the cloud.",
        discussion: """
            Subscribes to the config's [mqtt] topics on the local broker (persistent session, QoS 1, \
            reconnects with backoff). A payload is a JSON snapshot (docs/snapshots.md), a candump -L line or a \
            binary frame decoded with the config's DBC; anything else is counted and logged, never fatal. \
            [socketcan] reads the bus itself. Each alarm is committed to the outbox first, then published at \
            QoS 1 on <prefix>/<vehicle>/alarms/<kind>; <prefix>/<vehicle>/status is retained, `online`, with \
            `offline` as Last Will; <prefix>/<vehicle>/scores holds the models' latest scores. [uplink] delivers \
            the outbox to the cloud, [api] serves POST /inference, /healthz and /metrics on loopback. SIGHUP \
            reloads rules and models; SIGTERM or SIGINT: stop intake, flush, publish `offline`, exit 0. \
            Logs go to standard error, with journald priorities under systemd (docs/daemon.md).
            """
    )

    @Option(help: "The configuration file (TOML).")
    var config: String

    @Option(help: "The outbox database (default: the config's [outbox] path).")
    var db: String?

    @Option(help: "Least severe log level written: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { _ in JournalLogHandler(level: level) }
        let log = Logger(label: "celldrift")
        let gateway: Gateway
        do { gateway = try Gateway(configPath: config, outboxPath: db, log: log) } catch { throw CommandError(error.description) }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in reloadRequested.store(true, ordering: .relaxed) }
        let counts = gateway.run(stop: { stopRequested.load(ordering: .relaxed) },
                                 reload: { reloadRequested.exchange(false, ordering: .relaxed) })
        // The last line: what the run did, as JSON after the level.
        log.notice("\(counts.summary)")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
