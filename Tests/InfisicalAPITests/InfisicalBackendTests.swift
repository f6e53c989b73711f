import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing
import Glibc

private let location = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["app"]))

private func backend(_ transport: StubTransport, credentials: Credentials = .accessToken("tok")) -> InfisicalBackend {
    InfisicalBackend(
        configuration: InfisicalConfiguration(siteURL: "http://infisical.test/", credentials: credentials),
        transport: transport, logger: .disabled)
}

@Suite("Infisical calls and fields")
struct RequestShapeTests {
    @Test func getSendsTheScopeAndEncodesTheName() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, #"{"secret":\#(secretJSON("MY KEY?&#", "v"))}"#) }
        let secret = try backend(stub).getSecret("MY KEY?&#", in: location)
        #expect(secret.value == "v")
        #expect(secret.version == 1)
        let request = try #require(stub.requests.first)
        #expect(request.method == "GET")
        #expect(request.path == "/api/v3/secrets/raw/MY%20KEY%3F%26%23")
        #expect(request.query.contains("workspaceId=p1"))
        #expect(request.query.contains("environment=dev"))
        #expect(request.query.contains("secretPath=%2Fapp"))
        #expect(request.query.contains("type=shared"))
        #expect(request.authorization == "Bearer tok")
    }

    @Test func aMissingSharedSecretFallsBackToThePersonalOne() throws {
        let stub = StubTransport { request throws(HTTPError) in
            request.query.contains("type=shared")
                ? errorBody(404, "NotFound", "Secret with name 'A' not found")
                : response(200, #"{"secret":\#(secretJSON("A", "mine"))}"#)
        }
        #expect(try backend(stub).getSecret("A", in: location).value == "mine")
        #expect(stub.requests.count == 2)
    }

    @Test func createSendsTheBodyAndReturnsTheStoredValue() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, #"{"secret":\#(secretJSON("A", "trimmed"))}"#) }
        #expect(try backend(stub).createSecret("A", value: "  trimmed  ", in: location).value == "trimmed")
        let body = try #require(stub.requests.first).json
        #expect(body["workspaceId"] as? String == "p1")
        #expect(body["environment"] as? String == "dev")
        #expect(body["secretPath"] as? String == "/app")
        #expect(body["secretValue"] as? String == "  trimmed  ")
        #expect(body["type"] as? String == "shared")
    }

    @Test func updateReadsTheStoredValueBack() throws {
        // The PATCH answer echoes what was sent, not what was stored.
        let stub = StubTransport { request throws(HTTPError) in
            request.method == "PATCH"
                ? response(200, #"{"secret":\#(secretJSON("A", "  x  ", version: 2))}"#)
                : response(200, #"{"secret":\#(secretJSON("A", "x", version: 2))}"#)
        }
        let secret = try backend(stub).updateSecret("A", value: "  x  ", in: location)
        #expect(secret.value == "x")
        #expect(stub.requests.map(\.method) == ["PATCH", "GET"])
    }

    @Test func listMergesSecretsAndFolders() throws {
        let stub = StubTransport { request throws(HTTPError) in
            request.path == "/api/v2/folders"
                ? response(200, #"{"folders":[{"id":"f1","name":"db"}]}"#)
                : response(200, #"{"secrets":[\#(secretJSON("B", "b")),\#(secretJSON("A", "a"))],"imports":[]}"#)
        }
        let listing = try backend(stub).listFolder(location)
        #expect(listing.secrets.map(\.name) == ["A", "B"])
        #expect(listing.folders == ["db"])
        // The two calls go out at once, in either order.
        let folders = stub.requests.first { $0.path == "/api/v2/folders" }
        #expect(folders?.query.contains("path=%2Fapp") == true)
        #expect(stub.requests.count == 2)
    }

    @Test func aListingNamesEachFolderOnce() throws {
        // Found by fuzzing the answers: a folder named twice, and a secret twice (shared wins).
        let stub = StubTransport { request throws(HTTPError) in
            request.path == "/api/v2/folders"
                ? response(200, #"{"folders":[{"id":"f1","name":"db"},{"id":"f2","name":"db"},{"id":"f3","name":"a"}]}"#)
                : response(200, #"{"secrets":[\#(secretJSON("A", "a")),\#(secretJSON("A", "b"))]}"#)
        }
        let listing = try backend(stub).listFolder(location)
        #expect(listing.folders == ["a", "db"])
        #expect(listing.secrets.map(\.name) == ["A"])
    }

    @Test func aProjectNamesEachEnvironmentOnce() throws {
        // Found by fuzzing the answers.
        let stub = StubTransport { _ throws(HTTPError) in
            response(200, #"{"project":{"id":"p1","slug":"demo","environments":[{"slug":"dev"},{"slug":"prod"},{"slug":"dev","name":"Again"}]}}"#)
        }
        let project = try backend(stub).project("p1")
        #expect(project.environments.map(\.slug) == ["dev", "prod"])
        #expect(project.environments.first?.name == "dev")
    }

    @Test func deleteFolderNeverForces() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, #"{"folder":{"id":"f1","name":"db"}}"#) }
        try backend(stub).deleteFolder("db", in: location)
        let request = try #require(stub.requests.first)
        #expect(request.method == "DELETE")
        #expect(request.path == "/api/v2/folders/db")
        #expect(request.json["forceDelete"] as? Bool == false)
        #expect(request.json["path"] as? String == "/app")
    }

    @Test func projectsByIDThenSlug() throws {
        let stub = StubTransport { request throws(HTTPError) in
            request.path.hasPrefix("/api/v1/projects/slug/")
                ? response(200, projectJSON) : errorBody(404, "NotFound", "Project with demo not found")
        }
        let project = try backend(stub).project("demo")
        #expect(project.id == "p1" && project.slug == "demo")
        #expect(project.environments.map(\.slug) == ["dev"])
    }
}

@Suite("Infisical answers become backend errors")
struct StatusMappingTests {
    @Test(arguments: [
        (400, "BadRequest", "Secret already exists", BackendError.Kind.alreadyExists),
        (400, "BadRequest", "Secret already exist", .alreadyExists),
        (400, "BadRequest", "Secret with the new name already exists", .alreadyExists),
        (400, "BadRequest", "Failed to move secrets. The following secrets already exist in the destination: A", .alreadyExists),
        (400, "BadRequest", "The project is of type kms. Operations of type secret-manager are not allowed.", .invalidArgument),
        (400, "BadRequest", "Cannot delete folder because it contains resources", .notEmpty),
        (401, "UnauthorizedError", "Token missing", .unauthenticated),
        (403, "PermissionDenied", "You are not allowed", .permissionDenied),
        (404, "NotFound", "Secret not found", .notFound),
        (413, "PayloadTooLarge", "too large", .tooLarge),
        (422, "ValidationFailure", "bad", .invalidArgument),
        (500, "InternalServerError", "Something went wrong", .unavailable),
    ])
    func statuses(status: Int, error: String, message: String, kind: BackendError.Kind) {
        let stub = StubTransport { _ throws(HTTPError) in errorBody(status, error, message) }
        do {
            try backend(stub).deleteSecret("A", in: location)
            Issue.record("no error for \(status)")
        } catch {
            #expect((error as? BackendError)?.kind == kind)
        }
    }

    @Test func transportFailures() {
        for (failure, kind) in [
            (HTTPError(kind: .timedOut, message: "t"), BackendError.Kind.timedOut),
            (HTTPError(kind: .cannotConnect, message: "refused"), .unavailable),
            (HTTPError(kind: .tls, message: "unknown CA"), .unavailable),
        ] {
            let stub = StubTransport { _ throws(HTTPError) in throw failure }
            do {
                _ = try backend(stub).listProjects()
                Issue.record("no error")
            } catch {
                #expect((error as? BackendError)?.kind == kind)
            }
        }
    }

    @Test func validationIssuesAreJoinedIntoTheReason() throws {
        let stub = StubTransport { _ throws(HTTPError) in
            response(422, #"{"reqId":"r","statusCode":422,"message":[{"code":"custom","message":"bad name","path":["secretName"]}],"error":"ValidationFailure"}"#)
        }
        do {
            _ = try backend(stub).createSecret("A", value: "v", in: location)
            Issue.record("no error")
        } catch let error as BackendError {
            #expect(error.kind == .invalidArgument)
            #expect(error.reason.contains("bad name"))
        }
    }
}

@Suite("Tokens: login, renewal, login again")
struct TokenTests {
    let credentials = Credentials.universalAuth(clientID: "id", clientSecret: "secret")

    @Test func logsInOnceThenUsesTheToken() throws {
        let stub = StubTransport { request throws(HTTPError) in
            if request.path == "/api/v1/auth/universal-auth/login" {
                #expect(request.json["clientId"] as? String == "id")
                return response(200, #"{"accessToken":"t1","expiresIn":3600,"accessTokenMaxTTL":7200,"tokenType":"Bearer"}"#)
            }
            #expect(request.authorization == "Bearer t1")
            return response(200, #"{"projects":[\#(projectJSON)]}"#)
        }
        let backend = backend(stub, credentials: credentials)
        _ = try backend.listProjects()
        _ = try backend.listProjects()
        #expect(stub.requests.filter { $0.path.hasSuffix("/login") }.count == 1)
    }

    @Test func aRefusedTokenMeansOneNewLoginAndOneRetry() throws {
        let logins = Mutex(0)
        let stub = StubTransport { request throws(HTTPError) in
            if request.path.hasSuffix("/login") {
                let n = logins.withLock { $0 += 1; return $0 }
                return response(200, #"{"accessToken":"t\#(n)","expiresIn":3600}"#)
            }
            if request.authorization == "Bearer t1" {
                return errorBody(403, "TokenError", "Your token has expired. Please re-authenticate.")
            }
            return response(200, #"{"projects":[]}"#)
        }
        #expect(try backend(stub, credentials: credentials).listProjects().isEmpty)
        #expect(logins.withLock { $0 } == 2)
    }

    @Test func aTokenNearItsEndIsRenewedAndARefusedRenewalLogsInAgain() throws {
        let stub = StubTransport { request throws(HTTPError) in
            switch request.path {
            case "/api/v1/auth/universal-auth/login":
                return response(200, #"{"accessToken":"short","expiresIn":1}"#)
            case "/api/v1/auth/token/renew":
                #expect(request.json["accessToken"] as? String == "short")
                return errorBody(401, "UnauthorizedError", "Failed to renew MI access token due to TTL expiration")
            default:
                return response(200, #"{"projects":[]}"#)
            }
        }
        let backend = backend(stub, credentials: credentials)
        _ = try backend.listProjects()
        usleep(600_000)  // past half of the one-second lifetime
        _ = try backend.listProjects()
        let paths = stub.requests.map(\.path)
        #expect(paths.contains("/api/v1/auth/token/renew"))
        #expect(paths.filter { $0.hasSuffix("/login") }.count >= 2)
    }

    @Test func badCredentialsFailWithAReasonAndNoSecret() throws {
        let stub = StubTransport { _ throws(HTTPError) in errorBody(401, "UnauthorizedError", "Invalid credentials") }
        do {
            try backend(stub, credentials: credentials).authenticate()
            Issue.record("no error")
        } catch let error as BackendError {
            #expect(error.kind == .unauthenticated)
            #expect(error.reason.contains("Invalid credentials"))
            #expect(!error.reason.contains("secret"))
        }
    }

    @Test func rateLimitedCallsAreRetriedAfterRetryAfter() throws {
        let calls = Mutex(0)
        let stub = StubTransport { _ throws(HTTPError) in
            let n = calls.withLock { $0 += 1; return $0 }
            return n == 1
                ? errorBody(429, "RateLimitExceeded", "Rate limit exceeded. Please try again in 1 seconds")
                : response(200, #"{"projects":[]}"#)
        }
        let started = Date()
        _ = try backend(stub).listProjects()
        #expect(calls.withLock { $0 } == 2)
        #expect(Date().timeIntervalSince(started) >= 0.9)
    }
}

@Suite("Credentials")
struct CredentialTests {
    @Test func theSDKsVariablesInTheirOrder() throws {
        #expect(try Credentials.from([:]) == nil)
        #expect(try Credentials.from(["INFISICAL_ACCESS_TOKEN": "t"]) == .accessToken("t"))
        #expect(
            try Credentials.from([
                "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "i", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s",
                "INFISICAL_ACCESS_TOKEN": "t",
            ]) == .accessToken("t"))
        #expect(
            try Credentials.from(["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "i", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s"])
                == .universalAuth(clientID: "i", clientSecret: "s"))
        #expect(throws: BackendError.self) { try Credentials.from(["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "i"]) }
    }

    @Test func aCredentialsFileMustBePrivate() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = "# comment\nINFISICAL_UNIVERSAL_AUTH_CLIENT_ID=abc\nexport INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=\"s=cret\"\n"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        #expect(throws: BackendError.self) { try CredentialsFile.load(path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let values = try CredentialsFile.load(path)
        #expect(values["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"] == "abc")
        #expect(values["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] == "s=cret")
    }

    @Test func aLinkedCredentialsFileIsJudgedByItsTarget() throws {
        // A Kubernetes Secret volume: key -> ..data/key -> ..2026_11_29/key, the links themselves 0777.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/..2026_11_29", withIntermediateDirectories: true)
        let file = folder + "/..2026_11_29/credentials"
        _ = FileManager.default.createFile(
            atPath: file, contents: Data("INFISICAL_ACCESS_TOKEN=t\n".utf8), attributes: [.posixPermissions: 0o400])
        try FileManager.default.createSymbolicLink(atPath: folder + "/..data", withDestinationPath: "..2026_11_29")
        try FileManager.default.createSymbolicLink(atPath: folder + "/credentials", withDestinationPath: "..data/credentials")
        #expect(try CredentialsFile.load(folder + "/credentials")["INFISICAL_ACCESS_TOKEN"] == "t")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let error = #expect(throws: BackendError.self) { try CredentialsFile.load(folder + "/credentials") }
        #expect(error?.reason.contains("..2026_11_29/credentials) is mode 644") == true, "\(error?.reason ?? "")")
    }
}

@Suite("Calls bounded by the operation's deadline")
struct DeadlineBoundTests {
    @Test func eachExchangeGetsAtMostWhatIsLeft() throws {
        let stub = StubTransport { request throws(HTTPError) in
            request.path == "/api/v2/folders"
                ? response(200, #"{"folders":[]}"#) : response(200, #"{"secrets":[],"imports":[]}"#)
        }
        _ = try Deadline.within(1.5) { try backend(stub).listFolder(location) }
        // Both calls, the one on another thread included, were given the deadline, not the 10 s default.
        #expect(stub.requests.count == 2)
        for request in stub.requests { #expect(request.timeout <= 1.5 && request.timeout > 0, "\(request.path)") }
        _ = try backend(stub).listFolder(location)
        #expect(stub.requests.suffix(2).allSatisfy { $0.timeout == 10 })
    }

    @Test func nothingIsSentOnceTheDeadlineHasPassed() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, #"{"secret":\#(secretJSON("A", "v"))}"#) }
        let error = #expect(throws: BackendError.self) {
            try Deadline.within(0.01) { () throws in
                usleep(30_000)
                return try backend(stub).getSecret("A", in: location)
            }
        }
        #expect(error?.kind == .timedOut)
        #expect(stub.requests.isEmpty)
    }

    @Test func a429IsNotRetriedWhenItsWaitWouldPassTheDeadline() throws {
        let stub = StubTransport { _ throws(HTTPError) in
            HTTPResponse(status: 429, headers: ["retry-after": "2"], body: Array(#"{"message":"slow down"}"#.utf8))
        }
        let started = Date()
        let error = #expect(throws: BackendError.self) {
            try Deadline.within(1) { () throws in try backend(stub).getSecret("A", in: location) }
        }
        #expect(error?.kind == .rateLimited)
        #expect(stub.requests.count == 1)
        #expect(Date().timeIntervalSince(started) < 1)
    }
}

@Suite("The backend's part of /.status")
struct BackendStatusTests {
    @Test func callsAndErrorsByRouteAndTheLoginWithoutTheToken() throws {
        let stub = StubTransport { request throws(HTTPError) in
            switch request.path {
            case "/api/v1/auth/universal-auth/login":
                return response(200, #"{"accessToken":"tok-SECRET","expiresIn":7200,"accessTokenMaxTTL":7200,"tokenType":"Bearer"}"#)
            case "/api/v2/folders": return response(200, #"{"folders":[]}"#)
            default: return errorBody(404, "NotFound", "Secret not found")
            }
        }
        let infisical = backend(stub, credentials: .universalAuth(clientID: "id", clientSecret: "CLIENT-SECRET"))
        #expect(throws: BackendError.self) { try infisical.getSecret("A", in: location) }
        let status = infisical.status.json()
        #expect(!status.contains("tok-SECRET") && !status.contains("CLIENT-SECRET"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect(parsed["backend"] as? String == "infisical")
        #expect(parsed["site_url"] as? String == "http://infisical.test")
        let auth = try #require(parsed["auth"] as? [String: Any])
        #expect(auth["state"] as? String == "logged in")
        #expect(auth["token_expires_at"] is String)
        let api = try #require(parsed["api"] as? [String: Any])
        #expect(api["calls"] as? Int == 3)  // login, shared, personal
        #expect(api["errors"] as? Int == 2)
        let routes = try #require(api["by_route"] as? [String: [String: Any]])
        #expect(routes["GET /api/v3/secrets/raw/{secretName}"]?["calls"] as? Int == 2)
        #expect(routes["GET /api/v3/secrets/raw/{secretName}"]?["last_status"] as? Int == 404)
        #expect(routes["POST /api/v1/auth/universal-auth/login"]?["errors"] as? Int == 0)
    }

    @Test func aFailedLoginShowsAsFailing() throws {
        let stub = StubTransport { _ throws(HTTPError) in errorBody(401, "UnauthorizedError", "Invalid credentials") }
        let infisical = backend(stub, credentials: .universalAuth(clientID: "id", clientSecret: "s"))
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        let auth = Dictionary(uniqueKeysWithValues: infisical.status.fields)["auth"]!
        let fields = Dictionary(uniqueKeysWithValues: auth.fields)
        #expect(fields["state"] == .string("failing"))
        #expect(fields["method"] == .string(Credentials.universalAuth(clientID: "id", clientSecret: "s").methodName))
    }
}
