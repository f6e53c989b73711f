import Foundation
import SecretCrypto
public import SecretsCore

/// How the mount proves who it is to Infisical.
public enum Credentials: Sendable, Equatable, CustomStringConvertible {
    /// A token issued elsewhere (`INFISICAL_ACCESS_TOKEN`): used as it is, never renewed.
    case accessToken(String)
    /// A machine identity's universal auth client ID and secret.
    case universalAuth(clientID: String, clientSecret: String)
    /// AWS IAM: a SigV4-signed STS GetCallerIdentity request.
    case awsIAM(AWSIAMSettings)
    /// GCP IAM: a JWT signed by the IAM Credentials API for the service
    /// account of a key file.
    case gcpIAM(identityID: String, keyFilePath: String, iamCredentialsURL: String)
    /// GCP ID token: the GCE metadata server's identity token.
    case gcpIDToken(identityID: String, metadataHost: String)
    /// Kubernetes: the service account token file, read at each login.
    case kubernetes(identityID: String, tokenPath: String)
    /// Azure: the managed identity token from the instance metadata service.
    case azure(identityID: String, tokenURL: String)
    /// OIDC auth: a JWT from an identity provider (a CI runner's OIDC token,
    /// a projected service account token), checked by Infisical against the
    /// provider's keys.
    case oidcAuth(identityID: String, jwt: JWTSource)
    /// JWT auth: a JWT checked by Infisical against configured keys or a JWKS.
    case jwtAuth(identityID: String, jwt: JWTSource)

    public static let defaultKubernetesTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    public static let defaultGCEMetadataHost = "metadata.google.internal"
    public static let defaultIAMCredentialsURL = "https://iamcredentials.googleapis.com"
    public static let defaultAzureTokenURL =
        "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"

    /// The method's name for log lines; never a secret.
    public var methodName: String {
        switch self {
        case .accessToken: "access token"
        case .universalAuth: "universal auth"
        case .awsIAM: "AWS IAM"
        case .gcpIAM: "GCP IAM"
        case .gcpIDToken: "GCP ID token"
        case .kubernetes: "Kubernetes"
        case .azure: "Azure"
        case .oidcAuth: "OIDC auth"
        case .jwtAuth: "JWT auth"
        }
    }

    /// Who these credentials are, never a secret: the method and the client
    /// or identity ID; for an access token, a digest of it. It files the
    /// offline cache's copies by identity.
    public var identityName: String {
        switch self {
        case .accessToken(let token): "access token \(Hex.encode(SHA256.hash(token)).prefix(16))"
        case .universalAuth(let clientID, _): "universal auth \(clientID)"
        case .awsIAM(let settings): "AWS IAM \(settings.identityID)"
        case .gcpIAM(let identityID, _, _): "GCP IAM \(identityID)"
        case .gcpIDToken(let identityID, _): "GCP ID token \(identityID)"
        case .kubernetes(let identityID, _): "Kubernetes \(identityID)"
        case .azure(let identityID, _): "Azure \(identityID)"
        case .oidcAuth(let identityID, _): "OIDC auth \(identityID)"
        case .jwtAuth(let identityID, _): "JWT auth \(identityID)"
        }
    }

    /// The method's name only: interpolating credentials never shows a secret.
    public var description: String { "Credentials(\(methodName))" }

    /// Credentials from the SDKs' variables, looked up in `values` in the
    /// Rust SDK's order: an access token, universal auth, AWS IAM, GCP IAM
    /// (a key file), GCP ID token, Kubernetes, Azure. Nil when none is set;
    /// an error when a method is half configured.
    public static func from(_ values: [String: String]) throws(BackendError) -> Credentials? {
        func value(_ name: String) -> String? {
            guard let value = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                return nil
            }
            return value
        }
        if let token = value("INFISICAL_ACCESS_TOKEN") { return .accessToken(token) }
        // The Infisical CLI's way of naming a method, for the two that have no variable of their own.
        if let method = value("INFISICAL_AUTH_METHOD") {
            switch method {
            case "oidc-auth", "jwt-auth":
                return try federated(method, values, value)
            case "universal-auth", "kubernetes", "azure", "gcp-id-token", "gcp-iam", "aws-iam":
                break  // chosen by its own variables, below
            default:
                throw BackendError(
                    .invalidArgument,
                    "INFISICAL_AUTH_METHOD=\(method) is not a method infisicalfs supports "
                        + "(oidc-auth, jwt-auth, or the variables of another method)")
            }
        }
        let clientID = value("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID")
        let clientSecret = value("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET")
        switch (clientID, clientSecret) {
        case (let id?, let secret?): return .universalAuth(clientID: id, clientSecret: secret)
        case (nil, nil): break
        case (_?, nil):
            throw BackendError(.unauthenticated, "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET is missing")
        case (nil, _?):
            throw BackendError(.unauthenticated, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID is missing")
        }
        if let identityID = value("INFISICAL_AWS_IAM_AUTH_IDENTITY_ID") {
            let accessKeyID = value("AWS_ACCESS_KEY_ID")
            let secretAccessKey = value("AWS_SECRET_ACCESS_KEY")
            if accessKeyID != nil, secretAccessKey == nil {
                throw BackendError(.unauthenticated, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is missing")
            }
            if accessKeyID == nil, secretAccessKey != nil {
                throw BackendError(.unauthenticated, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is missing")
            }
            var endpoint = value("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? AWSIAMSettings.defaultMetadataEndpoint
            while endpoint.hasSuffix("/") { endpoint.removeLast() }
            return .awsIAM(
                AWSIAMSettings(
                    identityID: identityID, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey,
                    sessionToken: accessKeyID == nil ? nil : value("AWS_SESSION_TOKEN"),
                    region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION"), metadataEndpoint: endpoint))
        }
        // The SDK docs name INFISICAL_GCP_IAM_AUTH_IDENTITY_ID, the SDK reads
        // INFISICAL_GCP_AUTH_IDENTITY_ID: both work with a key file.
        let gcpIAMIdentity = value("INFISICAL_GCP_IAM_AUTH_IDENTITY_ID")
        let gcpIdentity = value("INFISICAL_GCP_AUTH_IDENTITY_ID")
        if let keyFile = value("INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH") {
            guard let identityID = gcpIAMIdentity ?? gcpIdentity else {
                throw BackendError(
                    .unauthenticated,
                    "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH is set but INFISICAL_GCP_IAM_AUTH_IDENTITY_ID is missing")
            }
            var base = value("INFISICALFS_GCP_IAM_CREDENTIALS_URL") ?? defaultIAMCredentialsURL
            while base.hasSuffix("/") { base.removeLast() }
            return .gcpIAM(identityID: identityID, keyFilePath: keyFile, iamCredentialsURL: base)
        }
        if gcpIAMIdentity != nil {
            throw BackendError(
                .unauthenticated,
                "INFISICAL_GCP_IAM_AUTH_IDENTITY_ID is set but INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH is missing")
        }
        if let identityID = gcpIdentity {
            return .gcpIDToken(
                identityID: identityID, metadataHost: value("GCE_METADATA_HOST") ?? defaultGCEMetadataHost)
        }
        if let identityID = value("INFISICAL_KUBERNETES_IDENTITY_ID") {
            let path =
                value("INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH")
                ?? value("INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH_ENV_NAME") ?? defaultKubernetesTokenPath
            return .kubernetes(identityID: identityID, tokenPath: path)
        }
        if let identityID = value("INFISICAL_AZURE_AUTH_IDENTITY_ID") {
            return .azure(
                identityID: identityID,
                tokenURL: value("INFISICALFS_AZURE_IMDS_URL").map(azureTokenURL) ?? defaultAzureTokenURL)
        }
        if value("INFISICAL_OIDC_AUTH_IDENTITY_ID") != nil { return try federated("oidc-auth", values, value) }
        if value("INFISICAL_JWT_AUTH_IDENTITY_ID") != nil { return try federated("jwt-auth", values, value) }
        return nil
    }

    /// OIDC or JWT auth: the identity (`INFISICAL_OIDC_AUTH_IDENTITY_ID` /
    /// `INFISICAL_JWT_AUTH_IDENTITY_ID`, else the CLI's
    /// `INFISICAL_MACHINE_IDENTITY_ID`) and the JWT: a file read at every
    /// login (`INFISICAL_JWT_PATH`), or a value (the CLI's `INFISICAL_JWT`,
    /// or its older `INFISICAL_OIDC_AUTH_JWT`).
    private static func federated(
        _ method: String, _ values: [String: String], _ value: (String) -> String?
    ) throws(BackendError) -> Credentials {
        let oidc = method == "oidc-auth"
        let identityVariable = oidc ? "INFISICAL_OIDC_AUTH_IDENTITY_ID" : "INFISICAL_JWT_AUTH_IDENTITY_ID"
        guard let identityID = value(identityVariable) ?? value("INFISICAL_MACHINE_IDENTITY_ID") else {
            throw BackendError(.unauthenticated, "\(method): set \(identityVariable) (or INFISICAL_MACHINE_IDENTITY_ID)")
        }
        let path = value("INFISICAL_JWT_PATH")
        let given = value("INFISICAL_JWT") ?? value("INFISICAL_OIDC_AUTH_JWT")
        let jwt: JWTSource
        switch (path, given) {
        case (let path?, nil): jwt = .file(path)
        case (nil, let given?): jwt = .value(given)
        case (_?, _?):
            throw BackendError(.invalidArgument, "\(method): set either INFISICAL_JWT_PATH or INFISICAL_JWT, not both")
        case (nil, nil):
            throw BackendError(
                .unauthenticated,
                "\(method): set INFISICAL_JWT_PATH (a file holding the JWT, read at every login) or INFISICAL_JWT")
        }
        return oidc ? .oidcAuth(identityID: identityID, jwt: jwt) : .jwtAuth(identityID: identityID, jwt: jwt)
    }
}

/// Where an OIDC or JWT auth login finds its token.
public enum JWTSource: Sendable, Equatable, CustomStringConvertible {
    /// A file read again at every login: CI runners and Kubernetes projected
    /// tokens replace it before it expires.
    case file(String)
    /// A token given once, in the environment.
    case value(String)

    /// The file's path, never a token.
    public var description: String {
        switch self {
        case .file(let path): "JWT file \(path)"
        case .value: "JWT from the environment"
        }
    }
}

extension Credentials {
    /// The Azure token URL for a given base: the `api-version` and
    /// `resource` parameters of the default URL are added where it lacks them,
    /// so `INFISICALFS_AZURE_IMDS_URL` may name just the endpoint.
    public static func azureTokenURL(_ given: String) -> String {
        let parts = given.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let keys = Set(
            (parts.count > 1 ? parts[1] : "").split(separator: "&").map {
                String($0.split(separator: "=", maxSplits: 1).first ?? "")
            })
        var added: [String] = []
        if !keys.contains("api-version") { added.append("api-version=2018-02-01") }
        if !keys.contains("resource") { added.append("resource=https%3A%2F%2Fmanagement.azure.com%2F") }
        guard !added.isEmpty else { return given }
        let separator = parts.count == 1 ? "?" : (given.hasSuffix("?") || given.hasSuffix("&") ? "" : "&")
        return given + separator + added.joined(separator: "&")
    }
}

/// AWS IAM settings: the identity, static keys when the environment has
/// them (else the instance's role through IMDSv2, at each login), the region
/// (else the instance identity document's).
public struct AWSIAMSettings: Sendable, Equatable, CustomStringConvertible {
    public static let defaultMetadataEndpoint = "http://169.254.169.254"

    public var identityID: String
    public var accessKeyID: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    public var region: String?
    /// IMDS base URL, no trailing `/` (`AWS_EC2_METADATA_SERVICE_ENDPOINT`).
    public var metadataEndpoint: String

    /// Redacted: the keys never reach a log line through interpolation.
    public var description: String {
        "AWSIAMSettings(identity \(identityID), \(accessKeyID == nil ? "instance role" : "static keys"), "
            + "region \(region ?? "from the instance"))"
    }

    public init(
        identityID: String, accessKeyID: String? = nil, secretAccessKey: String? = nil, sessionToken: String? = nil,
        region: String? = nil, metadataEndpoint: String = AWSIAMSettings.defaultMetadataEndpoint
    ) {
        self.identityID = identityID
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.metadataEndpoint = metadataEndpoint
    }
}

/// A `--credentials-file`: `KEY=VALUE` lines with the SDKs' variable names,
/// `#` comments and blank lines allowed. Refused unless only its owner can
/// read it (mode 0600 or stricter), since it holds secrets. A symbolic link
/// (as Kubernetes presents a Secret volume's files) is judged by the file
/// it leads to.
public enum CredentialsFile {
    public static func load(_ path: String) throws(BackendError) -> [String: String] {
        let attributes: [FileAttributeKey: Any]
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: target)
        } catch {
            throw BackendError(.unauthenticated, "credentials file \(path) cannot be read")
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
        guard mode & 0o077 == 0 else {
            throw BackendError(
                .permissionDenied,
                "credentials file \(path)\(target == path ? "" : " (\(target))") is mode \(String(mode, radix: 8)); "
                    + "it must be 0600 or stricter (chmod 600 \(target))")
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
