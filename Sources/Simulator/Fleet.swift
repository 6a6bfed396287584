import CAN
import JSON

/// One vehicle of a fleet run: who it is, its fault and its seed.
public struct VehicleRun: Sendable {
    public let vehicle: Vehicle
    public let fault: Fault
    public let seed: UInt64
}

/// Plans a fleet: `vehicles` vehicles, a `faultShare` of them faulty with the fault kinds taken in
/// turn from `faultKinds`; deterministic for a seed.
public func planFleet(vehicles: Int, faultShare: Double, faultKinds: [Fault.Kind], cells: Int, days: Double,
                      seed: UInt64, startNanoseconds: Int64) -> [VehicleRun] {
    var random = SimulationRandom(seed: seed)
    let faulty = Int((Double(vehicles) * faultShare).rounded())
    let kinds = faultKinds.filter { $0 != .healthy }
    return (0..<vehicles).map { index in
        var vehicleRandom = random.derived(UInt64(index) + 1000)
        let vin = Vehicle.vin(random: &vehicleRandom)
        let fault = index < faulty && !kinds.isEmpty
            ? Fault.random(kinds[index % kinds.count], cells: cells, duration: days * 86_400, random: &vehicleRandom)
            : .healthy
        _ = random.next()
        return VehicleRun(vehicle: Vehicle(vin: vin, startNanoseconds: startNanoseconds), fault: fault,
                          seed: vehicleRandom.next())
    }
}

/// Unix time (ns) of midnight UTC of a "YYYY-MM-DD" date, or nil when it is not one.
public func epochNanoseconds(date: String) -> Int64? {
    civilDay(date).map { Int64($0) * 86_400_000_000_000 }
}

/// The labels file entry of one vehicle (JSON): its fault and when the plain threshold rule first fired.
/// The format is the one `celldrift evaluate fleet` reads (docs/fleet.md): times from `start_time` (unix
/// seconds), absolute in `onset_time` and `rule_first_fired_time`; `log` names the vehicle's CAN log
/// beside labels.json when one was written.
public func labelJSON(_ run: VehicleRun, rule: ThresholdRule, chemistry: Chemistry, cells: Int, log: String? = nil) -> String {
    let fault = run.fault
    let start = Double(run.vehicle.startNanoseconds) / 1e9
    var text = "{\"vehicle\": \(String(decoding: JSONText.quoted(run.vehicle.vin), as: UTF8.self)), "
    text += "\"chemistry\": \"\(chemistry.rawValue)\", \"cells\": \(cells), \"fault\": \"\(fault.kind.rawValue)\""
    text += ", \"start_time\": \(Int64(start))"
    if fault.kind == .healthy {
        text += ", \"cell\": null, \"onset_s\": null, \"onset_time\": null, \"onset\": null, \"magnitude\": null, \"growth_per_day\": null"
    } else {
        text += ", \"cell\": \(fault.cell), \"onset_s\": \(Int64(fault.onset)), \"onset_time\": \(Int64(start) + Int64(fault.onset))"
        text += ", \"onset\": \"\(run.vehicle.timestamp(fault.onset))\", \"magnitude\": \(fault.magnitude), \"growth_per_day\": \(fault.growth)"
        // The simulated pack measures every cell's temperature: a hot spot is its cell's sensor's to name,
        // as a hot joint is on the physics fleet (docs/fleet.md).
        if fault.kind == .hotSpot { text += ", \"sensor\": \(fault.cell)" }
    }
    if let fired = rule.firstFired {
        text += ", \"rule_first_fired_s\": \(Int64(fired)), \"rule_first_fired_time\": \(Int64(start) + Int64(fired))"
        text += ", \"rule_first_fired\": \"\(run.vehicle.timestamp(fired))\", \"rule_cell\": \(rule.cellAtFirstFire ?? -1)"
    } else {
        text += ", \"rule_first_fired_s\": null, \"rule_first_fired_time\": null, \"rule_first_fired\": null, \"rule_cell\": null"
    }
    if let log { text += ", \"log\": \(String(decoding: JSONText.quoted(log), as: UTF8.self))" }
    text += ", \"largest_spread_v\": \(fixed(rule.largestSpread, 4)), \"alarm_days\": \(rule.firedDays.count)}"
    return text
}
