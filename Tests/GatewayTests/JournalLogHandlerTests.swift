@testable import Gateway
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalLogHandlerTests {
    private func event(_ level: Logger.Level, _ message: Logger.Message, _ metadata: Logger.Metadata? = nil) -> LogEvent {
        LogEvent(level: level, message: message, metadata: metadata, source: "test", file: #fileID, function: #function, line: #line)
    }

    /// Under journald the line starts with the sd-daemon priority; elsewhere with the level's name.
    @Test func prioritiesForTheJournalAndNamesElsewhere() {
        var journal = JournalLogHandler(level: .info, journal: true)
        journal[metadataKey: "vehicle"] = "V1"
        #expect(journal.format(event(.error, "outbox full", ["topic": "bms/a"])) == "<3>outbox full topic=bms/a vehicle=V1")
        #expect(journal.format(event(.warning, "two\nlines")) == "<4>two lines vehicle=V1")
        let plain = JournalLogHandler(level: .info, journal: false)
        #expect(plain.format(event(.notice, "reloaded")) == "notice: reloaded")
        #expect([Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map(JournalLogHandler.priority)
            == [7, 7, 6, 5, 4, 3, 2])
    }

    /// JOURNAL_STREAM counts only when it names standard error's own device and inode.
    @Test func journalStreamMustBeStandardError() {
        var status = stat()
        #expect(fstat(2, &status) == 0)
        setenv("JOURNAL_STREAM", "\(status.st_dev):\(status.st_ino)", 1)
        #expect(JournalLogHandler.standardErrorIsJournal())
        setenv("JOURNAL_STREAM", "\(status.st_dev):\(status.st_ino + 1)", 1)
        #expect(!JournalLogHandler.standardErrorIsJournal())
        unsetenv("JOURNAL_STREAM")
        #expect(!JournalLogHandler.standardErrorIsJournal())
    }
}
