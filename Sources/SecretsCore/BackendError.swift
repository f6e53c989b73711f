/// Why a backend call failed, in terms a file system can map to an errno.
/// Backends never speak in errnos; `InfisicalFS` owns that translation.
public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The project, environment, folder or secret does not exist.
        case notFound
        /// The name is already taken.
        case alreadyExists
        /// The folder still holds secrets or folders.
        case notEmpty
        /// A name, path or value breaks the backend's rules.
        case invalidArgument
        /// The name is longer than the backend allows.
        case nameTooLong
        /// The value is larger than the backend accepts.
        case tooLarge
        /// The backend's storage is full; nothing was written.
        case noSpace
        /// Credentials are missing, wrong or expired.
        case unauthenticated
        /// The identity may not do this.
        case permissionDenied
        /// The backend does not offer this operation at all.
        case notSupported
        /// Too many requests; try later.
        case rateLimited
        /// The backend could not be reached or did not answer in time.
        case unavailable
        /// The call took longer than its deadline.
        case timedOut
        /// The backend answered something it should not have, or its store failed.
        case internalError
    }

    public let kind: Kind
    /// One line for the log: names and reasons only, never a value or token.
    public let reason: String
    /// The backend has already logged this failure (a login that is backing
    /// off fails every call the same way): callers log it at debug level
    /// only, so a failing login costs one log line, not one per request.
    public var alreadyLogged = false

    public init(_ kind: Kind, _ reason: String, alreadyLogged: Bool = false) {
        self.kind = kind
        self.reason = reason
        self.alreadyLogged = alreadyLogged
    }

    public var description: String { reason }

    public static func notFound(_ reason: String) -> BackendError { BackendError(.notFound, reason) }
    public static func alreadyExists(_ reason: String) -> BackendError { BackendError(.alreadyExists, reason) }
    public static func invalid(_ reason: String) -> BackendError { BackendError(.invalidArgument, reason) }
}
