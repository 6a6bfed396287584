import JSON

/// An alarm the pipeline raised while a vehicle's log was replayed: its kind, the cell or sensor it
/// names (0-based, as the outbox numbers them) and its event time.
public struct FleetAlarm: Sendable, Equatable {
    public let kind: String
    public let cell: Int?
    public let sensor: Int?
    public let time: Double

    public init(kind: String, cell: Int?, sensor: Int? = nil, time: Double) {
        self.kind = kind
        self.cell = cell
        self.sensor = sensor
        self.time = time
    }
}

/// How near a sequential test came to raising a cell: the highest, after any snapshot, of the least of the
/// test's conditions, each as a share of what raises (the statistic over its threshold, the time apart
/// over the time needed, the leak over the least one raised; 1 or more raises), which test, when, and the
/// hours into the log. On a cell not at fault, the margin a clean result stood on.
public struct ClosestCall: Sendable, Equatable {
    public let evidence: String
    /// The cell, or the temperature sensor, and its name in the DBC.
    public let cell: Int?, sensor: Int?
    public let name: String?
    /// The cells a sensor sits among: a cell fault's heat is its sensor's to see, not a call.
    public let covers: ClosedRange<Int>?
    public let time: Double
    public let hoursIntoLog: Double
    public let nearness: Double

    public init(evidence: String, cell: Int? = nil, sensor: Int? = nil, name: String? = nil, covers: ClosedRange<Int>? = nil,
                time: Double, hoursIntoLog: Double, nearness: Double) {
        self.evidence = evidence
        self.cell = cell
        self.sensor = sensor
        self.name = name
        self.covers = covers
        self.time = time
        self.hoursIntoLog = hoursIntoLog
        self.nearness = nearness
    }

    /// Whether the call is on what the label has at fault: its cell, its sensor, or a sensor among its cell.
    public func isAtFault(_ label: FleetLabel) -> Bool {
        if let cell { return cell == label.cell }
        if sensor == label.sensor { return true }
        guard let faulty = label.cell, let covers else { return false }
        return covers.contains(faulty)
    }
}

/// What one vehicle's replay gave, judged against its label. Detections are alarms of every kind but
/// the reference rule (the BMS's own 50 mV rule, which they are meant to precede).
public struct VehicleOutcome: Sendable {
    public let label: FleetLabel
    public let alarms: [FleetAlarm]
    /// Hours of complete snapshots before the onset (all of them on a healthy vehicle) and after it.
    public let healthyHours: Double, faultyHours: Double
    /// The reference rule's first alarm in the replay (to check against the label's).
    public let referenceFired: Double?
    /// The pack at rest after the onset: at each such snapshot's time, the rest seconds since the onset
    /// (a leak shows only at rest, so its delay is told in rest as well as in hours).
    public let restTimes: [Double], restSeconds: [Double]
    /// Why the vehicle could not be replayed; nil when it was.
    public let error: String?
    /// The closest call on a cell or sensor not at fault (every one of a healthy pack), from each one's highest.
    public let closestCall: ClosestCall?

    public init(label: FleetLabel, alarms: [FleetAlarm], healthyHours: Double, faultyHours: Double, referenceRule: String,
                restTimes: [Double] = [], restSeconds: [Double] = [], peaks: [ClosestCall] = [], error: String? = nil) {
        self.label = label
        closestCall = peaks.filter { !$0.isAtFault(label) }.max { $0.nearness < $1.nearness }
        self.restTimes = restTimes
        self.restSeconds = restSeconds
        self.alarms = alarms.filter { $0.kind != referenceRule }.sorted { $0.time < $1.time }
        self.healthyHours = healthyHours
        self.faultyHours = faultyHours
        referenceFired = alarms.filter { $0.kind == referenceRule }.map(\.time).min()
        self.error = error
    }

    private var onset: Double { label.onsetTime ?? .infinity }
    private var afterOnset: [FleetAlarm] { label.isHealthy ? [] : alarms.filter { $0.time >= onset } }

    /// Names the fault's cell, or its sensor for a sensor fault.
    public func namesFault(_ alarm: FleetAlarm) -> Bool {
        if let sensor = label.sensor { return alarm.sensor == sensor }
        return alarm.cell != nil && alarm.cell == label.cell
    }

    /// The first alarm after the onset, whatever it names.
    public var firstAfterOnset: FleetAlarm? { afterOnset.first }
    /// The first alarm after the onset that names the faulty cell or sensor: the detection.
    public var detection: FleetAlarm? { afterOnset.first(where: namesFault) }
    public var delayHours: Double? { detection.map { ($0.time - onset) / 3600 } }
    /// Hours the pack rested between the onset and the detection.
    public var restHoursToDetection: Double? {
        guard let detection else { return nil }
        var low = 0, high = restTimes.count
        while low < high {
            let middle = (low + high) / 2
            if restTimes[middle] <= detection.time { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : restSeconds[low - 1] / 3600
    }
    /// Hours by which the detection came before the rule (negative: after it); nil when the rule never
    /// fired, -infinity when it fired and nothing named the fault.
    public var leadHours: Double? {
        guard let fired = label.ruleFirstFiredTime else { return nil }
        guard let detection else { return -.infinity }
        return (fired - detection.time) / 3600
    }
    /// Alarms in healthy time (a healthy vehicle, or before the onset).
    public var falseAlarms: [FleetAlarm] { label.isHealthy ? alarms : alarms.filter { $0.time < onset } }
    /// Alarms after the onset that name another cell or sensor than the faulty one.
    public var wrongTarget: [FleetAlarm] { afterOnset.filter { !namesFault($0) } }
}

/// A labelled fleet's replay, summed up per fault kind and chemistry (docs/fleet.md).
public struct FleetEvaluation: Sendable {
    public let outcomes: [VehicleOutcome]
    public let referenceRule: String

    public init(outcomes: [VehicleOutcome], referenceRule: String) {
        self.outcomes = outcomes
        self.referenceRule = referenceRule
    }

    /// Figures of a group of vehicles.
    public struct Summary: Sendable {
        public let vehicles: Int, faulty: Int, found: Int, named: Int, ruleFired: Int, ahead: Int
        public let medianDelayHours: Double?, medianLeadHours: Double?
        public let healthyHours: Double, falseAlarms: Int, wrongTarget: Int, failed: Int
        /// The highest of the vehicles' closest calls on cells not at fault.
        public let highestClosestCall: Double?

        init(_ outcomes: [VehicleOutcome]) {
            let replayed = outcomes.filter { $0.error == nil }
            let faulty = replayed.filter { !$0.label.isHealthy }
            vehicles = outcomes.count
            failed = outcomes.count - replayed.count
            self.faulty = faulty.count
            found = faulty.filter { $0.firstAfterOnset != nil }.count
            named = faulty.filter { $0.detection != nil }.count
            let leads = faulty.compactMap(\.leadHours)
            ruleFired = leads.count
            ahead = leads.filter { $0 > 0 }.count
            medianDelayHours = median(faulty.compactMap(\.delayHours))
            medianLeadHours = median(leads)
            healthyHours = replayed.reduce(0) { $0 + $1.healthyHours }
            falseAlarms = replayed.reduce(0) { $0 + $1.falseAlarms.count }
            wrongTarget = replayed.reduce(0) { $0 + $1.wrongTarget.count }
            highestClosestCall = replayed.compactMap(\.closestCall?.nearness).max()
        }

        public var falseAlarmsPerThousandHours: Double? { healthyHours > 0 ? Double(falseAlarms) / healthyHours * 1000 : nil }
    }

    public var overall: Summary { Summary(outcomes) }

    /// (fault kind, chemistry) groups in a stable order, healthy first.
    public var groups: [(fault: String, chemistry: String, summary: Summary)] {
        let keys = Set(outcomes.map { FaultGroup(fault: $0.label.fault, chemistry: $0.label.chemistry) })
        return keys.sorted().map { key in
            (key.fault, key.chemistry, Summary(outcomes.filter { $0.label.fault == key.fault && $0.label.chemistry == key.chemistry }))
        }
    }

    public func text() -> String {
        var lines = outcomes.map { outcome -> String in
            let label = outcome.label
            var line = "\(label.vehicle) \(label.chemistry) \(label.fault)"
            if let cell = label.cell { line += " cell \(cell)" + (label.cellName.map { " (\($0))" } ?? "") }
            if let sensor = label.sensor { line += " sensor \(sensor)" + (label.sensorName.map { " (\($0))" } ?? "") }
            if let error = outcome.error { return line + ": not replayed: \(error)" }
            if !label.isHealthy {
                line += outcome.detection.map { ": named after \(hours(outcome.delayHours)) (\(hours(outcome.restHoursToDetection)) of rest) by \($0.kind)" }
                    ?? (outcome.firstAfterOnset.map { ": alarmed (\($0.kind)) but never named it" } ?? ": not found")
                line += label.ruleFirstFiredTime == nil ? "; rule never fired" : "; lead over the rule \(hours(outcome.leadHours))"
            }
            if !outcome.falseAlarms.isEmpty { line += "; \(outcome.falseAlarms.count) false alarms" }
            if !outcome.wrongTarget.isEmpty { line += "; \(outcome.wrongTarget.count) naming another cell or sensor" }
            if let call = outcome.closestCall {
                let target = call.cell.map { "cell \($0)" } ?? call.sensor.map { "sensor \($0)" } ?? "?"
                line += "; closest call on a cell or sensor not at fault: \(ratio(call.nearness)) (\(call.evidence), \(target)"
                    + (call.name.map { " (\($0))" } ?? "") + ", \(hours(call.hoursIntoLog)) into the log)"
            }
            return line
        }
        lines.append("")
        lines.append(pad("fault", 18) + pad("chemistry", 10) + pad("vehicles", 9) + pad("found", 6) + pad("named", 6)
            + pad("delay", 9) + pad("rule", 5) + pad("ahead", 6) + pad("lead", 9) + pad("false", 6) + pad("per 1000 h", 11) + pad("wrong", 6) + "closest")
        for group in groups + [("all", "", overall)] {
            let s = group.summary
            lines.append(pad(group.fault, 18) + pad(group.chemistry, 10) + pad("\(s.vehicles)", 9) + pad("\(s.found)", 6)
                + pad("\(s.named)", 6) + pad(hours(s.medianDelayHours), 9) + pad("\(s.ruleFired)", 5) + pad("\(s.ahead)", 6)
                + pad(hours(s.medianLeadHours), 9) + pad("\(s.falseAlarms)", 6)
                + pad(s.falseAlarmsPerThousandHours.map { "\(($0 * 10).rounded() / 10)" } ?? "-", 11) + pad("\(s.wrongTarget)", 6)
                + (s.highestClosestCall.map(ratio) ?? "-"))
        }
        let s = overall
        lines.append("faulty vehicles \(s.faulty): found \(s.found), fault named \(s.named); the 50 mV rule fired on \(s.ruleFired), "
            + "named ahead of it on \(s.ahead); \(s.falseAlarms) false alarms in \(Int(s.healthyHours.rounded())) healthy vehicle-hours"
            + (s.failed > 0 ? "; \(s.failed) vehicles not replayed" : ""))
        return lines.joined(separator: "\n")
    }

    public func json() -> String {
        func summaryJSON(_ s: Summary) -> String {
            "{\"vehicles\": \(s.vehicles), \"faulty\": \(s.faulty), \"found\": \(s.found), \"named\": \(s.named), "
                + "\"median_delay_h\": \(number(s.medianDelayHours)), \"rule_fired\": \(s.ruleFired), \"ahead_of_rule\": \(s.ahead), "
                + "\"median_lead_h\": \(number(s.medianLeadHours)), \"healthy_vehicle_hours\": \(number(s.healthyHours)), "
                + "\"false_alarms\": \(s.falseAlarms), \"false_alarms_per_1000_h\": \(number(s.falseAlarmsPerThousandHours)), "
                + "\"wrong_target_alarms\": \(s.wrongTarget), \"not_replayed\": \(s.failed), "
                + "\"highest_closest_call\": \(number(s.highestClosestCall))}"
        }
        let vehicles = outcomes.map { outcome -> String in
            let label = outcome.label
            func callJSON(_ call: ClosestCall) -> String {
                "{\"evidence\": \(quoted(call.evidence)), \"cell\": \(number(call.cell)), \"sensor\": \(number(call.sensor)), "
                    + "\"name\": \(call.name.map(quoted) ?? "null"), "
                    + "\"covers_cells\": \(call.covers.map { "[\($0.lowerBound), \($0.upperBound)]" } ?? "null"), \"time\": \(number(call.time)), "
                    + "\"hours_into_log\": \(number(call.hoursIntoLog)), \"nearness\": \(number(call.nearness))}"
            }
            func alarmJSON(_ alarm: FleetAlarm) -> String {
                "{\"kind\": \(quoted(alarm.kind)), \"cell\": \(number(alarm.cell)), \"sensor\": \(number(alarm.sensor)), \"time\": \(number(alarm.time))}"
            }
            return "{\"vehicle\": \(quoted(label.vehicle)), \"chemistry\": \(quoted(label.chemistry)), \"fault\": \(quoted(label.fault)), "
                + "\"cell\": \(number(label.cell)), \"sensor\": \(number(label.sensor)), \"onset_time\": \(number(label.onsetTime)), "
                + "\"rule_first_fired_time\": \(number(label.ruleFirstFiredTime)), \"replay_rule_first_fired_time\": \(number(outcome.referenceFired)), "
                + "\"found\": \(outcome.firstAfterOnset != nil), \"named\": \(outcome.detection != nil), "
                + "\"detection\": \(outcome.detection.map(alarmJSON) ?? "null"), \"delay_h\": \(number(outcome.delayHours)), "
                + "\"rest_h_to_detection\": \(number(outcome.restHoursToDetection)), "
                + "\"lead_h\": \(number(outcome.leadHours)), \"healthy_hours\": \(number(outcome.healthyHours)), "
                + "\"faulty_hours\": \(number(outcome.faultyHours)), \"false_alarms\": [\(outcome.falseAlarms.map(alarmJSON).joined(separator: ", "))], "
                + "\"wrong_target_alarms\": \(outcome.wrongTarget.count), \"alarms\": \(outcome.alarms.count), "
                + "\"closest_call\": \(outcome.closestCall.map(callJSON) ?? "null"), "
                + "\"error\": \(outcome.error.map(quoted) ?? "null")}"
        }
        let groupRows = groups.map { "{\"fault\": \(quoted($0.fault)), \"chemistry\": \(quoted($0.chemistry)), \"summary\": \(summaryJSON($0.summary))}" }
        return "{\"reference_rule\": \(quoted(referenceRule)), \"overall\": \(summaryJSON(overall)), "
            + "\"groups\": [\(groupRows.joined(separator: ", "))], \"vehicles\": [\(vehicles.joined(separator: ", "))]}"
    }
}

private struct FaultGroup: Hashable, Comparable {
    let fault: String, chemistry: String
    static func < (a: FaultGroup, b: FaultGroup) -> Bool {
        let rank = { (group: FaultGroup) in group.fault == "healthy" ? 0 : 1 }
        return (rank(a), a.fault, a.chemistry) < (rank(b), b.fault, b.chemistry)
    }
}

private func median(_ values: [Double]) -> Double? {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return nil }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

private func hours(_ value: Double?) -> String {
    guard let value else { return "-" }
    guard value.isFinite else { return "never" }
    return value.magnitude < 1 ? "\(Int((value * 60).rounded())) min" : "\((value * 10).rounded() / 10) h"
}

/// A closest call's nearness, to two decimals.
private func ratio(_ value: Double) -> String { "\((value * 100).rounded() / 100)" }

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

private func number(_ value: Double?) -> String { value.map(JSONText.number) ?? "null" }
private func number(_ value: Int?) -> String { value.map(String.init) ?? "null" }
private func quoted(_ text: String) -> String { String(decoding: JSONText.quoted(text), as: UTF8.self) }
