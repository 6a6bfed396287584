#if canImport(Glibc)
import Glibc
#endif

/// Cell chemistries with their open-circuit voltage curves (25 °C, rest) and limits.
public enum Chemistry: String, Sendable, CaseIterable {
    /// Nickel-manganese-cobalt graphite cells, as in most EV packs (the seed's vehicles: 96s, ~356 V).
    case nmc
    /// Lithium iron phosphate: a flat curve, so drift hides in the middle of the SOC range.
    case lfp

    /// OCV at 0 %, 5 %, ..., 100 % SOC, in volts: typical published curves of each chemistry.
    var ocvTable: [Double] {
        switch self {
        case .nmc:
            return [3.000, 3.420, 3.500, 3.550, 3.590, 3.620, 3.640, 3.660, 3.680, 3.710, 3.740,
                    3.770, 3.810, 3.850, 3.890, 3.930, 3.970, 4.020, 4.070, 4.120, 4.190]
        case .lfp:
            return [2.800, 3.100, 3.190, 3.220, 3.240, 3.250, 3.260, 3.270, 3.280, 3.285, 3.290,
                    3.292, 3.295, 3.300, 3.310, 3.320, 3.325, 3.330, 3.340, 3.370, 3.550]
        }
    }

    /// The voltage a charger holds the highest cell at (constant-voltage phase). LFP's real 3.65 V
    /// comes with a steep top-of-charge polarization this model lacks; 3.52 V ends its charge near full.
    var chargeVoltage: Double { self == .nmc ? 4.15 : 3.52 }
    /// Below this the BMS stops discharge.
    var cutoffVoltage: Double { self == .nmc ? 3.0 : 2.8 }
}

/// A chemistry's OCV curve as a dense table, sampled once, for a cheap lookup per cell and second.
struct OCVCurve: Sendable {
    private let points: [Double]
    private let steps: Double

    init(_ chemistry: Chemistry, resolution: Int = 1000) {
        let table = chemistry.ocvTable
        points = (0...resolution).map { step in
            let position = Double(step) / Double(resolution) * Double(table.count - 1)
            let index = min(Int(position), table.count - 2)
            let fraction = position - Double(index)
            return table[index] + (table[index + 1] - table[index]) * fraction
        }
        steps = Double(resolution)
    }

    /// OCV at `soc` (0...1); beyond the ends the curve continues with its end slope, so over- and
    /// under-charged cells read as such rather than being clamped.
    @inline(__always) func voltage(_ soc: Double) -> Double {
        let position = soc * steps
        if position <= 0 { return points[0] + (points[1] - points[0]) * position }
        let last = points.count - 1
        if position >= Double(last) { return points[last] + (points[last] - points[last - 1]) * (position - Double(last)) }
        let index = Int(position)
        return points[index] + (points[index + 1] - points[index]) * (position - Double(index))
    }
}

/// The equivalent-circuit parameters of one cell at 25 °C.
public struct CellParameters: Sendable {
    /// Capacity in ampere-hours (96 of these: a ~42 kWh NMC pack).
    public var capacity: Double = 120
    /// Ohmic resistance, ohms.
    public var ohmic: Double = 0.0006
    /// The RC pair: resistance (ohms) and time constant (s).
    public var polarization: Double = 0.0004
    public var timeConstant: Double = 40
    /// Self-discharge as a current, amperes (about 2 % of capacity a month at 25 °C).
    public var selfDischarge: Double = 0.0033
    /// Heat capacity (J/K) and heat transfer to the coolant/ambient (W/K).
    public var heatCapacity: Double = 2000
    public var heatTransfer: Double = 1.0

    public init() {}

    /// Resistance scales with temperature as an Arrhenius law (activation ~29 kJ/mol): about twice the
    /// 25 °C value near 5 °C.
    @inline(__always) static func temperatureFactor(_ celsius: Double) -> Double {
        exp(3500 * (1 / (celsius + 273.15) - 1 / 298.15))
    }
}
