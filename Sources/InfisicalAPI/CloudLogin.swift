import Foundation
import HTTPClient
import SecretCrypto
import SecretsCore

/// The login call of each auth method, built fresh for every login (the
/// first one, and each one after a renewal is refused): the Kubernetes token
/// file is read again, metadata servers are asked again, signatures are made
/// again. Failures are one-line `BackendError`s naming the step and the URL
/// or file, never a token, key or signature.
struct CloudLogin {
    let transport: any HTTPTransport
    /// Seconds for a metadata server call: they are on the local link, and
    /// an absent one must fail fast.
    var metadataTimeout: Double = 3
    /// Seconds for Google's OAuth and IAM Credentials calls.
    var cloudTimeout: Double = 5
    /// The clock, for signatures and JWT times (tests fix it).
    var now: @Sendable () -> Date = { Date() }

    func endpoint(for credentials: Credentials) throws(BackendError) -> Endpoint {
        switch credentials {
        case .accessToken:
            throw BackendError(.unauthenticated, "the access token was refused and cannot be renewed")
        case .universalAuth(let clientID, let clientSecret):
            return Self.login("universal-auth", ["clientId": clientID, "clientSecret": clientSecret])
        case .awsIAM(let settings):
            return try awsIAM(settings)
        case .gcpIAM(let identityID, let keyFilePath, let iamCredentialsURL):
            return Self.login(
                "gcp-auth",
                ["identityId": identityID, "jwt": try gcpIAMToken(identityID, keyFilePath, iamCredentialsURL)])
        case .gcpIDToken(let identityID, let metadataHost):
            return Self.login("gcp-auth", ["identityId": identityID, "jwt": try gcpIDToken(identityID, metadataHost)])
        case .kubernetes(let identityID, let tokenPath):
            return Self.login(
                "kubernetes-auth", ["identityId": identityID, "jwt": try Self.kubernetesToken(tokenPath)])
        case .azure(let identityID, let tokenURL):
            return Self.login("azure-auth", ["identityId": identityID, "jwt": try azureToken(tokenURL)])
        case .oidcAuth(let identityID, let jwt):
            return Self.login("oidc-auth", ["identityId": identityID, "jwt": try Self.token(jwt, for: "OIDC auth")])
        case .jwtAuth(let identityID, let jwt):
            return Self.login("jwt-auth", ["identityId": identityID, "jwt": try Self.token(jwt, for: "JWT auth")])
        }
    }

    private static func login(_ method: String, _ fields: [String: String]) -> Endpoint {
        let path = "/api/v1/auth/\(method)/login"
        return Endpoint(
            method: "POST", route: path, path: path, body: JSONBody(fields.mapValues { $0 }), authenticated: false)
    }

    // MARK: AWS IAM (reference §3.3)

    static let stsBody = "Action=GetCallerIdentity&Version=2011-06-15"

    private func awsIAM(_ settings: AWSIAMSettings) throws(BackendError) -> Endpoint {
        let imds = settings.metadataEndpoint
        var imdsToken: String?
        if settings.accessKeyID == nil || settings.region == nil {
            // IMDSv2: a PUT for the session token (the Rust SDK sends a GET, which IMDSv2 refuses).
            imdsToken = try text(
                "AWS IAM: instance metadata token", method: "PUT", url: imds + "/latest/api/token",
                headers: [("X-aws-ec2-metadata-token-ttl-seconds", "300")], timeout: metadataTimeout,
                hint: "not on EC2? set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        let metadataHeaders = imdsToken.map { [("X-aws-ec2-metadata-token", $0)] } ?? []
        let accessKeyID: String
        let secretAccessKey: String
        let sessionToken: String?
        if let id = settings.accessKeyID, let secret = settings.secretAccessKey {
            (accessKeyID, secretAccessKey, sessionToken) = (id, secret, settings.sessionToken)
        } else {
            let listURL = imds + "/latest/meta-data/iam/security-credentials/"
            let roles = try text(
                "AWS IAM: instance role", method: "GET", url: listURL, headers: metadataHeaders,
                timeout: metadataTimeout, hint: "does the instance have an IAM role?")
            guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
                throw BackendError(.unauthenticated, "AWS IAM: the instance has no IAM role (\(listURL))")
            }
            let credentialsURL = listURL + PercentEncoding.pathSegment(role)
            let json = try object(
                "AWS IAM: role credentials", method: "GET", url: credentialsURL, headers: metadataHeaders,
                timeout: metadataTimeout)
            guard let id = json["AccessKeyId"] as? String, let secret = json["SecretAccessKey"] as? String,
                !id.isEmpty, !secret.isEmpty
            else {
                throw BackendError(.unauthenticated, "AWS IAM: \(credentialsURL) holds no AccessKeyId/SecretAccessKey")
            }
            (accessKeyID, secretAccessKey, sessionToken) = (id, secret, json["Token"] as? String)
        }
        let region: String
        if let configured = settings.region {
            region = configured
        } else {
            let documentURL = imds + "/latest/dynamic/instance-identity/document"
            let document = try object(
                "AWS IAM: instance identity document", method: "GET", url: documentURL, headers: metadataHeaders,
                timeout: metadataTimeout)
            guard let found = document["region"] as? String else {
                throw BackendError(.unauthenticated, "AWS IAM: \(documentURL) names no region; set AWS_REGION")
            }
            region = found
        }
        // The server puts the region into a host name (reference §3.3).
        guard region.count <= 20, !region.isEmpty,
            region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
        else { throw BackendError(.invalidArgument, "AWS IAM: \"\(region)\" is not an AWS region") }

        let host = "sts.\(region).amazonaws.com"
        let amzDate = Self.amzDate(now())
        var headers: [(String, String)] = [
            ("Host", host), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Date", amzDate),
        ]
        // Signed exactly when sent: the Rust SDK signs it always and sends it only with a session token.
        if let sessionToken, !sessionToken.isEmpty { headers.append(("X-Amz-Security-Token", sessionToken)) }
        let signer = AWSSignatureV4(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, region: region, service: "sts")
        let signature = signer.sign(
            method: "POST", path: "/", headers: headers, body: Array(Self.stsBody.utf8), amzDate: amzDate)
        headers.append(("Authorization", signature.authorization))
        let headerObject = Dictionary(headers, uniquingKeysWith: { _, last in last })
        let headerJSON =
            (try? JSONSerialization.data(withJSONObject: headerObject, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return Self.login(
            "aws-auth",
            [
                "identityId": settings.identityID, "iamHttpRequestMethod": "POST",
                "iamRequestBody": Data(Self.stsBody.utf8).base64EncodedString(),
                "iamRequestHeaders": headerJSON.base64EncodedString(),
            ])
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : "\(n)" }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }

    // MARK: GCP (reference §3.4, §3.5)

    private func gcpIDToken(_ identityID: String, _ metadataHost: String) throws(BackendError) -> String {
        let base = metadataHost.contains("://") ? metadataHost : "http://" + metadataHost
        let url =
            base.trimmingSuffix("/") + "/computeMetadata/v1/instance/service-accounts/default/identity?"
            + PercentEncoding.query([("audience", identityID), ("format", "full")])
        let token = try text(
            "GCP ID token: metadata server", method: "GET", url: url, headers: [("Metadata-Flavor", "Google")],
            timeout: metadataTimeout, hint: "not on GCP? set GCE_METADATA_HOST, or use a key file")
        guard !token.isEmpty else { throw BackendError(.unauthenticated, "GCP ID token: the metadata server sent no token") }
        return token
    }

    /// A service-account key file's fields (Google's JSON key format).
    private struct ServiceAccountKey: Decodable {
        let client_email: String
        let private_key: String
        let private_key_id: String?
        let token_uri: String?
    }

    private func gcpIAMToken(_ identityID: String, _ keyFilePath: String, _ iamCredentialsURL: String)
        throws(BackendError) -> String
    {
        let key = try Self.readServiceAccountKey(keyFilePath)
        let tokenURI = key.token_uri ?? "https://oauth2.googleapis.com/token"
        // 1. An RS256 assertion, signed with the key file's private key, for an OAuth access token.
        let issuedAt = Int(now().timeIntervalSince1970)
        var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
        if let kid = key.private_key_id { header["kid"] = kid }
        let claims: [String: any Sendable] = [
            "iss": key.client_email, "scope": "https://www.googleapis.com/auth/cloud-platform", "aud": tokenURI,
            "iat": issuedAt, "exp": issuedAt + 3600,
        ]
        let signingInput = Self.base64URL(Self.json(header)) + "." + Self.base64URL(Self.json(claims))
        let signature: [UInt8]
        do {
            signature = try RSASHA256.sign(Array(signingInput.utf8), privateKeyPEM: key.private_key)
        } catch {
            throw BackendError(.unauthenticated, "GCP IAM: key file \(keyFilePath): its private_key cannot sign (\(error))")
        }
        let assertion = signingInput + "." + Self.base64URL(Data(signature))
        let form = PercentEncoding.query([
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
        ])
        let oauth = try object(
            "GCP IAM: OAuth token", method: "POST", url: tokenURI,
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8),
            timeout: cloudTimeout)
        guard let accessToken = oauth["access_token"] as? String, !accessToken.isEmpty else {
            throw BackendError(.unauthenticated, "GCP IAM: \(tokenURI) sent no access_token")
        }
        // 2. The IAM Credentials API signs {sub, aud = identity ID} as the service account.
        let signURL =
            iamCredentialsURL + "/v1/projects/-/serviceAccounts/" + PercentEncoding.pathSegment(key.client_email)
            + ":signJwt"
        let payload: [String: any Sendable] = [
            "sub": key.client_email, "aud": identityID, "iat": issuedAt, "exp": issuedAt + 900,
        ]
        let request = Self.json(["payload": String(decoding: Self.json(payload), as: UTF8.self)])
        let signed = try object(
            "GCP IAM: signJwt", method: "POST", url: signURL,
            headers: [("Authorization", "Bearer \(accessToken)"), ("Content-Type", "application/json")],
            body: Array(request), timeout: cloudTimeout)
        guard let jwt = signed["signedJwt"] as? String, !jwt.isEmpty else {
            throw BackendError(.unauthenticated, "GCP IAM: \(signURL) sent no signedJwt")
        }
        return jwt
    }

    /// The key file, refused unless only its owner may read it.
    private static func readServiceAccountKey(_ path: String) throws(BackendError) -> ServiceAccountKey {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw BackendError(.unauthenticated, "GCP IAM: key file \(path) does not exist or cannot be read")
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
        guard mode & 0o077 == 0 else {
            throw BackendError(
                .permissionDenied,
                "GCP IAM: key file \(path) is mode \(String(mode, radix: 8)); it must be 0600 (chmod 600 \(path))")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackendError(.unauthenticated, "GCP IAM: key file \(path) cannot be read")
        }
        do {
            return try JSONDecoder().decode(ServiceAccountKey.self, from: data)
        } catch {
            throw BackendError(
                .invalidArgument,
                "GCP IAM: key file \(path) is not a service account key (JSON with client_email and private_key)")
        }
    }

    // MARK: Kubernetes (reference §3.7) and Azure (§3.6)

    static func kubernetesToken(_ path: String) throws(BackendError) -> String {
        try tokenFile(path, what: "Kubernetes: service account token file", variable: "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH")
    }

    /// An OIDC or JWT auth token: its file is read at each login.
    static func token(_ source: JWTSource, for method: String) throws(BackendError) -> String {
        switch source {
        case .value(let token): token
        case .file(let path): try tokenFile(path, what: "\(method): JWT file", variable: "INFISICAL_JWT_PATH")
        }
    }

    /// A token kept in a file, trimmed; a one-line failure naming the file.
    private static func tokenFile(_ path: String, what: String, variable: String) throws(BackendError) -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BackendError(.unauthenticated, "\(what) \(path) does not exist (set \(variable))")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackendError(.unauthenticated, "\(what) \(path) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw BackendError(.unauthenticated, "\(what) \(path) is empty")
        }
        return token
    }

    private func azureToken(_ url: String) throws(BackendError) -> String {
        let json = try object(
            "Azure: instance metadata token", method: "GET", url: url, headers: [("Metadata", "true")],
            timeout: metadataTimeout, hint: "not on Azure, or no managed identity?")
        guard let token = json["access_token"] as? String, !token.isEmpty else {
            throw BackendError(.unauthenticated, "Azure: \(Self.withoutQuery(url)) sent no access_token")
        }
        return token
    }

    // MARK: HTTP and encoding

    private func send(
        _ what: String, method: String, url: String, headers: [(String, String)], body: [UInt8]?, timeout: Double,
        hint: String?
    ) throws(BackendError) -> HTTPResponse {
        let shown = Self.withoutQuery(url)
        let response: HTTPResponse
        do {
            response = try transport.send(
                HTTPRequest(
                    method: method, url: url, headers: headers.map { (name: $0.0, value: $0.1) }, body: body,
                    timeout: timeout))
        } catch {
            let kind: BackendError.Kind = error.kind == .timedOut ? .timedOut : .unavailable
            throw BackendError(kind, "\(what) at \(shown): \(error)\(hint.map { " (\($0))" } ?? "")")
        }
        guard (200..<300).contains(response.status) else {
            throw BackendError(.unauthenticated, "\(what) at \(shown) → \(response.status)\(Self.errorDetail(response))")
        }
        return response
    }

    private func text(
        _ what: String, method: String, url: String, headers: [(String, String)], body: [UInt8]? = nil,
        timeout: Double, hint: String? = nil
    ) throws(BackendError) -> String {
        let response = try send(what, method: method, url: url, headers: headers, body: body, timeout: timeout, hint: hint)
        return String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func object(
        _ what: String, method: String, url: String, headers: [(String, String)], body: [UInt8]? = nil,
        timeout: Double, hint: String? = nil
    ) throws(BackendError) -> [String: Any] {
        let response = try send(what, method: method, url: url, headers: headers, body: body, timeout: timeout, hint: hint)
        guard let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            throw BackendError(.unauthenticated, "\(what) at \(Self.withoutQuery(url)): the answer is not a JSON object")
        }
        return json
    }

    /// A cloud error's own words (OAuth `error_description`, Google's
    /// `error.message`), one line and short; never the body as a whole.
    private static func errorDetail(_ response: HTTPResponse) -> String {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            return ""
        }
        let message =
            json["error_description"] as? String ?? (json["error"] as? [String: Any])?["message"] as? String
            ?? json["message"] as? String ?? json["error"] as? String
        guard let message else { return "" }
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return ": " + String(line.prefix(200))
    }

    static func withoutQuery(_ url: String) -> String {
        String(url.split(separator: "?", maxSplits: 1).first ?? Substring(url))
    }

    private static func json(_ object: [String: any Sendable]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
