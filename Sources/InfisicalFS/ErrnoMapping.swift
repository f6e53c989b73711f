import FuseKit
import SecretsCore

/// The one place backend errors become errnos (see docs/SEMANTICS.md).
extension Errno {
    init(_ error: BackendError) {
        self =
            switch error.kind {
            case .notFound: .noSuchFileOrDirectory
            case .alreadyExists: .fileExists
            case .notEmpty: .directoryNotEmpty
            case .invalidArgument: .invalidArgument
            case .nameTooLong: .nameTooLong
            case .tooLarge: .fileTooLarge
            case .noSpace: .noSpace
            case .unauthenticated, .permissionDenied: .permissionDenied
            case .notSupported: .notPermitted
            case .rateLimited: .tryAgain
            case .unavailable, .timedOut, .internalError: .ioError
            }
    }

    init(_ verdict: NamingRules.Verdict) {
        switch verdict {
        case .valid: self = .invalidArgument  // callers only convert failures
        case .invalid: self = .invalidArgument
        case .tooLong: self = .nameTooLong
        }
    }

    init(_ error: SecretValue.ContentError) {
        self =
            switch error {
            case .notUTF8: .illegalByteSequence
            case .tooLarge: .fileTooLarge
            }
    }
}
