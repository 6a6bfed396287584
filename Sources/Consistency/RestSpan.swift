/// A rest that a current sensor's noise does not end.
///
/// A Hall sensor's noise on a small pack pokes out of the rest band (C/50) now and then while nothing
/// flows: with σ of C/150 about once in six minutes at 1 Hz. Each such snapshot ended the rest, so the
/// rest tests, which need ten minutes and more of it, never spoke (a C/300 leak on a 15 Ah pack was not
/// named in three hours). The rest goes on through snapshots outside the band until a load (C/10), or
/// until the charge moved outside the band adds up to `driftLimit` of the capacity (the cells have left
/// the place the rest describes). Before the capacity is known any snapshot outside the band ends it.
struct RestSpan {
    /// When the rest began (NaN while it does not hold).
    private(set) var since = Double.nan
    var holds: Bool { !since.isNaN }
    private var moved = 0.0
    private var previousTime = Double.nan

    /// `resting`: the current is within the rest band; `loaded`: at C/10 or more; `capacity` in Ah.
    /// A silence longer than a minute adds nothing moved: what flowed in it is unknown.
    mutating func update(time: Double, current: Double, resting: Bool, loaded: Bool, capacity: Double) {
        defer { previousTime = time }
        if resting {
            if !holds { since = time; moved = 0 }
            return
        }
        guard holds else { return }
        let step = time - previousTime
        if step <= ChargeEndWatch.longestGap, current.isFinite { moved += current * step / 3600 }
        if loaded || !current.isFinite || !(abs(moved) <= Self.driftLimit * capacity) { since = .nan }
    }

    /// The share of capacity moved at small currents that ends the rest (0.5 % of SOC).
    static let driftLimit = 0.005
}
