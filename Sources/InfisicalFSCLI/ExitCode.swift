/// The process's exit codes: stable, documented in docs/CLI.md.
public struct ExitCode: Error, Sendable, Equatable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let success = ExitCode(0)
    /// Anything not listed below, e.g. the daemon died before the mount was ready.
    public static let failure = ExitCode(1)
    /// A flag or option is unknown or has a bad value.
    public static let usage = ExitCode(2)
    /// The mountpoint does not exist.
    public static let mountpointMissing = ExitCode(3)
    /// The mountpoint is not a directory.
    public static let mountpointNotDirectory = ExitCode(4)
    /// Already mounted (or a dead mount is still there); for `unmount`: not mounted.
    public static let mountState = ExitCode(5)
    /// The backend cannot be opened or is not configured (local store, key, credentials file).
    public static let backendUnavailable = ExitCode(6)
    /// The kernel or libfuse refused the mount.
    public static let mountFailed = ExitCode(7)
    /// Infisical could not be reached or refused the credentials.
    public static let authenticationFailed = ExitCode(8)
    /// The key given does not open the existing local store (another key, or its key file is missing).
    public static let storeKeyMismatch = ExitCode(9)
}

/// A failure the command line reports as one line and an exit code.
public struct CommandFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ExitCode
    public let message: String
    /// Infisical refused the login (not a configuration error, not an
    /// unreachable server): a restart loop must not log in again at once.
    public var loginRefused = false

    public init(_ code: ExitCode, _ message: String, loginRefused: Bool = false) {
        self.code = code
        self.message = message
        self.loginRefused = loginRefused
    }

    public var description: String { message }

    static func usage(_ message: String) -> CommandFailure { CommandFailure(.usage, message) }
}
