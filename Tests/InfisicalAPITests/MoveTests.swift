import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

private let source = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["a"]))
private let target = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["b"]))

private func taggedSecretJSON(_ name: String, _ value: String, comment: String = "why", version: Int = 3) -> String {
    #"{"id":"sid-\#(name)","_id":"sid-\#(name)","version":\#(version),"type":"shared","secretKey":"\#(name)","#
        + #""secretValue":"\#(value)","secretComment":"\#(comment)","#
        + #""tags":[{"id":"tag-1","slug":"prod-db","name":"prod-db","color":"blue"}],"#
        + #""createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:06.000Z"}"#
}

private func backend(_ stub: StubTransport) -> InfisicalBackend {
    InfisicalBackend(
        configuration: InfisicalConfiguration(siteURL: "http://infisical.test", credentials: .accessToken("tok")),
        transport: stub, logger: .disabled)
}

private func calls(_ stub: StubTransport) -> [String] {
    stub.requests.map { "\($0.method) \($0.path.replacingOccurrences(of: "/api/v3/secrets/raw/", with: ""))" }
}

@Suite("Moves between folders")
struct MoveTests {
    @Test func aMoveToAnotherFolderIsOneCallToTheMoveRouteAndTheTagsAreSetAgain() throws {
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("GET", "/api/v3/secrets/raw/K"):
                return response(200, #"{"secret":\#(taggedSecretJSON("K", "v"))}"#)
            case ("POST", "/api/v4/secrets/move"):
                return response(200, #"{"isSourceUpdated":true,"isDestinationUpdated":true}"#)
            case ("PATCH", "/api/v3/secrets/raw/K"):
                return response(200, #"{"secret":\#(taggedSecretJSON("K", "", version: 2))}"#)
            default:
                return errorBody(500, "InternalServerError", "unexpected \(request.method) \(request.path)")
            }
        }
        let moved = try backend(stub).moveSecret("K", from: source, to: "K", in: target)
        #expect(moved.name == "K" && moved.value == "v")
        #expect(calls(stub) == ["GET K", "POST /api/v4/secrets/move", "PATCH K", "GET K"])
        let move = stub.requests[1].json
        #expect(move["projectId"] as? String == "p1")
        #expect(move["sourceEnvironment"] as? String == "dev" && move["destinationEnvironment"] as? String == "dev")
        #expect(move["sourceSecretPath"] as? String == "/a" && move["destinationSecretPath"] as? String == "/b")
        #expect(move["secretIds"] as? [String] == ["sid-K"])
        #expect(move["shouldOverwrite"] as? Bool == true)
        let tags = stub.requests[2].json
        #expect(tags["secretPath"] as? String == "/b")
        #expect(tags["tagIds"] as? [String] == ["tag-1"])
        #expect(tags["secretValue"] == nil)
    }

    @Test func aServerWithoutTheMoveRouteCopiesValueCommentAndTagsThenDeletes() throws {
        let moveCalls = Mutex(0)
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("GET", "/api/v3/secrets/raw/K"), ("GET", "/api/v3/secrets/raw/L"):
                return response(200, #"{"secret":\#(taggedSecretJSON("K", "v"))}"#)
            case ("POST", "/api/v4/secrets/move"):
                moveCalls.withLock { $0 += 1 }
                return response(
                    404, #"{"message":"Route POST:/api/v4/secrets/move not found","error":"Not Found","statusCode":404}"#)
            case ("POST", "/api/v3/secrets/raw/K"), ("POST", "/api/v3/secrets/raw/L"):
                return response(200, #"{"secret":\#(taggedSecretJSON("K", "v", version: 1))}"#)
            case ("DELETE", "/api/v3/secrets/raw/K"), ("DELETE", "/api/v3/secrets/raw/L"):
                return response(200, #"{"secret":\#(taggedSecretJSON("K", "v"))}"#)
            default:
                return errorBody(500, "InternalServerError", "unexpected \(request.method) \(request.path)")
            }
        }
        let infisical = backend(stub)
        _ = try infisical.moveSecret("K", from: source, to: "K", in: target)
        #expect(calls(stub) == ["GET K", "POST /api/v4/secrets/move", "POST K", "GET K", "DELETE K"])
        let create = stub.requests[2].json
        #expect(create["secretValue"] as? String == "v")
        #expect(create["secretComment"] as? String == "why")
        #expect(create["tagIds"] as? [String] == ["tag-1"])
        #expect(create["secretPath"] as? String == "/b")
        // Asked once: the next move goes straight to the copy.
        _ = try infisical.moveSecret("L", from: source, to: "L", in: target)
        #expect(moveCalls.withLock { $0 } == 1)
    }

    @Test func aMoveOntoAnExistingNameReplacesItWithTheServersOwnWords() throws {
        // "Secret already exist": the server's create answer when the name is taken.
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("GET", "/api/v3/secrets/raw/A"):
                return response(200, #"{"secret":\#(taggedSecretJSON("A", "aaa"))}"#)
            case ("GET", "/api/v3/secrets/raw/B"):
                return response(200, #"{"secret":\#(taggedSecretJSON("B", "aaa", version: 4))}"#)
            case ("POST", "/api/v3/secrets/raw/B"):
                return errorBody(400, "BadRequest", "Secret already exist")
            case ("PATCH", "/api/v3/secrets/raw/B"):
                return response(200, #"{"secret":\#(taggedSecretJSON("B", "aaa", version: 4))}"#)
            case ("DELETE", "/api/v3/secrets/raw/A"):
                return response(200, #"{"secret":\#(taggedSecretJSON("A", "aaa"))}"#)
            default:
                return errorBody(500, "InternalServerError", "unexpected \(request.method) \(request.path)")
            }
        }
        let moved = try backend(stub).moveSecret("A", from: source, to: "B", in: source)
        #expect(moved.value == "aaa")
        // The target's old state is read before it is replaced: a failed move puts it back.
        #expect(calls(stub) == ["GET A", "GET B", "POST B", "GET B", "PATCH B", "GET B", "DELETE A"])
        #expect(stub.requests[4].json["secretValue"] as? String == "aaa")
    }

    @Test func aValueHiddenFromTheIdentityIsNeverCopied() {
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("GET", "/api/v3/secrets/raw/A"):
                return response(
                    200,
                    #"{"secret":{"id":"a","secretKey":"A","secretValue":"<hidden-by-infisical>","secretValueHidden":true}}"#)
            case ("GET", "/api/v3/secrets/raw/B"):
                return errorBody(404, "NotFound", "Secret with name 'B' not found")
            case ("PATCH", "/api/v3/secrets/raw/A"):
                return errorBody(400, "BadRequest", "Secret with the new name already exists")
            default:
                return errorBody(500, "InternalServerError", "unexpected \(request.method) \(request.path)")
            }
        }
        do {
            _ = try backend(stub).moveSecret("A", from: source, to: "B", in: source)
            Issue.record("moved")
        } catch {
            #expect((error as? BackendError)?.kind == .permissionDenied)
        }
        #expect(!stub.requests.contains { $0.method == "POST" || $0.method == "DELETE" })
    }
}
