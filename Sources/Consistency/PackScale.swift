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
    /// Median-cell open-circuit voltage by SOC, in bins of 5 % (NaN where not yet seen), and the SOC (%) it
    /// was read at: a bin's voltage may be from 2.5 % either side of its centre, which over two bins 25 %
    /// apart would put up to a fifth into the slope.
    private(set) var ocvBins = [Double](repeating: .nan, count: 21)
    private var ocvBinSOC = [Double](repeating: .nan, count: 21)
    /// Two learned bins `plateauSpan` apart or more had an OCV flatter than `plateauSlope` between them:
    /// the pack's OCV has a plateau, and so the steps beside it (LFP's), which a secant reaching far
    /// averages away. Kept once seen: the chemistry does not change.
    public private(set) var plateauSeen = false
    public private(set) var soc = Double.nan
    /// Seconds of rest before the median cell's voltage counts as its OCV.
    static let settledRest = 600.0
    /// The last slow charge's climb, for the OCV's slope at the top while the pack rests after it.
    let climb = ChargeClimb()
    private var rest = RestSpan()
    /// The pack rests, through snapshots a current sensor's noise puts outside the rest band (RestSpan).
    public var restHolds: Bool { rest.holds }

    public init(capacity: Double?, restCRate: Double) {
        self.capacity = capacity ?? .nan
        capacityGiven = capacity != nil
        self.restCRate = restCRate
    }

    /// Takes one snapshot: pack current (A, + discharge), the BMS's SOC (%, NaN when not mapped) and the
    /// median cell's voltage, with the median resistance (Ω, NaN while unknown) to correct it to an OCV.
    public func update(time: Double, current: Double, reportedSOC: Double, medianVoltage: Double, medianResistance: Double) {
        defer { previousTime = time; previousCurrent = current }
        // Before the guard: a snapshot without a current ends the rest.
        let resting = isRest(current)
        rest.update(time: time, current: current, resting: resting, loaded: isLoaded(current), capacity: capacity)
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
        climb.update(time: time, current: current, capacity: capacity, resting: resting, restHolds: restHolds,
                     medianVoltage: medianVoltage, medianResistance: medianResistance)
        // The median cell's OCV at this SOC, from settled rest only: under load its voltage carries
        // polarization of either sign, and a slope from those points can even come out negative.
        if resting, soc.isFinite, medianVoltage.isFinite, time - rest.since >= Self.settledRest {
            let bin = Int((soc / 5).rounded())
            if bin >= 0, bin < ocvBins.count {
                ocvBins[bin] = medianVoltage
                ocvBinSOC[bin] = soc
                if !plateauSeen { plateauSeen = plateauBeside(bin) }
            }
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
    public var ocvSlope: Double { ocvSlopeBasis?.slope ?? .nan }

    /// Whether a fall can be sized through `ocvSlope`: not on a plateau (below 0.1 V per unit SOC, an LFP
    /// plateau's 0.03-0.1 V, a reading step is more than a per cent of SOC and the cells' relaxation
    /// outweighs a leak: sizes came out 7-17 times the true leak there) and from OCVs apart by
    /// `sizingSteps` readings' steps or more (a difference of one or two steps is mostly quantization). The
    /// capacity test's; a leak's size asks more of a secant (`sizingSlope`, `secantSizingSlope`).
    public func ocvSlopeSizesAFall(resolution: Double) -> Bool {
        ocvSlopeBasis.map { Self.sizes($0, resolution: resolution) } ?? false
    }

    private static func sizes(_ basis: (slope: Double, reach: Double, rise: Double), resolution: Double) -> Bool {
        basis.slope >= plateauSlope && (!resolution.isFinite || basis.rise >= sizingSteps * resolution)
    }

    /// `ocvSlope` and what it rests on: how far the farther of its bins is from the present SOC (0-1) and
    /// the OCV difference between them (V); nil while fewer than two are learned.
    public var ocvSlopeBasis: (slope: Double, reach: Double, rise: Double)? {
        guard let (low, high) = slopeBins() else { return nil }
        return (slope(from: low, to: high), max(abs(ocvBinSOC[low] - soc), abs(ocvBinSOC[high] - soc)) / 100,
                abs(ocvBins[high] - ocvBins[low]))
    }

    /// V per unit SOC between two learned bins, at the SOCs they were read at.
    private func slope(from low: Int, to high: Int) -> Double {
        (ocvBins[high] - ocvBins[low]) / ((ocvBinSOC[high] - ocvBinSOC[low]) / 100)
    }

    /// The OCV's slope for sizing a fall of a cell `depth` volts below the median: from the last slow
    /// charge's climb where the pack has rested since and that is steeper than the secant between the
    /// learned bins (the knee at the top, which no two rests' bins see), else the secant (`ocvSlopeBasis`).
    public func sizingSlope(depth: Double, resolution: Double) -> OCVSlope? {
        let leastRise = resolution.isFinite ? Self.sizingSteps * resolution : 0
        let secant = ocvSlopeBasis
        if let local = climb.slope(depth: depth, capacity: capacity, leastRise: leastRise), local.slope > secant?.slope ?? 0 {
            return OCVSlope(slope: local.slope, reach: local.reach, rise: local.rise, fromChargeClimb: true,
                            sizesAFall: local.slope >= Self.plateauSlope)
        }
        return secant.map { OCVSlope(slope: $0.slope, reach: $0.reach, rise: $0.rise, fromChargeClimb: false,
                                     sizesAFall: Self.sizes($0, resolution: resolution) && $0.slope >= Self.secantSizingSlope
                                         && (!plateauSeen || $0.reach <= Self.plateauPackReach)) }
    }

    /// Whether `bin` and another learned bin `plateauSpan` or more apart have an OCV between them flatter
    /// than `plateauSlope`.
    private func plateauBeside(_ bin: Int) -> Bool {
        for other in ocvBins.indices where ocvBins[other].isFinite
            && abs(ocvBinSOC[other] - ocvBinSOC[bin]) >= Self.plateauSpan && abs(slope(from: other, to: bin)) < Self.plateauSlope {
            return true
        }
        return false
    }

    /// V per unit SOC below which the OCV is a plateau, and the readings' steps the slope's two OCVs must
    /// be apart, for a size to be given through it (`ocvSlopeSizesAFall`; a leak's through a secant asks
    /// `secantSizingSlope`).
    static let plateauSlope = 0.1
    static let sizingSteps = 4.0
    /// V per unit SOC below which the secant between two bins does not size a leak. A secant that flat
    /// averages a plateau with the steeper stretch beside it, and where the cell rests on that span its
    /// OCV may be several times flatter or steeper. From PyBaMM's own OCV curves of every parameter set the
    /// fleets draw (scripts/fleet/secant_error.py; docs/features.md): a size through a secant of 0.15-0.3
    /// is within 1.5 times of the leak at 8-16 % of LFP's (Prada2013) rest points and at 62-67 % of the
    /// others'; NMC, NCA and LCO secants are rarely that flat (on the fleets 0.7 and more). Sized through
    /// them on disk: 2.3-4.3 times at 0.10-0.14 (HELDOUTNOISYCURRENT003, 005, 007), 2.4 at 0.17
    /// (HELDOUTNIGHTSB007). The capacity test keeps `plateauSlope`.
    static let secantSizingSlope = 0.3
    /// SOC (%) two bins must be apart to show a plateau (`plateauSeen`): over 10 % no secant of the NMC,
    /// NCA or LCO parameter sets is flatter than 0.15 V per unit SOC, LFP's plateau 0.02-0.05, and two
    /// bins' OCVs on it are several reading steps apart only that far.
    static let plateauSpan = 10.0
    /// On a pack that has shown a plateau, the farthest a secant's bins may be from the cell's SOC (0-1)
    /// for a leak's size: Prada2013's secants of 0.3 V per unit SOC and more are within 1.5 times of the
    /// slope where the cell rests at 77 % of rest points within 5 % of SOC, 55 % at 5-10 %, 12-38 %
    /// beyond (scripts/fleet/secant_error.py).
    static let plateauPackReach = 0.05
    /// SOC (%) two bins' readings must be apart for a slope between them: half a bin.
    static let binSeparation = 2.5

    /// The two learned bins nearest to the present SOC (up to 8 bins away), lower first, read at SOCs at
    /// least `binSeparation` apart (neighbouring bins may have been read a fraction of a per cent apart).
    private func slopeBins() -> (Int, Int)? {
        guard soc.isFinite else { return nil }
        let bin = Int((soc / 5).rounded())
        var first = -1, second = -1
        for distance in 0...8 {
            // The bins `distance` below and above (a stride, so no array is made at each call).
            for candidate in stride(from: bin - distance, through: bin + distance, by: max(1, 2 * distance))
            where candidate >= 0 && candidate < ocvBins.count {
                guard ocvBins[candidate].isFinite, candidate != first,
                      first < 0 || abs(ocvBinSOC[candidate] - ocvBinSOC[first]) >= Self.binSeparation else { continue }
                if first < 0 { first = candidate } else if second < 0 { second = candidate }
            }
        }
        guard first >= 0, second >= 0 else { return nil }
        return (min(first, second), max(first, second))
    }
}

/// The OCV slope a leak was sized through (V per unit SOC), what it rests on (how far the farther of its
/// points is from the cell's SOC, 0-1, and the OCV difference between them, V), where it comes from (a
/// slow charge's climb, or the secant between two learned bins), and whether it sizes a fall at all.
public struct OCVSlope: Sendable {
    public let slope: Double
    public let reach: Double
    public let rise: Double
    public let fromChargeClimb: Bool
    public let sizesAFall: Bool
}
