import Foundation
import Logging
import SecretsCore
import Synchronization

/// The access token: logs in when there is none, renews it before it
/// expires, logs in again when renewal is refused or would pass the
/// token's max TTL. One refresh at a time; after a failed login, none
/// before `LoginBackoff` allows (meanwhile every call fails at once,
/// logged once).
final class TokenManager: Sendable {
    struct Token: Sendable {
        let value: String
        let obtainedAt: Date
        let expiresAt: Date?
        /// When the server stops renewing this token: its login plus
        /// `accessTokenMaxTTL` (renewals keep the login's time); nil when unbounded.
        let renewableUntil: Date?
    }

    let credentials: Credentials
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let current = Mutex<Token?>(nil)
    private let backoff = Mutex(LoginBackoff())
    /// Serialises logins and renewals (held across their HTTP call, so that
    /// concurrent callers wait for one refresh instead of making several).
    private let refreshing = NSLock()

    init(credentials: Credentials, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.credentials = credentials
        self.logger = logger
        self.now = now
        if case .accessToken(let value) = credentials { current.withLock { $0 = Self.staticToken(value, at: now()) } }
    }

    var canLogIn: Bool {
        if case .accessToken = credentials { return false }
        return true
    }

    /// When the current token expires, if known.
    var expiresAt: Date? { current.withLock { $0?.expiresAt } }

    /// The login as `/.status` shows it: method, state, token times, the
    /// last failure and when the next attempt may be made; never the token.
    var status: StatusValue {
        let token = current.withLock { $0 }
        let backoff = backoff.withLock { $0 }
        let time = now()
        let state: String
        if let token, token.expiresAt.map({ $0 > time }) ?? true {
            state = "logged in"
        } else if let failure = backoff.lastFailure {
            state = failure.cause == .lockedOut ? "locked out" : "failing"
        } else {
            state = token == nil ? "not logged in" : "token expired"
        }
        return .object([
            ("method", .string(credentials.methodName)),
            ("state", .string(state)),
            ("token_obtained_at", .time(token?.obtainedAt)),
            ("token_expires_at", .time(token?.expiresAt)),
            ("token_renewable_until", .time(token?.renewableUntil)),
            ("failed_logins", .integer(backoff.failures)),
            ("last_failure", backoff.lastFailure.map { .string($0.reason) } ?? .null),
            ("last_failure_at", .time(backoff.lastFailure?.at)),
            ("next_attempt_at", .time(backoff.nextAttempt.flatMap { $0 > time ? $0 : nil })),
        ])
    }

    func token(using client: APIClient) throws(BackendError) -> String {
        if let token = current.withLock({ $0 }), !needsRefresh(token) { return token.value }
        try refuseWhileBackingOff()
        // Waiting for another thread's refresh counts against this operation's deadline too.
        guard refreshing.lock(before: Deadline.end ?? .distantFuture) else {
            throw BackendError(.timedOut, "the operation's deadline passed while waiting for a login")
        }
        defer { refreshing.unlock() }
        if let token = current.withLock({ $0 }), !needsRefresh(token) { return token.value }
        try refuseWhileBackingOff()
        let fresh: Token
        do {
            fresh = try refresh(current.withLock { $0 }, using: client)
        } catch {
            throw recordFailure(error)
        }
        current.withLock { $0 = fresh }
        backoff.withLock { $0.recordSuccess() }
        return fresh.value
    }

    /// The server refused `value`: it is dropped (unless another thread
    /// already replaced it), so the next call logs in again. A token that
    /// cannot be replaced (`INFISICAL_ACCESS_TOKEN`) counts as a failed
    /// login instead: it is tried again only when the backoff allows.
    func refused(_ value: String, because failure: BackendError) -> BackendError {
        let dropped = current.withLock { token -> Bool in
            guard token?.value == value else { return false }
            token = nil
            return true
        }
        guard !canLogIn, dropped else { return failure }
        return recordFailure(failure)
    }

    /// Fails at once, without a request, while the backoff after a failed
    /// login lasts: the failure's own kind, already logged.
    private func refuseWhileBackingOff() throws(BackendError) {
        let time = now()
        guard let (failure, next) = backoff.withLock({ $0.refusal(at: time) }) else { return }
        throw BackendError(
            failure.kind,
            "not logged in (\(failure.reason)); next \(canLogIn ? "login" : "try of the access token") at \(next)",
            alreadyLogged: true)
    }

    /// Counts a failed login, logs it once with the time of the next attempt,
    /// and returns it marked as logged.
    private func recordFailure(_ error: BackendError) -> BackendError {
        let time = now()
        let (wait, failures, kind) = backoff.withLock { backoff in
            let wait = backoff.recordFailure(error, at: time, jitter: Double.random(in: 0...LoginBackoff.jitter))
            return (wait, backoff.failures, backoff.lastFailure?.kind ?? error.kind)
        }
        let what = canLogIn ? "login with \(credentials.methodName)" : "the access token"
        logger.warning(
            "\(what) failed (\(error.reason)); next attempt in \(Int(wait.rounded(.up))) s"
                + (failures > 1 ? " (\(failures) failures in a row)" : ""))
        return BackendError(kind, error.reason, alreadyLogged: true)
    }

    /// Renew when 80% of the lifetime has passed, or less than a minute is left.
    private func needsRefresh(_ token: Token) -> Bool {
        guard let expiresAt = token.expiresAt else { return false }
        let lifetime = expiresAt.timeIntervalSince(token.obtainedAt)
        let remaining = expiresAt.timeIntervalSince(now())
        return remaining < min(60, lifetime * 0.5) || remaining < lifetime * 0.2
    }

    private func refresh(_ old: Token?, using client: APIClient) throws(BackendError) -> Token {
        guard canLogIn else {
            // Nothing to log in with: try the one token again.
            guard case .accessToken(let value) = credentials else { preconditionFailure() }
            return Self.staticToken(value, at: now())
        }
        if let old {
            if let renewed = try renew(old, using: client) { return renewed }
        }
        // A fresh login: the cloud methods fetch, read or sign their proof again.
        let cloudTimeout = max(APIClient.shortestExchange, min(Deadline.remaining(atMost: client.timeout), 5))
        let login = CloudLogin(transport: client.transport, cloudTimeout: cloudTimeout)
        var endpoint = try login.endpoint(for: credentials)
        endpoint.logsFailures = false  // recordFailure logs it, with the next attempt's time
        let response = try client.send(endpoint, as: LoginResponse.self)
        logger.info("logged in with \(credentials.methodName)")
        return token(from: response, loggedInAt: now())
    }

    /// The renewed token; nil when the token must be replaced by a login:
    /// renewing would pass its max TTL (planned, not a failure), or the
    /// server refused.
    private func renew(_ old: Token, using client: APIClient) throws(BackendError) -> Token? {
        let time = now()
        if let renewableUntil = old.renewableUntil, let expiresAt = old.expiresAt,
            time.addingTimeInterval(expiresAt.timeIntervalSince(old.obtainedAt)) > renewableUntil
        {
            logger.info("the access token reaches its max TTL at \(renewableUntil); logging in again")
            return nil
        }
        do {
            let renewed = try client.send(
                Endpoint(
                    method: "POST", route: "/api/v1/auth/token/renew", path: "/api/v1/auth/token/renew",
                    body: JSONBody(["accessToken": old.value]), authenticated: false, logsFailures: false),
                as: LoginResponse.self)
            logger.info("access token renewed")
            let fresh = token(from: renewed, loggedInAt: now())
            // The max TTL counts from the login, not from this renewal.
            return Token(
                value: fresh.value, obtainedAt: fresh.obtainedAt, expiresAt: fresh.expiresAt,
                renewableUntil: old.renewableUntil)
        } catch {
            logger.notice("token renewal refused (\(error.reason)); logging in again")
            return nil
        }
    }

    private func token(from response: LoginResponse, loggedInAt time: Date) -> Token {
        // expiresIn 0 means a token that does not expire; so does a max TTL of 0.
        let expiresAt = response.expiresIn.flatMap { $0 > 0 ? time.addingTimeInterval($0) : nil }
        // A little early (5 %, at most a minute): the server counts from when
        // it made the token, before its answer reached this host.
        let renewableUntil = response.accessTokenMaxTTL.flatMap { maxTTL in
            maxTTL > 0 ? time.addingTimeInterval(maxTTL - min(60, maxTTL * 0.05)) : nil
        }
        return Token(value: response.accessToken, obtainedAt: time, expiresAt: expiresAt, renewableUntil: renewableUntil)
    }

    private static func staticToken(_ value: String, at time: Date) -> Token {
        Token(value: value, obtainedAt: time, expiresAt: nil, renewableUntil: nil)
    }
}

/// When a login may be tried again after failures. Infisical locks a
/// universal-auth client ID out for every host that shares it after three
/// failures each less than 30 s after the last (by default, for 300 s), so
/// a refused login waits at least `refusedWait` (the count then restarts
/// before the next try) and doubles from there; a lockout waits its
/// duration; a server that cannot be reached is tried again sooner. Every
/// wait is stretched by a random part of up to `jitter`, so hosts that
/// failed together do not come back together.
struct LoginBackoff: Sendable, Equatable {
    enum Cause: Sendable, Equatable {
        /// The credentials were refused (bad, revoked, expired, unknown identity).
        case refused
        /// Infisical locked the client ID out after repeated failures.
        case lockedOut
        /// No answer, a 5xx or a 429: the login did not reach a verdict.
        case unreachable
    }

    struct Failure: Sendable, Equatable {
        let kind: BackendError.Kind
        let reason: String
        let at: Date
        let cause: Cause
    }

    /// Longer than Infisical's default lockout counter reset (30 s).
    static let refusedWait: TimeInterval = 32
    /// Infisical's default lockout duration.
    static let lockoutWait: TimeInterval = 300
    static let unreachableWait: TimeInterval = 1
    static let longestWait: TimeInterval = 600
    static let longestUnreachableWait: TimeInterval = 60
    static let jitter = 0.25

    private(set) var failures = 0
    private(set) var nextAttempt: Date?
    private(set) var lastFailure: Failure?

    /// The failure to answer with, and when the next attempt may be made,
    /// while one may not be made at `time`.
    func refusal(at time: Date) -> (Failure, Date)? {
        guard let nextAttempt, let lastFailure, time < nextAttempt else { return nil }
        return (lastFailure, nextAttempt)
    }

    /// Counts a failure at `time` and returns the seconds until the next
    /// attempt; `jitter` is the random stretch, from 0 to `LoginBackoff.jitter`.
    @discardableResult
    mutating func recordFailure(_ error: BackendError, at time: Date, jitter: Double) -> TimeInterval {
        let cause: Cause =
            if StatusMapping.isLockedOut(error) {
                .lockedOut
            } else if [.unavailable, .timedOut, .rateLimited, .internalError].contains(error.kind) {
                .unreachable
            } else {
                .refused
            }
        // A new kind of failure starts its own count.
        failures = lastFailure?.cause == cause ? failures + 1 : 1
        let doublings = Double(min(failures - 1, 16))
        let wait: TimeInterval =
            switch cause {
            case .refused: min(Self.longestWait, Self.refusedWait * pow(2, doublings))
            case .lockedOut: max(Self.lockoutWait, min(Self.longestWait, Self.refusedWait * pow(2, doublings)))
            case .unreachable: min(Self.longestUnreachableWait, Self.unreachableWait * pow(2, doublings))
            }
        let stretched = wait * (1 + min(max(jitter, 0), Self.jitter))
        nextAttempt = time.addingTimeInterval(stretched)
        // What every call fails with meanwhile: not logged in (EACCES) after
        // a refusal, never the login route's own 404 or 422, which would read
        // as a missing file or a bad name; else the failure's own kind.
        let kind: BackendError.Kind = cause == .unreachable ? error.kind : .unauthenticated
        lastFailure = Failure(kind: kind, reason: error.reason, at: time, cause: cause)
        return stretched
    }

    mutating func recordSuccess() {
        self = LoginBackoff()
    }
}
