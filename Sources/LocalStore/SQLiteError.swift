import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed SQLite call: its (extended) result code, SQLite's message, and
/// the errno of the system call that failed under it (0 when none did).
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    let code: Int32
    let message: String
    var systemErrno: Int32 = 0

    /// The primary result code, without the extended bits.
    var primaryCode: Int32 { code & 0xFF }

    /// Another connection held the lock for longer than the busy timeout.
    var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    /// The file system holding the store is full: SQLite's own verdict, or an
    /// I/O error whose write failed for want of space (a quota counts too).
    var isFull: Bool {
        primaryCode == SQLITE_FULL
            || (primaryCode == SQLITE_IOERR && (systemErrno == ENOSPC || systemErrno == EDQUOT))
    }

    var description: String { message }
}
