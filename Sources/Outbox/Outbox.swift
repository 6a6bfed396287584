import JSON

/// One alarm or inference event, as stored until the cloud acknowledges it.
public struct OutboxRecord: Sendable, Equatable {
    public enum RecordType: String, Sendable { case alarm, inference }
    public enum State: String, Sendable { case pending, inFlight = "in_flight", acknowledged }

    /// UUID: the idempotency key a receiver uses to drop a duplicate delivery. Alarms and inference
    /// events made from the data carry `OutboxRecord.id(of:)`, so the same log replayed twice (or on two
    /// machines) gives the same ids, the outbox stores each once and the cloud can drop repeats.
    public var id: String
    public var type: RecordType
    public var vehicle: String
    public var kind: String
    /// 0 information, 1 warning, 2 alarm, 3 critical.
    public var severity: Int
    public var cell: Int?
    /// Seconds since the epoch, from the frames (event time).
    public var eventTime: Double
    /// Seconds since the epoch, from the gateway's clock when the record was made.
    public var wallTime: Double
    public var score: Double?
    /// JSON: the feature values behind an alarm, or the seed's inference event.
    public var payload: String
    public var state: State = .pending

    public init(id: String = makeUUID(), type: RecordType, vehicle: String, kind: String, severity: Int, cell: Int? = nil,
                eventTime: Double, wallTime: Double, score: Double? = nil, payload: String) {
        self.id = id
        self.type = type
        self.vehicle = vehicle
        self.kind = kind
        self.severity = severity
        self.cell = cell
        self.eventTime = eventTime
        self.wallTime = wallTime
        self.score = score
        self.payload = payload
    }

    /// The record as one JSON object: the daemon's MQTT alarms, the uplink's messages. The outbox's
    /// delivery state is the gateway's own business and stays out of it.
    public var json: String { json(withState: false) }

    /// With the delivery state: `outbox export`'s lines.
    public var exportJSON: String { json(withState: true) }

    private func json(withState: Bool) -> String {
        func quoted(_ text: String) -> String { String(decoding: JSONText.quoted(text), as: UTF8.self) }
        return "{\"id\": \(quoted(id)), \"type\": \(quoted(type.rawValue)), \"vehicle\": \(quoted(vehicle)), "
            + "\"kind\": \(quoted(kind)), \"severity\": \(severity), \"cell\": \(cell.map(String.init) ?? "null"), "
            + "\"event_time\": \(eventTime), \"wall_time\": \(wallTime), \"score\": \(score.map { "\($0)" } ?? "null"), "
            + (withState ? "\"state\": \(quoted(state.rawValue)), " : "") + "\"payload\": \(payload)}"
    }

    /// What the record counts for against the byte bound.
    var size: Int { 64 + id.utf8.count + vehicle.utf8.count + kind.utf8.count + payload.utf8.count }
}

/// How large the outbox may grow; past either bound the eviction policy makes room.
public struct OutboxLimits: Sendable {
    public var maximumRecords: Int
    public var maximumBytes: Int
    public init(maximumRecords: Int = 100_000, maximumBytes: Int = 64 << 20) {
        self.maximumRecords = maximumRecords
        self.maximumBytes = maximumBytes
    }
}

public struct OutboxStatistics: Sendable, Equatable {
    public var pending = 0, inFlight = 0, acknowledged = 0
    public var bytes = 0
    /// Records evicted to stay within the bounds, since the outbox was created.
    public var evicted = 0
    public var evictedUnacknowledged = 0
    /// The wall time the oldest record not yet acknowledged was made; nil when there is none.
    public var oldestUnacknowledged: Double?

    public init(pending: Int = 0, inFlight: Int = 0, acknowledged: Int = 0, bytes: Int = 0, evicted: Int = 0,
                evictedUnacknowledged: Int = 0) {
        self.pending = pending
        self.inFlight = inFlight
        self.acknowledged = acknowledged
        self.bytes = bytes
        self.evicted = evicted
        self.evictedUnacknowledged = evictedUnacknowledged
    }
}

/// The store-and-forward queue: SQLite in WAL mode, each append committed with synchronous=FULL
/// before it returns, so an alarm that `append` accepted survives a crash or a power cut.
///
/// Eviction, when a bound is passed: acknowledged records first (oldest first), then unacknowledged
/// ones, lowest severity first and oldest first within a severity. Every eviction is counted in the
/// `counters` table. Records in flight are never evicted.
public final class Outbox {
    public static let schemaVersion = 1
    private let connection: SQLiteConnection
    public let limits: OutboxLimits

    public init(path: String, limits: OutboxLimits = OutboxLimits()) throws(SQLiteError) {
        self.limits = limits
        connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        try migrate()
    }

    /// Migrations by `PRAGMA user_version`: each step moves the schema up one version.
    private func migrate() throws(SQLiteError) {
        let version = try connection.prepare("PRAGMA user_version").rows { $0.int(0) }.first ?? 0
        if version < 1 {
            try connection.execute("""
                BEGIN IMMEDIATE;
                CREATE TABLE records (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL CHECK (type IN ('alarm', 'inference')),
                    vehicle TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    severity INTEGER NOT NULL,
                    cell INTEGER,
                    event_time REAL NOT NULL,
                    wall_time REAL NOT NULL,
                    score REAL,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'acknowledged')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    bytes INTEGER NOT NULL
                );
                CREATE INDEX records_by_state ON records (state, seq);
                CREATE INDEX records_by_eviction ON records (state, severity, seq);
                CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO counters (name, value) VALUES ('evicted', 0), ('evicted_unacknowledged', 0);
                PRAGMA user_version = 1;
                COMMIT;
                """)
        }
        if version > Int64(Self.schemaVersion) {
            throw SQLiteError(code: 0, message: "schema version \(version) is newer than this celldrift's \(Self.schemaVersion)",
                              context: connection.path)
        }
    }

    /// Appends records in one transaction, evicting what the bounds require; returns how many were
    /// evicted. When it returns, the records are on disk.
    @discardableResult
    public func append(_ records: [OutboxRecord]) throws(SQLiteError) -> Int {
        let insert = try connection.prepare("""
            INSERT INTO records (id, type, vehicle, kind, severity, cell, event_time, wall_time, score, payload, state, bytes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """)
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for record in records {
                try insert.run([
                    .text(record.id), .text(record.type.rawValue), .text(record.vehicle), .text(record.kind),
                    .integer(Int64(record.severity)), record.cell.map { .integer(Int64($0)) } ?? .null,
                    .real(record.eventTime), .real(record.wallTime), record.score.map { .real($0) } ?? .null,
                    .text(record.payload), .text(record.state.rawValue), .integer(Int64(record.size)),
                ])
            }
            let evicted = try evict()
            try connection.execute("COMMIT")
            return evicted
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private func evict() throws(SQLiteError) -> Int {
        let totals = try connection.prepare("SELECT count(*), coalesce(sum(bytes), 0) FROM records").rows { ($0.int(0), $0.int(1)) }
        var (count, bytes) = totals.first ?? (0, 0)
        guard count > limits.maximumRecords || bytes > limits.maximumBytes else { return 0 }
        let candidates = try connection.prepare("""
            SELECT seq, bytes, state FROM records WHERE state != 'in_flight'
            ORDER BY state = 'acknowledged' DESC, CASE WHEN state = 'acknowledged' THEN 0 ELSE severity END, seq
            LIMIT ?
            """).rows([.integer(Int64(max(count - Int64(limits.maximumRecords), 0) + 1024))]) { ($0.int(0), $0.int(1), $0.text(2)) }
        let delete = try connection.prepare("DELETE FROM records WHERE seq = ?")
        let counter = try connection.prepare("UPDATE counters SET value = value + ? WHERE name = ?")
        var evicted = 0, unacknowledged = 0
        for (seq, size, state) in candidates where count > limits.maximumRecords || bytes > limits.maximumBytes {
            try delete.run([.integer(seq)])
            count -= 1
            bytes -= size
            evicted += 1
            if state != "acknowledged" { unacknowledged += 1 }
        }
        try counter.run([.integer(Int64(evicted)), .text("evicted")])
        try counter.run([.integer(Int64(unacknowledged)), .text("evicted_unacknowledged")])
        return evicted
    }

    /// Takes up to `limit` pending records and marks them in flight: the `newest` most recent first (so
    /// that a backlog does not hold back a new alarm), then the oldest.
    public func lease(limit: Int, newest: Int = 0) throws(SQLiteError) -> [OutboxRecord] {
        try connection.execute("BEGIN IMMEDIATE")
        do {
            var records = newest > 0 ? try select("WHERE state = 'pending' ORDER BY seq DESC LIMIT ?", [.integer(Int64(min(newest, limit)))]) : []
            let taken = Set(records.map(\.id))
            records += try select("WHERE state = 'pending' ORDER BY seq LIMIT ?", [.integer(Int64(limit))])
                .filter { !taken.contains($0.id) }.prefix(limit - records.count)
            let mark = try connection.prepare("UPDATE records SET state = 'in_flight', attempts = attempts + 1 WHERE id = ?")
            for record in records { try mark.run([.text(record.id)]) }
            try connection.execute("COMMIT")
            return records.map { var leased = $0; leased.state = .inFlight; return leased }
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Marks records acknowledged by the receiver.
    public func acknowledge(_ ids: [String]) throws(SQLiteError) { try setState(.acknowledged, ids) }

    /// Puts records whose delivery failed back in the queue, in their original order.
    public func release(_ ids: [String]) throws(SQLiteError) { try setState(.pending, ids) }

    /// At start-up: whatever was in flight when the process stopped goes back to pending (the receiver
    /// drops a duplicate by its id).
    public func recoverInFlight() throws(SQLiteError) {
        try connection.execute("UPDATE records SET state = 'pending' WHERE state = 'in_flight'")
    }

    private func setState(_ state: OutboxRecord.State, _ ids: [String]) throws(SQLiteError) {
        let update = try connection.prepare("UPDATE records SET state = ? WHERE id = ?")
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for id in ids { try update.run([.text(state.rawValue), .text(id)]) }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    public func records(state: OutboxRecord.State? = nil, limit: Int = Int.max) throws(SQLiteError) -> [OutboxRecord] {
        if let state {
            return try select("WHERE state = ? ORDER BY seq LIMIT ?", [.text(state.rawValue), .integer(Int64(min(limit, Int(Int64.max))))])
        }
        return try select("ORDER BY seq LIMIT ?", [.integer(Int64(min(limit, Int(Int64.max))))])
    }

    private func select(_ clause: String, _ values: [SQLiteConnection.Value]) throws(SQLiteError) -> [OutboxRecord] {
        try connection.prepare("""
            SELECT id, type, vehicle, kind, severity, cell, event_time, wall_time, score, payload, state FROM records \(clause)
            """).rows(values) { row in
            var record = OutboxRecord(
                id: row.text(0), type: OutboxRecord.RecordType(rawValue: row.text(1)) ?? .alarm, vehicle: row.text(2),
                kind: row.text(3), severity: Int(row.int(4)), cell: row.isNull(5) ? nil : Int(row.int(5)),
                eventTime: row.double(6), wallTime: row.double(7), score: row.isNull(8) ? nil : row.double(8),
                payload: row.text(9))
            record.state = OutboxRecord.State(rawValue: row.text(10)) ?? .pending
            return record
        }
    }

    public func statistics() throws(SQLiteError) -> OutboxStatistics {
        var statistics = OutboxStatistics()
        for (state, count, bytes) in try connection.prepare("SELECT state, count(*), sum(bytes) FROM records GROUP BY state")
            .rows([], { ($0.text(0), Int($0.int(1)), Int($0.int(2))) }) {
            statistics.bytes += bytes
            switch state {
            case "pending": statistics.pending = count
            case "in_flight": statistics.inFlight = count
            default: statistics.acknowledged = count
            }
        }
        if statistics.pending + statistics.inFlight > 0 {
            statistics.oldestUnacknowledged = try connection.prepare(
                "SELECT min(wall_time) FROM records WHERE state != 'acknowledged'").rows([], { $0.isNull(0) ? nil : $0.double(0) }).first ?? nil
        }
        for (name, value) in try connection.prepare("SELECT name, value FROM counters").rows([], { ($0.text(0), Int($0.int(1))) }) {
            if name == "evicted" { statistics.evicted = value }
            if name == "evicted_unacknowledged" { statistics.evictedUnacknowledged = value }
        }
        return statistics
    }
}

extension OutboxRecord {
    /// The cell as the user's DBC names it: `cell 5 (Cell05_V)` from the payload's `cell_number` and
    /// `cell_name`, else `cell <position>`; nil when the record names no cell.
    public var cellLabel: String? {
        guard let cell else { return nil }
        guard let payload = try? JSONParser.parse(payload), let number = payload["cell_number"]?.double,
              let whole = Int(exactly: number) else { return "cell \(cell)" }
        return "cell \(whole)" + (payload["cell_name"]?.string.map { " (\($0))" } ?? "")
    }

    /// An alarm record's transition (`raised`, `updated`, `cleared`); nil for other records.
    public var transition: String? {
        let head = "{\"transition\": \""
        guard type == .alarm, payload.hasPrefix(head) else { return nil }
        return String(payload.dropFirst(head.count).prefix { $0 != "\"" })
    }

    /// A UUID (version 8, RFC 9562) derived from what makes a record what it is: the vehicle, the kind,
    /// the cell or sensor it names (`subject`, e.g. "cell-5", "sensor-2", "pack") and the event
    /// time (to the millisecond). Two 64-bit FNV-1a hashes with different offsets, not a cryptographic
    /// hash: the ids need to be stable and distinct, not secret.
    public static func id(vehicle: String, kind: String, subject: String, eventTime: Double) -> String {
        let milliseconds = eventTime.isFinite ? Int64((eventTime * 1000).rounded()) : 0
        let key = Array("\(vehicle)\u{1F}\(kind)\u{1F}\(subject)\u{1F}\(milliseconds)".utf8)
        func fnv(_ offset: UInt64) -> UInt64 {
            var hash = offset
            for byte in key {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            return hash
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for (index, value) in [fnv(0xCBF2_9CE4_8422_2325), fnv(0x6C62_272E_07BB_0142)].enumerated() {
            for shift in 0..<8 { bytes[index * 8 + shift] = UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64(shift))) }
        }
        bytes[6] = bytes[6] & 0x0F | 0x80
        bytes[8] = bytes[8] & 0x3F | 0x80
        return uuidText(bytes)
    }
}

/// A random (version 4) UUID, from the system's random source.
public func makeUUID() -> String {
    var generator = SystemRandomNumberGenerator()
    var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    bytes[6] = bytes[6] & 0x0F | 0x40
    bytes[8] = bytes[8] & 0x3F | 0x80
    return uuidText(bytes)
}

/// 16 bytes in the UUID text form, lowercase.
private func uuidText(_ bytes: [UInt8]) -> String {
    let hex = bytes.map { byte -> String in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
    return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" + hex[8..<10].joined()
        + "-" + hex[10..<16].joined()
}
