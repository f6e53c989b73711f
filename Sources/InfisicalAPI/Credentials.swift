import Foundation
public import SecretsCore

/// How the mount proves who it is to Infisical.
public enum Credentials: Sendable, Equatable {
    /// A token issued elsewhere (`INFISICAL_ACCESS_TOKEN`): used as it is, never renewed.
    case accessToken(String)
    /// A machine identity's universal auth client ID and secret.
    case universalAuth(clientID: String, clientSecret: String)

    /// The method's name for log lines; never a secret.
    public var methodName: String {
        switch self {
        case .accessToken: "access token"
        case .universalAuth: "universal auth"
        }
    }

    /// Credentials from the SDKs' variables, looked up in `values` in the
    /// Rust SDK's order: an access token first, then universal auth. Nil when
    /// none is set; an error when a method is half configured.
    public static func from(_ values: [String: String]) throws(BackendError) -> Credentials? {
        func value(_ name: String) -> String? {
            guard let value = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                return nil
            }
            return value
        }
        if let token = value("INFISICAL_ACCESS_TOKEN") { return .accessToken(token) }
        let clientID = value("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID")
        let clientSecret = value("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET")
        switch (clientID, clientSecret) {
        case (let id?, let secret?): return .universalAuth(clientID: id, clientSecret: secret)
        case (nil, nil): return nil
        case (_?, nil):
            throw BackendError(.unauthenticated, "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET is missing")
        case (nil, _?):
            throw BackendError(.unauthenticated, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID is missing")
        }
    }
}

/// A `--credentials-file`: `KEY=VALUE` lines with the SDKs' variable names,
/// `#` comments and blank lines allowed. Refused unless only its owner can
/// read it (mode 0600 or stricter), since it holds secrets.
public enum CredentialsFile {
    public static func load(_ path: String) throws(BackendError) -> [String: String] {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw BackendError(.unauthenticated, "credentials file \(path) cannot be read")
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
        guard mode & 0o077 == 0 else {
            throw BackendError(
                .permissionDenied,
                "credentials file \(path) is mode \(String(mode, radix: 8)); it must be 0600 (chmod 600 \(path))")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw BackendError(.unauthenticated, "credentials file \(path) cannot be read as UTF-8 text")
        }
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let body = line.hasPrefix("export ") ? String(line.dropFirst(7)) : line
            guard let equals = body.firstIndex(of: "=") else {
                throw BackendError(.invalidArgument, "credentials file \(path) line \(number + 1) is not KEY=VALUE")
            }
            let key = body[..<equals].trimmingCharacters(in: .whitespaces)
            var value = body[body.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }
}
