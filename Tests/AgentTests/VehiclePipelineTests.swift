import Agent
import CAN
import Consistency
import DBC
import JSON
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct VehiclePipelineTests {
    /// Current steps of 40 A every 2 s; cell 10 has twice the others' 1 mΩ. The resistance rule (ratio
    /// above 1.5 for 60 s, in celldrift_pack_rules.toml) raises once, at cell 10; the spread (40 mV) stays under 50 mV.
    @Test func aCellWithTwiceTheResistanceRaisesTheResistanceRule() throws {
        let config = try PipelineConfig(path: PipelineConfigTests.withRules)
        var alarms: [OutboxRecord] = []
        let pipeline = VehiclePipeline(config: config, vehicle: "TEST", wallClock: { 42 }) { alarms.append($0) }
        var voltages = [Double](repeating: 0, count: 96)
        for second in stride(from: 0, to: 300, by: 2) {
            let current = (second / 2) % 2 == 0 ? 0.0 : 40.0
            for cell in 0..<96 { voltages[cell] = 3.7 - (cell == 10 ? 0.002 : 0.001) * current }
            voltages.withUnsafeBufferPointer {
                pipeline.snapshot(time: 1_000_000 + Double(second), voltages: $0, temperatures: UnsafeBufferPointer(start: nil, count: 0),
                                  packVoltage: .nan, current: current)
            }
        }
        #expect(alarms.count == 1)
        let alarm = try #require(alarms.first)
        #expect(alarm.kind == "cell_resistance" && alarm.cell == 10 && alarm.severity == 1 && alarm.wallTime == 42)
        // The first step is at 2 s; the ratio is above 1.5 from then on, so the rule raises at 62 s.
        #expect(alarm.eventTime == 1_000_062)
        let payload = try JSONParser.parse(Array(alarm.payload.utf8))
        #expect(abs((payload["cell_resistance_ratio"]?.double ?? 0) - 2) < 1e-9)
        #expect(payload["feature"]?.string == "resistance_ratio")
        // The capacity test's estimate goes with the cell, null here: this pack never rested.
        #expect(payload["cell_capacity_ratio"] == .null)
        #expect(abs(pipeline.features.medianResistance - 0.001) < 1e-12)
        #expect(pipeline.snapshots == 150 && pipeline.alarmDays.isEmpty == false)
    }

    /// A BMS that measures its cells together and sends them page by page while its status message goes
    /// on with each instant's current: a snapshot keeps both the latest current and the one in force when
    /// its period's first page came (the resistance test takes the one the cells' steps follow). Its
    /// per-cell bleed flags hold for as long as a cell's reading does.
    @Test func aSnapshotKeepsTheCurrentOfItsPeriodsFirstCellFrame() throws {
        let config = try PipelineConfig(path: PipelineConfigTests.shipped)
        let pipeline = VehiclePipeline(config: config, vehicle: "PAGES", wallClock: { 42 }) { _ in }
        let decoder = FrameDecoder(config.database)
        var taken = 0
        func status(_ current: Double, balancing: Bool) -> [String: Double] {
            ["PackCurrent": current, "PackVoltage": 355, "PackSoC": 50, "ChargeState": 0, "BalancingActive": balancing ? 1 : 0, "StatusCounter": 0]
        }
        func send(_ message: String, _ values: [String: Double], at time: Double) throws {
            var frame = try config.database.encode(message: message, values: values)
            guard case .decoded = withUnsafePointer(to: &frame, decoder.decode(at:)) else { throw AgentError("\(message) not decoded") }
            if pipeline.frame(decoder, time: time) { taken += 1 }
        }
        for period in 0..<3 {
            let start = 1_790_000_000 + Double(period), atFirstPage = 10 * Double(period + 1), later = -20 * Double(period + 1)
            // The second period's status says the BMS is balancing: the shipped mapping reads its flag.
            let balancing = period == 1
            try send("PackStatus", status(atFirstPage, balancing: balancing), at: start)
            for page in 0..<32 {
                if page == 16 { try send("PackStatus", status(later, balancing: balancing), at: start + 0.5) }
                var values = ["CellVoltagePage": Double(page)]
                for cell in (3 * page)..<(3 * page + 3) {
                    let number = String(cell)
                    values["CellVoltage_" + String(repeating: "0", count: 3 - number.count) + number] = 3700
                }
                try send("CellVoltages", values, at: start + 0.01 + 0.02 * Double(page))
            }
            #expect(taken == period + 1)
            #expect(pipeline.state.current == later && pipeline.state.periodStartCurrent == atFirstPage)
            #expect(pipeline.state.balancing == balancing)
        }
        // No per-cell bleed flag has come: they say nothing.
        #expect(!pipeline.state.cellBalancingKnown(at: 1_790_000_002))
        var flags = ["CellBalancingPage": 0.0]
        for cell in 0..<48 { flags["CellBalancing_" + (cell < 10 ? "00" : "0") + String(cell)] = cell == 7 ? 1 : 0 }
        try send("CellBalancing", flags, at: 1_790_000_003)
        #expect(pipeline.state.cellBalancing[7] && !pipeline.state.cellBalancing[6])
        #expect(pipeline.state.cellBalancingKnown(at: 1_790_000_003 + pipeline.state.staleAfter))
        // A BMS that stopped sending them: the last flags do not stand for what it does now.
        #expect(!pipeline.state.cellBalancingKnown(at: 1_790_000_004 + pipeline.state.staleAfter))
    }

    /// Issue 18: a spread hovering at the 50 mV rule raised the same cell again and again, and clears were
    /// never stored. Now: raised once; its clears within the hold-off (300 s) are not final, so re-raises
    /// are the same alarm; a magnitude that moves by a quarter is `updated`; the clear is stored when the
    /// hold-off has passed without a raise. Every record carries the alarm's id, derived from the onset.
    @Test func anAlarmHoveringAtItsThresholdIsOneAlarmWithItsUpdatesAndItsClear() throws {
        let config = try PipelineConfig(path: PipelineConfigTests.shipped)
        var records: [OutboxRecord] = []
        let pipeline = VehiclePipeline(config: config, vehicle: "HOVER", wallClock: { 42 }) { records.append($0) }
        var voltages = [Double](repeating: 3.7, count: 96)
        func feed(_ seconds: Range<Int>, spread: Double) {
            for second in seconds {
                voltages[10] = 3.7 + spread
                voltages.withUnsafeBufferPointer {
                    pipeline.snapshot(time: 1_790_000_000 + Double(second), voltages: $0, temperatures: UnsafeBufferPointer(start: nil, count: 0),
                                      packVoltage: .nan, current: 0)
                }
            }
        }
        // Eight swings across the threshold, 30 s above and 30 s below each, then 100 s at 80 mV, then quiet.
        for swing in 0..<8 {
            feed((swing * 60)..<(swing * 60 + 30), spread: 0.055)
            feed((swing * 60 + 30)..<(swing * 60 + 60), spread: 0.045)
        }
        feed(480..<580, spread: 0.080)
        feed(580..<1_000, spread: 0.010)
        let spread = records.filter { $0.kind == "cell_spread" }
        #expect(spread.map(\.transition) == ["raised", "updated", "cleared"], "\(spread.map { ($0.transition ?? "-", $0.eventTime) })")
        let raised = try #require(spread.first)
        #expect(raised.cell == 10 && raised.eventTime == 1_790_000_010)
        #expect(raised.payload.contains("\"alarm_id\": \"\(raised.id)\"") && raised.payload.contains("\"subject\": \"cell-10\""))
        for record in spread { #expect(record.payload.contains("\"alarm_id\": \"\(raised.id)\"")) }
        // Cleared when the spread stayed below for the rule's 10 s after the 80 mV stretch; stored 300 s later.
        #expect(spread.last?.eventTime == 1_790_000_590)
        #expect(Set(spread.map(\.id)).count == 3)
    }

    /// The seed's inference event: stored in a real outbox file, read back with its 84 named inputs in
    /// the seed's order, the record id as request_id.
    @Test func inferenceEventsKeepTheSeedsSchema() throws {
        let path = "/tmp/celldrift-inference-\(getpid()).db"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
        let outbox = try Outbox(path: path)
        let inputs = (0..<84).map { Double($0) / 4 - 1 }
        let record = try InferenceEvent.record(vin: "LVSHCAMB1CE054249", date: "2020-08-04", probability: 0.25, inputs: inputs,
                                               eventTime: 1_596_499_200, wallTime: 1_596_499_201)
        _ = try outbox.append([record])
        let stored = try #require(try outbox.records().first)
        #expect(stored.type == .inference && stored.score == 0.25 && stored.id == record.id)
        let payload = try JSONParser.parse(Array(stored.payload.utf8))
        #expect(payload["request_id"]?.string == record.id)
        #expect(payload["vin"]?.string == "LVSHCAMB1CE054249" && payload["date"]?.string == "2020-08-04")
        #expect(DailyMeasures.inputNames.first == "total_voltage_14" && DailyMeasures.inputNames.last == "min_temperature_1")
        #expect(DailyMeasures.inputNames[6] == "total_voltage_13")
        for (index, name) in DailyMeasures.inputNames.enumerated() { #expect(payload[name]?.double == inputs[index]) }
        #expect(throws: AgentError.self) {
            try InferenceEvent.record(vin: "V", date: "2020-08-04", probability: 0.1, inputs: [1, 2], eventTime: 0, wallTime: 0)
        }
    }

    /// The seed's request as `POST /inference` reads it; what a client sends wrong is named in the error.
    @Test func inferenceRequestsAreReadAndCheckedByField() throws {
        var parts = (0..<84).map { "\(Double($0) / 8)" }
        let features = parts.joined(separator: ",")
        parts[1] = "x"
        func body(vin: String = "LVSHCAMB1CE054249", date: String = "2020-08-04", features: String = features) -> [UInt8] {
            Array("{\"vin\": \"\(vin)\", \"date\": \"\(date)\", \"features\": \"\(features)\"}".utf8)
        }
        let request = try InferenceEvent.request(body())
        #expect(request.vin == "LVSHCAMB1CE054249" && request.date == "2020-08-04" && request.day == 18_478)
        #expect(request.inputs.count == 84 && request.inputs[83] == 83.0 / 8)
        func refusal(_ body: [UInt8]) -> String {
            do { _ = try InferenceEvent.request(body); return "accepted" } catch { return "\(error)" }
        }
        #expect(refusal(body(date: "9000000000000000000-01-01")).hasPrefix("request needs vin, date (YYYY-MM-DD)"))
        #expect(refusal(body(vin: "A/B")).hasPrefix("vin: "))
        #expect(refusal(body(features: "1,2")) == "features: 2 numbers where the model takes 84")
        #expect(refusal(body(features: parts.joined(separator: ",")))
            == "features: number 2 (\(DailyMeasures.inputNames[1])) \"x\" is not a number")
        #expect(refusal(Array("{\"vin\": ".utf8)) != "accepted")
    }

    /// A snapshot's balancing flag and per-cell flags (docs/snapshots.md): true/false or 1/0, one per cell
    /// voltage; anything else is refused naming the field.
    @Test func aSnapshotsBleedFlagsAreReadOrRefusedNamingTheField() throws {
        func parse(_ extra: String) throws -> Snapshot {
            try Snapshot(json: Array("{\"ts\": 1790000000, \"cell_voltages\": [3.7, 3.71, 3.69]\(extra)}".utf8))
        }
        func refusal(_ extra: String) -> String {
            do { _ = try parse(extra); return "accepted" } catch { return "\(error)" }
        }
        let plain = try parse("")
        #expect(plain.balancing == nil && plain.cellBalancing == nil)
        let flagged = try parse(", \"balancing\": true, \"cell_balancing\": [0, 1, false]")
        #expect(flagged.balancing == true && flagged.cellBalancing == [false, true, false])
        #expect(refusal(", \"cell_balancing\": [0, 1]") == "field \"cell_balancing\" is not an array of 3 flags, one per cell voltage")
        #expect(refusal(", \"cell_balancing\": \"010\"") == "field \"cell_balancing\" is not an array of 3 flags, one per cell voltage")
        #expect(refusal(", \"cell_balancing\": [0, 2, 0]") == "cell_balancing[1] is not true, false, 1 or 0")
        #expect(refusal(", \"balancing\": \"yes\"") == "field \"balancing\" is not true, false, 1 or 0")
    }

    /// Times that once hung or trapped the daemon (issue 14): a snapshot at 1e300 s, two a day apart in
    /// the year 2286, one in seconds then one in milliseconds. Refused where they enter (a JSON snapshot's
    /// `ts`) and dropped and counted by the pipeline; the pipeline goes on with good times.
    @Test func timesThatAreNotSecondsFrom1970To2100AreRefused() throws {
        #expect(throws: AgentError.self) { try Snapshot(json: Array("{\"ts\": 1e300, \"cell_voltages\": [3.7]}".utf8)) }
        do {
            _ = try Snapshot(json: Array("{\"ts\": 1790000000000, \"cell_voltages\": [3.7]}".utf8))
        } catch {
            #expect("\(error)" == "field \"ts\": 1790000000000.0 is not seconds since 1970 before 2100 (milliseconds?)")
        }
        let config = try PipelineConfig(path: PipelineConfigTests.shipped)
        let pipeline = VehiclePipeline(config: config, vehicle: "TEST", wallClock: { 42 }) { _ in }
        let voltages = [Double](repeating: 3.7, count: 96)
        for time in [1e300, -1e300, .nan, 10_000_000_000, 10_000_086_400, 1_790_000_000, 1_790_000_000_000, 1_790_000_001] {
            voltages.withUnsafeBufferPointer {
                pipeline.snapshot(time: time, voltages: $0, temperatures: UnsafeBufferPointer(start: nil, count: 0), packVoltage: .nan, current: 0)
            }
        }
        #expect(pipeline.rejectedTimes == 6 && pipeline.snapshots == 2)
    }
}
