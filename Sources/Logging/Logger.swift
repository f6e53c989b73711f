import Synchronization

/// How much a log line matters; a handler drops lines below its level.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug = 0, info, notice, warning, error

    public init?(name: String) {
        switch name.lowercased() {
        case "debug": self = .debug
        case "info": self = .info
        case "notice": self = .notice
        case "warning", "warn": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where log lines go. Implementation requirements: `emit` is called from many
/// threads at once and must not block for long; it receives one line, never
/// containing a newline, and must never be given a secret value or token
/// (callers log names and reasons only).
public protocol LogHandler: Sendable {
    func emit(level: LogLevel, label: String, message: String)
}

/// A named logger. Libraries take one in their initialisers; only the
/// executable decides where lines go.
public struct Logger: Sendable {
    public let label: String
    public let minimumLevel: LogLevel
    private let handler: any LogHandler

    public init(label: String, handler: any LogHandler, minimumLevel: LogLevel = .info) {
        self.label = label
        self.handler = handler
        self.minimumLevel = minimumLevel
    }

    /// A logger with the same handler and level under another label.
    public func named(_ label: String) -> Logger {
        Logger(label: label, handler: handler, minimumLevel: minimumLevel)
    }

    /// A logger that drops every line.
    public static let disabled = Logger(label: "", handler: DiscardingLogHandler(), minimumLevel: .error)

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= minimumLevel else { return }
        let oneLine = message().split(whereSeparator: \.isNewline).joined(separator: " ")
        handler.emit(level: level, label: label, message: oneLine)
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func notice(_ message: @autoclosure () -> String) { log(.notice, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}

public struct DiscardingLogHandler: LogHandler {
    public init() {}
    public func emit(level: LogLevel, label: String, message: String) {}
}

/// Keeps lines in memory, for tests that assert what was logged.
public final class InMemoryLogHandler: LogHandler {
    public struct Entry: Sendable, Equatable {
        public let level: LogLevel
        public let label: String
        public let message: String
    }

    private let storage = Mutex<[Entry]>([])

    public init() {}

    public func emit(level: LogLevel, label: String, message: String) {
        storage.withLock { $0.append(Entry(level: level, label: label, message: message)) }
    }

    public var entries: [Entry] { storage.withLock { $0 } }
}
