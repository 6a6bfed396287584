import CAN
import Consistency
import JSON

/// A simulated vehicle's identity and calendar.
public struct Vehicle: Sendable {
    /// A 17-character VIN-like id (no I, O or Q), drawn from the seed.
    public let vin: String
    /// Unix time (ns) of the simulation's second 0, midnight UTC.
    public let startNanoseconds: Int64

    public init(vin: String, startNanoseconds: Int64) {
        self.vin = vin
        self.startNanoseconds = startNanoseconds
    }

    public static func vin(random: inout SimulationRandom) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
        return "CDS" + String((0..<14).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    /// "YYYY-MM-DD" of simulation day `day`.
    public func date(day: Int) -> String {
        CivilTime(epochNanoseconds: startNanoseconds + Int64(day) * 86_400_000_000_000).isoDate
    }

    /// ISO 8601 UTC time of simulation second `time`.
    public func timestamp(_ time: Double) -> String {
        CivilTime(epochNanoseconds: startNanoseconds + Int64(time * 1e9)).isoTimestamp
    }
}

/// The plain threshold rule a BMS applies: the measured cell-voltage spread (max - min, in 1 mV steps)
/// above `threshold` volts for `duration` seconds (the same `RuleAlarm` the replay pipeline runs). Records
/// when it first fires, at which cell, and on which days it fired.
public final class ThresholdRule: SimulationObserver {
    public let threshold: Double
    public let duration: Double
    public private(set) var firstFired: Double?
    /// The cell farthest from the median when the rule first fired.
    public private(set) var cellAtFirstFire: Int?
    /// Days on which the alarm was active.
    public private(set) var firedDays: Set<Int> = []
    public private(set) var largestSpread = 0.0
    private var alarm: RuleAlarm

    public init(threshold: Double = 0.050, duration: Double = 10) {
        self.threshold = threshold
        self.duration = duration
        alarm = RuleAlarm(name: "cell_spread", raiseAbove: threshold, clearBelow: threshold, minimumDuration: duration, severity: 2)
    }

    public func record(_ sample: Sample) {
        let voltages = sample.pack.measuredVoltage
        // The BMS applies the rule to its own readings, in the 1 mV steps it sends (the pack DBC's
        // resolution), so a replay of its log sees the same numbers as this rule.
        let highest = (sample.pack.highestMeasuredVoltage * 1000).rounded(.toNearestOrEven)
        let lowest = (sample.pack.lowestMeasuredVoltage * 1000).rounded(.toNearestOrEven)
        let spread = (highest - lowest) / 1000
        largestSpread = max(largestSpread, spread)
        let transition = alarm.observe(spread, at: sample.time)
        // A day is labelled when the alarm was active in it, also when it was raised the day before.
        if alarm.isActive { firedDays.insert(Int(sample.time / 86_400)) }
        guard case .raised? = transition else { return }
        if firstFired == nil {
            firstFired = sample.time
            let sorted = voltages.sorted()
            let median = sorted[sorted.count / 2]
            cellAtFirstFire = voltages.indices.max { abs(voltages[$0] - median) < abs(voltages[$1] - median) }
        }
    }

    public func finish() {}
}

/// The seed's daily table: per vehicle-day the means of total voltage, current, highest and lowest
/// cell voltage, highest and lowest temperature, and Label 1.0 on days the threshold rule fired.
public final class DailyTable: SimulationObserver {
    public static let header = "VIN,Date,TotalVoltage,TotalCurrent,CellMaxVoltage,CellMinVoltage,MaxTemperature,MinTemperature,Label\n"
    private let vehicle: Vehicle
    private let rule: ThresholdRule
    private let output: OutputBuffer
    private var day = 0
    private var count = 0.0
    private var sums = [Double](repeating: 0, count: 6)

    /// `rule` must be recorded before this table (it is read when a day closes).
    public init(vehicle: Vehicle, rule: ThresholdRule, output: OutputBuffer) {
        self.vehicle = vehicle
        self.rule = rule
        self.output = output
    }

    public func record(_ sample: Sample) {
        let sampleDay = Int(sample.time / 86_400)
        if sampleDay != day { closeDay() ; day = sampleDay }
        let pack = sample.pack
        sums[0] += pack.measuredVoltage.reduce(0, +)
        sums[1] += sample.current
        sums[2] += pack.highestMeasuredVoltage
        sums[3] += pack.lowestMeasuredVoltage
        sums[4] += pack.temperature.max() ?? 0
        sums[5] += pack.temperature.min() ?? 0
        count += 1
    }

    private func closeDay() {
        guard count > 0 else { return }
        var row = vehicle.vin + "," + vehicle.date(day: day)
        for sum in sums { row += "," + String(sum / count) }
        row += rule.firedDays.contains(day) ? ",1.0\n" : ",0.0\n"
        output.append(row)
        sums = [Double](repeating: 0, count: 6)
        count = 0
    }

    public func finish() { closeDay() }
}
