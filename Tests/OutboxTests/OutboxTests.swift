import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct OutboxTests {
    private func temporaryPath() -> String {
        "/tmp/celldrift-outbox-test-\(makeUUID()).db"
    }

    private func alarm(_ severity: Int, _ time: Double, payload: String = "{}") -> OutboxRecord {
        OutboxRecord(type: .alarm, vehicle: "V1", kind: "cell_spread", severity: severity, cell: 3, eventTime: time,
                     wallTime: time + 0.5, score: 0.9, payload: payload)
    }

    @Test func recordsMoveFromPendingToInFlightToAcknowledged() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let outbox = try Outbox(path: path)
        let records = (0..<5).map { alarm(2, Double($0)) }
        try outbox.append(records)
        try outbox.append([records[0]])  // the same id again: the idempotency key keeps one
        #expect(try outbox.statistics().pending == 5)
        let leased = try outbox.lease(limit: 3)
        #expect(leased.map(\.id) == records[0..<3].map(\.id))
        #expect(leased.allSatisfy { $0.state == .inFlight })
        try outbox.acknowledge([leased[0].id])
        try outbox.release([leased[1].id])
        var expected = OutboxStatistics(pending: 3, inFlight: 1, acknowledged: 1, bytes: try outbox.statistics().bytes)
        expected.oldestUnacknowledged = 1.5  // records[1]'s wall time: records[0] is acknowledged
        #expect(try outbox.statistics() == expected)
        // After a restart, what was in flight is delivered again, oldest first.
        try outbox.recoverInFlight()
        #expect(try outbox.lease(limit: 10).map(\.id) == [records[1], records[2], records[3], records[4]].map(\.id))
        let stored = try outbox.records(state: .acknowledged)
        #expect(stored.count == 1 && stored[0].cell == 3 && stored[0].score == 0.9 && stored[0].wallTime == 0.5)
    }

    @Test func evictionTakesAcknowledgedThenLowestSeverityOldestAndCountsIt() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let outbox = try Outbox(path: path, limits: OutboxLimits(maximumRecords: 6))
        let acknowledged = alarm(3, 0)
        let inFlight = alarm(0, 1)
        let keep = [alarm(3, 2), alarm(2, 3)]
        let lowOld = alarm(0, 4), lowNew = alarm(0, 5), middle = alarm(1, 6)
        try outbox.append([acknowledged, inFlight])
        _ = try outbox.lease(limit: 2)
        try outbox.acknowledge([acknowledged.id])
        try outbox.append(keep + [lowOld, lowNew])
        // Seven records for six places: the acknowledged one goes first.
        #expect(try outbox.append([middle]) == 1)
        #expect(try outbox.records().map(\.id).contains(acknowledged.id) == false)
        // Two more: the lowest severity, oldest first; the in-flight record (severity 0) stays.
        #expect(try outbox.append([alarm(3, 7), alarm(3, 8)]) == 2)
        let ids = Set(try outbox.records().map(\.id))
        #expect(!ids.contains(lowOld.id) && !ids.contains(lowNew.id))
        #expect(ids.contains(inFlight.id) && ids.contains(middle.id) && keep.allSatisfy { ids.contains($0.id) })
        let statistics = try outbox.statistics()
        #expect(statistics.evicted == 3 && statistics.evictedUnacknowledged == 2)
        #expect(statistics.pending + statistics.inFlight + statistics.acknowledged == 6)
    }

    @Test func byteBoundEvictsToo() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let outbox = try Outbox(path: path, limits: OutboxLimits(maximumRecords: 1000, maximumBytes: 5000))
        let big = String(repeating: "x", count: 900)
        for index in 0..<10 { try outbox.append([alarm(1, Double(index), payload: "{\"note\": \"\(big)\"}")]) }
        let statistics = try outbox.statistics()
        let recordBytes = statistics.bytes / max(statistics.pending, 1)
        let fit = 5000 / recordBytes
        #expect(recordBytes > 900 && fit == 4)
        #expect(statistics.bytes <= 5000 && statistics.pending == fit && statistics.evicted == 10 - fit)
        #expect(try outbox.records().map(\.eventTime) == (10 - fit..<10).map(Double.init))
    }

    /// The ids of records made from data: the same inputs give the same UUID (version 8), any other
    /// vehicle, kind, subject or millisecond another; appended twice, a record is stored once.
    @Test func dataRecordsHaveStableIDsAndAreStoredOnce() throws {
        let id = OutboxRecord.id(vehicle: "V1", kind: "cell_spread", subject: "cell 3", eventTime: 1_700_000_000.25)
        #expect(id == OutboxRecord.id(vehicle: "V1", kind: "cell_spread", subject: "cell 3", eventTime: 1_700_000_000.2501))
        let others = [
            OutboxRecord.id(vehicle: "V2", kind: "cell_spread", subject: "cell 3", eventTime: 1_700_000_000.25),
            OutboxRecord.id(vehicle: "V1", kind: "cell_leak", subject: "cell 3", eventTime: 1_700_000_000.25),
            OutboxRecord.id(vehicle: "V1", kind: "cell_spread", subject: "cell 4", eventTime: 1_700_000_000.25),
            OutboxRecord.id(vehicle: "V1", kind: "cell_spread", subject: "sensor 3", eventTime: 1_700_000_000.25),
            OutboxRecord.id(vehicle: "V1", kind: "cell_spread", subject: "cell 3", eventTime: 1_700_000_000.251),
        ]
        #expect(Set(others + [id]).count == 6)
        let characters = Array(id)
        #expect(characters.count == 36 && characters[14] == "8" && "89ab".contains(characters[19]))
        let path = "/tmp/celldrift-outbox-ids-\(getpid()).db"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
        let outbox = try Outbox(path: path)
        let record = OutboxRecord(id: id, type: .alarm, vehicle: "V1", kind: "cell_spread", severity: 2, cell: 3,
                                  eventTime: 1_700_000_000.25, wallTime: 1, payload: "{}")
        try outbox.append([record])
        try outbox.append([record])
        #expect(try outbox.records().map(\.id) == [id])
    }

    @Test func uuidsAreVersion4() {
        let id = makeUUID()
        #expect(id.count == 36 && Array(id)[14] == "4" && "89ab".contains(Array(id)[19]))
        #expect(makeUUID() != id)
    }
}
