import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

private func backend(_ transport: StubTransport, _ credentials: Credentials) -> InfisicalBackend {
    InfisicalBackend(
        configuration: InfisicalConfiguration(siteURL: "http://infisical.test", credentials: credentials),
        transport: transport, logger: .disabled)
}

private let loginJSON = #"{"accessToken":"tok","expiresIn":3600,"accessTokenMaxTTL":3600,"tokenType":"Bearer"}"#
private let projectsJSON = #"{"projects":[]}"#

private func header(_ request: HTTPRequest, _ name: String) -> String? {
    request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
}

private func scratchFile(_ contents: String, mode: Int = 0o600) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cloud-\(UUID().uuidString)").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: mode])
    return path
}

@Suite("Cloud credentials from the SDKs' variables")
struct CloudCredentialsTests {
    @Test func eachMethodFromItsVariables() throws {
        #expect(
            try Credentials.from(["INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": "a", "AWS_REGION": "eu-west-1"])
                == .awsIAM(AWSIAMSettings(identityID: "a", region: "eu-west-1")))
        #expect(
            try Credentials.from([
                "INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": "a", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                "AWS_SESSION_TOKEN": "t", "AWS_DEFAULT_REGION": "us-west-2",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/",
            ])
                == .awsIAM(
                    AWSIAMSettings(
                        identityID: "a", accessKeyID: "k", secretAccessKey: "s", sessionToken: "t",
                        region: "us-west-2", metadataEndpoint: "http://127.0.0.1:9")))
        // Both GCP identity names go with a key file; the docs' name wins.
        for name in ["INFISICAL_GCP_IAM_AUTH_IDENTITY_ID", "INFISICAL_GCP_AUTH_IDENTITY_ID"] {
            #expect(
                try Credentials.from([name: "g", "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH": "/k.json"])
                    == .gcpIAM(
                        identityID: "g", keyFilePath: "/k.json", iamCredentialsURL: "https://iamcredentials.googleapis.com"))
        }
        #expect(
            try Credentials.from([
                "INFISICAL_GCP_AUTH_IDENTITY_ID": "g", "GCE_METADATA_HOST": "127.0.0.1:8",
            ]) == .gcpIDToken(identityID: "g", metadataHost: "127.0.0.1:8"))
        #expect(
            try Credentials.from(["INFISICAL_GCP_AUTH_IDENTITY_ID": "g"])
                == .gcpIDToken(identityID: "g", metadataHost: "metadata.google.internal"))
        // The Kubernetes token path defaults (the SDK's does not); both variable names are read.
        #expect(
            try Credentials.from(["INFISICAL_KUBERNETES_IDENTITY_ID": "k"])
                == .kubernetes(identityID: "k", tokenPath: "/var/run/secrets/kubernetes.io/serviceaccount/token"))
        #expect(
            try Credentials.from([
                "INFISICAL_KUBERNETES_IDENTITY_ID": "k",
                "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH_ENV_NAME": "/t",
            ]) == .kubernetes(identityID: "k", tokenPath: "/t"))
        #expect(
            try Credentials.from(["INFISICAL_AZURE_AUTH_IDENTITY_ID": "z", "INFISICALFS_AZURE_IMDS_URL": "http://x/t"])
                == .azure(
                    identityID: "z",
                    tokenURL: "http://x/t?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"))
    }

    @Test func anAzureTokenURLGetsTheParametersItLacks() {
        let resource = "resource=https%3A%2F%2Fmanagement.azure.com%2F"
        #expect(Credentials.azureTokenURL("http://x/t") == "http://x/t?api-version=2018-02-01&\(resource)")
        #expect(Credentials.azureTokenURL("http://x/t?") == "http://x/t?api-version=2018-02-01&\(resource)")
        #expect(Credentials.azureTokenURL("http://x/t?resource=r") == "http://x/t?resource=r&api-version=2018-02-01")
        #expect(Credentials.azureTokenURL("http://x/t?api-version=2021-02-01") == "http://x/t?api-version=2021-02-01&\(resource)")
        #expect(Credentials.azureTokenURL("http://x/t?api-version=1&resource=r") == "http://x/t?api-version=1&resource=r")
        #expect(Credentials.azureTokenURL(Credentials.defaultAzureTokenURL) == Credentials.defaultAzureTokenURL)
    }

    @Test func theOrderIsTheRustSDKs() throws {
        let all = [
            "INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": "a", "INFISICAL_GCP_AUTH_IDENTITY_ID": "g",
            "INFISICAL_KUBERNETES_IDENTITY_ID": "k", "INFISICAL_AZURE_AUTH_IDENTITY_ID": "z",
        ]
        #expect(try Credentials.from(all)?.methodName == "AWS IAM")
        var rest = all
        rest["INFISICAL_AWS_IAM_AUTH_IDENTITY_ID"] = nil
        #expect(try Credentials.from(rest)?.methodName == "GCP ID token")
        rest["INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH"] = "/k"
        #expect(try Credentials.from(rest)?.methodName == "GCP IAM")
        rest["INFISICAL_GCP_AUTH_IDENTITY_ID"] = nil
        rest["INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH"] = nil
        #expect(try Credentials.from(rest)?.methodName == "Kubernetes")
        #expect(try Credentials.from(["INFISICAL_AZURE_AUTH_IDENTITY_ID": "z"])?.methodName == "Azure")
        #expect(try Credentials.from(all.merging(["INFISICAL_ACCESS_TOKEN": "t"]) { a, _ in a })?.methodName == "access token")
    }

    @Test func halfConfiguredMethodsAreNamed() {
        #expect(throws: BackendError.self) {
            try Credentials.from(["INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH": "/k"])
        }
        #expect(throws: BackendError.self) { try Credentials.from(["INFISICAL_GCP_IAM_AUTH_IDENTITY_ID": "g"]) }
        #expect(throws: BackendError.self) {
            try Credentials.from(["INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": "a", "AWS_ACCESS_KEY_ID": "k"])
        }
    }
}

@Suite("Cloud logins: the calls and their shapes")
struct CloudLoginRequestTests {
    @Test func awsWithStaticKeysSignsOnlyWhatItSends() throws {
        for sessionToken in [nil, "session"] as [String?] {
            let stub = StubTransport { request throws(HTTPError) in
                request.path == "/api/v1/auth/aws-auth/login" ? response(200, loginJSON) : response(200, projectsJSON)
            }
            try backend(
                stub,
                .awsIAM(
                    AWSIAMSettings(
                        identityID: "id-1", accessKeyID: "AKIA1", secretAccessKey: "s3cr3t",
                        sessionToken: sessionToken, region: "eu-central-1"))
            ).authenticate()
            #expect(stub.requests.map(\.path) == ["/api/v1/auth/aws-auth/login", "/api/v1/projects"])
            let body = stub.requests[0].json
            #expect(body["identityId"] as? String == "id-1")
            #expect(body["iamHttpRequestMethod"] as? String == "POST")
            let stsText = try #require(body["iamRequestBody"] as? String)
            let stsBody = Data(base64Encoded: stsText)
            #expect(stsBody == Data("Action=GetCallerIdentity&Version=2011-06-15".utf8))
            let headersText = try #require(body["iamRequestHeaders"] as? String)
            let headersJSON = try #require(Data(base64Encoded: headersText))
            let headers = try #require(try JSONSerialization.jsonObject(with: headersJSON) as? [String: String])
            #expect(headers["Host"] == "sts.eu-central-1.amazonaws.com")
            #expect(headers["X-Amz-Date"]?.count == 16)
            let authorization = try #require(headers["Authorization"])
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIA1/"))
            #expect(authorization.contains("/eu-central-1/sts/aws4_request"))
            #expect(!authorization.contains("s3cr3t"))
            if sessionToken == nil {
                #expect(headers["X-Amz-Security-Token"] == nil)
                #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date,"))
            } else {
                #expect(headers["X-Amz-Security-Token"] == "session")
                #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"))
            }
        }
    }

    @Test func awsFromIMDSv2UsesAPutTokenAndTheIdentityDocument() throws {
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("PUT", "http://imds.test/latest/api/token"): return response(200, "imds-token")
            case ("GET", "http://imds.test/latest/meta-data/iam/security-credentials/"): return response(200, "role-a\n")
            case ("GET", "http://imds.test/latest/meta-data/iam/security-credentials/role-a"):
                return response(200, #"{"Code":"Success","AccessKeyId":"ASIA2","SecretAccessKey":"x","Token":"sess"}"#)
            case ("GET", "http://imds.test/latest/dynamic/instance-identity/document"):
                return response(200, #"{"region":"ap-south-1"}"#)
            case ("POST", "/api/v1/auth/aws-auth/login"): return response(200, loginJSON)
            default: return response(200, projectsJSON)
            }
        }
        try backend(stub, .awsIAM(AWSIAMSettings(identityID: "id", metadataEndpoint: "http://imds.test"))).authenticate()
        let requests = stub.requests
        #expect(requests.count == 6)
        #expect(header(requests[0], "X-aws-ec2-metadata-token-ttl-seconds") != nil)
        for metadata in requests[1...3] { #expect(header(metadata, "X-aws-ec2-metadata-token") == "imds-token") }
        #expect(requests.allSatisfy { $0.timeout <= 10 })
        #expect(requests[...3].allSatisfy { $0.timeout <= 5 })
        let headersText = try #require(requests[4].json["iamRequestHeaders"] as? String)
        let headersJSON = try #require(Data(base64Encoded: headersText))
        let headers = try #require(try JSONSerialization.jsonObject(with: headersJSON) as? [String: String])
        #expect(headers["Host"] == "sts.ap-south-1.amazonaws.com")
        #expect(headers["X-Amz-Security-Token"] == "sess")
        #expect(headers["Authorization"]?.contains("Credential=ASIA2/") == true)
    }

    @Test func awsWithoutAMetadataServerFailsWithAReason() {
        let stub = StubTransport { _ throws(HTTPError) in throw HTTPError(kind: .cannotConnect, message: "refused") }
        #expect {
            try backend(stub, .awsIAM(AWSIAMSettings(identityID: "id", metadataEndpoint: "http://imds.test")))
                .authenticate()
        } throws: { error in
            let reason = (error as? BackendError)?.reason ?? ""
            return reason.contains("AWS IAM: instance metadata token at http://imds.test/latest/api/token")
                && reason.contains("AWS_ACCESS_KEY_ID") && !reason.contains("\n")
        }
    }

    @Test func gcpIDTokenAsksTheMetadataServerForTheIdentity() throws {
        let stub = StubTransport { request throws(HTTPError) in
            if request.path.hasPrefix("http://127.0.0.1:8/") { return response(200, "a.b.c\n") }
            return request.path.hasSuffix("/login") ? response(200, loginJSON) : response(200, projectsJSON)
        }
        try backend(stub, .gcpIDToken(identityID: "id/2", metadataHost: "127.0.0.1:8")).authenticate()
        let metadata = stub.requests[0]
        #expect(metadata.path == "http://127.0.0.1:8/computeMetadata/v1/instance/service-accounts/default/identity")
        #expect(metadata.query == "audience=id%2F2&format=full")
        #expect(header(metadata, "Metadata-Flavor") == "Google")
        #expect(stub.requests[1].path == "/api/v1/auth/gcp-auth/login")
        #expect(stub.requests[1].json as NSDictionary == ["identityId": "id/2", "jwt": "a.b.c"] as NSDictionary)
    }

    @Test func azureAsksIMDSWithTheMetadataHeader() throws {
        let stub = StubTransport { request throws(HTTPError) in
            if request.url.hasPrefix("http://169.254.169.254/") { return response(200, #"{"access_token":"az"}"#) }
            return request.path.hasSuffix("/login") ? response(200, loginJSON) : response(200, projectsJSON)
        }
        let credentials = try #require(try Credentials.from(["INFISICAL_AZURE_AUTH_IDENTITY_ID": "z"]))
        try backend(stub, credentials).authenticate()
        #expect(
            stub.requests[0].url
                == "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F")
        #expect(header(stub.requests[0], "Metadata") == "true")
        #expect(stub.requests[1].path == "/api/v1/auth/azure-auth/login")
        #expect(stub.requests[1].json as NSDictionary == ["identityId": "z", "jwt": "az"] as NSDictionary)
    }

    @Test func kubernetesRereadsTheTokenFileWhenItLogsInAgain() throws {
        let path = scratchFile("first-token\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let calls = Mutex(0)
        let stub = StubTransport { request throws(HTTPError) in
            if request.path == "/api/v1/auth/kubernetes-auth/login" { return response(200, loginJSON) }
            // The first projects call finds the token refused: log in again, retry.
            let first = calls.withLock { count in
                count += 1
                return count == 1
            }
            return first ? errorBody(401, "UnauthorizedError", "No identity access token found") : response(200, projectsJSON)
        }
        let mount = backend(stub, .kubernetes(identityID: "k", tokenPath: path))
        _ = try mount.listProjects()  // login, 401, ...
        // (the file changed between the two logins in a real cluster; here before the next one)
        try "second-token".write(toFile: path, atomically: true, encoding: .utf8)
        calls.withLock { $0 = 0 }
        _ = try mount.listProjects()
        let logins = stub.requests.filter { $0.path == "/api/v1/auth/kubernetes-auth/login" }.map { $0.json["jwt"] as? String }
        #expect(logins == ["first-token", "first-token", "second-token"])
    }

    @Test func kubernetesWithoutItsTokenFileSaysSo() {
        let stub = StubTransport { _ throws(HTTPError) in response(200, loginJSON) }
        #expect {
            try backend(stub, .kubernetes(identityID: "k", tokenPath: "/nonexistent/token")).authenticate()
        } throws: { error in
            ((error as? BackendError)?.reason ?? "").contains("service account token file /nonexistent/token does not exist")
        }
        #expect(stub.requests.isEmpty)
    }
}

@Suite("GCP IAM: key file, OAuth, signJwt")
struct GCPIAMLoginTests {
    static let keyPEM: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gcp-\(UUID().uuidString).pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path]
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }()

    static func keyFile(mode: Int = 0o600, json: String? = nil) throws -> String {
        let object: [String: String] = [
            "type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key": keyPEM,
            "private_key_id": "kid-1", "token_uri": "http://google.test/token",
        ]
        let text: String
        if let json {
            text = json
        } else {
            text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        return scratchFile(text, mode: mode)
    }

    @Test func theChainOfCalls() throws {
        let path = try Self.keyFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stub = StubTransport { request throws(HTTPError) in
            switch request.path {
            case "http://google.test/token": return response(200, #"{"access_token":"ya29.x","expires_in":3599}"#)
            case "http://iam.test/v1/projects/-/serviceAccounts/sa%40p.iam.gserviceaccount.com:signJwt":
                return response(200, #"{"keyId":"k","signedJwt":"h.p.s"}"#)
            case "/api/v1/auth/gcp-auth/login": return response(200, loginJSON)
            default: return response(200, projectsJSON)
            }
        }
        try backend(stub, .gcpIAM(identityID: "id-9", keyFilePath: path, iamCredentialsURL: "http://iam.test"))
            .authenticate()
        let requests = stub.requests
        #expect(requests.map(\.method) == ["POST", "POST", "POST", "GET"])
        let form = String(decoding: requests[0].body ?? [], as: UTF8.self)
        #expect(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
        let assertion = String(form.split(separator: "=").last ?? "")
        #expect(assertion.split(separator: ".").count == 3)
        let claimsPart = String(assertion.split(separator: ".")[1])
        let padded = claimsPart.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            + String(repeating: "=", count: (4 - claimsPart.count % 4) % 4)
        let claimsData = try #require(Data(base64Encoded: padded))
        let claims = try #require(try JSONSerialization.jsonObject(with: claimsData) as? [String: Any])
        #expect(claims["iss"] as? String == "sa@p.iam.gserviceaccount.com")
        #expect(claims["aud"] as? String == "http://google.test/token")
        #expect(header(requests[1], "Authorization") == "Bearer ya29.x")
        let payloadText = try #require(requests[1].json["payload"] as? String)
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(payloadText.utf8)) as? [String: Any])
        #expect(payload["sub"] as? String == "sa@p.iam.gserviceaccount.com")
        #expect(payload["aud"] as? String == "id-9")
        #expect(payload["exp"] is Int)
        #expect(requests[2].json as NSDictionary == ["identityId": "id-9", "jwt": "h.p.s"] as NSDictionary)
    }

    @Test func aKeyFileOthersCanReadOrThatIsNotAKeyIsRefused() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, loginJSON) }
        let open = try Self.keyFile(mode: 0o644)
        let garbage = try Self.keyFile(json: "{not json")
        defer {
            try? FileManager.default.removeItem(atPath: open)
            try? FileManager.default.removeItem(atPath: garbage)
        }
        func reason(_ path: String) -> String {
            do {
                try backend(stub, .gcpIAM(identityID: "i", keyFilePath: path, iamCredentialsURL: "http://iam.test"))
                    .authenticate()
                return "no error"
            } catch {
                return (error as? BackendError)?.reason ?? "\(error)"
            }
        }
        #expect(reason(open).contains("is mode 644; it must be 0600"))
        #expect(reason(garbage).contains("is not a service account key"))
        #expect(reason("/nonexistent/key.json").contains("does not exist or cannot be read"))
        #expect(stub.requests.isEmpty)
    }
}
