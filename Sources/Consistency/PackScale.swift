/// The pack's own scale, so that no threshold is in absolute amperes or volts: its capacity (given, or
/// estimated from charge throughput against the BMS's SOC), the C-rate of a current, whether it rests,
/// and the slope of its open-circuit voltage against SOC, learned from the median cell.
public final class PackScale {
    /// Ah; NaN while unknown.
    public private(set) var capacity: Double
    public let capacityGiven: Bool
    /// |C-rate| at or below this is rest.
    public let restCRate: Double
    /// The largest |current| seen (A): the scale of rest before the capacity is known.
    public private(set) var largestCurrent = 0.0
    // Charge counted since the last capacity reference point, and the SOC there.
    private var ampereHours = 0.0
    private var referenceSOC = Double.nan
    private var previousTime = Double.nan
    private var previousCurrent = Double.nan
    private var estimates = 0
    /// Median-cell open-circuit voltage by SOC, in bins of 5 % (NaN where not yet seen).
    private(set) var ocvBins = [Double](repeating: .nan, count: 21)
    public private(set) var soc = Double.nan
    private var restSince = Double.nan
    /// Seconds of rest before the median cell's voltage counts as its OCV.
    static let settledRest = 600.0

    public init(capacity: Double?, restCRate: Double) {
        self.capacity = capacity ?? .nan
        capacityGiven = capacity != nil
        self.restCRate = restCRate
    }

    /// Takes one snapshot: pack current (A, + discharge), the BMS's SOC (%, NaN when not mapped) and the
    /// median cell's voltage, with the median resistance (Ω, NaN while unknown) to correct it to an OCV.
    public func update(time: Double, current: Double, reportedSOC: Double, medianVoltage: Double, medianResistance: Double) {
        defer { previousTime = time; previousCurrent = current }
        guard current.isFinite else { return }
        largestCurrent = max(largestCurrent, abs(current))
        let step = time - previousTime
        if step > 0, step <= 60, previousCurrent.isFinite { ampereHours += (current + previousCurrent) / 2 * step / 3600 }
        // Capacity from throughput: 10 % of SOC moved since the reference point.
        if reportedSOC.isFinite, reportedSOC >= 0, reportedSOC <= 100 {
            if referenceSOC.isNaN || (step > 60 && abs(current) > 0) {
                referenceSOC = reportedSOC
                ampereHours = 0
            } else if abs(reportedSOC - referenceSOC) >= 10, !capacityGiven {
                let estimate = abs(ampereHours) / (abs(reportedSOC - referenceSOC) / 100)
                if estimate.isFinite, estimate > 0 {
                    estimates += 1
                    capacity = capacity.isNaN ? estimate : capacity + (estimate - capacity) / Double(min(estimates, 10))
                }
                referenceSOC = reportedSOC
                ampereHours = 0
            }
        }
        soc = reportedSOC.isFinite ? reportedSOC : soc
        // The median cell's OCV at this SOC, from settled rest only: under load its voltage carries
        // polarization of either sign, and a slope from those points can even come out negative.
        if isRest(current) {
            if restSince.isNaN { restSince = time }
        } else {
            restSince = .nan
        }
        if soc.isFinite, medianVoltage.isFinite, time - restSince >= Self.settledRest {
            let bin = Int((soc / 5).rounded())
            if bin >= 0, bin < ocvBins.count { ocvBins[bin] = medianVoltage }
        }
    }

    /// Rest: |C-rate| at or below the setting; before the capacity is known, 2 % of the largest current seen.
    public func isRest(_ current: Double) -> Bool {
        guard current.isFinite else { return false }
        if capacity.isFinite { return abs(current) <= restCRate * capacity }
        return largestCurrent > 0 && abs(current) <= 0.02 * largestCurrent
    }

    /// Loaded enough for a cell's resistance to show in its level: |C-rate| of at least C/10 (before the
    /// capacity is known, 10 % of the largest current seen).
    public func isLoaded(_ current: Double) -> Bool {
        guard current.isFinite else { return false }
        if capacity.isFinite { return abs(current) >= 0.1 * capacity }
        return largestCurrent > 0 && abs(current) >= 0.1 * largestCurrent
    }

    /// dOCV/dSOC of the median cell at the present SOC, in volts per unit SOC (0-1), between the two learned
    /// bins nearest to it (either side, up to 40 % away); NaN while fewer are known.
    public var ocvSlope: Double {
        guard soc.isFinite else { return .nan }
        let bin = Int((soc / 5).rounded())
        var first = -1, second = -1
        for distance in 0...8 {
            for candidate in [bin - distance, bin + distance] where candidate >= 0 && candidate < ocvBins.count {
                guard ocvBins[candidate].isFinite, candidate != first else { continue }
                if first < 0 { first = candidate } else if second < 0 { second = candidate }
            }
        }
        guard first >= 0, second >= 0 else { return .nan }
        let (low, high) = (min(first, second), max(first, second))
        return (ocvBins[high] - ocvBins[low]) / (Double(high - low) * 0.05)
    }
}
