/// A fault injected into one cell: it starts at `onset` and grows at `growth` per day.
public struct Fault: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case healthy
        /// Internal micro-short: extra self-discharge current, amperes (`magnitude`, tens of mA).
        case microShort = "micro-short"
        /// Ohmic resistance growing by `growth` of its value per day.
        case resistanceGrowth = "resistance-growth"
        /// Capacity fading by `growth` of its value per day.
        case capacityFade = "capacity-fade"
        /// A loose connection: resistance jumps of `magnitude` ohms, `growth` jumps per day on average.
        case looseConnection = "loose-connection"
        /// The voltage sensor reads off by `magnitude` volts, growing by `growth` per day.
        case sensorOffset = "sensor-offset"
        /// A temperature hot spot: `magnitude` watts of extra heat, growing by `growth` per day.
        case hotSpot = "hot-spot"
    }

    public var kind: Kind
    public var cell: Int
    /// Seconds from the start of the simulation.
    public var onset: Double
    public var magnitude: Double
    public var growth: Double

    public init(kind: Kind, cell: Int, onset: Double, magnitude: Double, growth: Double) {
        self.kind = kind
        self.cell = cell
        self.onset = onset
        self.magnitude = magnitude
        self.growth = growth
    }

    public static let healthy = Fault(kind: .healthy, cell: -1, onset: 0, magnitude: 0, growth: 0)

    /// A fault of `kind` with typical strength, drawn from `random`, starting between the first
    /// and last quarter of `duration`.
    public static func random(_ kind: Kind, cells: Int, duration: Double, random: inout SimulationRandom) -> Fault {
        let cell = Int(random.next() % UInt64(cells))
        let onset = (random.uniform(0.1, 0.4) * duration).rounded()
        switch kind {
        case .healthy: return .healthy
        case .microShort:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: random.uniform(0.02, 0.08), growth: random.uniform(0.05, 0.3))
        case .resistanceGrowth:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: 0, growth: random.uniform(0.2, 0.8))
        case .capacityFade:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: 0, growth: random.uniform(0.02, 0.06))
        case .looseConnection:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: random.uniform(0.0004, 0.0012), growth: random.uniform(1, 4))
        case .sensorOffset:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: random.uniform(-0.012, -0.006), growth: random.uniform(0.3, 1.0))
        case .hotSpot:
            return Fault(kind: kind, cell: cell, onset: onset, magnitude: random.uniform(1.5, 4), growth: random.uniform(0.1, 0.5))
        }
    }

    /// Days since onset, or nil before it.
    @inline(__always) func age(at time: Double) -> Double? {
        kind == .healthy || time < onset ? nil : (time - onset) / 86_400
    }
}
