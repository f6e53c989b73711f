import Foundation
@testable import HTTPClient
import Logging
import Synchronization
import Testing

private func elapsed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    let d = ContinuousClock.now - start
    return (value, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}

/// The error a call threw, or nil when it returned.
private func failure(_ transport: some HTTPTransport, _ request: HTTPRequest) -> HTTPError? {
    do {
        _ = try transport.send(request)
        return nil
    } catch {
        return error
    }
}

@Suite("CurlTransport against local servers")
struct CurlTransportTests {
    @Test("Method, headers and JSON body round-trip", arguments: ["GET", "POST", "PATCH", "DELETE", "PUT"])
    func roundTrip(method: String) throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport()
        let json = Array(#"{"secretValue":"s3cr\u00e9t","type":"shared","n":[1,2,3]}"#.utf8)
        let request = HTTPRequest(
            method: method, url: server.url("/api/v3/secrets/raw/NAME?environment=dev"),
            headers: [
                (name: "Content-Type", value: "application/json"), (name: "Accept", value: "application/json"),
                (name: "Authorization", value: "Bearer token-123"), (name: "X-Empty", value: ""),
            ],
            body: json)
        let response = try transport.send(request)
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        let echo = try Echo(response.body)
        #expect(echo.method == method)
        #expect(echo.rawPath == "/api/v3/secrets/raw/NAME")
        #expect(echo.rawQuery == "environment=dev")
        #expect(echo.header("content-type") == "application/json")
        #expect(echo.header("accept") == "application/json")
        #expect(echo.header("authorization") == "Bearer token-123")
        #expect(echo.header("x-empty") == "")
        #expect(echo.header("user-agent") == "infisicalfs")
        #expect(echo.header("expect") == nil)
        #expect(echo.header("content-length") == String(json.count))
        #expect(echo.body == json)
    }

    @Test("Bodiless requests send no body; an empty POST sends Content-Length 0; HEAD works")
    func bodiless() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport(userAgent: "test-agent/1")
        for method in ["GET", "DELETE"] {
            let echo = try Echo(transport.send(HTTPRequest(method: method, url: server.url("/x"))).body)
            #expect(echo.method == method)
            #expect(echo.body.isEmpty)
            #expect(echo.header("content-type") == nil)
            #expect(echo.header("user-agent") == "test-agent/1")
        }
        let post = try Echo(transport.send(HTTPRequest(method: "POST", url: server.url("/x"))).body)
        #expect(post.method == "POST")
        #expect(post.header("content-length") == "0")
        #expect(post.header("content-type") == nil)
        let head = try transport.send(HTTPRequest(method: "HEAD", url: server.url("/x")))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(Int(head.header("content-length") ?? "") ?? 0 > 0)
    }

    @Test("Percent-encoded names and query values reach the server intact")
    func percentEncodingOnTheWire() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let name = "my key?x=1&y#frag/ü+🔑%20"
        let query: [(String, String)] = [("environment", "dev & prod=1"), ("secretPath", "/a b/c?#"), ("z", "")]
        let url = server.url("/raw/" + PercentEncoding.pathSegment(name) + "?" + PercentEncoding.query(query))
        let echo = try Echo(CurlTransport().send(HTTPRequest(method: "GET", url: url)).body)
        #expect(echo.path == "/raw/" + name)
        #expect(echo.query.map(\.0) == query.map(\.0))
        #expect(echo.query.map(\.1) == query.map(\.1))
    }

    @Test("Non-2xx statuses are responses, and redirects are not followed")
    func statuses() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport()
        for status in [201, 400, 401, 403, 404, 422, 429, 500, 503] {
            let response = try transport.send(HTTPRequest(method: "GET", url: server.url("/status/\(status)")))
            #expect(response.status == status)
            #expect(response.header("x-custom-header") == "custom")
            #expect(response.headers["x-custom-header"] == "custom")
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"error": "status \#(status)"}"#)
        }
        let redirect = try transport.send(HTTPRequest(method: "GET", url: server.url("/redirect")))
        #expect(redirect.status == 302)
        #expect(redirect.header("location") == "/elsewhere")
        #expect(redirect.body == Array("moved".utf8))
    }

    @Test("A server that accepts and never answers times out at the deadline")
    func hungServer() throws {
        let server = try TestServer(mode: "hang")
        defer { server.stop() }
        let (error, seconds) = elapsed {
            failure(CurlTransport(), HTTPRequest(method: "GET", url: server.url("/"), timeout: 1.0))
        }
        print("hung server: timedOut after \(seconds) s (deadline 1.0 s)")
        #expect(error?.kind == .timedOut)
        #expect(seconds >= 0.95 && seconds <= 1.5)
    }

    @Test("A server that trickles one byte every 0.3 s times out at the deadline")
    func tricklingServer() throws {
        let server = try TestServer(mode: "trickle")
        defer { server.stop() }
        let (error, seconds) = elapsed {
            failure(CurlTransport(), HTTPRequest(method: "GET", url: server.url("/"), timeout: 1.5))
        }
        print("trickling server: timedOut after \(seconds) s (deadline 1.5 s)")
        #expect(error?.kind == .timedOut)
        #expect(seconds >= 1.45 && seconds <= 2.0)
    }

    @Test("A refused port fails quickly with cannotConnect")
    func refused() throws {
        let probe = try TestServer(mode: "freeport")
        probe.stop()
        let (error, seconds) = elapsed {
            failure(CurlTransport(), HTTPRequest(method: "GET", url: probe.url("/"), timeout: 5))
        }
        #expect(error?.kind == .cannotConnect)
        #expect(seconds < 1)
        #expect(error?.message.isEmpty == false)
    }

    @Test("A response over the cap fails with tooLarge; one at the cap succeeds")
    func tooLarge() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport(maximumResponseBytes: 10_000)
        #expect(try transport.send(HTTPRequest(method: "GET", url: server.url("/big/10000"))).body.count == 10_000)
        #expect(try transport.send(HTTPRequest(method: "GET", url: server.url("/bigchunked/10000"))).body.count == 10_000)
        // With Content-Length curl refuses up front; chunked, the write callback stops it.
        #expect(failure(transport, HTTPRequest(method: "GET", url: server.url("/big/10001")))?.kind == .tooLarge)
        #expect(failure(transport, HTTPRequest(method: "GET", url: server.url("/bigchunked/50000")))?.kind == .tooLarge)
        // The handle is still good afterwards.
        #expect(try transport.send(HTTPRequest(method: "GET", url: server.url("/status/204"))).status == 204)
    }

    @Test("50 requests from 8 threads at once all get their own answer")
    func concurrent() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport()
        let base = server.url("/item/")
        let results = Mutex<[Int: Result<String, HTTPError>]>([:])
        let done = DispatchGroup()
        for thread in 0..<8 {
            done.enter()
            Thread {
                for i in stride(from: thread, to: 50, by: 8) {
                    let request = HTTPRequest(
                        method: "POST", url: base + "\(i)", headers: [(name: "X-Index", value: "\(i)")],
                        body: Array("body-\(i)".utf8))
                    let result: Result<String, HTTPError>
                    do {
                        let echo = try Echo(transport.send(request).body)
                        let ok = echo.rawPath == "/item/\(i)" && echo.header("x-index") == "\(i)"
                            && echo.body == Array("body-\(i)".utf8)
                        result = .success(ok ? "ok" : "mismatch")
                    } catch let error as HTTPError {
                        result = .failure(error)
                    } catch {
                        result = .success("bad json")
                    }
                    results.withLock { $0[i] = result }
                }
                done.leave()
            }.start()
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        let all = results.withLock { $0 }
        #expect(all.count == 50)
        for i in 0..<50 {
            guard case .success("ok") = all[i] else {
                Issue.record("request \(i): \(String(describing: all[i]))")
                continue
            }
        }
    }

    @Test("Sequential requests reuse connections")
    func connectionReuse() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let transport = CurlTransport()
        for i in 0..<20 {
            #expect(try transport.send(HTTPRequest(method: "GET", url: server.url("/seq/\(i)"))).status == 200)
        }
        let response = try transport.send(HTTPRequest(method: "GET", url: server.url("/connections")))
        let count = try #require(
            (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["connections"] as? Int)
        print("connection reuse: 21 requests used \(count) TCP connection(s)")
        #expect(count <= 2)
    }

    @Test("Invalid headers and methods are refused before anything is sent")
    func invalidInput() {
        let transport = CurlTransport()
        let injected = HTTPRequest(
            method: "GET", url: "http://127.0.0.1:9/", headers: [(name: "X-A", value: "v\r\nX-Injected: 1")])
        #expect(failure(transport, injected)?.kind == .other)
        #expect(failure(transport, HTTPRequest(method: "GE T", url: "http://127.0.0.1:9/"))?.kind == .other)
        #expect(failure(transport, HTTPRequest(method: "GET", url: "file:///etc/passwd"))?.kind == .other)
    }

    @Test("Logs carry neither the Authorization header nor the query")
    func logging() throws {
        let server = try TestServer(mode: "echo")
        defer { server.stop() }
        let handler = InMemoryLogHandler()
        let transport = CurlTransport(logger: Logger(label: "http", handler: handler, minimumLevel: .debug))
        _ = try transport.send(
            HTTPRequest(
                method: "POST", url: server.url("/secret/NAME?token=query-secret"),
                headers: [(name: "Authorization", value: "Bearer header-secret")], body: Array("body-secret".utf8)))
        _ = failure(transport, HTTPRequest(method: "GET", url: "http://user:pw-secret@127.0.0.1:9/x?q=query-secret"))
        let lines = handler.entries.map(\.message)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("/secret/NAME") == true)
        for line in lines {
            for secret in ["query-secret", "header-secret", "body-secret", "pw-secret"] {
                #expect(!line.contains(secret), "\(line)")
            }
        }
    }

    @Test("Loggable URLs drop user info, query and fragment")
    func loggableURL() {
        #expect(CurlTransport.loggableURL("https://u:p@h.example:8443/a/b?x=1#f") == "https://h.example:8443/a/b")
        #expect(CurlTransport.loggableURL("http://h/a@b?x") == "http://h/a@b")
        #expect(CurlTransport.loggableURL("no-scheme?x") == "no-scheme")
    }
}

@Suite("CurlTransport TLS")
struct CurlTransportTLSTests {
    @Test("A private CA: refused by default, trusted as extra PEM or as the CA file")
    func privateCA() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try TestServer(mode: "tls", certificate: pki.serverCertificate, key: pki.serverKey)
        defer { server.stop() }
        let request = HTTPRequest(method: "GET", url: server.url("/status/200", scheme: "https"))

        let untrusted = failure(CurlTransport(), request)
        print("untrusted server: \(String(describing: untrusted))")
        #expect(untrusted?.kind == .tls)
        #expect(untrusted?.message.isEmpty == false)

        let added = CurlTransport(tls: TLSConfiguration(extraTrustedPEM: pki.caPEM))
        #expect(try added.send(request).status == 200)
        #expect(try added.send(request).status == 200)

        #expect(try CurlTransport(tls: TLSConfiguration(caFile: pki.caFile)).send(request).status == 200)

        // Another bundle replaces the system one: the private CA alone is missing from it...
        #expect(failure(CurlTransport(tls: TLSConfiguration(caFile: pki.otherCAFile)), request)?.kind == .tls)
        // ...and the extra PEM is added to that bundle, not substituted for it.
        let both = CurlTransport(tls: TLSConfiguration(extraTrustedPEM: pki.caPEM, caFile: pki.otherCAFile))
        #expect(try both.send(request).status == 200)

        // Without caFile the PEM is added to the system bundle (here a stand-in holding the private CA).
        let onSystemBundle = CurlTransport(
            tls: TLSConfiguration(extraTrustedPEM: try String(contentsOfFile: pki.otherCAFile, encoding: .utf8)),
            userAgent: "t", maximumResponseBytes: 1 << 20, logger: .disabled, systemBundlePath: pki.caFile)
        #expect(try onSystemBundle.send(request).status == 200)
        let onOtherSystemBundle = CurlTransport(
            tls: TLSConfiguration(extraTrustedPEM: try String(contentsOfFile: pki.otherCAFile, encoding: .utf8)),
            userAgent: "t", maximumResponseBytes: 1 << 20, logger: .disabled, systemBundlePath: pki.otherCAFile)
        #expect(failure(onOtherSystemBundle, request)?.kind == .tls)

        let fromEnvironment = TLSConfiguration.fromEnvironment(["INFISICAL_SSL_CERTIFICATE": pki.caPEM])
        #expect(try CurlTransport(tls: fromEnvironment).send(request).status == 200)
        let certFile = TLSConfiguration.fromEnvironment(["SSL_CERT_FILE": pki.caFile])
        #expect(try CurlTransport(tls: certFile).send(request).status == 200)
    }

    @Test("Unusable TLS settings fail every call with .tls instead of trusting something else")
    func unusableSettings() throws {
        let garbage = CurlTransport(tls: TLSConfiguration(extraTrustedPEM: "not a certificate"))
        #expect(failure(garbage, HTTPRequest(method: "GET", url: "https://127.0.0.1:9/"))?.kind == .tls)
        let missing = CurlTransport(
            tls: TLSConfiguration(
                extraTrustedPEM: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", caFile: "/nonexistent/ca.pem"))
        #expect(failure(missing, HTTPRequest(method: "GET", url: "https://127.0.0.1:9/"))?.kind == .tls)
    }

    @Test("fromEnvironment maps the two variables and ignores empty ones")
    func environment() {
        let tls = TLSConfiguration.fromEnvironment(["INFISICAL_SSL_CERTIFICATE": "PEM", "SSL_CERT_FILE": "/ca.pem"])
        #expect(tls.extraTrustedPEM == "PEM")
        #expect(tls.caFile == "/ca.pem")
        let empty = TLSConfiguration.fromEnvironment(["INFISICAL_SSL_CERTIFICATE": "", "SSL_CERT_FILE": ""])
        #expect(empty.extraTrustedPEM == nil)
        #expect(empty.caFile == nil)
        #expect(TLSConfiguration.fromEnvironment([:]).caFile == nil)
    }
}
