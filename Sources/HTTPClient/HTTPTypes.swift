/// One HTTP request as the transport sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The full URL, already percent-encoded (see `PercentEncoding`).
    public var url: String
    /// Sent in this order; an empty value is sent as an empty header, not dropped.
    public var headers: [(name: String, value: String)]
    /// Sent with an explicit Content-Length for any method, GET included.
    public var body: [UInt8]?
    /// Seconds for the whole call, connect included; the call fails with
    /// `.timedOut` once it has passed, however the server behaves.
    public var timeout: Double

    public init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Double = 10
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The final response of a call. Any status, 4xx and 5xx included, is a response.
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Names lowercased; when a name repeats, the last value wins.
    public let headers: [String: String]
    public let body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        // Lowercased here too so `header(_:)` works for responses built by hand (test doubles).
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
        self.body = body
    }

    /// The value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Why a call produced no response.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The request's deadline passed.
        case timedOut
        /// Refused, name not resolved, host unreachable: nothing reached the server.
        case cannotConnect
        /// Certificate verification or the TLS handshake failed.
        case tls
        /// The response body exceeded the transport's limit.
        case tooLarge
        case other
    }

    public let kind: Kind
    /// One line, curl's error text; never a header value, body or token.
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    public var description: String {
        let what =
            switch kind {
            case .timedOut: "timed out"
            case .cannotConnect: "cannot connect"
            case .tls: "TLS failure"
            case .tooLarge: "response too large"
            case .other: "HTTP failure"
            }
        return message.isEmpty ? what : "\(what): \(message)"
    }
}

/// Sends one request and blocks until the response or an error. Callable from
/// many threads at once (libfuse worker threads, not Swift concurrency tasks).
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse
}

/// Which certificate authorities a transport trusts. Peer and host names are
/// always verified; this only chooses the roots.
public struct TLSConfiguration: Sendable {
    /// PEM text of extra roots, trusted in addition to the bundle (`caFile`, or
    /// the system bundle).
    public var extraTrustedPEM: String?
    /// A PEM bundle file used instead of the system bundle.
    public var caFile: String?

    public init(extraTrustedPEM: String? = nil, caFile: String? = nil) {
        self.extraTrustedPEM = extraTrustedPEM
        self.caFile = caFile
    }

    /// `INFISICAL_SSL_CERTIFICATE` (PEM text, as the Infisical SDKs define it)
    /// becomes `extraTrustedPEM`; `SSL_CERT_FILE` becomes `caFile`. Empty values
    /// count as unset.
    public static func fromEnvironment(_ env: [String: String]) -> TLSConfiguration {
        func value(_ name: String) -> String? {
            guard let v = env[name], !v.isEmpty else { return nil }
            return v
        }
        return TLSConfiguration(extraTrustedPEM: value("INFISICAL_SSL_CERTIFICATE"), caFile: value("SSL_CERT_FILE"))
    }
}
