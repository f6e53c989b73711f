import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

/// A clock the test moves by hand.
private final class TestClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var read: @Sendable () -> Date { { self.now } }
}

private func backend(_ stub: StubTransport, _ clock: TestClock, credentials: Credentials) -> InfisicalBackend {
    var configuration = InfisicalConfiguration(siteURL: "http://infisical.test", credentials: credentials)
    configuration.clock = clock.read
    return InfisicalBackend(configuration: configuration, transport: stub, logger: .disabled)
}

private let universal = Credentials.universalAuth(clientID: "id", clientSecret: "revoked")

/// Seconds from `clock`'s now until the login's next attempt, from `/.status`.
private func secondsToNextAttempt(_ backend: InfisicalBackend, _ clock: TestClock) -> TimeInterval? {
    guard case .object(let fields) = backend.status,
        case .object(let auth)? = fields.first(where: { $0.0 == "auth" })?.1,
        case .time(let date)? = auth.first(where: { $0.0 == "next_attempt_at" })?.1
    else { return nil }
    return date.timeIntervalSince(clock.now)
}

private func authField(_ backend: InfisicalBackend, _ name: String) -> StatusValue? {
    guard case .object(let fields) = backend.status,
        case .object(let auth)? = fields.first(where: { $0.0 == "auth" })?.1
    else { return nil }
    return auth.first(where: { $0.0 == name })?.1
}

@Suite("A failing login backs off")
struct LoginBackoffTests {
    @Test func aRefusedLoginIsNotTriedAgainForLongerThanTheLockoutWindow() throws {
        let clock = TestClock()
        let stub = StubTransport { _ throws(HTTPError) in errorBody(401, "UnauthorizedError", "Invalid credentials") }
        let infisical = backend(stub, clock, credentials: universal)
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        #expect(stub.requests.count == 1)

        // Until the wait is over, every call fails at once, without a request, already logged.
        let wait = try #require(secondsToNextAttempt(infisical, clock))
        #expect(wait >= 32 && wait <= 40)  // within the second /.status shows
        for _ in 0..<20 {
            clock.advance(1)
            do {
                _ = try infisical.listProjects()
                Issue.record("no error while backing off")
            } catch let error as BackendError {
                #expect(error.kind == .unauthenticated)
                #expect(error.alreadyLogged)
                #expect(error.reason.contains("Invalid credentials"))
            }
        }
        #expect(stub.requests.count == 1)
        #expect(authField(infisical, "state") == .string("failing"))
        #expect(authField(infisical, "failed_logins") == .integer(1))

        clock.advance(wait - 20 + 0.01)
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        #expect(stub.requests.count == 2)
        // The wait doubles.
        let second = try #require(secondsToNextAttempt(infisical, clock))
        #expect(second >= 64 && second <= 80)
    }

    @Test func callsEverySecondForAnHourNeverMakeThreeFailuresWithin30Seconds() throws {
        let clock = TestClock()
        let attempts = Mutex<[Date]>([])
        let stub = StubTransport { _ throws(HTTPError) in
            attempts.withLock { $0.append(clock.now) }
            return errorBody(401, "UnauthorizedError", "Invalid credentials")
        }
        let infisical = backend(stub, clock, credentials: universal)
        for _ in 0..<3600 {
            _ = try? infisical.listProjects()
            clock.advance(1)
        }
        let times = attempts.withLock { $0 }
        // Each failure comes more than 30 s after the one before, so Infisical's
        // lockout counter (three failures, each within 30 s of the last) never reaches 2.
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(later.timeIntervalSince(earlier) > 30)
        }
        #expect(times.count >= 5 && times.count <= 12)
        // It keeps trying: the waits stop growing at ten minutes.
        let last = zip(times, times.dropFirst()).map { $1.timeIntervalSince($0) }.last ?? 0
        #expect(last >= 600 && last <= 751)
    }

    @Test func aLockedOutClientWaitsOutTheLockAndIsNotTakenForBadCredentialsForever() throws {
        let clock = TestClock()
        let locked = Mutex(true)
        let stub = StubTransport { request throws(HTTPError) in
            if request.path.hasSuffix("/login") {
                return locked.withLock { $0 }
                    ? errorBody(
                        401, "UnauthorizedError", "This identity auth method is temporarily locked, please try again later")
                    : response(200, #"{"accessToken":"t","expiresIn":3600,"accessTokenMaxTTL":7200}"#)
            }
            return response(200, #"{"projects":[]}"#)
        }
        let infisical = backend(stub, clock, credentials: universal)
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        let wait = try #require(secondsToNextAttempt(infisical, clock))
        #expect(wait >= 300 && wait <= 375)
        #expect(authField(infisical, "state") == .string("locked out"))
        locked.withLock { $0 = false }
        clock.advance(wait + 0.01)
        #expect(try infisical.listProjects().isEmpty)
        #expect(authField(infisical, "state") == .string("logged in"))
        #expect(authField(infisical, "failed_logins") == .integer(0))
        #expect(secondsToNextAttempt(infisical, clock) == nil)
    }

    @Test func aLoginRouteThatIsMissingIsARefusalNotAMissingFile() throws {
        // An identity without this auth method: 404 from the login route.
        let clock = TestClock()
        let stub = StubTransport { _ throws(HTTPError) in
            errorBody(404, "NotFound", "OIDC auth method not found for identity, did you configure OIDC auth?")
        }
        let infisical = backend(stub, clock, credentials: .oidcAuth(identityID: "i", jwt: .value("e")))
        for _ in 0..<2 {
            do {
                _ = try infisical.getSecret("A", in: SecretLocation(projectID: "p", environment: "dev", path: .root))
                Issue.record("no error")
            } catch let error as BackendError {
                #expect(error.kind == .unauthenticated)
            }
        }
        #expect(stub.requests.count == 1)
    }

    @Test func anUnreachableServerIsTriedAgainSoonAndFailsAsUnavailable() throws {
        let clock = TestClock()
        let stub = StubTransport { _ throws(HTTPError) in throw HTTPError(kind: .cannotConnect, message: "refused") }
        let infisical = backend(stub, clock, credentials: universal)
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        let wait = try #require(secondsToNextAttempt(infisical, clock))
        #expect(wait >= 1 && wait <= 1.25)
        do {
            _ = try infisical.listProjects()
            Issue.record("no error")
        } catch let error as BackendError {
            #expect(error.kind == .unavailable)
        }
        #expect(stub.requests.count == 1)
    }

    @Test func aRefusedAccessTokenIsNotSentWithEveryCall() throws {
        let clock = TestClock()
        let stub = StubTransport { _ throws(HTTPError) in
            errorBody(401, "UnauthorizedError", "No identity access token found")
        }
        let infisical = backend(stub, clock, credentials: .accessToken("revoked-token"))
        for _ in 0..<10 {
            #expect(throws: BackendError.self) { try infisical.listProjects() }
            clock.advance(1)
        }
        #expect(stub.requests.count == 1)
        clock.advance(40)
        #expect(throws: BackendError.self) { try infisical.listProjects() }
        #expect(stub.requests.count == 2)
    }

    @Test func aTokenThatWouldOutliveItsMaxTTLIsReplacedByALoginNotARenewal() throws {
        let clock = TestClock()
        let logins = Mutex(0)
        let stub = StubTransport { request throws(HTTPError) in
            switch request.path {
            case "/api/v1/auth/universal-auth/login":
                let n = logins.withLock { $0 += 1; return $0 }
                return response(200, #"{"accessToken":"t\#(n)","expiresIn":100,"accessTokenMaxTTL":150}"#)
            case "/api/v1/auth/token/renew":
                return response(200, #"{"accessToken":"renewed","expiresIn":100,"accessTokenMaxTTL":150}"#)
            default:
                return response(200, #"{"projects":[]}"#)
            }
        }
        let infisical = backend(stub, clock, credentials: .universalAuth(clientID: "id", clientSecret: "s"))
        _ = try infisical.listProjects()
        clock.advance(85)  // due for renewal; a renewal would end at 185 s, past the max TTL (150 s)
        _ = try infisical.listProjects()
        let paths = stub.requests.map(\.path)
        #expect(!paths.contains("/api/v1/auth/token/renew"))
        #expect(logins.withLock { $0 } == 2)
        #expect(stub.requests.last?.authorization == "Bearer t2")
    }

    @Test func aTokenWithRoomUnderItsMaxTTLIsRenewed() throws {
        let clock = TestClock()
        let stub = StubTransport { request throws(HTTPError) in
            switch request.path {
            case "/api/v1/auth/universal-auth/login":
                return response(200, #"{"accessToken":"t1","expiresIn":100,"accessTokenMaxTTL":1000}"#)
            case "/api/v1/auth/token/renew":
                return response(200, #"{"accessToken":"renewed","expiresIn":100,"accessTokenMaxTTL":1000}"#)
            default:
                return response(200, #"{"projects":[]}"#)
            }
        }
        let infisical = backend(stub, clock, credentials: .universalAuth(clientID: "id", clientSecret: "s"))
        _ = try infisical.listProjects()
        clock.advance(85)
        _ = try infisical.listProjects()
        #expect(stub.requests.map(\.path).filter { $0.hasSuffix("/login") }.count == 1)
        #expect(stub.requests.last?.authorization == "Bearer renewed")
        // The max TTL still counts from the login: the renewal after next would pass it.
        for _ in 0..<10 {
            clock.advance(85)
            _ = try infisical.listProjects()
        }
        #expect(stub.requests.map(\.path).filter { $0.hasSuffix("/login") }.count >= 2)
    }
}

@Suite("Projects: secret managers only, names that cannot be projects")
struct ProjectLookupTests {
    @Test func theListAsksForSecretManagersAndDropsOtherProducts() throws {
        let stub = StubTransport { _ throws(HTTPError) in
            response(
                200,
                #"{"projects":[{"id":"p1","slug":"app","type":"secret-manager"},{"id":"p2","slug":"keys","type":"kms"},"#
                    + #"{"id":"p3","slug":"old"},{"id":"p4","slug":"certs","type":"cert-manager"}]}"#)
        }
        let projects = try backend(stub, TestClock(), credentials: .accessToken("t")).listProjects()
        #expect(projects.map(\.slug) == ["app", "old"])
        #expect(stub.requests.first?.query.contains("type=secret-manager") == true)
    }

    @Test func aSlugTheServerRefusesIsMissing() {
        let stub = StubTransport { request throws(HTTPError) in
            request.path.hasPrefix("/api/v1/projects/slug/")
                ? response(
                    422,
                    #"{"reqId":"req-1","statusCode":422,"error":"ValidationFailure","message":[{"code":"custom","#
                        + #""message":"Slug field can only contain lowercase letters, numbers, and hyphens","path":["slug"]}]}"#)
                : errorBody(404, "NotFound", "Project not found")
        }
        do {
            _ = try backend(stub, TestClock(), credentials: .accessToken("t")).project("x1")
            Issue.record("found")
        } catch {
            #expect((error as? BackendError)?.kind == .notFound)
        }
    }

    @Test func aProjectOfAnotherProductIsMissing() {
        let stub = StubTransport { _ throws(HTTPError) in
            response(200, #"{"project":{"id":"p2","slug":"keys","type":"kms","environments":[]}}"#)
        }
        do {
            _ = try backend(stub, TestClock(), credentials: .accessToken("t")).project("p2")
            Issue.record("found")
        } catch {
            #expect((error as? BackendError)?.kind == .notFound)
        }
    }
}

@Suite("OIDC and JWT auth")
struct FederatedLoginTests {
    @Test func theVariablesSelectTheMethodAndTheJWTSource() throws {
        #expect(
            try Credentials.from(["INFISICAL_OIDC_AUTH_IDENTITY_ID": "i", "INFISICAL_JWT_PATH": "/run/jwt"])
                == .oidcAuth(identityID: "i", jwt: .file("/run/jwt")))
        #expect(
            try Credentials.from(["INFISICAL_JWT_AUTH_IDENTITY_ID": "i", "INFISICAL_JWT": "eyJ"])
                == .jwtAuth(identityID: "i", jwt: .value("eyJ")))
        // The Infisical CLI's names.
        #expect(
            try Credentials.from([
                "INFISICAL_AUTH_METHOD": "oidc-auth", "INFISICAL_MACHINE_IDENTITY_ID": "m", "INFISICAL_OIDC_AUTH_JWT": "e",
            ]) == .oidcAuth(identityID: "m", jwt: .value("e")))
        #expect(
            try Credentials.from([
                "INFISICAL_AUTH_METHOD": "jwt-auth", "INFISICAL_MACHINE_IDENTITY_ID": "m", "INFISICAL_JWT_PATH": "/j",
            ]) == .jwtAuth(identityID: "m", jwt: .file("/j")))
        // Another method named by the CLI's variable is chosen by its own variables.
        #expect(
            try Credentials.from([
                "INFISICAL_AUTH_METHOD": "universal-auth", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "c",
                "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s",
            ])?.methodName == "universal auth")
        for broken in [
            ["INFISICAL_OIDC_AUTH_IDENTITY_ID": "i"],
            ["INFISICAL_AUTH_METHOD": "jwt-auth", "INFISICAL_JWT": "e"],
            ["INFISICAL_JWT_AUTH_IDENTITY_ID": "i", "INFISICAL_JWT": "e", "INFISICAL_JWT_PATH": "/j"],
            ["INFISICAL_AUTH_METHOD": "ldap-auth"],
        ] {
            #expect(throws: BackendError.self, "\(broken)") { try Credentials.from(broken) }
        }
        // Never the token in a log line.
        #expect(!"\(Credentials.jwtAuth(identityID: "i", jwt: .value("eyJsecret")))".contains("eyJsecret"))
        #expect(!"\(JWTSource.value("eyJsecret"))".contains("eyJsecret"))
    }

    @Test func eachLoginReadsTheJWTFileAgain() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "first-jwt\n".write(toFile: file, atomically: true, encoding: .utf8)
        let sent = Mutex<[String]>([])
        let stub = StubTransport { request throws(HTTPError) in
            if request.path == "/api/v1/auth/oidc-auth/login" {
                #expect(request.json["identityId"] as? String == "i")
                sent.withLock { $0.append(request.json["jwt"] as? String ?? "") }
                return response(200, #"{"accessToken":"t","expiresIn":100}"#)
            }
            return response(200, #"{"projects":[]}"#)
        }
        let clock = TestClock()
        let infisical = backend(stub, clock, credentials: .oidcAuth(identityID: "i", jwt: .file(file)))
        _ = try infisical.listProjects()
        try "second-jwt".write(toFile: file, atomically: true, encoding: .utf8)
        clock.advance(200)  // expired: renewal refused (the stub answers 200 only to logins and lists)
        _ = try infisical.listProjects()
        #expect(sent.withLock { $0 }.first == "first-jwt")
        #expect(sent.withLock { $0 }.contains("second-jwt"))
    }
}
