/// The feature a rule watches: a pack feature, or the most extreme cell of a per-cell feature. Each
/// names the cell behind its value: the cell itself for per-cell features, the cell furthest from the
/// pack median for the voltage features of the pack, none for the temperature range (its sensors are
/// not cells on every pack).
public enum RuleFeature: String, CaseIterable, Sendable {
    case spread
    case standardDeviation = "std"
    case maximumModifiedZ = "max_modified_z"
    case temperatureRange = "temperature_range"
    /// Largest |deviation from the pack median| (V).
    case deviation
    /// Largest |deviation slope| over the window (V/h).
    case deviationSlope = "deviation_slope"
    /// Highest resistance relative to the pack median (ratio).
    case resistanceRatio = "resistance_ratio"
    /// How fast the lowest cell falls further against the pack during rest (V/h, positive when falling):
    /// self-discharge. Only the lowest cell counts, because passive balancing bleeds the cells above it
    /// during rest too, and those fall just as fast without any fault.
    case restDrift = "rest_drift"

    /// The value the rule compares, and the cell involved.
    public func value(in features: ConsistencyFeatures) -> (value: Double, cell: Int?) {
        switch self {
        case .spread: (features.spread, mostDeviating(features))
        case .standardDeviation: (features.standardDeviation, mostDeviating(features))
        case .maximumModifiedZ: (features.maximumModifiedZ, mostDeviating(features))
        case .temperatureRange: (features.temperatureRange, nil)
        case .deviation: Self.extreme(features.deviation) { abs($0) }
        case .deviationSlope: Self.extreme(features.deviationSlope) { abs($0) }
        case .resistanceRatio: Self.extreme(features.resistanceRatio) { $0 }
        case .restDrift:
            if let lowest = Self.extreme(features.deviation, { -$0 }).cell { (-features.restDrift[lowest], lowest) } else { (0, nil) }
        }
    }

    private func mostDeviating(_ features: ConsistencyFeatures) -> Int? { Self.extreme(features.deviation) { abs($0) }.cell }

    private static func extreme(_ values: UnsafeMutableBufferPointer<Double>, _ measure: (Double) -> Double) -> (value: Double, cell: Int?) {
        var best: (value: Double, cell: Int?) = (-Double.infinity, nil)
        for cell in 0..<values.count where measure(values[cell]) > best.value { best = (measure(values[cell]), cell) }
        return best
    }
}
