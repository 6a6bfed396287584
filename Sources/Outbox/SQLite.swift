#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// An error from SQLite, with the statement or step it came from.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let context: String
    public var description: String { "\(context): \(message) (SQLite \(code))" }
    /// The disk or its quota is full.
    public var isFull: Bool { code & 0xFF == SQLITE_FULL }
}

/// The one place that talks to libsqlite3: a connection, prepared statements, and values.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    let path: String

    init(path: String) throws(SQLiteError) {
        self.path = path
        // Created owner-only whatever the umask: alarms and inference events are the vehicle's data.
        // SQLite gives its -wal and -shm files the database's mode.
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { close(created) }
        var connection: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(connection)
            throw SQLiteError(code: code, message: message, context: path)
        }
        handle = connection
        sqlite3_busy_timeout(connection, 5000)
        sqlite3_extended_result_codes(connection, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    private func error(_ code: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), context: "\(path): \(context)")
    }

    /// Runs SQL that returns no rows (several statements allowed).
    func execute(_ sql: String) throws(SQLiteError) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(code, sql.split(separator: "\n").first.map(String.init) ?? sql) }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code, sql) }
        return Statement(statement, connection: self, sql: sql)
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    /// A value that a statement binds.
    enum Value {
        case integer(Int64)
        case real(Double)
        case text(String)
        case null
    }

    final class Statement {
        private let statement: OpaquePointer
        private let connection: SQLiteConnection
        private let sql: String

        fileprivate init(_ statement: OpaquePointer, connection: SQLiteConnection, sql: String) {
            self.statement = statement
            self.connection = connection
            self.sql = sql
        }

        deinit { sqlite3_finalize(statement) }

        func bind(_ values: [Value]) throws(SQLiteError) {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            // SQLITE_TRANSIENT: SQLite copies the text (the macro does not import).
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            for (offset, value) in values.enumerated() {
                let index = Int32(offset + 1)
                let code: Int32 = switch value {
                case .integer(let number): sqlite3_bind_int64(statement, index, number)
                case .real(let number): sqlite3_bind_double(statement, index, number)
                case .text(let text): sqlite3_bind_text(statement, index, text, -1, transient)
                case .null: sqlite3_bind_null(statement, index)
                }
                guard code == SQLITE_OK else { throw connection.error(code, sql) }
            }
        }

        /// Steps once; true when a row is available.
        func step() throws(SQLiteError) -> Bool {
            let code = sqlite3_step(statement)
            if code == SQLITE_ROW { return true }
            if code == SQLITE_DONE { return false }
            throw connection.error(code, sql)
        }

        /// Runs to completion with `values` bound.
        func run(_ values: [Value] = []) throws(SQLiteError) {
            try bind(values)
            while try step() {}
        }

        /// Every row, as read by `row`.
        func rows<T>(_ values: [Value] = [], _ row: (Statement) -> T) throws(SQLiteError) -> [T] {
            try bind(values)
            var result: [T] = []
            while try step() { result.append(row(self)) }
            return result
        }

        func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
        func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
        func text(_ column: Int32) -> String {
            guard let pointer = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: pointer)
        }
    }
}
