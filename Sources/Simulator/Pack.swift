#if canImport(Glibc)
import Glibc
#endif

/// What a pack is made of and how its cells differ.
public struct PackConfiguration: Sendable {
    public var cells = 96
    public var chemistry: Chemistry = .nmc
    public var cell = CellParameters()
    /// Cell-to-cell spread: relative standard deviations (capacity, resistance), absolute (initial SOC),
    /// and the log-normal sigma of self-discharge.
    public var capacitySpread = 0.008
    public var resistanceSpread = 0.025
    public var initialSOCSpread = 0.002
    public var selfDischargeSigma = 0.3
    /// Passive balancing: bleed current (A) through a cell whose measured voltage is this far above the lowest.
    public var balancingCurrent = 0.06
    public var balancingThreshold = 0.004
    public var initialSOC = 0.8

    public init() {}
}

/// A series pack of equivalent-circuit cells (OCV, ohmic resistance, one RC pair, temperature),
/// stepped in time. Storage is allocated once; a step allocates nothing.
public final class Pack {
    public let configuration: PackConfiguration
    let curve: OCVCurve
    public let fault: Fault
    /// Per-cell state in buffers allocated at start-up and held in `let`s: writing an element of a
    /// class's array property costs an exclusivity and a uniqueness check, which dominated a run.
    public let soc: UnsafeMutableBufferPointer<Double>
    let capacity: UnsafeMutableBufferPointer<Double>
    let ohmic: UnsafeMutableBufferPointer<Double>
    let selfDischarge: UnsafeMutableBufferPointer<Double>
    let polarizationVoltage: UnsafeMutableBufferPointer<Double>
    /// Cell temperatures, °C.
    public let temperature: UnsafeMutableBufferPointer<Double>
    /// Resistance and self-discharge factors of each cell's temperature, refreshed every 10 s
    /// (temperature moves slowly; exp and pow per cell and second would dominate the run time).
    let resistanceFactor: UnsafeMutableBufferPointer<Double>
    let leakFactor: UnsafeMutableBufferPointer<Double>
    let bleeding: UnsafeMutableBufferPointer<Bool>
    /// What the BMS measures (sensor offsets and connection resistance included), volts.
    public let measuredVoltage: UnsafeMutableBufferPointer<Double>
    /// Charge each cell has lost to balancing and self-discharge (A·s), for charge accounting.
    public let internalCharge: UnsafeMutableBufferPointer<Double>
    /// The effective capacity of each cell now (a fading cell's shrinks), ampere-hours.
    public let effectiveCapacity: UnsafeMutableBufferPointer<Double>
    private var looseJumps: [Double]
    /// Ambient (coolant) temperature, °C.
    public var ambient = 20.0

    public init(_ configuration: PackConfiguration, fault: Fault, random: inout SimulationRandom) {
        self.configuration = configuration
        self.fault = fault
        curve = OCVCurve(configuration.chemistry)
        let count = configuration.cells
        let base = configuration.cell
        func buffer<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            _ = buffer.initialize(from: values)
            return buffer
        }
        soc = buffer((0..<count).map { _ in configuration.initialSOC + random.normal(deviation: configuration.initialSOCSpread) })
        capacity = buffer((0..<count).map { _ in base.capacity * (1 + random.normal(deviation: configuration.capacitySpread)) })
        ohmic = buffer((0..<count).map { _ in base.ohmic * (1 + random.normal(deviation: configuration.resistanceSpread)) })
        selfDischarge = buffer((0..<count).map { _ in base.selfDischarge * exp(random.normal(deviation: configuration.selfDischargeSigma)) })
        polarizationVoltage = buffer(Array(repeating: 0.0, count: count))
        temperature = buffer(Array(repeating: 20.0, count: count))
        resistanceFactor = buffer(Array(repeating: CellParameters.temperatureFactor(20), count: count))
        leakFactor = buffer(Array(repeating: pow(2, (20 - 25) / 10), count: count))
        bleeding = buffer(Array(repeating: false, count: count))
        measuredVoltage = buffer(Array(repeating: 0.0, count: count))
        internalCharge = buffer(Array(repeating: 0.0, count: count))
        effectiveCapacity = buffer(Array(capacity))
        // A loose connection's jumps, drawn now so the run stays deterministic: Poisson arrivals after onset.
        var jumps: [Double] = []
        if fault.kind == .looseConnection {
            var time = fault.onset
            for _ in 0..<8 {  // a connection loosens a few times, not without end
                jumps.append(time)
                time += -log(max(random.uniform(), 1e-12)) / max(fault.growth, 1e-6) * 86_400
            }
        }
        looseJumps = jumps
        step(current: 0, seconds: 0, time: 0, balancing: false)
    }

    deinit {
        for buffer in [soc, capacity, ohmic, selfDischarge, polarizationVoltage, temperature, resistanceFactor, leakFactor,
                       measuredVoltage, internalCharge, effectiveCapacity] {
            buffer.deallocate()
        }
        bleeding.deallocate()
    }

    public var cellCount: Int { configuration.cells }

    /// Nominal capacity of the pack's cells, ampere-hours.
    public var nominalCapacity: Double { configuration.cell.capacity }

    /// Mean SOC of the cells (0...1).
    public var meanSOC: Double { soc.reduce(0, +) / Double(soc.count) }

    /// Advances the pack by `seconds` with `current` amperes (positive = discharge) at simulation
    /// time `time`. When `balancing` is on, cells measured above the lowest by more than the threshold
    /// are bled, as a passive-balancing BMS does (so a faulty sensor makes it bleed the wrong cell).
    public func step(current: Double, seconds: Double, time: Double, balancing: Bool) {
        let base = configuration.cell
        let decay = exp(-seconds / base.timeConstant)
        let faultAge = fault.age(at: time)
        var lowest = Double.infinity
        if Int(time) % 10 == 0 {
            for cell in 0..<cellCount {
                resistanceFactor[cell] = CellParameters.temperatureFactor(temperature[cell])
                // Self-discharge roughly doubles every 10 °C.
                leakFactor[cell] = pow(2, (temperature[cell] - 25) / 10)
            }
        }
        for cell in 0..<cellCount {
            var cellCapacity = capacity[cell]
            var resistance = ohmic[cell] * resistanceFactor[cell]
            var leak = selfDischarge[cell] * leakFactor[cell]
            var heat = 0.0
            var connection = 0.0
            var offset = 0.0
            if let age = faultAge, cell == fault.cell {
                switch fault.kind {
                case .healthy: break
                case .microShort: leak += fault.magnitude * (1 + fault.growth * age)
                case .resistanceGrowth: resistance *= 1 + fault.growth * age
                case .capacityFade: cellCapacity *= max(0.3, 1 - fault.growth * age)
                case .looseConnection: connection = fault.magnitude * Double(looseJumps.count { $0 <= time })
                case .sensorOffset: offset = fault.magnitude * (1 + fault.growth * age)
                case .hotSpot: heat = fault.magnitude * (1 + fault.growth * age)
                }
            }
            effectiveCapacity[cell] = cellCapacity
            let bleed = bleeding[cell] ? configuration.balancingCurrent : 0
            let shunt = leak + bleed
            soc[cell] -= (current + shunt) * seconds / (3600 * cellCapacity)
            internalCharge[cell] += shunt * seconds
            polarizationVoltage[cell] = decay * polarizationVoltage[cell] + base.polarization * (1 - decay) * current
            let voltage = curve.voltage(soc[cell]) - current * resistance - polarizationVoltage[cell]
            measuredVoltage[cell] = voltage - current * connection + offset
            let power = current * current * (resistance + connection) + heat
            temperature[cell] += seconds * (power - base.heatTransfer * (temperature[cell] - ambient)) / base.heatCapacity
            lowest = min(lowest, measuredVoltage[cell])
        }
        for cell in 0..<cellCount {
            bleeding[cell] = balancing && measuredVoltage[cell] > lowest + configuration.balancingThreshold
        }
    }

    /// The largest measured cell voltage (the charger's constant-voltage target is on it).
    public var highestMeasuredVoltage: Double { measuredVoltage.max() ?? 0 }
    public var lowestMeasuredVoltage: Double { measuredVoltage.min() ?? 0 }
    public var isBalancing: Bool { bleeding.contains(true) }
}
