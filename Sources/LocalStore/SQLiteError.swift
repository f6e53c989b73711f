import CSQLite

/// A failed SQLite call: its (extended) result code and SQLite's message.
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    let code: Int32
    let message: String

    /// The primary result code, without the extended bits.
    var primaryCode: Int32 { code & 0xFF }

    /// Another connection held the lock for longer than the busy timeout.
    var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    var description: String { message }
}
