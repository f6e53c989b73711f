public import Foundation

/// The time by which the file operation under way must be answered. The
/// file system sets it around each operation; backends bound every call
/// they make by what is left of it, so one operation never outlasts it,
/// however many calls (login, retries, several requests) it takes.
///
/// Held in a task-local, which in synchronous code on a plain thread (the
/// FUSE workers) lives in thread-local storage: each operation sees its own.
public enum Deadline {
    @TaskLocal private static var current: Date?

    /// Runs `body` with a deadline `seconds` from now, or keeps an earlier
    /// deadline already set around it.
    public static func within<T, Failure: Error>(
        _ seconds: TimeInterval, _ body: () throws(Failure) -> T
    ) throws(Failure) -> T {
        let end = Date().addingTimeInterval(seconds)
        return try at(current.map { min($0, end) } ?? end, body)
    }

    /// Runs `body` with the deadline `end` (nil: none). For work handed to
    /// another thread, which does not inherit the caller's deadline.
    public static func at<T, Failure: Error>(_ end: Date?, _ body: () throws(Failure) -> T) throws(Failure) -> T {
        // withValue's closure cannot throw a typed error; carry it out as a Result.
        let result: Result<T, Failure> = $current.withValue(end) { Result { () throws(Failure) in try body() } }
        return try result.get()
    }

    /// The deadline of the operation under way, if any.
    public static var end: Date? { current }

    /// Seconds left before the deadline, at most `limit`; `limit` when there
    /// is no deadline. Zero or less means the time is up.
    public static func remaining(atMost limit: TimeInterval) -> TimeInterval {
        guard let current else { return limit }
        return min(limit, current.timeIntervalSinceNow)
    }
}
