import Agent
import ArgumentParser
import CAN
import DBC
import Logging
import Model
import MQTT
import Uplink
import Outbox
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

    /// The binary payload (docs/daemon.md): an 8-byte little-endian timestamp in nanoseconds, then the
    /// kernel's `can_frame` (24 bytes in all) or `canfd_frame` (80). Nil when the payload is not one
    /// (text: a binary frame always has zero padding bytes); false for an error frame.
    static func binaryFrame(_ payload: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> Bool? {
        guard payload.count == 8 + SocketCANReader.classicSize || payload.count == 8 + SocketCANReader.fdSize,
              payload.contains(where: { $0 < 0x09 }) else { return nil }
        let raw = UnsafeRawBufferPointer(payload)
        frame.timestamp = raw.loadUnaligned(fromByteOffset: 0, as: Int64.self)
        return SocketCANReader.decode(UnsafeRawBufferPointer(rebasing: raw[8...]), into: &frame)
    }

    /// The configured cloud link: HTTPS POSTs when `url` is set, else MQTT to the cloud broker.
    private static func cloudUplink(_ settings: UplinkSettings, outbox: Outbox, gateway: String) throws -> CloudUplink {
        if let url = settings.url {
            var poster = HTTPPoster.Settings(url: url)
            (poster.caFile, poster.certificateFile, poster.keyFile) = (settings.caFile, settings.certificateFile, settings.keyFile)
            poster.bearerToken = settings.token
            poster.timeout = settings.timeout
            return try HTTPUplink(poster: HTTPPoster(settings: poster), outbox: outbox, batch: settings.window, gateway: gateway)
        }
        let cloud = try MQTTClient(clientID: settings.clientID, subscriptions: [], will: nil, username: settings.username,
                                   password: settings.password)
        if let caFile = settings.caFile {
            try cloud.useTLS(caFile: caFile, certificateFile: settings.certificateFile, keyFile: settings.keyFile)
        }
        try cloud.start(host: settings.host, port: settings.port)
        return try MQTTUplink(client: cloud, outbox: outbox, window: settings.window) { record in
            settings.topic.replacing("{vehicle}", with: record.vehicle)
        }
    }

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { _ in JournalLogHandler(level: level) }
        let log = Logger(label: "celldrift")
        let settings = try PipelineConfig(path: config)
        let path = db ?? settings.outboxPath
        let outbox: Outbox
        do { outbox = try Outbox(path: path, limits: settings.outboxLimits) } catch { throw CommandError(error.description) }
        let mqtt = settings.mqtt
        let gateway = settings.vehicle ?? "gateway"
        let statusTopic = "\(mqtt.prefix)/\(gateway)/status"
        let client: MQTTClient
        do {
            client = try MQTTClient(clientID: mqtt.clientID, subscriptions: mqtt.topics, will: (statusTopic, "offline"),
                                    username: mqtt.username, password: mqtt.password, bufferedReads: true)
            if let caFile = mqtt.caFile { try client.useTLS(caFile: caFile, certificateFile: mqtt.certificateFile, keyFile: mqtt.keyFile) }
            try client.start(host: mqtt.host, port: mqtt.port)
        } catch { throw CommandError("mqtt: \(error)") }
        let socketCAN: SocketCANLink?
        if let interface = settings.socketCANInterface {
            let filterIDs = settings.mapping.mappedMessages.map { settings.database.messages[$0].id }
            // At start-up a missing interface or kernel support is a configuration error: say it and stop.
            do { socketCAN = try SocketCANLink(interface: interface, ids: filterIDs) } catch { throw CommandError("socketcan: \(error)") }
        } else {
            socketCAN = nil
        }
        var uplink: CloudUplink?
        var lastUplinkStep = 0.0
        if let settings = settings.uplink {
            do { uplink = try Self.cloudUplink(settings, outbox: outbox, gateway: gateway) } catch {
                throw CommandError("uplink: \(error)")
            }
        }
        var api: LocalAPI?
        var apiHandlers: DaemonAPI?
        if let (host, port) = settings.api {
            do { api = try LocalAPI(host: host, port: port) } catch { throw CommandError(error.description) }
            apiHandlers = DaemonAPI(model: settings.packModel?.copy(), outbox: outbox, client: client, uplink: uplink)
            log.info("api: listening on http://\(host):\(api!.port)")
        }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in reloadRequested.store(true, ordering: .relaxed) }
        log.notice("celldrift run: \(mqtt.host):\(mqtt.port), topics \(mqtt.topics.joined(separator: " ")), outbox \(path)")

        var counts = DaemonCounts()
        var pipelineConfig: PipelineConfig?
        var vehicleOfTopic: [String: String] = [:]
        var lastTopic = (topic: "", vehicle: "")
        var pipelines: [String: VehiclePipeline] = [:]
        let decoder = FrameDecoder(settings.database)
        var announced = 0
        let systemd = SystemdNotifier()
        var ready = false, lastWatchdog = 0.0
        /// Keep-alives tied to the loop's health: it is turning, and the outbox took every record it was given.
        func keepAlive() {
            let now = monotonicSeconds()
            // Ready once intake runs, broker or not: alarms are kept in the outbox while it is away.
            if !ready { ready = systemd.notify("READY=1\nSTATUS=running; broker \(mqtt.host):\(mqtt.port)") }
            if let interval = systemd.watchdogInterval, now - lastWatchdog >= interval, counts.outboxErrors == 0 {
                systemd.notify("WATCHDOG=1")
                lastWatchdog = now
            }
        }
        // Records raised while a turn's frames are processed, committed together: one transaction (one
        // fsync) for a burst of alarms instead of one each, which had the 20th alarm of a burst wait for 19
        // fsyncs before it was published.
        var raised: [OutboxRecord] = []
        raised.reserveCapacity(64)
        /// Commits what was raised, then publishes it: committed before it is published anywhere, so a
        /// crash between the two loses nothing. False when the outbox refused them (then nothing is published).
        @discardableResult func commitRaised() -> Bool {
            guard !raised.isEmpty else { return true }
            defer { raised.removeAll(keepingCapacity: true) }
            do { _ = try outbox.append(raised) } catch {
                counts.outboxErrors += raised.count
                log.error("\(path): \(raised.count) records not stored (\(raised.map(\.id).joined(separator: ", "))): \(error)")
                return false
            }
            counts.alarms += raised.count
            for record in raised {
                let topic = record.type == .alarm ? "\(mqtt.prefix)/\(record.vehicle)/alarms/\(record.kind)"
                                                  : "\(mqtt.prefix)/\(record.vehicle)/inference"
                if client.publish(topic, record.json) { counts.published += 1 }
            }
            return true
        }
        /// An inference asked through the local API: committed, and its score noted as the vehicle's latest.
        /// (A pipeline's own daily score is noted by the pipeline.)
        func commitAPIInference(_ record: OutboxRecord) {
            raised.append(record)
            guard commitRaised(), record.type == .inference, let score = record.score else { return }
            if let pipeline = pipelines[record.vehicle] {
                pipeline.notePackScore(score, exceeded: record.severity > 0, time: record.eventTime)
            } else {
                // Asked through the API for a vehicle this gateway does not carry: its pack score alone.
                client.publish("\(mqtt.prefix)/\(record.vehicle)/scores", "{\"pack_model\": {\"event_time\": \(record.eventTime), "
                    + "\"score\": \(score), \"threshold_exceeded\": \(record.severity > 0)}, \"cell_model\": null}", retain: true)
            }
        }
        var publishedScores: [String: Int] = [:]
        var lastScoresCheck = 0.0
        /// The latest scores of each vehicle, retained for whoever subscribes later, when a model has scored.
        func publishScores() {
            for (vehicle, pipeline) in pipelines where pipeline.scoresRevision > 0 && publishedScores[vehicle] != pipeline.scoresRevision {
                if client.publish("\(mqtt.prefix)/\(vehicle)/scores", pipeline.scoresJSON(), retain: true) {
                    publishedScores[vehicle] = pipeline.scoresRevision
                }
            }
        }
        /// A frame from any source (SocketCAN, a binary or candump payload) into its vehicle's pipeline.
        func take(_ frame: CANFrame, vehicle: String) {
            counts.frames += 1
            if case .decoded = decoder.decode(frame) { _ = pipeline(for: vehicle).frame(decoder, time: frame.seconds) }
        }
        // Frames come in runs of one vehicle (a gateway carries one): the last pipeline is found without hashing.
        var lastPipeline: (vehicle: String, pipeline: VehiclePipeline)?
        func pipeline(for vehicle: String) -> VehiclePipeline {
            if let lastPipeline, lastPipeline.vehicle == vehicle { return lastPipeline.pipeline }
            let found: VehiclePipeline
            if let existing = pipelines[vehicle] {
                found = existing
            } else {
                // Storage from the config the decoder was built with; rules and model from the latest reload.
                found = VehiclePipeline(config: settings, vehicle: vehicle, wallClock: wallSeconds, onAlarm: { raised.append($0) })
                if let reloaded = pipelineConfig { found.reload(reloaded) }
                pipelines[vehicle] = found
            }
            lastPipeline = (vehicle, found)
            return found
        }
        /// One MQTT message: a JSON snapshot, a binary frame, or candump lines.
        func handle(topic: String, payload: UnsafeBufferPointer<UInt8>) {
            counts.messages += 1
            // Sources publish on a handful of topics: their vehicle names are worked out once, and a run of
            // messages on one topic skips the hashing.
            if topic != lastTopic.topic {
                let vehicle: String
                if let known = vehicleOfTopic[topic] {
                    vehicle = known
                } else {
                    vehicle = settings.vehicle ?? topic.split(separator: "/").dropFirst().first.map(String.init) ?? gateway
                    if vehicleOfTopic.count < 10_000 { vehicleOfTopic[topic] = vehicle }
                }
                lastTopic = (topic, vehicle)
            }
            let vehicle = lastTopic.vehicle
            if payload.first == UInt8(ascii: "{") {
                do {
                    let snapshot = try Snapshot(json: Array(payload))
                    try snapshot.requireCells(settings.mapping.cells)
                    counts.snapshots += 1
                    pipeline(for: snapshot.vehicle ?? vehicle).take(snapshot)
                } catch {
                    counts.malformed += 1
                    log.warning("\(topic): malformed snapshot: \(error)")
                }
                return
            }
            var frame = CANFrame(id: 0)
            if let binary = Self.binaryFrame(payload, into: &frame) {
                guard binary else {
                    counts.malformed += 1  // an error frame
                    return
                }
                take(frame, vehicle: vehicle)
                return
            }
            guard !payload.isEmpty else {
                counts.malformed += 1
                log.warning("\(topic): malformed payload (0 bytes): empty")
                return
            }
            // One candump line, or several separated by line breaks (a bridge batching its frames).
            var start = 0
            while start < payload.count {
                var end = start
                while end < payload.count, payload[end] != 0x0A { end += 1 }
                defer { start = end + 1 }
                let line = UnsafeBufferPointer(rebasing: payload[start..<end])
                if line.isEmpty || (line.count == 1 && line[0] == 0x0D) { continue }
                let outcome = CandumpLine.parse(line, into: &frame)
                guard case .frame = outcome else {
                    counts.malformed += 1
                    let reason = if case .invalid(let text) = outcome { text } else { "not a candump line" }
                    log.warning("\(topic): malformed payload (\(payload.count) bytes): \(reason)")
                    continue
                }
                take(frame, vehicle: vehicle)
            }
        }
        while !stopRequested.load(ordering: .relaxed) {
            // Again after every reconnect: a broker restarted without persistence has lost the retained status.
            if client.isConnected, announced != client.connections, client.publish(statusTopic, "online", retain: true) {
                announced = client.connections
            }
            if systemd.isActive { keepAlive() }
            if reloadRequested.exchange(false, ordering: .relaxed) {
                systemd.notify("RELOADING=1")
                do {
                    let reloaded = try PipelineConfig(path: config)
                    for pipeline in pipelines.values { pipeline.reload(reloaded) }
                    pipelineConfig = reloaded
                    log.notice("""
                        reloaded \(config): rules \(reloaded.rules.map(\.alarm.name).joined(separator: ", ")), \
                        pack model \(reloaded.packModelPath ?? "none"), cell model \(reloaded.cellModelPath ?? "none") \
                        (DBC, mapping, MQTT and uplink changes need a restart)
                        """)
                } catch {
                    log.error("reload refused, keeping the running config: \(error)")
                }
                systemd.notify("READY=1")
            }
            if let api, let handlers = apiHandlers {
                var records: [OutboxRecord] = []
                api.serve { method, path, body in
                    handlers.handle(method, path, body, counts: &counts, vehicles: pipelines.count, records: &records)
                }
                records.forEach(commitAPIInference)
            }
            // Ten turns a second: each may run a lease query, which need not run at the loop's pace.
            if let uplink, monotonicSeconds() - lastUplinkStep >= 0.1 {
                lastUplinkStep = monotonicSeconds()
                do { try uplink.step(now: lastUplinkStep) } catch {
                    counts.outboxErrors += 1
                    log.error("uplink: \(error)")
                }
            }
            if let link = socketCAN {
                // An interface that goes down is reopened every 2 s until it is back; MQTT is served meanwhile.
                let vehicle = settings.vehicle ?? gateway
                switch link.read(now: monotonicSeconds(), { take($0, vehicle: vehicle) }) {
                case .down(let reason): log.error("socketcan: \(reason); retrying every \(Int(link.retryInterval)) s")
                case .up: log.notice("socketcan: \(link.interface) is back")
                case nil: break
                }
            }
            commitRaised()  // what SocketCAN frames raised
            // Scores change once a scoring interval: looking through the pipelines ten times a second is enough.
            if monotonicSeconds() - lastScoresCheck >= 0.1 {
                lastScoresCheck = monotonicSeconds()
                publishScores()
            }
            // Asleep until a message, a CAN frame or an API connection arrives (a socket read lately gathers
            // for the rest of the client's interval first); at least ten turns a second for the uplink, the
            // watchdog and the status. Then what the read brought, its alarms committed together. (Reading
            // again right after processing, as this loop once did, restarted the interval from that read: with
            // 16 frames a message the alarm latency p99 was 17-23 ms instead of 11-12.)
            client.wait(milliseconds: 100, alsoFor: socketCAN?.descriptor, api?.listener)
            if client.drain(handle) > 0 { commitRaised() }
        }
        commitRaised()
        systemd.notify("STOPPING=1")
        client.publish(statusTopic, "offline", retain: true)
        client.stop()
        uplink?.stop()
        // The last line: what the run did, as JSON after the level.
        let summary = "{\"messages\": \(counts.messages), \"frames\": \(counts.frames), \"snapshots\": \(counts.snapshots), "
            + "\"inferences\": \(counts.inferences), "
            + "\"malformed\": \(counts.malformed), \"records\": \(counts.alarms), \"published\": \(counts.published), "
            + "\"outbox_errors\": \(counts.outboxErrors), \"vehicles\": \(pipelines.count), \"delivered\": \(uplink?.delivered ?? 0)}"
        log.notice("\(summary)")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
