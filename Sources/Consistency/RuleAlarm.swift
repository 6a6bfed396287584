/// A threshold rule with hysteresis and a minimum duration, as BMS alarms work: it raises when the
/// value has stayed above `raiseAbove` for `minimumDuration` seconds, and clears when the value has
/// stayed below `clearBelow` for as long. Between the two thresholds it keeps its state, so a value
/// hovering at the threshold does not make it flicker.
public struct RuleAlarm: Sendable {
    public enum Transition: Equatable, Sendable {
        /// Raised; `since` is when the value first went above the threshold in this run.
        case raised(since: Double)
        case cleared(since: Double)
    }

    public let name: String
    public let raiseAbove: Double
    public let clearBelow: Double
    public let minimumDuration: Double
    /// 0 information, 1 warning, 2 alarm, 3 critical (the outbox's scale).
    public let severity: Int
    public private(set) var isActive = false
    private var pendingSince: Double?

    public init(name: String, raiseAbove: Double, clearBelow: Double, minimumDuration: Double, severity: Int) {
        precondition(clearBelow <= raiseAbove, "the clear threshold must not be above the raise threshold")
        self.name = name
        self.raiseAbove = raiseAbove
        self.clearBelow = clearBelow
        self.minimumDuration = minimumDuration
        self.severity = severity
    }

    /// Starts out raised (a reloaded rule taking over from a raised one): it only clears from here.
    public mutating func assumeActive() {
        isActive = true
        pendingSince = nil
    }

    /// Feeds one observation at `time` (seconds, event time); returns a transition when the state changes.
    public mutating func observe(_ value: Double, at time: Double) -> Transition? {
        // Values within a billionth of a threshold count as on it: 4.150 V − 4.100 V is 0.0500000000000007
        // in binary floating point, and a spread of exactly 50 mV is not above 50 mV.
        let tolerance = 1e-9 * max(1, abs(isActive ? clearBelow : raiseAbove))
        let crossing = isActive ? value < clearBelow - tolerance : value > raiseAbove + tolerance
        guard crossing else {
            pendingSince = nil
            return nil
        }
        let since = pendingSince ?? time
        pendingSince = since
        guard time - since >= minimumDuration else { return nil }
        isActive.toggle()
        pendingSince = nil
        return isActive ? .raised(since: since) : .cleared(since: since)
    }
}
