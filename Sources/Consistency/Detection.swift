#if canImport(Glibc)
import Glibc
#endif

/// The settings of the per-cell estimators and their change detection (`[detection]`, docs/features.md).
/// Every size is relative to the pack (a share of its median resistance, a C-rate, steps of a sensor's
/// resolution); the one absolute figure is the false-alarm rate, which sets every CUSUM's threshold.
public struct DetectionSettings: Sendable, Equatable {
    public var enabled = true
    /// Ah; nil: estimated from charge throughput against the BMS's SOC.
    public var capacity: Double?
    /// The smallest resistance rise worth an alarm, as a share of the pack's median resistance.
    public var resistanceShare = 0.3
    /// Seconds over which the resistance estimates forget.
    public var resistanceMemory = 900.0
    /// |C-rate| at or below this is rest; rest ignored while the cells relax; a leak check each interval.
    public var restCRate = 0.02
    public var restSettle = 300.0
    public var leakCheckInterval = 60.0
    /// The shift of a leaking cell's rest-slope z-score the leak test is tuned to.
    public var leakShift = 4.0
    /// The smallest leak worth an alarm, in C (leak current ÷ capacity), through the learned OCV slope
    /// (before it is known, through `steepestOCVSlope`). The bleed accounting's floor: at C/1,000 a
    /// held-out C/4,310 leak whose rests the rest test saw from the first afternoon waited two days for
    /// the bleeds (heldout-bleed-b, docs/fleet.md); under C/5,000 a healthy cell's self-discharge begins.
    public var minimumLeak = 1.0 / 5000
    /// The smallest sensor shift worth an alarm (K), and the seconds that learn each sensor's place.
    public var sensorChange = 1.5
    public var sensorLearning = 900.0
    /// The BMS measures its cells while it bleeds them, through the sense wires the bleed flows in, so a
    /// bleed starting or stopping moves a reading: no reading step is tested while its balancing flag is
    /// set or changes. Off by default: balancing AFEs pause the bleed while they measure unless told not to.
    public var balancingMovesReadings = false
    /// No balancing flag is mapped: a BMS that bleeds cells at rest is then seen only in the cells. A cell
    /// cannot gain charge at rest, so one that rises apart from the pack as a leaking one falls apart tells
    /// that the others are being bled, and ends that rest's leak test (LeakWatch). Off where a flag is
    /// mapped, and once a snapshot has said the BMS balances.
    public var balancingUnflagged = false
    /// The current the BMS bleeds a cell with (A; its bleed resistor's): with per-cell bleed flags it sizes
    /// the leaks balancing hides (BleedWatch). Nil: no such test.
    public var bleedCurrent: Double?
    /// The smallest such leak worth an alarm, in C. A healthy cell's self-discharge is a few percent of
    /// its capacity a month (C/20,000-C/40,000), cell to cell less apart than that.
    public var minimumBleedLeak = 1.0 / 5000
    /// One false alarm per this many vehicle-hours at most, per test, under the tests' noise models.
    public var falseAlarmHours = 10_000.0

    public init() {}

    /// CUSUM thresholds: the log of the samples a test sees in `falseAlarmHours` (pairs at ~1 Hz for the
    /// resistance, checks or minutes for the leak and the sensors).
    var resistanceThreshold: Double { log(falseAlarmHours * 3600) }
    var minuteThreshold: Double { log(falseAlarmHours * 60) }
}

/// What a detector raised: the cell or sensor, the estimate, and how sure.
public struct Detection: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case resistanceRise = "cell_resistance_rise"
        case leak = "cell_leak"
        case sensor = "temperature_sensor"
        case readingStep = "cell_voltage_step"
        case capacityLow = "cell_capacity_low"
    }

    /// Which test raised it: a resistance from current changes (`current_changes`) or from a steady load
    /// against its start (`steady_load`); a leak from rest slopes (`rest_slopes`); a sensor against the
    /// others (`sensor_shift`) or a dithering reading that stopped changing (`held_reading`); a cell's reading
    /// moved to a new level at a steady current (`reading_step`); a capacity from the cells' SOC offsets at
    /// settled rests against the pack's SOC (`rest_offsets`); a leak from the cells the BMS bled instead (`bleeds`)
    /// or from a cell falling behind at the top of each charge (`charge_ends`).
    public enum Evidence: String, Sendable {
        case currentChanges = "current_changes"
        case steadyLoad = "steady_load"
        case restSlopes = "rest_slopes"
        case sensorShift = "sensor_shift"
        case heldReading = "held_reading"
        case readingStep = "reading_step"
        case restOffsets = "rest_offsets"
        case bleeds
        case chargeEnds = "charge_ends"
    }

    public let kind: Kind
    public let evidence: Evidence
    public let cell: Int?
    public let sensor: Int?
    /// Resistance: ΔR (Ω) and ΔR ÷ the median resistance; leak: A (NaN without a capacity) and C;
    /// sensor: the shift from its baseline (K); a reading step: the level it moved by (V) and that in
    /// reading steps; a capacity: what the cell lacks against the median cell (Ah, NaN without a
    /// capacity) and that as a share.
    public let magnitude: Double
    public let relative: Double
    /// The test's statistic over its threshold (≥ 1 when raised).
    public let confidence: Double
    /// Seconds until the 50 mV rule would fire at the present trend (leaks), or the millivolts the cell
    /// would be from the median at the recent peak current (resistance); NaN when not known.
    public let timeToRule: Double
    public let deviationAtPeak: Double
    /// A leak's: the OCV slope its fall was sized through, where one is known.
    public var ocvSlope: OCVSlope? = nil
    /// A leak from rest slopes: whether its fall held its pace over the fit (LeakWatch.fallIsSteady).
    public var fallSteady: Bool? = nil
}
