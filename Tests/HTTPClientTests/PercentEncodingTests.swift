@testable import HTTPClient
import Testing

@Suite("PercentEncoding")
struct PercentEncodingTests {
    @Test("Unreserved characters stay as they are")
    func unreserved() {
        let s = "ABCXYZabcxyz0189-._~"
        #expect(PercentEncoding.pathSegment(s) == s)
        #expect(PercentEncoding.queryValue(s) == s)
        #expect(PercentEncoding.pathSegment("") == "")
    }

    @Test("Delimiters, space and percent are encoded")
    func reserved() {
        #expect(PercentEncoding.queryValue(" &=?#+/%") == "%20%26%3D%3F%23%2B%2F%25")
        #expect(PercentEncoding.pathSegment("a/b?c#d") == "a%2Fb%3Fc%23d")
        #expect(PercentEncoding.queryValue(":@!$'()*,;[]") == "%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D")
    }

    @Test("Non-ASCII is encoded as UTF-8 bytes, upper-case hex")
    func unicode() {
        #expect(PercentEncoding.pathSegment("ü") == "%C3%BC")
        #expect(PercentEncoding.queryValue("🔑") == "%F0%9F%94%91")
        #expect(PercentEncoding.queryValue("\n\u{0}") == "%0A%00")
    }

    @Test("Query keeps the given order and encodes keys and values")
    func query() {
        #expect(PercentEncoding.query([("b", "2"), ("a", "1 & 2"), ("k=", "")]) == "b=2&a=1%20%26%202&k%3D=")
        #expect(PercentEncoding.query([]) == "")
    }

    @Test("HTTPResponse headers are looked up case-insensitively")
    func responseHeaders() {
        let response = HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], body: [])
        #expect(response.header("content-type") == "text/plain")
        #expect(response.header("CONTENT-TYPE") == "text/plain")
        #expect(response.header("x") == nil)
    }

    @Test("HTTPError description is one line")
    func errorDescription() {
        let error = HTTPError(kind: .timedOut, message: "Operation timed out\nafter 1000 ms")
        #expect(error.description == "timed out: Operation timed out after 1000 ms")
    }
}
