import Agent
import CAN
import CReadBuffer
import Gateway
import Glibc
import Logging
import MQTT
import Outbox
import Testing

/// The daemon in process: payloads fed through a real mosquitto (or handed in directly), read back from
/// the real SQLite outbox and from what a second client received on the broker.
@Suite(.serialized) struct GatewayTests {
    /// A 4-cell pack: Cell1_V .. Cell4_V in mV on 0x100, the current on 0x101; the BMS's 50 mV rule.
    static let dbc = """
        VERSION ""
        NS_ :
        BS_:
        BU_: BMS
        BO_ 256 Cells: 8 BMS
         SG_ Cell1_V : 0|16@1+ (0.001,0) [0|5] "V" Vector__XXX
         SG_ Cell2_V : 16|16@1+ (0.001,0) [0|5] "V" Vector__XXX
         SG_ Cell3_V : 32|16@1+ (0.001,0) [0|5] "V" Vector__XXX
         SG_ Cell4_V : 48|16@1+ (0.001,0) [0|5] "V" Vector__XXX
        BO_ 257 Pack: 2 BMS
         SG_ PackCurrent : 0|16@1- (0.1,0) [-3276.8|3276.7] "A" Vector__XXX

        """

    /// A config in a fresh directory (its outbox there too); `rule` is the spread rule's threshold.
    static func config(port: Int, raiseAbove rule: Double = 0.050, api: Bool = false, extra: String = "") throws
        -> (path: String, directory: String) {
        let directory = try temporaryDirectory("gateway")
        try writeFile("\(directory)/pack.dbc", dbc)
        try writeFile("\(directory)/celldrift.toml", """
            dbc = "pack.dbc"
            [pack]
            cells = 4
            cell_voltage = "Cell{index}_V"
            cell_voltage_index_base = 1
            current = "PackCurrent"
            [snapshot]
            tick_s = 1
            [rules.cell_spread]
            feature = "spread"
            raise_above = \(rule)
            clear_below = \(rule)
            minimum_duration_s = 10
            severity = 2
            [detection]
            enabled = false
            [outbox]
            path = "\(directory)/outbox.db"
            [mqtt]
            host = "127.0.0.1"
            port = \(port)
            client_id = "gateway-test-\(port)"
            topics = ["bms/#"]
            prefix = "celldrift"
            \(api ? "[api]\nport = 0\n" : "")
            \(extra)
            """)
        return ("\(directory)/celldrift.toml", directory)
    }

    /// A snapshot of the 4 cells at `time`, cell 3 `offset` volts above the others.
    static func snapshot(_ time: Int, offset: Double) -> [UInt8] {
        Array("{\"ts\": \(time), \"cell_voltages\": [3.7, 3.7, \(3.7 + offset), 3.7], \"current\": 10}".utf8)
    }

    /// A candump line of the cells' message at `time`, cell 3 `offset` volts above the others.
    static func candump(_ time: Int, offset: Double) -> String {
        let millivolts = [3700, 3700, 3700 + Int(offset * 1000), 3700]
        let hex = millivolts.map { value in
            let bytes = [value & 0xFF, value >> 8]
            return bytes.map { String($0, radix: 16, uppercase: true).count == 1 ? "0" + String($0, radix: 16, uppercase: true)
                                                                               : String($0, radix: 16, uppercase: true) }.joined()
        }.joined()
        return "(\(time).000000) can0 100#\(hex)"
    }

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func snapshotsFromTheBrokerAreCommittedThenPublishedWithTheSameID() throws {
        let broker = try TestBroker()
        let (path, _) = try Self.config(port: broker.port)
        let gateway = try Gateway(configPath: path, log: Self.quiet)
        let listener = try MQTTClient(clientID: "listener", subscriptions: ["celldrift/#"], will: nil)
        try listener.start(host: "127.0.0.1", port: broker.port)
        let source = try MQTTClient(clientID: "source", subscriptions: [], will: nil)
        try source.start(host: "127.0.0.1", port: broker.port)
        var received: [(topic: String, payload: String)] = []
        func turn() {
            gateway.turn(waitMilliseconds: 5)
            listener.wait(milliseconds: 5)
            listener.drain { received.append(($0, String(decoding: $1, as: UTF8.self))) }
            source.wait(milliseconds: 1)
        }
        for _ in 0..<400 where !(listener.isConnected && source.isConnected && received.contains { $0.topic.hasSuffix("/status") }) { turn() }
        #expect(received.contains { $0.topic == "celldrift/gateway/status" && $0.payload == "online" })
        // 30 s of snapshots, cell 3 60 mV high from the 5th: the spread rule holds 10 s, then raises.
        for time in 0..<30 {
            #expect(source.publish("bms/ev-7/snapshot", String(decoding: Self.snapshot(1_790_000_000 + time, offset: time >= 5 ? 0.060 : 0),
                                                                   as: UTF8.self)))
        }
        for _ in 0..<400 where !received.contains(where: { $0.topic.contains("/alarms/") }) || gateway.counts.messages < 30 { turn() }
        let committed = try gateway.outbox.records()
        #expect(committed.count == 1)
        let alarm = try #require(committed.first)
        #expect(alarm.vehicle == "ev-7" && alarm.kind == "cell_spread" && alarm.severity == 2)
        #expect(alarm.eventTime >= 1_790_000_015 && alarm.eventTime <= 1_790_000_016)
        let published = try #require(received.first { $0.topic == "celldrift/ev-7/alarms/cell_spread" })
        #expect(published.payload.contains("\"id\": \"\(alarm.id)\""))
        #expect(gateway.counts.messages == 30 && gateway.counts.snapshots == 30 && gateway.counts.records == 1 && gateway.counts.published == 1)
        // The sources' socket is read through the read buffer, by libmosquitto.
        #expect(celldrift_read_buffer_kernel_reads() > 0)
        _ = gateway.finish()
    }

    /// Issue 18: an alarm's present state, retained for a dashboard: `active` when raised, `cleared` when its
    /// clear is final, then removed (an empty retained message) `cleared_state_s` later; the events carry no
    /// outbox delivery state.
    @Test func anAlarmsRetainedStateGoesFromActiveToClearedToGone() throws {
        let broker = try TestBroker()
        let (path, _) = try Self.config(port: broker.port, extra: "[alarms]\nhold_off_s = 0\ncleared_state_s = 0.5\n")
        let gateway = try Gateway(configPath: path, log: Self.quiet)
        let listener = try MQTTClient(clientID: "state-listener", subscriptions: ["celldrift/#"], will: nil)
        try listener.start(host: "127.0.0.1", port: broker.port)
        var received: [(topic: String, payload: String)] = []
        func turn() {
            gateway.turn(waitMilliseconds: 5)
            listener.wait(milliseconds: 5)
            listener.drain { received.append(($0, String(decoding: $1, as: UTF8.self))) }
        }
        for _ in 0..<400 where !(listener.isConnected && received.contains { $0.topic.hasSuffix("/status") }) { turn() }
        // 15 s with cell 3 60 mV high (raised after 10 s), then 15 s level (cleared after 10 s).
        for time in 0..<30 {
            gateway.take(topic: "bms/ev-5/snapshot", payload: Self.snapshot(1_790_000_000 + time, offset: time < 15 ? 0.060 : 0))
        }
        let topic = "celldrift/ev-5/alarms/cell_spread/cell-3/state"
        for _ in 0..<400 where received.filter({ $0.topic == topic }).count < 2 { turn() }
        let states = received.filter { $0.topic == topic }.map(\.payload)
        #expect(states.count == 2 && states[0].hasPrefix("{\"state\": \"active\"") && states[1].hasPrefix("{\"state\": \"cleared\""),
                "\(states)")
        let events = received.filter { $0.topic == "celldrift/ev-5/alarms/cell_spread" }.map(\.payload)
        #expect(events.count == 2 && events.allSatisfy { !$0.contains("\"state\"") && $0.contains("\"transition\"") }, "\(events)")
        let started = monotonicSeconds()
        while monotonicSeconds() - started < 1.5, received.filter({ $0.topic == topic }).count < 3 { turn() }
        #expect(received.filter { $0.topic == topic }.last?.payload == "")
        // A dashboard connecting now finds no state for it.
        let late = try MQTTClient(clientID: "late-listener", subscriptions: [topic], will: nil)
        try late.start(host: "127.0.0.1", port: broker.port)
        var retained: [String] = []
        let waited = monotonicSeconds()
        while monotonicSeconds() - waited < 0.5 {
            late.wait(milliseconds: 10)
            late.drain { _, payload in retained.append(String(decoding: payload, as: UTF8.self)) }
        }
        #expect(retained.isEmpty, "\(retained)")
        late.stop()
        listener.stop()
        _ = gateway.finish()
    }

    @Test func alarmsAreCommittedWhileTheBrokerIsAwayAndMalformedPartsAreCountedNotFatal() throws {
        // Nobody listens on this port: the gateway takes payloads and keeps their alarms in the outbox.
        let (path, _) = try Self.config(port: 1)
        let gateway = try Gateway(configPath: path, log: Self.quiet)
        var batch: [String] = []
        for time in 0..<30 { batch.append(Self.candump(1_790_000_000 + time, offset: time >= 5 ? 0.080 : 0)) }
        batch.insert("(1790000003.000000) can0 100#GG", at: 4)  // torn
        batch.insert("not a candump line at all", at: 9)
        gateway.take(topic: "bms/ev-9/can", payload: Array(batch.joined(separator: "\n").utf8))
        gateway.take(topic: "bms/ev-9/snapshot", payload: Array("{\"ts\": 1790000100, \"cell_voltages\": [3.7]}".utf8))
        gateway.take(topic: "bms/ev-9/can", payload: [])
        let counts = gateway.counts
        #expect(counts.messages == 3 && counts.frames == 30 && counts.malformed == 4 && counts.snapshots == 0)
        #expect(counts.records == 1 && counts.published == 0)
        let alarm = try #require(try gateway.outbox.records().first)
        #expect(alarm.vehicle == "ev-9" && alarm.kind == "cell_spread" && alarm.cell == 2)
        // The cell as the user's DBC names it (issue 18): `cell` is the position, the payload has the
        // user's number (index base 1 in this mapping) and the signal.
        #expect(alarm.payload.contains("\"cell_number\": 3, \"cell_name\": \"Cell3_V\""), "\(alarm.payload)")
        // A binary frame payload: the 8-byte timestamp, then the kernel's can_frame.
        var binary = [UInt8](repeating: 0, count: 24)
        withUnsafeBytes(of: Int64(1_790_000_040_000_000_000).littleEndian) { for index in 0..<8 { binary[index] = $0[index] } }
        binary[8] = 0x00; binary[9] = 0x01; binary[12] = 8
        gateway.take(topic: "bms/ev-9/can", payload: binary)
        #expect(gateway.counts.frames == 31 && gateway.counts.malformed == 4)
        _ = gateway.finish()
    }

    @Test func aReloadTakesNewRulesKeepsTheStateAndRefusesABrokenConfig() throws {
        let (path, directory) = try Self.config(port: 1)
        let messages = LogRecorder()
        let gateway = try Gateway(configPath: path, log: Logger(label: "test") { _ in messages })
        for time in 0..<20 { gateway.take(topic: "bms/ev-1/snapshot", payload: Self.snapshot(1_790_000_000 + time, offset: 0.030)) }
        #expect(gateway.counts.records == 0)  // 30 mV is under the 50 mV rule
        try writeFile(path, "dbc = \"pack.dbc\"\n[pack]\ncells = \"four\"\n")
        gateway.reload()
        #expect(messages.lines.contains { $0.hasPrefix("reload refused, keeping the running config: ") && $0.contains("cells") })
        // Once a trap in the running daemon (issue 14): a port no socket can have.
        let good = try readText(path.replacing("celldrift.toml", with: "pack.dbc"))
        #expect(good.contains("Cell1_V"))
        try writeFile(path, "dbc = \"pack.dbc\"\n[pack]\ncells = 4\ncell_voltage = \"Cell{index}_V\"\ncell_voltage_index_base = 1\n"
            + "[api]\nport = 70000\n")
        gateway.reload()
        #expect(messages.lines.contains { $0.hasPrefix("reload refused, keeping the running config: ") && $0.contains("api.port") })
        let (lowered, _) = try Self.config(port: 1, raiseAbove: 0.020)
        try writeFile(path, try readText(lowered).replacing("pack.dbc", with: "\(directory)/pack.dbc")
            .replacing(lowered.replacing("celldrift.toml", with: "outbox.db"), with: "\(directory)/outbox.db"))
        gateway.reload()
        #expect(messages.lines.contains { $0.hasPrefix("reloaded \(path): rules cell_spread") })
        // The pipeline kept its state: the rule's 10 s hold is met by the next snapshots alone.
        for time in 20..<32 { gateway.take(topic: "bms/ev-1/snapshot", payload: Self.snapshot(1_790_000_000 + time, offset: 0.030)) }
        #expect(gateway.counts.records == 1)
        _ = gateway.finish()
    }

    @Test func theLocalAPIAnswersHealthMetricsAndRefusesUnknownEndpoints() throws {
        let (path, _) = try Self.config(port: 1, api: true)
        let gateway = try Gateway(configPath: path, log: Self.quiet)
        let port = try #require(gateway.apiPort)
        gateway.take(topic: "bms/ev-2/snapshot", payload: Self.snapshot(1_790_000_000, offset: 0))
        let health = try httpRequest(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }
        #expect(health.status == 200 && health.body.contains("\"mqtt_connected\": false") && health.body.contains("\"outbox_pending\": 0"))
        let metrics = try httpRequest(port, "GET /metrics HTTP/1.1\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }
        #expect(metrics.status == 200 && metrics.body.contains("celldrift_snapshots_total 1.0") && metrics.body.contains("celldrift_vehicles 1.0"))
        #expect(metrics.body.contains("celldrift_build_info{version=\"\(Build.version)\"} 1.0"))
        let inference = try httpRequest(port, "POST /inference HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}") { gateway.turn(waitMilliseconds: 5) }
        #expect(inference.status == 503)  // no pack model in this config
        #expect(try httpRequest(port, "GET /nothing HTTP/1.1\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }.status == 404)
        _ = gateway.finish()
    }

    /// Issue 18: `/healthz` said ok (200) with the broker down. Now 503 with each reason once the broker
    /// has been down past `broker_down_s` and nothing came for `stale_input_s`; ok again when a snapshot comes.
    @Test func healthNamesEachReasonItIsUnwell() throws {
        let (path, _) = try Self.config(port: 1, api: true, extra: "broker_down_s = 0.2\nstale_input_s = 0.3\n")
        let gateway = try Gateway(configPath: path, log: Self.quiet)
        let port = try #require(gateway.apiPort)
        let early = try httpRequest(port, "GET /healthz HTTP/1.1\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }
        #expect(early.status == 200 && early.body.contains("\"reasons\": []"), "\(early.body)")
        let started = monotonicSeconds()
        while monotonicSeconds() - started < 0.5 { gateway.turn(waitMilliseconds: 20) }
        let late = try httpRequest(port, "GET /healthz HTTP/1.1\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }
        #expect(late.status == 503 && late.body.contains("\"status\": \"unhealthy\""))
        #expect(late.body.contains("the local broker has been down for") && late.body.contains("no frame or snapshot for"), "\(late.body)")
        gateway.take(topic: "bms/ev-3/snapshot", payload: Self.snapshot(1_790_000_000, offset: 0))
        gateway.turn(waitMilliseconds: 5)
        let fed = try httpRequest(port, "GET /healthz HTTP/1.1\r\n\r\n") { gateway.turn(waitMilliseconds: 5) }
        #expect(fed.status == 503 && !fed.body.contains("no frame or snapshot") && fed.body.contains("broker"), "\(fed.body)")
        _ = gateway.finish()
    }

    @Test func socketCANFramesReachTheirVehiclesPipeline() throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &ends) == 0)
        defer { close(ends[1]) }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let link = try SocketCANLink(interface: "vcan0", retryInterval: 2) { SocketCANReader(descriptor: ends[0], interface: "vcan0") }
        let (path, _) = try Self.config(port: 1)
        let gateway = try Gateway(configPath: path, log: Self.quiet, socketCAN: link)
        // struct can_frame: id, length, 3 reserved bytes, 8 data bytes; the cells' message, cell 3 70 mV high.
        var frame = [UInt8](repeating: 0, count: 16)
        frame[0] = 0x00; frame[1] = 0x01; frame[4] = 8
        for (index, millivolts) in [3700, 3700, 3770, 3700].enumerated() {
            frame[8 + 2 * index] = UInt8(millivolts & 0xFF)
            frame[9 + 2 * index] = UInt8(millivolts >> 8)
        }
        for _ in 0..<5 { #expect(write(ends[1], frame, frame.count) == 16) }
        for _ in 0..<20 where gateway.counts.frames < 5 { gateway.turn(waitMilliseconds: 5) }
        #expect(gateway.counts.frames == 5 && gateway.counts.vehicles == 1)
        _ = gateway.finish()
    }
}

/// Every message logged, for the tests that check what the gateway said.
final class LogRecorder: LogHandler, @unchecked Sendable {
    private(set) var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.append("\(event.message)") }
}

func readText(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw TestFailure("cannot read \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk[0..<count] }
    return String(decoding: bytes, as: UTF8.self)
}
