import Agent
import CAN
import Logging
import MQTT
import Outbox

/// Why the gateway could not start: the part (`mqtt`, `socketcan`, `uplink`, `api`, the outbox) and the reason.
public struct GatewayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The daemon (`celldrift run`, docs/daemon.md): sources (MQTT payloads, SocketCAN, the local API) into
/// the vehicles' pipelines, and what they raise through the sinks (outbox first, then the local broker,
/// the cloud uplink, systemd). One loop on one thread: `turn` sleeps in poll(2) on every source's socket.
public final class Gateway {
    public let configPath: String
    public let settings: PipelineConfig
    private let log: Logger
    private let client: MQTTClient
    private let publication: LocalPublication
    private let sink: OutboxSink
    private let pipelines: VehiclePipelines
    private let mqttSource: MQTTPayloadSource
    private let socketCAN: SocketCANSource?
    private let cloud: CloudLink?
    private let api: GatewayAPI?
    private let systemd: SystemdService
    private let warnings: WarningLimiter
    private var lastScoresCheck = -Double.infinity
    /// The other sources' sockets for the loop's poll, refilled each turn.
    private var pollDescriptors: [Int32] = []

    /// Starts every part the config names. `socketCAN`: a link to read instead of the config's interface
    /// (tests hand one over a socketpair).
    public init(configPath: String, outboxPath: String? = nil, log: Logger, socketCAN link: SocketCANLink? = nil) throws(GatewayError) {
        self.configPath = configPath
        self.log = log
        let settings: PipelineConfig
        do { settings = try PipelineConfig(path: configPath) } catch { throw GatewayError(error.description) }
        self.settings = settings
        for warning in settings.warnings { log.warning("\(warning)") }
        let path = outboxPath ?? settings.outboxPath
        let outbox: Outbox
        do { outbox = try Outbox(path: path, limits: settings.outboxLimits) } catch { throw GatewayError(error.description) }
        let mqtt = settings.mqtt
        let gateway = settings.vehicle ?? "gateway"
        do {
            client = try MQTTClient(clientID: mqtt.clientID, subscriptions: mqtt.topics,
                                    will: (LocalPublication.statusTopic(prefix: mqtt.prefix, gateway: gateway), "offline"),
                                    username: mqtt.username, password: mqtt.password, bufferedReads: true)
            if let caFile = mqtt.caFile { try client.useTLS(caFile: caFile, certificateFile: mqtt.certificateFile, keyFile: mqtt.keyFile) }
            try client.start(host: mqtt.host, port: mqtt.port)
        } catch { throw GatewayError("mqtt: \(error)") }
        publication = LocalPublication(client: client, prefix: mqtt.prefix, gateway: gateway,
                                       clearedStateSeconds: settings.alarms.clearedStateSeconds)
        sink = OutboxSink(outbox: outbox, path: path, publication: publication, log: log)
        let pipelines = VehiclePipelines(config: settings) { [sink] in sink.append($0) }
        let warnings = WarningLimiter(log: log, perSecond: settings.gateway.logLinesPerSecond)
        self.warnings = warnings
        self.pipelines = pipelines
        mqttSource = MQTTPayloadSource(pipelines: pipelines, cells: settings.mapping.cells, vehicle: settings.vehicle,
                                       gateway: gateway, warnings: warnings)
        var socketCANLink = link
        if socketCANLink == nil, let interface = settings.socketCANInterface {
            let ids = settings.mapping.mappedMessages.map { settings.database.messages[$0].id }
            // At start-up a missing interface or kernel support is a configuration error: say it and stop.
            do { socketCANLink = try SocketCANLink(interface: interface, ids: ids) } catch { throw GatewayError("socketcan: \(error)") }
        }
        socketCAN = socketCANLink.map { SocketCANSource(link: $0, pipelines: pipelines, vehicle: settings.vehicle ?? gateway, log: log) }
        if let uplink = settings.uplink {
            do { cloud = try CloudLink(uplink, outbox: outbox, gateway: gateway, log: log) } catch { throw GatewayError("uplink: \(error)") }
        } else {
            cloud = nil
        }
        if let apiSettings = settings.api {
            let server: LocalAPI
            do { server = try LocalAPI(apiSettings) } catch { throw GatewayError(error.description) }
            api = GatewayAPI(server: server, model: settings.packModel?.copy(), outbox: outbox, client: client, uplink: cloud?.uplink)
            log.info("api: listening on http://\(apiSettings.host):\(server.port)")
        } else {
            api = nil
        }
        systemd = SystemdService(status: "running; broker \(mqtt.host):\(mqtt.port)")
        log.notice("celldrift run: \(mqtt.host):\(mqtt.port), topics \(mqtt.topics.joined(separator: " ")), outbox \(path)")
    }

    /// The outbox the gateway commits to, and the local API's port (nil without `[api]`).
    public var outbox: Outbox { sink.outbox }
    public var apiPort: Int? { api?.server.port }

    public var counts: GatewayCounts {
        var counts = GatewayCounts()
        (counts.messages, counts.malformed) = (mqttSource.messages, mqttSource.malformedCount)
        (counts.refusedVehicles, counts.suppressedWarnings) = (pipelines.refused, warnings.suppressed)
        (counts.frames, counts.snapshots, counts.vehicles) = (pipelines.frames, pipelines.snapshots, pipelines.count)
        counts.rejectedTimes = pipelines.rejectedTimes
        (counts.records, counts.published) = (sink.committed, publication.published)
        counts.recordsByVehicleAndKind = sink.committedByVehicleAndKind
        counts.outboxErrors = sink.refusals + (cloud?.errors ?? 0)
        (counts.outboxHeld, counts.outboxDropped) = (sink.heldCount, sink.dropped)
        counts.healthy = isHealthy
        (counts.inferences, counts.inferenceSeconds) = (api?.inferences ?? 0, api?.inferenceSeconds ?? 0)
        counts.delivered = cloud?.uplink.delivered ?? 0
        return counts
    }

    /// The outbox takes what it is given (no records held for a retry) and the uplink's last step could
    /// read it: what `/healthz` and the watchdog report, recovering by themselves when the cause is gone.
    public var isHealthy: Bool { !sink.failing && cloud?.failing != true }

    /// Turns until `stop` says so (SIGTERM, SIGINT), reloading whenever `reload` says so (SIGHUP); then
    /// stops intake, flushes, publishes `offline` and returns what it did.
    public func run(stop: () -> Bool, reload: () -> Bool) -> GatewayCounts {
        while !stop() {
            if reload() { self.reload() }
            turn()
        }
        return finish()
    }

    /// One turn of the loop: each sink's housekeeping, SocketCAN and the API served, then asleep until a
    /// source has something (at least ten turns a second, for the uplink, the watchdog and the status),
    /// then what the broker brought, its alarms committed together. (Reading again right after processing,
    /// as this loop once did, restarted the MQTT client's gathering interval from that read: with 16 frames
    /// a message the alarm latency p99 was 17-23 ms instead of 11-12.)
    public func turn(waitMilliseconds: Int32 = 100) {
        let now = monotonicSeconds()
        publication.announceOnline()
        systemd.turn(now: now, healthy: isHealthy)
        serveAPI(now: now)
        cloud?.step(now: now)
        socketCAN?.read(now: now)
        sink.commit()
        // Scores change once a scoring interval: looking through the pipelines ten times a second is enough.
        if now - lastScoresCheck >= 0.1 {
            lastScoresCheck = now
            publication.publishScores(pipelines.byVehicle)
            publication.removeExpiredStates(now: monotonicSeconds())
        }
        pollDescriptors.removeAll(keepingCapacity: true)
        if let descriptor = socketCAN?.descriptor { pollDescriptors.append(descriptor) }
        api?.server.appendDescriptors(to: &pollDescriptors)
        client.wait(milliseconds: waitMilliseconds, alsoFor: pollDescriptors)
        for event in client.drainEvents() { logConnection(event, of: "mqtt: broker \(settings.mqtt.host):\(settings.mqtt.port)", log: log) }
        let received = monotonicSeconds()
        if client.drain({ mqttSource.handle(topic: $0, payload: $1, now: received) }) > 0 { sink.commit() }
        warnings.roll(now: received)
    }

    /// A payload as if it had come on `topic` from the broker at `now` (monotonic seconds), its records
    /// committed and published.
    public func take(topic: String, payload: [UInt8], now: Double = monotonicSeconds()) {
        payload.withUnsafeBufferPointer { mqttSource.handle(topic: topic, payload: $0, now: now) }
        sink.commit()
    }

    /// The config file again (SIGHUP): its rules and models into every pipeline, keeping their state; a
    /// config with a mistake is refused and the running one kept.
    public func reload() {
        systemd.reloading()
        defer { systemd.reloaded() }
        do {
            let reloaded = try PipelineConfig(path: configPath)
            pipelines.reload(reloaded)
            log.notice("""
                reloaded \(configPath): rules \(reloaded.rules.map(\.alarm.name).joined(separator: ", ")), \
                pack model \(reloaded.packModelPath ?? "none"), cell model \(reloaded.cellModelPath ?? "none") \
                (DBC, mapping, MQTT and uplink changes need a restart)
                """)
        } catch {
            log.error("reload refused, keeping the running config: \(error)")
        }
    }

    /// Commits what is pending, says `offline`, disconnects; the counts of the whole run.
    public func finish() -> GatewayCounts {
        sink.commit()
        systemd.stopping()
        publication.announceOffline()
        client.stop()
        cloud?.stop()
        return counts
    }

    private func serveAPI(now: Double) {
        guard let api else { return }
        for record in api.serve(now: now, counts: { counts }) {
            sink.append(record)
            guard sink.commit(), record.type == .inference, let score = record.score else { continue }
            // The vehicle's latest pack score; a pipeline's own daily score is noted by the pipeline.
            if let pipeline = pipelines.byVehicle[record.vehicle] {
                pipeline.notePackScore(score, exceeded: record.severity > 0, time: record.eventTime)
            } else {
                publication.publishPackScore(vehicle: record.vehicle, eventTime: record.eventTime, score: score,
                                             exceeded: record.severity > 0)
            }
        }
    }
}

/// One line per change of a broker connection: up at notice, refusals and losses at warning (they come
/// at most once per reconnect attempt, whose backoff grows to 30 s).
func logConnection(_ event: MQTTClient.ConnectionEvent, of link: String, log: Logger) {
    switch event {
    case .connected: log.notice("\(link): connected")
    case .refused(let reason): log.warning("\(link): refused the connection: \(reason); retrying")
    case .lost(let reason): log.warning("\(link): connection lost: \(reason); reconnecting")
    case .failed(let reason): log.warning("\(link): cannot connect: \(reason); retrying")
    }
}
