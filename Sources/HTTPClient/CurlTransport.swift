import CCurl
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An `HTTPTransport` on libcurl's easy interface. Chosen over URLSession,
/// which on Linux leaks per request and has no hard total deadline.
///
/// `send` blocks the calling thread; calls from many threads run in parallel,
/// each on its own easy handle taken from a pool, so connections (and DNS
/// results) are reused by later calls. Redirects are not followed.
public final class CurlTransport: HTTPTransport {
    /// curl_global_init is not safe to race; a static let runs it once.
    private static let globalInitResult: Bool = ccurl_global_init() == CURLE_OK

    /// Idle handles kept for reuse, each holding its live connections; more
    /// are created under load and freed on return when the pool is full.
    private static let maximumIdleHandles = 16

    private let pool = Mutex<[EasyHandle]>([])
    private let trust: Trust
    private let userAgent: String
    private let maximumResponseBytes: Int
    private let logger: Logger

    public convenience init(
        tls: TLSConfiguration = .init(), userAgent: String = "infisicalfs", maximumResponseBytes: Int = 16 << 20,
        logger: Logger = .disabled
    ) {
        self.init(
            tls: tls, userAgent: userAgent, maximumResponseBytes: maximumResponseBytes, logger: logger,
            systemBundlePath: Trust.systemBundle)
    }

    /// `systemBundlePath` is the bundle extra PEM is added to when no `caFile` is given; tests replace it.
    init(tls: TLSConfiguration, userAgent: String, maximumResponseBytes: Int, logger: Logger, systemBundlePath: String) {
        _ = Self.globalInitResult
        self.userAgent = userAgent
        self.maximumResponseBytes = max(0, maximumResponseBytes)
        self.logger = logger
        self.trust = Trust(tls, systemBundle: systemBundlePath)
        if case .unusable(let reason) = trust {
            logger.warning("TLS configuration unusable, every HTTPS call will fail: \(reason)")
        }
    }

    deinit {
        for handle in pool.withLock({ $0 }) { handle.destroy() }
    }

    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let started = ContinuousClock.now
        let target = "\(request.method) \(Self.loggableURL(request.url))"
        do {
            let response = try perform(request)
            logger.debug("\(target) -> \(response.status) in \(Self.milliseconds(since: started)) ms")
            return response
        } catch {
            logger.info("\(target) failed after \(Self.milliseconds(since: started)) ms: \(error)")
            throw error
        }
    }

    // MARK: - One transfer

    private func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        guard Self.globalInitResult else { throw HTTPError(kind: .other, message: "curl_global_init failed") }
        if case .unusable(let reason) = trust { throw HTTPError(kind: .tls, message: reason) }
        try Self.validate(request)

        let handle = try checkOut()
        defer { checkIn(handle) }
        let curl = handle.curl

        // Everything curl keeps a pointer to must outlive curl_easy_perform.
        let sink = ResponseSink(limit: maximumResponseBytes)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        var bodyCopy: UnsafeMutableRawBufferPointer? = nil
        defer { bodyCopy?.deallocate() }

        handle.errorBuffer[0] = 0
        var setup = Setup(curl: curl)
        setup.pointer(CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(handle.errorBuffer))
        setup.string(CURLOPT_URL, request.url)
        setup.string(CURLOPT_PROTOCOLS_STR, "http,https")
        setup.long(CURLOPT_NOSIGNAL, 1)  // timeouts must not use signals in a threaded process
        let timeoutMS = Self.timeoutMilliseconds(request.timeout)
        setup.long(CURLOPT_TIMEOUT_MS, timeoutMS)
        setup.long(CURLOPT_CONNECTTIMEOUT_MS, timeoutMS)
        setup.long(CURLOPT_FOLLOWLOCATION, 0)
        setup.long(CURLOPT_TCP_NODELAY, 1)
        setup.long(CURLOPT_SSL_VERIFYPEER, 1)
        setup.long(CURLOPT_SSL_VERIFYHOST, 2)
        setup.string(CURLOPT_USERAGENT, userAgent)
        setup.offset(CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maximumResponseBytes))
        trust.apply(to: &setup)

        let context = Unmanaged.passUnretained(sink).toOpaque()
        setup.callback(CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let bytes = size * count
            guard bytes > 0, let data, let context else { return bytes }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            // Returning fewer bytes than given makes curl stop with CURLE_WRITE_ERROR.
            return sink.appendBody(UnsafeRawBufferPointer(start: data, count: bytes)) ? bytes : 0
        }
        setup.pointer(CURLOPT_WRITEDATA, context)
        setup.callback(CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let bytes = size * count
            guard bytes > 0, let data, let context else { return bytes }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            sink.headerLine(UnsafeRawBufferPointer(start: data, count: bytes))
            return bytes
        }
        setup.pointer(CURLOPT_HEADERDATA, context)

        let method = request.method
        // An empty POST still carries Content-Length: 0.
        let body = request.body ?? (method == "POST" ? [] : nil)
        if method == "HEAD" {
            setup.long(CURLOPT_NOBODY, 1)
        } else if let body {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(body.count, 1), alignment: 1)
            bodyCopy = copy
            copy.copyBytes(from: body)
            setup.pointer(CURLOPT_POSTFIELDS, copy.baseAddress)
            setup.offset(CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            if method != "POST" { setup.string(CURLOPT_CUSTOMREQUEST, method) }
        } else if method == "GET" {
            setup.long(CURLOPT_HTTPGET, 1)
        } else {
            setup.string(CURLOPT_CUSTOMREQUEST, method)
        }

        var names = Set<String>()
        for header in request.headers {
            names.insert(header.name.lowercased())
            // "Name;" is curl's way to send a header with an empty value.
            let line = header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)"
            headerList = curl_slist_append(headerList, line)
        }
        // No 100-continue round trip, and no made-up form Content-Type for bodies.
        if !names.contains("expect") { headerList = curl_slist_append(headerList, "Expect:") }
        if body != nil, !names.contains("content-type") {
            headerList = curl_slist_append(headerList, "Content-Type:")
        }
        setup.slist(CURLOPT_HTTPHEADER, headerList)

        if let failure = setup.failure {
            throw HTTPError(kind: .other, message: "cannot set \(failure.option): \(Self.text(of: failure.code))")
        }

        let code = withExtendedLifetime(sink) { curl_easy_perform(curl) }
        guard code == CURLE_OK else { throw error(for: code, handle: handle, sink: sink) }

        var status = 0
        _ = ccurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    private func error(for code: CURLcode, handle: EasyHandle, sink: ResponseSink) -> HTTPError {
        let detail = handle.errorBuffer[0] != 0 ? String(cString: handle.errorBuffer) : Self.text(of: code)
        let kind: HTTPError.Kind
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timedOut
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .cannotConnect
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            kind = .tls
        case CURLE_FILESIZE_EXCEEDED:
            return HTTPError(kind: .tooLarge, message: "response larger than \(maximumResponseBytes) bytes")
        case CURLE_WRITE_ERROR where sink.exceeded:
            return HTTPError(kind: .tooLarge, message: "response larger than \(maximumResponseBytes) bytes")
        default:
            kind = .other
        }
        return HTTPError(kind: kind, message: detail)
    }

    // MARK: - Handle pool

    private func checkOut() throws(HTTPError) -> EasyHandle {
        // Last in, first out: the most recently used handle has the warmest connection.
        if let handle = pool.withLock({ $0.popLast() }) { return handle }
        guard let handle = EasyHandle() else { throw HTTPError(kind: .other, message: "curl_easy_init failed") }
        return handle
    }

    private func checkIn(_ handle: EasyHandle) {
        // Forget this call's options (and its pointers into freed buffers);
        // connections and the DNS cache survive a reset.
        curl_easy_reset(handle.curl)
        let kept = pool.withLock { idle in
            guard idle.count < Self.maximumIdleHandles else { return false }
            idle.append(handle)
            return true
        }
        if !kept { handle.destroy() }
    }

    // MARK: - Helpers

    private static func validate(_ request: HTTPRequest) throws(HTTPError) {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(isTokenByte) else {
            throw HTTPError(kind: .other, message: "invalid HTTP method")
        }
        for header in request.headers {
            // A CR or LF would let a value inject headers; NUL would truncate it in C.
            guard !header.name.isEmpty, header.name.utf8.allSatisfy(isTokenByte),
                !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
            else {
                throw HTTPError(kind: .other, message: "invalid header \(header.name.filter { $0.isASCII && !$0.isNewline })")
            }
        }
        guard !request.url.utf8.contains(0) else { throw HTTPError(kind: .other, message: "invalid URL") }
    }

    /// RFC 9110 token characters, for methods and header names.
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// curl treats 0 as "no timeout"; anything unusable becomes the shortest deadline instead.
    private static func timeoutMilliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite || seconds == .infinity, seconds > 0 else { return 1 }
        let ms = (seconds * 1000).rounded(.up)
        return ms >= Double(Int32.max) ? Int(Int32.max) : max(1, Int(ms))
    }

    private static func text(of code: CURLcode) -> String { String(cString: curl_easy_strerror(code)) }

    private static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    /// The URL without user info, query or fragment: those may carry secrets.
    static func loggableURL(_ url: String) -> String {
        var s = Substring(url)
        if let cut = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<cut] }
        let parts = s.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return String(s) }
        let rest = parts[1]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return String(s) }
        return "\(parts[0])://\(rest[rest.index(after: at)...])"
    }
}

// MARK: - Pieces

/// One curl easy handle and its error buffer. Not shared: the pool hands it to
/// one call at a time, which is what makes moving it across threads sound.
private struct EasyHandle: @unchecked Sendable {
    let curl: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let curl = curl_easy_init() else { return nil }
        self.curl = curl
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    func destroy() {
        curl_easy_cleanup(curl)
        errorBuffer.deallocate()
    }
}

/// Collects one response; reached from curl's callbacks on the calling thread.
private final class ResponseSink {
    let limit: Int
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var exceeded = false

    init(limit: Int) { self.limit = limit }

    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= limit else {
            exceeded = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self)
        // A status line starts a new header block (after 100 Continue, a proxy's
        // CONNECT reply or a redirect): keep only the final response's headers.
        if line.hasPrefix("HTTP/") {
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingWhitespace()
        guard !name.isEmpty else { return }
        headers[name] = value
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }  // "\r\n" is one Character
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

/// Sets options, remembering the first failure so a too-old libcurl is reported
/// instead of silently weakening a request (a missing timeout, say).
private struct Setup {
    let curl: UnsafeMutableRawPointer
    var failure: (option: String, code: CURLcode)?

    init(curl: UnsafeMutableRawPointer) { self.curl = curl }

    private mutating func check(_ code: CURLcode, _ option: CURLoption) {
        if code != CURLE_OK, failure == nil { failure = ("option \(option.rawValue)", code) }
    }

    mutating func long(_ option: CURLoption, _ value: Int) { check(ccurl_setopt_long(curl, option, value), option) }
    mutating func offset(_ option: CURLoption, _ value: curl_off_t) {
        check(ccurl_setopt_off_t(curl, option, value), option)
    }
    mutating func string(_ option: CURLoption, _ value: String?) {
        // curl copies strings during setopt, so a temporary C string suffices.
        if let value {
            check(value.withCString { ccurl_setopt_string(curl, option, $0) }, option)
        } else {
            check(ccurl_setopt_string(curl, option, nil), option)
        }
    }
    mutating func pointer(_ option: CURLoption, _ value: UnsafeMutableRawPointer?) {
        check(ccurl_setopt_pointer(curl, option, value), option)
    }
    mutating func slist(_ option: CURLoption, _ value: UnsafeMutablePointer<curl_slist>?) {
        check(ccurl_setopt_slist(curl, option, value), option)
    }
    mutating func callback(_ option: CURLoption, _ value: ccurl_data_callback) {
        check(ccurl_setopt_callback(curl, option, value), option)
    }
    mutating func blob(_ option: CURLoption, _ bytes: UnsafeRawBufferPointer) {
        var blob = curl_blob(
            data: UnsafeMutableRawPointer(mutating: bytes.baseAddress), len: bytes.count,
            flags: UInt32(CURL_BLOB_NOCOPY))
        check(ccurl_setopt_blob(curl, option, &blob), option)
    }
}

/// The trusted roots, worked out once per transport.
enum Trust: Sendable {
    /// libcurl's built-in bundle and directory.
    case systemDefault
    /// A bundle file replacing the system's.
    case file(String)
    /// The base bundle with extra PEM appended, handed to curl from memory.
    /// `keepSystemDirectory` when no base bundle could be read.
    case blob(PinnedBytes, keepSystemDirectory: Bool)
    /// Misconfigured: every call fails with `.tls` rather than trusting the wrong roots.
    case unusable(String)

    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

    init(_ tls: TLSConfiguration, systemBundle: String) {
        guard let pem = tls.extraTrustedPEM else {
            self = tls.caFile.map { .file($0) } ?? .systemDefault
            return
        }
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            self = .unusable("the extra trusted certificate is not PEM text")
            return
        }
        var base: [UInt8] = []
        var keepDirectory = false
        if let caFile = tls.caFile {
            guard let bytes = readFile(caFile) else {
                self = .unusable("cannot read CA file \(caFile)")
                return
            }
            base = bytes
        } else if let bytes = readFile(systemBundle) {
            base = bytes
        } else {
            keepDirectory = true
        }
        // A newline between them: a bundle need not end with one.
        let combined = base + Array("\n".utf8) + Array(pem.utf8) + Array("\n".utf8)
        self = .blob(PinnedBytes(combined), keepSystemDirectory: keepDirectory)
    }

    fileprivate func apply(to setup: inout Setup) {
        switch self {
        case .systemDefault, .unusable:
            break
        case .file(let path):
            setup.string(CURLOPT_CAINFO, path)
            setup.string(CURLOPT_CAPATH, nil)
        case .blob(let bytes, let keepSystemDirectory):
            setup.blob(CURLOPT_CAINFO_BLOB, bytes.buffer)
            setup.string(CURLOPT_CAINFO, nil)
            if !keepSystemDirectory { setup.string(CURLOPT_CAPATH, nil) }
        }
    }
}

/// Bytes at a fixed address for the transport's lifetime, so curl can use them
/// without copying (CURL_BLOB_NOCOPY). Immutable after init.
final class PinnedBytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer

    init(_ bytes: [UInt8]) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        storage.copyBytes(from: bytes)
        buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<bytes.count])
    }

    deinit { UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate() }
}

private func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n > 0 { result.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count { return ferror(file) == 0 ? result : nil }
    }
}
