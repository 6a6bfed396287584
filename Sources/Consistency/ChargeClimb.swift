/// The median cell's voltage against the charge put in over the last per cents of a slow charge, kept for
/// the rest that follows it: the OCV's slope where the cells rest after a charge to the top.
///
/// The pack's OCV by SOC is learned in 5 % bins from settled rests (PackScale), and the slope between two
/// of them is a secant. At the top of an LFP pack the cells rest on the plateau's upper knee, several
/// times steeper than any secant reaching down to the next bin a rest was read in: a leak sized through it
/// came out 3-19 times too large (heldout-lfp-tops-b; 21 times on tuning-lfp-tops's first pack, whose
/// leaking cell fell as a 9 V per unit slope asks where the secant was 0.44). A slow charge climbs that
/// knee in view: at C/3 and less the median cell's voltage, its resistive drop put back, is its OCV plus
/// a polarisation that changes little over the last per cents (on tuning-lfp-tops the last 0.5 % of a
/// C/4 charge's taper climbed at 7.0 V per unit, the leaking cell's 9.3). A cell some millivolts below the
/// median at rest stands that far back on the climb, and the slope is read there.
final class ChargeClimb {
    /// Points: charge put in since the charge began (Ah) and the median cell's voltage with its resistive
    /// drop put back (V), one each `step` of SOC, the latest `kept` of them in a ring.
    private let charge: UnsafeMutableBufferPointer<Double>
    private let voltage: UnsafeMutableBufferPointer<Double>
    private var count = 0
    private var next = 0
    private var charged = 0.0
    private var lastChargingTime = Double.nan
    private var lastChargingCurrent = Double.nan
    /// The last climb ended and the pack has rested since.
    private var stands = false

    init() {
        charge = .allocate(capacity: Self.kept)
        charge.initialize(repeating: .nan)
        voltage = .allocate(capacity: Self.kept)
        voltage.initialize(repeating: .nan)
    }

    deinit {
        charge.deallocate()
        voltage.deallocate()
    }

    /// Takes a snapshot: current (A, + discharge), the pack's capacity (Ah, NaN while unknown), whether the
    /// current is within the rest band and whether the pack's rest goes on (PackScale's `restHolds`: through a
    /// current sensor's noise), the median cell's voltage (V) and resistance (Ω, NaN while unknown).
    func update(time: Double, current: Double, capacity: Double, resting: Bool, restHolds: Bool, medianVoltage: Double,
                medianResistance: Double) {
        guard current.isFinite, capacity > 0 else { return }
        if stands {
            // The climb stands while the rest after it goes on.
            guard !restHolds else { return }
            stands = false
            count = 0
        }
        if resting {
            if lastChargingTime.isFinite, time - lastChargingTime <= ChargeEndWatch.longestGap, count >= Self.leastPoints {
                stands = true
            }
            lastChargingTime = .nan
            return
        }
        guard current < 0 else { count = 0; lastChargingTime = .nan; return }
        let fresh = lastChargingTime.isNaN || time - lastChargingTime > ChargeEndWatch.longestGap
        if fresh {
            count = 0
            charged = 0
        } else {
            charged -= (current + lastChargingCurrent) / 2 * (time - lastChargingTime) / 3600
        }
        lastChargingTime = time
        lastChargingCurrent = current
        // Above C/3 the polarisation grows as the charge goes on; what was recorded before a rise back
        // to such a current is no longer the charge's end.
        guard -current <= Self.slowestCRate * capacity, medianVoltage.isFinite else { count = 0; return }
        let latest = (next + Self.kept - 1) % Self.kept
        guard count == 0 || charged - charge[latest] >= Self.step * capacity else { return }
        charge[next] = charged
        voltage[next] = medianVoltage + (medianResistance.isFinite ? current * medianResistance : 0)
        next = (next + 1) % Self.kept
        count = min(count + 1, Self.kept)
    }

    /// dOCV/dSOC (V per unit SOC) where a cell `depth` volts below the median stands on the last climb,
    /// over the span of points around it whose voltages are `leastRise` apart (at least `leastSpan` of
    /// SOC, at most `widestSpan`); with how far the span's farther end is from the cell (SOC, 0-1) and its
    /// rise (V). Nil without a climb the pack has rested since, or when the cell stands below it.
    func slope(depth: Double, capacity: Double, leastRise: Double) -> (slope: Double, reach: Double, rise: Double)? {
        guard stands, count >= Self.leastPoints, capacity > 0 else { return nil }
        // Index 0 is the oldest point kept, count - 1 the charge's end.
        func at(_ index: Int) -> Int { (next - count + index + 2 * Self.kept) % Self.kept }
        let top = voltage[at(count - 1)]
        var place = count - 1
        while place > 0 && top - voltage[at(place)] < max(0, depth) { place -= 1 }
        guard top - voltage[at(place)] >= max(0, depth) else { return nil }
        var low = place, high = place
        while low > 0 || high < count - 1 {
            let span = (charge[at(high)] - charge[at(low)]) / capacity
            if span >= Self.widestSpan { break }
            if span >= Self.leastSpan && voltage[at(high)] - voltage[at(low)] >= leastRise { break }
            low = max(0, low - 1)
            high = min(count - 1, high + 1)
        }
        let span = (charge[at(high)] - charge[at(low)]) / capacity
        let rise = voltage[at(high)] - voltage[at(low)]
        guard span >= Self.leastSpan, rise >= leastRise else { return nil }
        let reach = max(charge[at(high)] - charge[at(place)], charge[at(place)] - charge[at(low)]) / capacity
        return (rise / span, reach, rise)
    }

    /// Points kept: 4 % of SOC at `step`.
    static let kept = 40
    /// SOC between points (0-1): 0.1 %.
    static let step = 0.001
    /// The fewest points a climb needs (0.5 % of SOC), and the span of SOC a slope is read over: at least
    /// 0.4 %, widened until the voltages are a few reading steps apart, never beyond 2 % (the knee's slope
    /// changes threefold over 2 %).
    static let leastPoints = 6
    static let leastSpan = 0.004
    static let widestSpan = 0.02
    /// |C-rate| at or below which a charge's points are recorded. (A silence longer than
    /// `ChargeEndWatch.longestGap` within a charge, or before the rest after it, parts them, as there.)
    static let slowestCRate = 0.35
}
