import Model
import Simulator

/// The cell-drift model on held-out simulated vehicles, alarmed as the pipeline alarms: faulty packs
/// found, the faulty cell named, the lead over the BMS's 50 mV rule, and false alarms in healthy time
/// (healthy vehicles, and faulty ones before their fault's onset).
public struct CellDriftEvaluation: Sendable {
    public struct Vehicle: Sendable {
        public let trace: CellDriftTrace
        /// The first alarm after the fault's onset, and alarms raised in healthy time.
        public let detection: (time: Double, cell: Int)?
        public let falseAlarms: [(time: Double, cell: Int)]
        public var fault: Fault { trace.run.fault }
        /// Hours from the model's alarm to the rule's first firing (negative: the model came later).
        public var leadHours: Double? {
            guard let detection, let fired = trace.ruleFirstFired else { return nil }
            return (fired - detection.time) / 3600
        }
    }

    public let vehicles: [Vehicle]
    public let threshold: Double, holdSeconds: Double

    public init(model: CellDriftModel, settings: FleetSettings) {
        let traces = CellDriftTrace.score(settings, model: model)
        threshold = model.threshold
        holdSeconds = model.holdSeconds
        vehicles = traces.map { trace in
            let alarms = trace.alarms(model)
            let healthyEnd = trace.healthySeconds
            return Vehicle(trace: trace, detection: trace.run.fault.kind == .healthy ? nil : alarms.first { $0.time >= healthyEnd },
                           falseAlarms: alarms.filter { $0.time < healthyEnd })
        }
    }

    public var faulty: [Vehicle] { vehicles.filter { $0.fault.kind != .healthy } }
    public var found: Int { faulty.filter { $0.detection != nil }.count }
    public var rightCell: Int { faulty.filter { $0.detection?.cell == $0.fault.cell }.count }
    /// Faulty vehicles on which the rule fired within the run, and the model's leads on them.
    public var ruleFired: Int { faulty.filter { $0.trace.ruleFirstFired != nil }.count }
    public var leads: [Double] { faulty.filter { $0.trace.ruleFirstFired != nil }.map { $0.leadHours ?? -.infinity }.sorted() }
    public var healthyHours: Double { vehicles.reduce(0) { $0 + $1.trace.healthySeconds } / 3600 }
    public var falseAlarms: Int { vehicles.reduce(0) { $0 + $1.falseAlarms.count } }
    public var falseAlarmsPerThousandHours: Double { healthyHours > 0 ? Double(falseAlarms) / healthyHours * 1000 : 0 }

    public var medianLead: Double? {
        let leads = leads
        guard !leads.isEmpty else { return nil }
        return leads.count % 2 == 1 ? leads[leads.count / 2] : (leads[leads.count / 2 - 1] + leads[leads.count / 2]) / 2
    }

    public func json() -> String {
        func number(_ value: Double?) -> String { value.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        let rows = vehicles.map { vehicle in
            let fault = vehicle.fault
            return "{\"vehicle\": \"\(vehicle.trace.run.vehicle.vin)\", \"fault\": \"\(fault.kind.rawValue)\", "
                + "\"cell\": \(fault.kind == .healthy ? "null" : "\(fault.cell)"), "
                + "\"onset_s\": \(fault.kind == .healthy ? "null" : "\(fault.onset)"), "
                + "\"rule_first_fired_s\": \(number(vehicle.trace.ruleFirstFired)), "
                + "\"model_alarm_s\": \(number(vehicle.detection?.time)), \"model_cell\": \(vehicle.detection.map { "\($0.cell)" } ?? "null"), "
                + "\"lead_h\": \(number(vehicle.leadHours)), \"false_alarms\": \(vehicle.falseAlarms.count), \"false_alarms_at\": ["
                + vehicle.falseAlarms.map { "{\"time_s\": \($0.time), \"cell\": \($0.cell)}" }.joined(separator: ", ") + "]}"
        }
        return "{\"threshold\": \(threshold), \"alarm_hold_s\": \(holdSeconds), \"vehicles\": \(vehicles.count), "
            + "\"faulty\": \(faulty.count), \"found\": \(found), \"right_cell\": \(rightCell), \"rule_fired\": \(ruleFired), "
            + "\"median_lead_h\": \(number(medianLead)), \"minimum_lead_h\": \(number(leads.first)), "
            + "\"healthy_vehicle_hours\": \(healthyHours), \"false_alarms\": \(falseAlarms), "
            + "\"false_alarms_per_1000_h\": \(falseAlarmsPerThousandHours), \"per_vehicle\": [\(rows.joined(separator: ", "))]}"
    }

    public func text() -> String {
        func hours(_ value: Double?) -> String {
            guard let value else { return "-" }
            return value.isFinite ? "\((value * 10).rounded() / 10) h" : "never"
        }
        var lines = vehicles.map { vehicle in
            let fault = vehicle.fault
            let name = vehicle.trace.run.vehicle.vin + " " + fault.kind.rawValue + (fault.kind == .healthy ? "" : " cell \(fault.cell)")
            let alarm = vehicle.detection.map { "alarm at \(vehicle.trace.run.vehicle.timestamp($0.time)) cell \($0.cell)" } ?? "no alarm"
            let rule = vehicle.trace.ruleFirstFired.map { "rule \(vehicle.trace.run.vehicle.timestamp($0))" } ?? "rule never"
            return "\(name): \(alarm); \(rule); lead \(hours(vehicle.leadHours)); false alarms \(vehicle.falseAlarms.count)"
        }
        lines.append("faulty packs found \(found)/\(faulty.count), faulty cell named \(rightCell)/\(faulty.count); "
            + "lead over the 50 mV rule (\(ruleFired) packs where it fired): median \(hours(medianLead)), minimum \(hours(leads.first)); "
            + "false alarms \(falseAlarms) in \(Int(healthyHours.rounded())) healthy vehicle-hours "
            + "(\(falseAlarmsPerThousandHours) per 1,000 h); threshold \(threshold), held \(Int(holdSeconds)) s")
        return lines.joined(separator: "\n")
    }
}
