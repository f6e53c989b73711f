import Foundation
import HTTPClient
import Logging
import SecretsCore
import Synchronization

/// One Infisical call: the route template names it in logs; `path` is the
/// same route with its parameters filled in and percent-encoded.
struct Endpoint {
    var method: String
    var route: String
    var path: String
    var query: [(String, String)] = []
    var body: JSONBody?
    var authenticated = true
    /// A failed call is logged here; logins and renewals are logged by
    /// `TokenManager`, with what happens next.
    var logsFailures = true

    var logName: String { "\(method) \(route)" }
}

/// Sends Infisical calls: the base URL, the token, the error mapping, and
/// the retries (a new token once after 401/403 TokenError; 429 after its
/// Retry-After while the deadline allows). Every exchange is bounded by
/// `timeout` and by what is left of the operation's `Deadline`.
final class APIClient: Sendable {
    let baseURL: String
    let transport: any HTTPTransport
    /// Seconds one HTTP exchange may take at most, connection included.
    let timeout: Double
    let logger: Logger
    let tokens: TokenManager
    /// Exchanges made, by route template, for `/.status`.
    private let figures = Mutex<[String: RouteFigures]>([:])

    struct RouteFigures: Sendable {
        var calls = 0
        var errors = 0
        /// The last HTTP status, or nil when the last call got no answer.
        var lastStatus: Int?
        var lastCall: Date?
    }

    init(
        siteURL: String, transport: any HTTPTransport, credentials: Credentials, timeout: Double,
        logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        var base = siteURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.transport = transport
        self.timeout = timeout
        self.logger = logger
        self.tokens = TokenManager(credentials: credentials, logger: logger, now: now)
    }

    func send<Response: Decodable>(_ endpoint: Endpoint, as type: Response.Type) throws(BackendError) -> Response {
        let response = try perform(endpoint)
        do {
            return try JSON.decoder.decode(Response.self, from: Data(response.body))
        } catch {
            let failure = BackendError(.internalError, "\(endpoint.logName): unexpected answer: \(error)")
            logger.warning(failure.reason)
            throw failure
        }
    }

    func sendIgnoringBody(_ endpoint: Endpoint) throws(BackendError) {
        _ = try perform(endpoint)
    }

    /// The raw 2xx response, after the retries; a failure is logged once.
    private func perform(_ endpoint: Endpoint) throws(BackendError) -> HTTPResponse {
        // Outside a file operation (the login check at mount time), the
        // retries of one call get twice the exchange timeout.
        let deadline = Deadline.end ?? Date().addingTimeInterval(timeout * 2)
        var renewedToken = false
        var rateLimitRetries = 0
        while true {
            let token = endpoint.authenticated ? try tokens.token(using: self) : nil
            let response = try exchange(endpoint, token: token)
            if (200..<300).contains(response.status) { return response }
            let body = try? JSON.decoder.decode(ErrorBody.self, from: Data(response.body))
            if endpoint.authenticated, let token, StatusMapping.isTokenRejected(status: response.status, body: body) {
                let failure = StatusMapping.error(status: response.status, body: body, route: endpoint.logName)
                if !renewedToken, tokens.canLogIn {
                    renewedToken = true
                    logger.notice("\(endpoint.logName) → \(response.status): token refused; logging in again")
                    _ = tokens.refused(token, because: failure)
                    continue
                }
                throw tokens.refused(token, because: failure)
            }
            if response.status == 429, rateLimitRetries < 3 {
                // Jitter, so that clients told the same Retry-After do not all come back at once.
                let wait = Self.retryAfter(response, body: body) * Double.random(in: 1.0...1.2)
                if Date().addingTimeInterval(wait) < deadline {
                    rateLimitRetries += 1
                    logger.notice("\(endpoint.logName) → 429: retrying in \(String(format: "%.1f", wait)) s")
                    Thread.sleep(forTimeInterval: wait)
                    continue
                }
            }
            let failure = StatusMapping.error(status: response.status, body: body, route: endpoint.logName)
            if endpoint.logsFailures { logger.log(failure.kind == .notFound ? .debug : .warning, failure.reason) }
            throw failure
        }
    }

    /// One HTTP exchange, without retries.
    func exchange(_ endpoint: Endpoint, token: String?) throws(BackendError) -> HTTPResponse {
        var url = baseURL + endpoint.path
        if !endpoint.query.isEmpty { url += "?" + PercentEncoding.query(endpoint.query) }
        var headers: [(name: String, value: String)] = [("Accept", "application/json"), ("User-Agent", "infisicalfs")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        var body: [UInt8]?
        if let json = endpoint.body {
            headers.append(("Content-Type", "application/json"))
            body = JSON.encode(json)
        }
        let seconds = Deadline.remaining(atMost: timeout)
        guard seconds >= Self.shortestExchange else {
            let failure = BackendError(.timedOut, "\(endpoint.logName): the operation's deadline has passed")
            if endpoint.logsFailures { logger.warning(failure.reason) }
            throw failure
        }
        do {
            let response = try transport.send(
                HTTPRequest(method: endpoint.method, url: url, headers: headers, body: body, timeout: seconds))
            record(endpoint, status: response.status)
            return response
        } catch {
            record(endpoint, status: nil)
            let failure = StatusMapping.error(error, route: endpoint.logName)
            if endpoint.logsFailures { logger.warning(failure.reason) }
            throw failure
        }
    }

    private func record(_ endpoint: Endpoint, status: Int?) {
        let now = Date()
        figures.withLock { figures in
            var route = figures[endpoint.logName, default: RouteFigures()]
            route.calls += 1
            if !(200..<300).contains(status ?? 0) { route.errors += 1 }
            route.lastStatus = status
            route.lastCall = now
            figures[endpoint.logName] = route
        }
    }

    /// Calls and errors, in total and by route ("GET /api/v3/secrets/raw").
    var status: StatusValue {
        let routes = figures.withLock { $0 }.sorted { $0.key < $1.key }
        return .object([
            ("calls", .integer(routes.reduce(0) { $0 + $1.value.calls })),
            ("errors", .integer(routes.reduce(0) { $0 + $1.value.errors })),
            ("by_route", .object(routes.map { route, figures in
                (route, .object([
                    ("calls", .integer(figures.calls)), ("errors", .integer(figures.errors)),
                    ("last_status", figures.lastStatus.map(StatusValue.integer) ?? .null),
                    ("last_call", .time(figures.lastCall)),
                ]))
            })),
        ])
    }

    /// Below this many seconds left, an exchange is not started: it could not finish.
    static let shortestExchange: Double = 0.05

    /// Seconds to wait after a 429: the Retry-After header, else the N of
    /// "try again in N seconds", else 1.
    static func retryAfter(_ response: HTTPResponse, body: ErrorBody?) -> Double {
        if let header = response.header("retry-after"), let seconds = Double(header), seconds >= 0 {
            // Old rate-limit plugins sent milliseconds.
            return seconds > 600 ? seconds / 1000 : seconds
        }
        if let message = body?.message, let range = message.range(of: #"in (\d+) second"#, options: .regularExpression) {
            let digits = message[range].filter(\.isNumber)
            if let seconds = Double(digits) { return seconds }
        }
        return 1
    }
}
