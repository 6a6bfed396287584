import Testing
@testable import Training

#if canImport(Glibc)
import Glibc
#endif

@Suite struct FleetEvaluationTests {
    let rule = "cell_spread"

    @Test func aDetectionNamesTheFaultyCellAfterTheOnsetAndIsMeasuredAgainstTheRule() {
        let label = FleetLabel(vehicle: "V1", chemistry: "nmc", fault: "micro-short", cell: 4, onsetTime: 1000,
                               ruleFirstFiredTime: 1000 + 7200)
        let outcome = VehicleOutcome(label: label, alarms: [
            FleetAlarm(kind: "self_discharge", cell: 2, time: 500),     // before the onset: a false alarm
            FleetAlarm(kind: "self_discharge", cell: 3, time: 1500),    // after it, another cell
            FleetAlarm(kind: "cell_spread", cell: 4, time: 1200),       // the reference rule: never a detection
            FleetAlarm(kind: "self_discharge", cell: 4, time: 1000 + 1800),
        ], healthyHours: 1, faultyHours: 3, referenceRule: rule)
        #expect(outcome.detection == FleetAlarm(kind: "self_discharge", cell: 4, time: 2800))
        #expect(outcome.firstAfterOnset?.cell == 3)
        #expect(outcome.delayHours == 0.5)
        #expect(outcome.leadHours == 1.5)
        #expect(outcome.falseAlarms.map(\.time) == [500])
        #expect(outcome.wrongTarget.count == 1)
        #expect(outcome.referenceFired == 1200)
    }

    @Test func aSensorFaultIsNamedOnlyByItsSensor() {
        let label = FleetLabel(vehicle: "V2", chemistry: "lfp", fault: "hot-joint", sensor: 1, onsetTime: 100)
        let byCell = VehicleOutcome(label: label, alarms: [FleetAlarm(kind: "t", cell: 1, time: 200)], healthyHours: 0,
                                    faultyHours: 1, referenceRule: rule)
        #expect(byCell.detection == nil)
        #expect(byCell.firstAfterOnset != nil)
        let bySensor = VehicleOutcome(label: label, alarms: [FleetAlarm(kind: "t", cell: nil, sensor: 1, time: 200)],
                                      healthyHours: 0, faultyHours: 1, referenceRule: rule)
        #expect(bySensor.detection != nil)
        #expect(bySensor.leadHours == nil)
    }

    @Test func groupsCountFalseAlarmsPerThousandHealthyHoursAndMissedRules() {
        let healthy = VehicleOutcome(label: FleetLabel(vehicle: "H", chemistry: "nmc", fault: "healthy"),
                                     alarms: [FleetAlarm(kind: "cell_resistance", cell: 0, time: 10)], healthyHours: 500,
                                     faultyHours: 0, referenceRule: rule)
        let missed = VehicleOutcome(label: FleetLabel(vehicle: "M", chemistry: "nmc", fault: "resistance-growth", cell: 1,
                                                      onsetTime: 0, ruleFirstFiredTime: 100),
                                    alarms: [], healthyHours: 0, faultyHours: 2, referenceRule: rule)
        let failed = VehicleOutcome(label: FleetLabel(vehicle: "F", chemistry: "nmc", fault: "healthy"), alarms: [],
                                    healthyHours: 0, faultyHours: 0, referenceRule: rule, error: "cannot be read")
        let evaluation = FleetEvaluation(outcomes: [healthy, missed, failed], referenceRule: rule)
        let overall = evaluation.overall
        #expect(overall.falseAlarms == 1)
        #expect(overall.falseAlarmsPerThousandHours == 2)
        #expect(overall.ruleFired == 1 && overall.ahead == 0)
        #expect(overall.medianLeadHours == -.infinity)
        #expect(overall.failed == 1)
        #expect(evaluation.groups.map(\.fault) == ["healthy", "resistance-growth"])
        #expect(evaluation.text().contains("resistance-growth nmc       1"))
        #expect(evaluation.json().contains("\"not_replayed\": 1"))
    }

    @Test func theClosestCallIsTheNearestATestCameToRaisingACellNotAtFault() {
        let peaks = [
            ClosestCall(evidence: "current_changes", cell: 0, name: "U_Cell_1", time: 90, hoursIntoLog: 0.5, nearness: 0.31),
            ClosestCall(evidence: "rest_slopes", cell: 4, name: "U_Cell_5", time: 7300, hoursIntoLog: 2, nearness: 3.5),
            ClosestCall(evidence: "steady_load", cell: 3, name: "U_Cell_4", time: 86_400, hoursIntoLog: 24, nearness: 0.774),
        ]
        // The leaking cell's own statistic is its detection, not a call on a healthy cell.
        let leak = VehicleOutcome(label: FleetLabel(vehicle: "L", chemistry: "lfp", fault: "micro-short", cell: 4, onsetTime: 0),
                                  alarms: [], healthyHours: 0, faultyHours: 3, referenceRule: rule, peaks: peaks)
        #expect(leak.closestCall?.cell == 3)
        let healthy = VehicleOutcome(label: FleetLabel(vehicle: "H", chemistry: "lfp", fault: "healthy"), alarms: [],
                                     healthyHours: 3, faultyHours: 0, referenceRule: rule, peaks: Array(peaks.prefix(1)))
        let quiet = VehicleOutcome(label: FleetLabel(vehicle: "Q", chemistry: "nmc", fault: "healthy"), alarms: [],
                                   healthyHours: 3, faultyHours: 0, referenceRule: rule)
        #expect(quiet.closestCall == nil)
        let evaluation = FleetEvaluation(outcomes: [leak, healthy, quiet], referenceRule: rule)
        #expect(evaluation.overall.highestClosestCall == 0.774)
        #expect(evaluation.groups.first { $0.fault == "healthy" }?.summary.highestClosestCall == 0.31)
        #expect(evaluation.text().contains("closest call on a cell or sensor not at fault: 0.77 (steady_load, cell 3 (U_Cell_4), 24.0 h into the log)"))
        #expect(evaluation.text().contains("closest call on a cell or sensor not at fault: 0.31 (current_changes, cell 0 (U_Cell_1), 30 min into the log)"))
        #expect(evaluation.json().contains("\"closest_call\": {\"evidence\": \"steady_load\", \"cell\": 3, \"sensor\": null, \"name\": \"U_Cell_4\", \"covers_cells\": null, \"time\": 86400"))
        #expect(evaluation.json().contains("\"highest_closest_call\": 0.774}"))
        #expect(evaluation.json().contains("\"closest_call\": null"))
        // A hot joint's own sensor is its detection; another sensor's, or a cell's, is a call.
        let sensors = [
            ClosestCall(evidence: "sensor_shift", sensor: 1, name: "T_Module_2", time: 10, hoursIntoLog: 0, nearness: 9),
            ClosestCall(evidence: "held_reading", sensor: 0, name: "T_Module_1", time: 3610, hoursIntoLog: 1, nearness: 0.5),
            ClosestCall(evidence: "current_changes", cell: 1, time: 10, hoursIntoLog: 0, nearness: 0.25),
        ]
        let joint = VehicleOutcome(label: FleetLabel(vehicle: "J", chemistry: "nmc", fault: "hot-joint", sensor: 1, onsetTime: 0),
                                   alarms: [], healthyHours: 0, faultyHours: 2, referenceRule: rule, peaks: sensors)
        #expect(joint.closestCall == sensors[1])
        #expect(FleetEvaluation(outcomes: [joint], referenceRule: rule).text()
            .contains("closest call on a cell or sensor not at fault: 0.5 (held_reading, sensor 0 (T_Module_1), 1.0 h into the log)"))
        // A cell fault's heat is the sensor over it to see: not a call on that sensor, but on another.
        let heated = [
            ClosestCall(evidence: "sensor_shift", sensor: 0, covers: 0...3, time: 10, hoursIntoLog: 0, nearness: 40),
            ClosestCall(evidence: "sensor_shift", sensor: 1, covers: 4...7, time: 10, hoursIntoLog: 0, nearness: 0.6),
        ]
        let loose = VehicleOutcome(label: FleetLabel(vehicle: "C", chemistry: "lfp", fault: "loose-connection", cell: 2, onsetTime: 0),
                                   alarms: [], healthyHours: 0, faultyHours: 2, referenceRule: rule, peaks: heated)
        #expect(loose.closestCall == heated[1])
        #expect(FleetEvaluation(outcomes: [loose], referenceRule: rule).json().contains("\"covers_cells\": [4, 7]"))
    }

    @Test func labelsTakeAbsoluteOrRelativeTimesAndNameTheirMistakes() throws {
        let path = "/tmp/celldrift-labels-\(getpid()).json"
        defer { unlink(path) }
        try write(path, """
            [{"vehicle": "A", "fault": "healthy", "chemistry": "nmc"},
             {"vehicle": "B", "fault": "micro-short", "cell": 3, "start_time": 1000, "onset_s": 50, "rule_first_fired_s": 90,
              "log": "B.log", "config": "B.toml", "cell_name": "Cell04"}]
            """)
        let labels = try FleetLabel.load(path)
        #expect(labels.count == 2)
        #expect(labels[1].onsetTime == 1050 && labels[1].ruleFirstFiredTime == 1090)
        #expect(labels[1].cell == 3 && labels[1].cellName == "Cell04" && labels[1].log == "B.log")
        try write(path, "[{\"vehicle\": \"B\", \"fault\": \"micro-short\", \"cell\": 3, \"onset_s\": 50}]")
        #expect(throws: EvaluationError.self) { try FleetLabel.load(path) }
        do { _ = try FleetLabel.load(path) } catch {
            #expect("\(error)".contains("vehicle 1: \"onset_s\" needs \"start_time\""))
        }
        try write(path, "[{\"vehicle\": \"C\", \"fault\": \"hot-joint\", \"onset_time\": 5}]")
        do { _ = try FleetLabel.load(path); Issue.record("a fault without a cell or sensor was accepted") } catch {
            #expect("\(error)".contains("needs its \"cell\" or \"sensor\""))
        }
    }

    private func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}
