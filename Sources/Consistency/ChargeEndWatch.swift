/// A cell that falls behind the others at the top of each charge: a leak on a pack whose OCV is flat where
/// it rests (LFP's plateau), where no rest slope shows it and a BMS that balances only near full cannot
/// keep up with it.
///
/// At the end of a charge that reached the top (its current tapered to half its peak or less: the
/// charger's constant-voltage end), every cell stands on the OCV's steep upper knee, where a cell a few
/// percent of charge behind reads tens of millivolts below the others. A healthy cell's place there moves
/// only towards the pack (the BMS bleeds the high cells down); a leaking cell's falls further every day.
/// So each such charge end's deviations are compared with the last one's: a cell raised falls by at least
/// `minimumFall` (and by twice the cells' robust spread of changes, which grows when the pack ended on
/// another point of its knee) to at least as far below the median. Our simulator's LFP packs (tuning
/// draws 4101 and 4103, 9 leaks of 29-80 mA): every leak fell 22-45 mV to 15-46 mV below the median at
/// its first charge end a day after the onset, most a day before the rule; a healthy cell at most 16 mV,
/// and never to below 4 mV under it (a cell bled down from above).
///
/// The mirror is a cell that climbs further above the others at each top: one with less capacity fills
/// first and stands higher on the knee as it fades (a loose connection's drop at the charge's end does too,
/// but that cell is named for its resistance first). Our simulator's LFP packs (tuning draw 4401, 8 weak
/// cells fading 2-6 % a day; 224 pairs of tops of 4101, 4103, 4201 and 3032): a weak cell rose 10-30 mV to
/// 12-25 mV above the median at its first or second top after its onset; no healthy cell that rose most at
/// its top rose 10 mV to stand more than 8 mV above it (those that rose that far came up from below).
final class ChargeEndWatch {
    let cells: Int
    /// Per cell: the deviation (V) at the latest charging snapshot, and at the last top-of-charge end.
    private let charging: UnsafeMutableBufferPointer<Double>
    private let lastEnd: UnsafeMutableBufferPointer<Double>
    private let scratch: UnsafeMutableBufferPointer<Double>
    /// Per cell after a charge end compared with the one before: how far it fell (V, ≥ 0 falls; NaN
    /// none compared yet), where it stands now (V from the median), and how far behind it fell: the
    /// lesser of its fall and its depth below the median over the threshold (≥ 1: behind); and the
    /// seconds between the two ends.
    let fall: UnsafeMutableBufferPointer<Double>
    let standing: UnsafeMutableBufferPointer<Double>
    let behind: UnsafeMutableBufferPointer<Double>
    /// Likewise upwards: the lesser of its rise and its height above the median over the threshold.
    let ahead: UnsafeMutableBufferPointer<Double>
    private(set) var interval = Double.nan
    /// The fall a cell must pass at the last comparison (V), and the cells' spread at its end (V): where
    /// the rule, which fires at the top, stands.
    private(set) var threshold = Double.nan
    private(set) var spreadAtEnd = Double.nan
    private var chargeStart = Double.nan
    private var lastChargingTime = Double.nan
    private var peakCharge = 0.0
    private var lastChargingCurrent = 0.0
    private var lastEndTime = Double.nan
    private var chargingMedian = Double.nan
    private var lastEndMedian = Double.nan

    init(cells: Int) {
        self.cells = cells
        charging = .zeroed(cells)
        lastEnd = .zeroed(cells)
        scratch = .zeroed(cells)
        fall = .zeroed(cells)
        fall.update(repeating: .nan)
        standing = .zeroed(cells)
        behind = .zeroed(cells)
        ahead = .zeroed(cells)
    }

    deinit {
        for buffer in [charging, lastEnd, scratch, fall, standing, behind, ahead] { buffer.deallocate() }
    }

    /// Takes a snapshot: deviations from the median as read (V), the median (V), the current (A, +
    /// discharge) and what counts as charging (A, > 0: a current below its negative). True when a
    /// top-of-charge end was compared with the one before it (then `fall`, `standing`, `behind`, `ahead`
    /// and `threshold` are fresh).
    func update(time: Double, deviation: UnsafeMutableBufferPointer<Double>, median: Double, current: Double,
                chargingAbove: Double, resolution: Double) -> Bool {
        guard current.isFinite, chargingAbove > 0 else { return false }
        if current < -chargingAbove {
            // A charge interrupted by a gap is two charges: the first never reached its end in view.
            if chargeStart.isNaN || time - lastChargingTime > Self.longestGap {
                chargeStart = time
                peakCharge = 0
            }
            peakCharge = max(peakCharge, -current)
            lastChargingCurrent = -current
            lastChargingTime = time
            chargingMedian = median
            for cell in 0..<cells { charging[cell] = deviation[cell] }
            return false
        }
        guard !chargeStart.isNaN else { return false }
        let reachedTop = lastChargingTime - chargeStart >= Self.shortestCharge && lastChargingCurrent <= peakCharge / 2
            && time - lastChargingTime <= Self.longestGap
        chargeStart = .nan
        guard reachedTop else { return false }
        // A taper short of the top (a derated charger, a cold pack) ends on the plateau, where a cell's
        // offset at the top does not show: compared with a top after it, a healthy cell built low would
        // fall. Only ends within the rule's 50 mV of the last one are compared; a lower one is not kept.
        let comparable = abs(chargingMedian - lastEndMedian) <= Self.sameTop
        guard lastEndTime.isNaN || comparable || chargingMedian > lastEndMedian else { return false }
        defer {
            for cell in 0..<cells { lastEnd[cell] = charging[cell] }
            lastEndTime = lastChargingTime
            lastEndMedian = chargingMedian
        }
        guard comparable else { return false }
        for cell in 0..<cells { fall[cell] = lastEnd[cell] - charging[cell] }
        let spread = CrossCellTest.centerAndSpread(UnsafeBufferPointer(fall), scratch: scratch).spread
        threshold = max(Self.minimumFall, Self.steps * (resolution.isFinite ? resolution : 0), 2 * spread)
        interval = lastChargingTime - lastEndTime
        var highest = -Double.infinity, lowest = Double.infinity
        for cell in 0..<cells {
            standing[cell] = charging[cell]
            behind[cell] = min(fall[cell], -standing[cell]) / threshold
            ahead[cell] = min(-fall[cell], standing[cell]) / threshold
            highest = max(highest, charging[cell])
            lowest = min(lowest, charging[cell])
        }
        spreadAtEnd = highest - lowest
        return true
    }

    /// A fifth of the 50 mV rule: on our simulator's LFP tuning draws every leak fell 22 mV or more, and no
    /// healthy cell's fall left it more than 4 mV below the median.
    static let minimumFall = 0.010
    /// Reading steps a fall must span (a coarse BMS's 10 mV readings ask more than `minimumFall`).
    static let steps = 10.0
    /// The least charge (s) whose end is a top: a top-up of minutes tapers without reaching the knee.
    static let shortestCharge = 900.0
    /// The longest silence (s) within a charge or between its last charging snapshot and the one after.
    static let longestGap = 60.0
    /// How far apart (V) two ends' medians may be and still be the same top (the rule's 50 mV: our
    /// simulator's LFP tops moved 24 mV at most over four days as balancing went on; a plateau lies 100 mV
    /// and more below).
    static let sameTop = 0.050
}
