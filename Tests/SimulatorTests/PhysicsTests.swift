import Simulator
import Testing

@Suite struct PhysicsTests {
    @Test func microShortCellDriftsDownAtRestByLeakTimesTimeOverCapacity() {
        var random = SimulationRandom(seed: 3)
        var configuration = PackConfiguration()
        configuration.cells = 12
        configuration.initialSOC = 0.6
        let leak = 0.05
        let fault = Fault(kind: .microShort, cell: 4, onset: 0, magnitude: leak, growth: 0)
        let pack = Pack(configuration, fault: fault, random: &random)
        let start = Array(pack.soc)
        let seconds = 86_400.0
        for second in 0..<Int(seconds) { pack.step(current: 0, seconds: 1, time: Double(second), balancing: false) }
        let drops = (0..<12).map { start[$0] - pack.soc[$0] }
        let healthyMean = (drops.reduce(0, +) - drops[4]) / 11
        let expected = leak * seconds / (3600 * pack.effectiveCapacity[4])
        // The short adds leak × time / capacity on top of the ordinary self-discharge every cell has.
        #expect(abs((drops[4] - healthyMean) - expected) / expected < 0.03, "extra drop \(drops[4] - healthyMean), expected \(expected)")
        #expect(drops.enumerated().allSatisfy { $0.offset == 4 || $0.element < expected / 5 })
    }

    @Test func chargeIsConserved() {
        var random = SimulationRandom(seed: 5)
        var configuration = PackConfiguration()
        configuration.cells = 8
        let pack = Pack(configuration, fault: .healthy, random: &random)
        let start = Array(pack.soc)
        var throughput = 0.0
        for second in 0..<20_000 {
            let current = second < 10_000 ? random.uniform(-40, 120) : -random.uniform(0, 60)
            pack.step(current: current, seconds: 1, time: Double(second), balancing: second % 2 == 0)
            throughput += current
        }
        for cell in 0..<8 {
            let charge = (start[cell] - pack.soc[cell]) * pack.effectiveCapacity[cell] * 3600
            // What left the cell = what the pack delivered + what it lost inside (self-discharge, balancing).
            #expect(abs(charge - (throughput + pack.internalCharge[cell])) < 1e-6 * abs(throughput) + 1e-6)
        }
    }

    @Test func healthyPackSpreadStaysSmallWithBalancing() {
        var configuration = PackConfiguration()
        configuration.cells = 96
        configuration.initialSOCSpread = 0.006  // a pack that left the factory less well matched
        let simulation = Simulation(pack: configuration, fault: .healthy, days: 4, seed: 11)
        let rule = ThresholdRule()
        let restSpread = RestSpread()
        simulation.run(observers: [rule, restSpread])
        #expect(rule.firstFired == nil, "largest spread \(rule.largestSpread)")
        // Balancing closes the spread seen when resting full: the last days' is below the first's.
        #expect(restSpread.spreads.count >= 3)
        #expect(restSpread.spreads.last! < restSpread.spreads.first!)
        #expect(restSpread.spreads.last! < 0.010)
    }

    @Test func lfpPackChargesToFullWithoutOvercharging() {
        var configuration = PackConfiguration()
        configuration.chemistry = .lfp
        configuration.cells = 48
        let extremes = SOCExtremes()
        let rule = ThresholdRule()
        Simulation(pack: configuration, fault: .healthy, days: 2, seed: 8).run(observers: [extremes, rule])
        #expect(extremes.highest > 0.97 && extremes.highest < 1.01, "highest SOC \(extremes.highest)")
        #expect(extremes.lowest > 0.3)
        #expect(rule.firstFired == nil, "largest spread \(rule.largestSpread)")
    }

    /// The AC charger's limit: 0.5C unless told; told C/5 (a home charger), the pack still charges to full.
    @Test(arguments: [nil, 0.2]) func theACChargerDrawsItsLimit(cRate: Double?) {
        var configuration = PackConfiguration()
        configuration.chemistry = .lfp
        configuration.cells = 48
        var simulation = Simulation(pack: configuration, fault: .healthy, days: 2, seed: 8)
        simulation.acChargeCRate = cRate
        let charging = ChargeCurrents(), extremes = SOCExtremes()
        simulation.run(observers: [charging, extremes])
        let expected = (cRate ?? 0.5) * configuration.cell.capacity
        #expect(abs(charging.largestAC - expected) < 0.01 * expected, "largest AC current \(charging.largestAC) A")
        #expect(extremes.highest > 0.97, "highest SOC \(extremes.highest)")
    }

    @Test(arguments: Fault.Kind.allCases.filter { $0 != .healthy })
    func everyFaultFiresTheRuleAtItsCell(kind: Fault.Kind) {
        var configuration = PackConfiguration()
        configuration.cells = 48
        let strength: (Double, Double) = switch kind {
        case .healthy: (0, 0)
        case .microShort: (0.5, 0.5)
        case .resistanceGrowth: (0, 3)
        case .capacityFade: (0, 0.4)
        case .looseConnection: (0.002, 6)
        case .sensorOffset: (-0.03, 1)
        case .hotSpot: (12, 1)
        }
        let fault = Fault(kind: kind, cell: 17, onset: 3600, magnitude: strength.0, growth: strength.1)
        let rule = ThresholdRule()
        Simulation(pack: configuration, fault: fault, days: 2, seed: 21).run(observers: [rule])
        #expect(rule.firstFired != nil, "largest spread \(rule.largestSpread)")
        #expect(rule.cellAtFirstFire == 17)
        #expect((rule.firstFired ?? 0) > fault.onset)
    }

    /// `simulate --start`: midnight UTC of the date; a year too large for the day count (it trapped the
    /// simulator as it trapped `POST /inference`) or a signed one is no date.
    @Test func startDatesAreMidnightUTCAndOnlyFourDigitYears() {
        #expect(epochNanoseconds(date: "2026-01-05") == Int64(1_767_571_200) * 1_000_000_000)
        #expect(epochNanoseconds(date: "9000000000000000000-01-01") == nil)
        #expect(epochNanoseconds(date: "+2026-01-05") == nil)
    }
}

/// The measured spread once a day, at 05:00, when the overnight charge has ended and the pack rests full.
final class RestSpread: SimulationObserver {
    var spreads: [Double] = []
    func record(_ sample: Sample) {
        guard Int(sample.time) % 86_400 == 5 * 3600 else { return }
        spreads.append(sample.pack.highestMeasuredVoltage - sample.pack.lowestMeasuredVoltage)
    }
    func finish() {}
}

/// The highest and lowest cell SOC over a run.
final class SOCExtremes: SimulationObserver {
    var highest = -Double.infinity
    var lowest = Double.infinity
    func record(_ sample: Sample) {
        highest = max(highest, sample.pack.soc.max() ?? 0)
        lowest = min(lowest, sample.pack.soc.min() ?? 0)
    }
    func finish() {}
}

/// The largest charging current while the AC charger is on (A).
final class ChargeCurrents: SimulationObserver {
    var largestAC = 0.0
    func record(_ sample: Sample) {
        if sample.activity == .acCharging { largestAC = max(largestAC, -sample.current) }
    }
    func finish() {}
}
