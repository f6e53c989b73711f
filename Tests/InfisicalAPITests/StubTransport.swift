import Foundation
import HTTPClient
import Synchronization

/// An HTTP transport that answers from a handler and records every request.
final class StubTransport: HTTPTransport {
    typealias Handler = @Sendable (HTTPRequest) throws(HTTPError) -> HTTPResponse
    private let handler: Handler
    private let log = Mutex<[HTTPRequest]>([])

    init(_ handler: @escaping Handler) { self.handler = handler }

    var requests: [HTTPRequest] { log.withLock { $0 } }

    func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        log.withLock { $0.append(request) }
        return try handler(request)
    }
}

extension HTTPRequest {
    var path: String { String(url.split(separator: "?", maxSplits: 1)[0]).replacingOccurrences(of: "http://infisical.test", with: "") }
    var query: String { url.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? "" }
    var authorization: String? { headers.first { $0.name.lowercased() == "authorization" }?.value }
    var json: [String: Any] {
        guard let body else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
}

func response(_ status: Int, _ json: String, headers: [String: String] = [:]) -> HTTPResponse {
    HTTPResponse(status: status, headers: headers, body: Array(json.utf8))
}

func errorBody(_ status: Int, _ error: String, _ message: String) -> HTTPResponse {
    response(status, #"{"reqId":"req-abc","statusCode":\#(status),"message":"\#(message)","error":"\#(error)"}"#)
}

let projectJSON = #"{"id":"p1","slug":"demo","name":"Demo","environments":[{"id":"e1","name":"Development","slug":"dev"}]}"#

func secretJSON(_ name: String, _ value: String, version: Int = 1) -> String {
    #"{"id":"s","_id":"s","workspace":"p1","environment":"dev","version":\#(version),"type":"shared","secretKey":"\#(name)","secretValue":"\#(value)","secretComment":"","createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:06.000Z"}"#
}
