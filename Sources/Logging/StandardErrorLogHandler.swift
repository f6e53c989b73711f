#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Writes `infisicalfs[pid]: <level>: <label>: <message>` lines to standard
/// error, a form journald and terminals both read. One write(2) per line keeps
/// lines from interleaving between threads.
public struct StandardErrorLogHandler: LogHandler {
    private let prefix: String

    public init(program: String = "infisicalfs") {
        prefix = "\(program)[\(getpid())]"
    }

    public func emit(level: LogLevel, label: String, message: String) {
        let line = "\(prefix): \(level.name): \(label): \(message)\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }  // nowhere left to report a failing stderr
                offset += written
            }
        }
    }
}

/// Sends lines to the system log (the daemon has no terminal once detached).
public struct SyslogLogHandler: LogHandler {
    public init(program: String = "infisicalfs") {
        let identity = SyslogIdentity.shared.retain(program)
        openlog(identity, LOG_PID | LOG_NDELAY, LOG_DAEMON)
    }

    public func emit(level: LogLevel, label: String, message: String) {
        let priority: Int32 =
            switch level {
            case .debug: LOG_DEBUG
            case .info: LOG_INFO
            case .notice: LOG_NOTICE
            case .warning: LOG_WARNING
            case .error: LOG_ERR
            }
        "\(label): \(message)".withCString { line in
            withVaList([line]) { vsyslog(priority, "%s", $0) }
        }
    }
}

/// openlog keeps the identity pointer, so it must outlive every syslog call.
private final class SyslogIdentity: Sendable {
    static let shared = SyslogIdentity()
    private let pointer = Mutex<UnsafeMutablePointer<CChar>?>(nil)

    func retain(_ name: String) -> UnsafePointer<CChar>? {
        pointer.withLock { current in
            if current == nil { current = strdup(name) }
            return UnsafePointer(current)
        }
    }
}
