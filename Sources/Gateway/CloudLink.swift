import Agent
import Logging
import MQTT
import Outbox
import Uplink

/// Delivery of the outbox to the cloud (`[uplink]`): HTTPS POSTs when `url` is set, else MQTT to the
/// cloud broker; records leave the outbox only when the cloud has acknowledged them.
final class CloudLink {
    let uplink: CloudUplink
    private let log: Logger
    private var lastStep = -Double.infinity
    private(set) var errors = 0
    /// Whether the last step failed on the outbox (the gateway is unhealthy while it does).
    private(set) var failing = false
    private let target: String
    private var lastReportedError: String?

    init(_ settings: UplinkSettings, outbox: Outbox, gateway: String, log: Logger) throws {
        self.log = log
        target = settings.url ?? "\(settings.host):\(settings.port)"
        if let url = settings.url {
            var poster = HTTPPoster.Settings(url: url)
            (poster.caFile, poster.certificateFile, poster.keyFile) = (settings.caFile, settings.certificateFile, settings.keyFile)
            poster.bearerToken = settings.token
            poster.timeout = settings.timeout
            uplink = try HTTPUplink(poster: HTTPPoster(settings: poster), outbox: outbox, batch: settings.window, gateway: gateway)
            return
        }
        let cloud = try MQTTClient(clientID: settings.clientID, subscriptions: [], will: nil, username: settings.username,
                                   password: settings.password)
        if let caFile = settings.caFile {
            try cloud.useTLS(caFile: caFile, certificateFile: settings.certificateFile, keyFile: settings.keyFile)
        }
        try cloud.start(host: settings.host, port: settings.port)
        uplink = try MQTTUplink(client: cloud, outbox: outbox, window: settings.window) { record in
            settings.topic.replacing("{vehicle}", with: record.vehicle)
        }
    }

    /// Ten steps a second at most: each may run a lease query, which need not run at the loop's pace.
    /// Connection changes are logged as they happen.
    func step(now: Double) {
        guard now - lastStep >= 0.1 else { return }
        lastStep = now
        do {
            try uplink.step(now: now)
            failing = false
        } catch {
            errors += 1
            failing = true
            log.error("uplink: \(error)")
        }
        if let mqtt = uplink as? MQTTUplink {
            for event in mqtt.client.drainEvents() { logConnection(event, of: "uplink: broker \(target)", log: log) }
        } else if let http = uplink as? HTTPUplink, http.lastError != lastReportedError {
            if let reason = http.lastError {
                log.warning("uplink: \(target): \(reason); retrying with backoff")
            } else {
                log.notice("uplink: \(target): delivering")
            }
            lastReportedError = http.lastError
        }
    }

    func stop() { uplink.stop() }
}
