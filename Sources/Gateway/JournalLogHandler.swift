import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's log lines on standard error, one per event, written unbuffered. Under systemd, when
/// standard error is the journal's stream (`JOURNAL_STREAM` names its device and inode), each line starts
/// with the syslog priority in angle brackets (`<3>` error … `<7>` debug), which journald turns into the
/// entry's PRIORITY, so `journalctl -p warning` filters as expected; elsewhere the line starts with the
/// level's name. Metadata follows the message as `key=value`, sorted by key.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let journal: Bool

    public init(level: Logger.Level = .info, journal: Bool = JournalLogHandler.standardErrorIsJournal()) {
        logLevel = level
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = format(event)
        line.append("\n")
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// The line for an event, without its line break.
    public func format(_ event: LogEvent) -> String {
        var line = journal ? "<\(Self.priority(event.level))>" : "\(event.level): "
        // One event, one line: a journal entry ends at a line break.
        line += event.message.description.replacing("\n", with: " ")
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value.description.replacing("\n", with: " "))"
        }
        return line
    }

    /// sd-daemon(3) priorities: there is no "notice" below "warning" in swift-log's sense, so the two map
    /// one to one, and trace shares debug's.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// True when standard error is the stream systemd connected to the journal, as `JOURNAL_STREAM`
    /// ("device:inode") says; a redirected standard error (a pipe, a file) is not.
    public static func standardErrorIsJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":").compactMap { UInt64($0) }
        var status = stat()
        guard parts.count == 2, fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == parts[0] && UInt64(status.st_ino) == parts[1]
    }
}
