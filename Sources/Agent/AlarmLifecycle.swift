import Outbox

/// How alarms live (`[alarms]`, docs/daemon.md, "Alarm lifecycle").
public struct AlarmSettings: Sendable, Equatable {
    /// Seconds (event time) a cleared alarm waits before its clear is final: raised again within them at
    /// the same cell, it is the same alarm, not a new one (a value hovering at a threshold is one alarm).
    public var holdOff = 300.0
    /// Seconds (wall clock) the broker keeps a cleared alarm's retained state before it is removed.
    public var clearedStateSeconds = 3_600.0
    /// An active alarm is reported again (`updated`) when its magnitude has moved by this share since it
    /// was last reported, at most once per `updateInterval` seconds.
    public var updateShare = 0.25
    public var updateInterval = 60.0
    public init() {}
}

/// One vehicle's alarms from raise to clear: every transition (raised, updated, cleared) becomes an outbox
/// record with the alarm's id (`alarm_id`: vehicle, kind, subject and onset, the same on every replay),
/// the transition and the time it has been active since. Episodes are few and live in a small array;
/// a snapshot that changes nothing allocates nothing.
final class AlarmLifecycle {
    struct Episode {
        let kind: String
        /// "cell-<user number>", "sensor-<user number>" or "pack": also the retained state's topic level.
        let subject: String
        let cell: Int?
        let severity: Int
        /// The magnitude is a model's score: the record's `score` too.
        let scored: Bool
        let id: String
        let since: Double
        var reportedMagnitude: Double
        var reportedAt: Double
        var clearingSince: Double?
    }

    private let vehicle: String
    private let settings: AlarmSettings
    private let wallClock: () -> Double
    private let emit: (OutboxRecord) -> Void
    private(set) var episodes: [Episode] = []

    init(vehicle: String, settings: AlarmSettings, wallClock: @escaping () -> Double, emit: @escaping (OutboxRecord) -> Void) {
        self.vehicle = vehicle
        self.settings = settings
        self.wallClock = wallClock
        self.emit = emit
    }

    /// An alarm raised at `time`: a new alarm, or, when the same kind and subject cleared less than the
    /// hold-off ago, the same alarm going on (reported as `updated` when its magnitude moved).
    func raise(kind: String, subject: String, cell: Int?, severity: Int, time: Double, magnitude: Double, scored: Bool = false,
               body: String) {
        if let index = episodes.firstIndex(where: { $0.kind == kind && $0.subject == subject }) {
            episodes[index].clearingSince = nil
            report(index, .updated, time: time, magnitude: magnitude, body: body, force: false)
            return
        }
        let id = OutboxRecord.id(vehicle: vehicle, kind: kind, subject: subject, eventTime: time)
        episodes.append(Episode(kind: kind, subject: subject, cell: cell, severity: severity, scored: scored, id: id, since: time,
                                reportedMagnitude: magnitude, reportedAt: time))
        report(episodes.count - 1, .raised, time: time, magnitude: magnitude, body: body, force: true)
    }

    /// The rule or model of `kind` cleared at `time`: final once the hold-off has passed without a raise.
    func clear(kind: String, time: Double) {
        for index in episodes.indices where episodes[index].kind == kind && episodes[index].clearingSince == nil {
            episodes[index].clearingSince = time
        }
    }

    /// An active alarm's magnitude now; `body` makes the payload only when an update is due.
    func observe(kind: String, magnitude: Double, time: Double, body: () -> String) {
        guard let index = episodes.firstIndex(where: { $0.kind == kind && $0.clearingSince == nil }) else { return }
        guard time - episodes[index].reportedAt >= settings.updateInterval, magnitude.isFinite,
              hasMoved(episodes[index], to: magnitude) else { return }
        report(index, .updated, time: time, magnitude: magnitude, body: body(), force: true)
    }

    /// Whether `magnitude` is `updateShare` or more away from what was last reported of `episode`.
    private func hasMoved(_ episode: Episode, to magnitude: Double) -> Bool {
        abs(magnitude - episode.reportedMagnitude) > settings.updateShare * abs(episode.reportedMagnitude)
    }

    /// Makes final the clears whose hold-off has passed by `time`, each a `cleared` record.
    func expire(time: Double, body: (Episode) -> String) {
        var index = 0
        while index < episodes.count {
            if let cleared = episodes[index].clearingSince, time - cleared >= settings.holdOff {
                report(index, .cleared, time: cleared, magnitude: episodes[index].reportedMagnitude, body: body(episodes[index]), force: true)
                episodes.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    enum Transition: String { case raised, updated, cleared }

    private func report(_ index: Int, _ transition: Transition, time: Double, magnitude: Double, body: String, force: Bool) {
        let episode = episodes[index]
        if !force, !hasMoved(episode, to: magnitude) { return }
        episodes[index].reportedMagnitude = magnitude
        episodes[index].reportedAt = time
        let head = "{\"transition\": \"\(transition.rawValue)\", \"alarm_id\": \"\(episode.id)\", \"subject\": \"\(episode.subject)\", "
            + "\"active_since\": \(episode.since), \"magnitude\": \(magnitude.isFinite ? "\(magnitude)" : "null")"
        let payload = body.hasPrefix("{") && body.count > 2 ? head + ", " + body.dropFirst() : head + "}"
        let recordID = transition == .raised ? episode.id
            : OutboxRecord.id(vehicle: vehicle, kind: episode.kind, subject: "\(episode.subject)/\(transition.rawValue)", eventTime: time)
        emit(OutboxRecord(id: recordID, type: .alarm, vehicle: vehicle, kind: episode.kind, severity: episode.severity,
                          cell: episode.cell, eventTime: time, wallTime: wallClock(), score: episode.scored ? magnitude : nil,
                          payload: payload))
    }
}
