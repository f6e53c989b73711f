import CSQLite

/// A value bound to, or read from, an SQL statement.
enum SQLValue {
    case text(String)
    case blob([UInt8])
    case integer(Int64)
    case real(Double)
    case null
}

/// One SQLite connection, closed in deinit. Not thread-safe by itself; it is
/// `@unchecked Sendable` only so it can live in `LocalSecretStore`'s mutex,
/// which is the one place that hands it out, one thread at a time.
final class Database: @unchecked Sendable {
    fileprivate let handle: OpaquePointer

    /// Opens an existing file read-write; never creates it, so the file's mode
    /// stays whatever the caller created it with.
    init(path: String) throws(SQLiteError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            let systemErrno = handle.map { sqlite3_system_errno($0) } ?? 0
            sqlite3_close_v2(handle)
            throw SQLiteError(code: status, message: message, systemErrno: systemErrno)
        }
        self.handle = handle
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more statements that take no parameters and return no rows
    /// the caller needs.
    func execute(_ sql: String) throws(SQLiteError) {
        let status = sqlite3_exec(handle, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw error(status) }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status) }
        return Statement(database: self, handle: statement)
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: SQLValue...) throws(SQLiteError) -> Int { try run(sql, values) }

    @discardableResult
    func run(_ sql: String, _ values: [SQLValue]) throws(SQLiteError) -> Int {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Every row of a query, each turned into a `Row` by `transform`.
    func query<Row>(_ sql: String, _ values: SQLValue..., transform: (Statement) throws -> Row) throws -> [Row] {
        try query(sql, values, transform: transform)
    }

    func query<Row>(_ sql: String, _ values: [SQLValue], transform: (Statement) throws -> Row) throws -> [Row] {
        let statement = try prepare(sql)
        try statement.bind(values)
        var rows: [Row] = []
        while try statement.step() { rows.append(try transform(statement)) }
        return rows
    }

    /// Whether a query returns at least one row.
    func exists(_ sql: String, _ values: SQLValue...) throws(SQLiteError) -> Bool { try exists(sql, values) }

    func exists(_ sql: String, _ values: [SQLValue]) throws(SQLiteError) -> Bool {
        let statement = try prepare(sql)
        try statement.bind(values)
        return try statement.step()
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back
    /// when it throws. `immediate` takes the write lock up front, so a writer
    /// waits (up to the busy timeout) instead of failing half way through.
    func transaction<Result>(immediate: Bool, _ body: () throws -> Result) throws -> Result {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        let result: Result
        do {
            result = try body()
            try execute("COMMIT")
        } catch {
            // Nothing useful can be done if the rollback fails too; the original error matters.
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
        return result
    }

    fileprivate func error(_ status: Int32) -> SQLiteError {
        SQLiteError(
            code: status, message: String(cString: sqlite3_errmsg(handle)), systemErrno: sqlite3_system_errno(handle))
    }
}

/// One prepared statement, finalized in deinit. Keeps its database alive.
final class Statement {
    private let database: Database
    private let handle: OpaquePointer

    fileprivate init(database: Database, handle: OpaquePointer) {
        self.database = database
        self.handle = handle
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ values: [SQLValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .text(let text):
                // A trailing NUL keeps the buffer non-empty (an empty buffer has
                // no address, which SQLite would bind as NULL) and is not counted.
                var bytes = Array(text.utf8)
                bytes.append(0)
                status = bytes.withUnsafeBufferPointer { buffer in
                    sqlite3_bind_text(
                        handle, index, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                        Int32(buffer.count - 1), csqlite_transient())
                }
            case .blob(let bytes):
                if bytes.isEmpty {
                    status = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    status = bytes.withUnsafeBytes { buffer in
                        sqlite3_bind_blob(handle, index, buffer.baseAddress, Int32(buffer.count), csqlite_transient())
                    }
                }
            case .integer(let number):
                status = sqlite3_bind_int64(handle, index, number)
            case .real(let number):
                status = sqlite3_bind_double(handle, index, number)
            case .null:
                status = sqlite3_bind_null(handle, index)
            }
            guard status == SQLITE_OK else { throw database.error(status) }
        }
    }

    /// Advances to the next row: true when there is one, false when done.
    func step() throws(SQLiteError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(status)
        }
    }

    func text(_ column: Int32) -> String {
        // The pointer is read before the length, as SQLite's documentation asks.
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        // The pointer is read before the length, as SQLite's documentation asks.
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func real(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
}
