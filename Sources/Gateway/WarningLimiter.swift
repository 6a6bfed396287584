import Logging

/// Warnings about what peers send, at most so many a second: a flood of bad input costs a count, not a
/// disk of log. What was held back is summed up in one line when the second is over.
final class WarningLimiter {
    private let log: Logger
    private let perSecond: Int
    private var windowStart = -Double.infinity
    private var written = 0
    private(set) var suppressed = 0
    private var suppressedInWindow = 0

    init(log: Logger, perSecond: Int) {
        self.log = log
        self.perSecond = perSecond
    }

    func warning(_ message: @autoclosure () -> String, now: Double) {
        roll(now: now)
        guard written < perSecond else {
            suppressed += 1
            suppressedInWindow += 1
            return
        }
        written += 1
        log.warning("\(message())")
    }

    /// Starts a new second when the last is over, saying what it held back.
    func roll(now: Double) {
        guard now - windowStart >= 1 else { return }
        if suppressedInWindow > 0 {
            log.warning("\(suppressedInWindow) more warnings about malformed or refused input in the last \(Int(now - windowStart)) s not logged")
        }
        (windowStart, written, suppressedInWindow) = (now, 0, 0)
    }
}
