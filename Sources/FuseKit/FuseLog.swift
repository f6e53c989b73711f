import CFuse
import Glibc
import Logging
import Synchronization

/// Routes libfuse's own messages (e.g. "fuse: mountpoint is not empty")
/// into the product's logger. libfuse takes one process-wide log function,
/// so the logger it writes to is process-wide too.
enum FuseLog {
    private static let target = Mutex<Logger?>(nil)

    static func route(to logger: Logger) {
        target.withLock { $0 = logger.named("libfuse") }
        fuse_set_log_func { level, format, arguments in
            guard let format, let arguments else { return }
            var buffer = [CChar](repeating: 0, count: 1024)
            _ = vsnprintf(&buffer, buffer.count, format, arguments)
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let logLevel: LogLevel =
                switch level {
                case FUSE_LOG_EMERG, FUSE_LOG_ALERT, FUSE_LOG_CRIT, FUSE_LOG_ERR: .error
                case FUSE_LOG_WARNING: .warning
                case FUSE_LOG_NOTICE: .notice
                case FUSE_LOG_INFO: .info
                default: .debug
                }
            FuseLog.target.withLock { $0 }?.log(logLevel, message)
        }
    }
}
