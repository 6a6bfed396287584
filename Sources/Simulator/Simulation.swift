#if canImport(Glibc)
import Glibc
#endif

/// What the pack is doing, as the BMS reports it (ChargeState in the pack DBC).
public enum Activity: UInt8, Sendable {
    case rest = 0, driving = 1, acCharging = 2, dcCharging = 3
}

/// One second of a simulated vehicle, handed to every observer. The arrays are the pack's own
/// storage: read them during the call, do not keep them.
public struct Sample {
    public let time: Double
    public let current: Double
    public let activity: Activity
    public let pack: Pack
}

/// Receives every second of a run (CAN logs, snapshots, daily table, the threshold rule).
public protocol SimulationObserver: AnyObject {
    func record(_ sample: Sample)
    func finish()
}

/// A piece of a day's plan.
struct Trip {
    enum Kind { case urban, highway, acCharge, dcCharge }
    let start: Double
    let duration: Double
    let kind: Kind
}

/// Drives one vehicle through `days` of commuting, errands, weekend highway trips, rests and charging.
public struct Simulation {
    public var pack: PackConfiguration
    public var fault: Fault
    public var days: Double
    public var seed: UInt64
    /// Mean ambient temperature (°C) and its day-night swing.
    public var ambientMean = 15.0
    public var ambientSwing = 6.0
    /// The AC charger's current limit in C; nil: 0.5C (11 kW on the 60 Ah cell's 96 in series). A 3.7 kW
    /// home charger is about C/5, slow enough that cells a little apart climb the top knee one by one.
    public var acChargeCRate: Double?

    public init(pack: PackConfiguration, fault: Fault, days: Double, seed: UInt64) {
        self.pack = pack
        self.fault = fault
        self.days = days
        self.seed = seed
    }

    /// Runs the simulation at 1 Hz, calling every observer each second.
    public func run(observers: [SimulationObserver]) {
        let random = SimulationRandom(seed: seed)
        var cellRandom = random.derived(1)
        let vehicle = Pack(pack, fault: fault, random: &cellRandom)
        var driveRandom = random.derived(2)
        let scale = pack.cell.capacity / 60  // the drive profile is in amperes for a 60 Ah cell
        // DC charges at about 1.7C, AC at 11 kW unless told.
        let acLimit = acChargeCRate.map { $0 * pack.cell.capacity } ?? 30.0 * scale
        let totalSeconds = Int((days * 86_400).rounded())
        var plan: [Trip] = []
        var planDay = -1
        var driver = CurrentProfile()
        var chargeCurrent = 0.0
        var activity = Activity.rest
        var tripIndex = 0
        var finishedCharge = -1.0  // start of the charging trip that has already completed
        for second in 0..<totalSeconds {
            let time = Double(second)
            let day = second / 86_400
            if day != planDay {
                plan = Self.plan(day: day, random: &driveRandom)
                planDay = day
                tripIndex = 0
            }
            let secondOfDay = time - Double(day) * 86_400
            while tripIndex < plan.count, plan[tripIndex].start + plan[tripIndex].duration <= secondOfDay { tripIndex += 1 }
            let trip = tripIndex < plan.count && plan[tripIndex].start <= secondOfDay ? plan[tripIndex] : nil
            vehicle.ambient = ambientMean + ambientSwing * sin(2 * Double.pi * (secondOfDay - 9 * 3600) / 86_400)
            var current = 0.0
            switch trip?.kind {
            case .urban?, .highway?:
                // The driver ends a trip at 12 % SOC; the BMS when the lowest cell nears cut-off.
                if vehicle.meanSOC > 0.12, vehicle.lowestMeasuredVoltage > pack.chemistry.cutoffVoltage + 0.25 {
                    activity = .driving
                    current = driver.next(highway: trip?.kind == .highway, random: &driveRandom) * scale
                } else {
                    activity = .rest
                }
            case .acCharge?, .dcCharge?:
                let limit = trip?.kind == .dcCharge ? 100.0 * scale : acLimit
                let start = Double(day) * 86_400 + (trip?.start ?? 0)
                if activity != .acCharging && activity != .dcCharging {
                    // A charger does not start on a full pack, nor again after it has finished.
                    guard start != finishedCharge,
                          vehicle.highestMeasuredVoltage < pack.chemistry.chargeVoltage - 0.04 else {
                        activity = .rest
                        break
                    }
                    chargeCurrent = limit
                }
                activity = trip?.kind == .dcCharge ? .dcCharging : .acCharging
                // Constant current, then constant voltage on the highest cell; done below C/20.
                if vehicle.highestMeasuredVoltage > pack.chemistry.chargeVoltage {
                    chargeCurrent *= 0.97
                } else {
                    chargeCurrent = min(limit, chargeCurrent * 1.005 + 0.01)
                }
                if chargeCurrent < pack.cell.capacity / 20 {
                    activity = .rest
                    chargeCurrent = 0
                    finishedCharge = start
                }
                current = -chargeCurrent
            case nil:
                activity = .rest
            }
            let balancing = activity != .driving && vehicle.highestMeasuredVoltage > pack.chemistry.chargeVoltage - 0.35
            vehicle.step(current: current, seconds: 1, time: time, balancing: balancing)
            let sample = Sample(time: time, current: current, activity: activity, pack: vehicle)
            for observer in observers { observer.record(sample) }
        }
        for observer in observers { observer.finish() }
    }

    /// A day's trips: commute out and back on weekdays (urban with some highway), an errand some
    /// evenings, a long highway trip with a DC charge some weekend days, and an overnight AC charge.
    static func plan(day: Int, random: inout SimulationRandom) -> [Trip] {
        var trips: [Trip] = []
        let weekend = day % 7 >= 5
        if !weekend {
            let out = 7 * 3600 + random.uniform(0, 5400)
            trips.append(Trip(start: out, duration: random.uniform(900, 1800), kind: .urban))
            trips.append(Trip(start: out + 1900, duration: random.uniform(600, 1200), kind: .highway))
            let back = 17 * 3600 + random.uniform(0, 5400)
            trips.append(Trip(start: back, duration: random.uniform(600, 1200), kind: .highway))
            trips.append(Trip(start: back + 1300, duration: random.uniform(900, 1800), kind: .urban))
            if random.uniform() < 0.4 {
                trips.append(Trip(start: 20 * 3600 + random.uniform(0, 3600), duration: random.uniform(600, 1500), kind: .urban))
            }
        } else if random.uniform() < 0.6 {
            let start = 9 * 3600 + random.uniform(0, 7200)
            let leg = random.uniform(3600, 6000)
            trips.append(Trip(start: start, duration: leg, kind: .highway))
            trips.append(Trip(start: start + leg + 60, duration: 2400, kind: .dcCharge))
            trips.append(Trip(start: start + leg + 3600, duration: leg * 0.8, kind: .highway))
        }
        // Overnight AC charging, plugged in at 22:30: the evening part and its continuation after midnight.
        trips.append(Trip(start: 0, duration: 6.5 * 3600, kind: .acCharge))
        trips.append(Trip(start: 22.5 * 3600, duration: 1.5 * 3600, kind: .acCharge))
        return trips.sorted { $0.start < $1.start }
    }
}

/// A driver's current demand, second by second, for a 60 Ah cell (positive = discharge): phases of
/// acceleration, cruising, regenerative braking and standing, or steady highway load with passing
/// and braking.
struct CurrentProfile {
    private var phase = 0
    private var remaining = 0
    private var level = 0.0

    mutating func next(highway: Bool, random: inout SimulationRandom) -> Double {
        if remaining <= 0 {
            phase = (phase + 1) % 4
            switch (highway, phase) {
            case (false, 0): (remaining, level) = (Int(random.uniform(3, 8)), random.uniform(40, 80))
            case (false, 1): (remaining, level) = (Int(random.uniform(15, 60)), random.uniform(5, 15))
            case (false, 2): (remaining, level) = (Int(random.uniform(3, 8)), -random.uniform(10, 30))
            case (false, _): (remaining, level) = (Int(random.uniform(5, 40)), random.uniform(0.3, 1))
            case (true, 0): (remaining, level) = (Int(random.uniform(5, 12)), random.uniform(50, 80))
            case (true, 2): (remaining, level) = (Int(random.uniform(4, 10)), -random.uniform(10, 25))
            case (true, _): (remaining, level) = (Int(random.uniform(60, 240)), random.uniform(20, 30))
            }
        }
        remaining -= 1
        return level + random.normal(deviation: highway ? 2 : 1.5)
    }
}
