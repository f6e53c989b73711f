import HTTPClient
import SecretsCore

/// Infisical's error body: `{"reqId", "statusCode", "message", "error"}`;
/// `message` is an array of issues on 422.
struct ErrorBody: Decodable {
    let reqId: String?
    let message: String?
    let error: String?

    private enum CodingKeys: String, CodingKey { case reqId, message, error, details }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        reqId = try? container.decode(String.self, forKey: .reqId)
        error = try? container.decode(String.self, forKey: .error)
        var text: String?
        if let plain = try? container.decode(String.self, forKey: .message) {
            text = plain
        } else if let issues = try? container.decode([Issue].self, forKey: .message) {
            text = issues.compactMap(\.message).joined(separator: "; ")
        }
        // Sentences that say which (a refused expansion names each reference
        // the identity may not read); a 403's permission rules are objects, left out.
        if let details = try? container.decode([String].self, forKey: .details), !details.isEmpty {
            text = [text, details.prefix(3).joined(separator: " ")].compactMap { $0 }.joined(separator: ": ")
        }
        message = text
    }

    private struct Issue: Decodable { let message: String? }
}

/// How an Infisical answer becomes a `BackendError` (docs/SEMANTICS.md has the table).
enum StatusMapping {
    static func error(status: Int, body: ErrorBody?, route: String) -> BackendError {
        let message = body?.message ?? "HTTP \(status)"
        let reason = "\(route) → \(status)\(body?.error.map { " \($0)" } ?? ""): \(message)\(body?.reqId.map { " (\($0))" } ?? "")"
        let lowered = message.lowercased()
        let kind: BackendError.Kind
        switch status {
        case 400:
            // "Secret already exist" (the server's create), "… already exists"
            // (folders, renames), "… already exist in the destination" (moves).
            if lowered.contains("already exist") {
                kind = .alreadyExists
            } else if lowered.contains("contains resources") {
                kind = .notEmpty
            } else {
                kind = .invalidArgument
            }
        case 401: kind = .unauthenticated
        case 403: kind = body?.error == "TokenError" ? .unauthenticated : .permissionDenied
        case 404: kind = .notFound
        case 413: kind = .tooLarge
        case 422: kind = .invalidArgument
        case 429: kind = .rateLimited
        case 500...: kind = .unavailable
        default: kind = .internalError
        }
        return BackendError(kind, reason)
    }

    static func error(_ error: HTTPError, route: String) -> BackendError {
        switch error.kind {
        case .timedOut: BackendError(.timedOut, "\(route): no answer in time: \(error.message)")
        case .cannotConnect: BackendError(.unavailable, "\(route): cannot connect: \(error.message)")
        case .tls: BackendError(.unavailable, "\(route): TLS: \(error.message)")
        case .tooLarge: BackendError(.internalError, "\(route): answer too large")
        case .other: BackendError(.unavailable, "\(route): \(error.message)")
        }
    }

    /// A server without the route asked for (Fastify's 404 "Route POST:/… not found").
    static func isMissingRoute(_ error: BackendError) -> Bool {
        error.kind == .notFound && error.reason.contains(": Route ")
    }

    /// Infisical's answer to a login while the client ID is locked out
    /// after repeated failures (401, every attempt, the right secret too).
    static func isLockedOut(_ error: BackendError) -> Bool {
        error.kind == .unauthenticated && error.reason.lowercased().contains("temporarily locked")
    }

    /// A 403 TokenError or a 401 means the token is no good any more.
    static func isTokenRejected(status: Int, body: ErrorBody?) -> Bool {
        status == 401 || (status == 403 && body?.error == "TokenError")
    }
}
