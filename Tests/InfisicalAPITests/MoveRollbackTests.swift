import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

/// Secrets as a small Infisical keeps them (the raw secret routes and the
/// move route, by folder and name), with faults on chosen calls: what a
/// move leaves behind when one of its steps fails.
private final class FakeInfisical: Sendable {
    struct Stored: Equatable, CustomStringConvertible {
        var value: String
        var comment: String
        var tags: [String]
        var version = 1
        var id = UUID().uuidString

        /// Value, comment and tags: what a failed move must leave as it was.
        var content: String { "\(value)|\(comment)|\(tags.joined(separator: ","))" }
        var description: String { content }
    }

    /// A fault on `count` calls of "METHOD /folder/NAME" (or "POST move"),
    /// after `after` of them went through: an answer with `status`, the call
    /// not carried out; or, with `carriedOut`, the call carried out and its
    /// answer lost (no answer in time).
    struct Fault {
        var status = 500
        var count = 1
        var after = 0
        var carriedOut = false
    }

    private struct State {
        var secrets: [String: Stored] = [:]
        var faults: [String: Fault] = [:]
        var calls: [String] = []
    }

    private let state = Mutex(State())
    let hasMoveRoute: Bool

    init(hasMoveRoute: Bool = true) { self.hasMoveRoute = hasMoveRoute }

    func seed(_ folder: String, _ name: String, _ value: String, comment: String = "", tags: [String] = []) {
        state.withLock { $0.secrets["\(folder)/\(name)"] = Stored(value: value, comment: comment, tags: tags) }
    }

    func fault(_ call: String, _ fault: Fault = Fault()) { state.withLock { $0.faults[call] = fault } }

    /// Value, comment and tags of each secret, by "/folder/NAME".
    var contents: [String: String] { state.withLock { $0.secrets.mapValues(\.content) } }
    var calls: [String] { state.withLock { $0.calls } }

    func handle(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let body = request.json
        let query = Dictionary(
            request.query.split(separator: "&").map { pair -> (String, String) in
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }, uniquingKeysWith: { $1 })
        let route = request.path
        let call: String
        if route == "/api/v4/secrets/move" {
            guard hasMoveRoute else {
                return response(404, #"{"message":"Route POST:/api/v4/secrets/move not found","error":"Not Found","statusCode":404}"#)
            }
            call = "POST move"
        } else {
            let name = String(route.dropFirst("/api/v3/secrets/raw/".count)).removingPercentEncoding ?? ""
            let folder = (request.method == "GET" ? query["secretPath"] : body["secretPath"] as? String) ?? "/"
            call = "\(request.method) \(folder == "/" ? "" : folder)/\(name)"
        }
        let fault = state.withLock { state -> Fault? in
            state.calls.append(call)
            guard var fault = state.faults[call] else { return nil }
            if fault.after > 0 {
                fault.after -= 1
                state.faults[call] = fault
                return nil
            }
            fault.count -= 1
            state.faults[call] = fault.count > 0 ? fault : nil
            return fault
        }
        if let fault, !fault.carriedOut { return errorBody(fault.status, "InternalServerError", "injected") }
        let answer = state.withLock { state in carryOut(call, body, &state.secrets) }
        if fault != nil { throw HTTPError(kind: .timedOut, message: "injected: the answer was lost") }
        return answer
    }

    private func carryOut(_ call: String, _ body: [String: Any], _ secrets: inout [String: Stored]) -> HTTPResponse {
        let (method, key) = (String(call.prefix { $0 != " " }), String(call.drop { $0 != " " }.dropFirst()))
        let name = String(key.split(separator: "/").last ?? "")
        func answer(_ stored: Stored, _ name: String) -> HTTPResponse {
            let tags = stored.tags.map { #"{"id":"tag-\#($0)","slug":"\#($0)","name":"\#($0)"}"# }.joined(separator: ",")
            return response(
                200,
                #"{"secret":{"id":"\#(stored.id)","version":\#(stored.version),"type":"shared","secretKey":"\#(name)","#
                    + #""secretValue":"\#(stored.value)","secretComment":"\#(stored.comment)","tags":[\#(tags)],"#
                    + #""createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:06.000Z"}}"#)
        }
        func tags(_ ids: Any?) -> [String]? { (ids as? [String])?.map { String($0.dropFirst("tag-".count)) } }
        switch method {
        case "GET":
            guard let stored = secrets[key] else { return errorBody(404, "NotFound", "Secret with name '\(name)' not found") }
            return answer(stored, name)
        case "POST" where key == "move":
            let from = body["sourceSecretPath"] as? String ?? "/", to = body["destinationSecretPath"] as? String ?? "/"
            let id = (body["secretIds"] as? [String])?.first
            guard let (sourceKey, source) = secrets.first(where: { $0.value.id == id && $0.key.hasPrefix(from == "/" ? "/" : from + "/") })
            else { return errorBody(400, "BadRequest", "Invalid secrets") }
            let moved = String(sourceKey.split(separator: "/").last ?? "")
            let targetKey = (to == "/" ? "" : to) + "/" + moved
            if var existing = secrets[targetKey] {
                existing.value = source.value
                existing.comment = source.comment
                existing.version += 1
                secrets[targetKey] = existing
            } else {
                secrets[targetKey] = Stored(value: source.value, comment: source.comment, tags: [])
            }
            secrets[sourceKey] = nil
            return response(200, #"{"isSourceUpdated":true,"isDestinationUpdated":true}"#)
        case "POST":
            guard secrets[key] == nil else { return errorBody(400, "BadRequest", "Secret already exists") }
            let stored = Stored(
                value: body["secretValue"] as? String ?? "", comment: body["secretComment"] as? String ?? "",
                tags: tags(body["tagIds"]) ?? [])
            secrets[key] = stored
            return answer(stored, name)
        case "PATCH":
            guard var stored = secrets[key] else { return errorBody(404, "NotFound", "Secret with name \(name) not found") }
            if let value = body["secretValue"] as? String { stored.value = value }
            if let comment = body["secretComment"] as? String { stored.comment = comment }
            if let ids = tags(body["tagIds"]) { stored.tags = ids }
            stored.version += 1
            var newKey = key
            if let newName = body["newSecretName"] as? String {
                newKey = String(key.dropLast(name.count)) + newName
                guard newKey == key || secrets[newKey] == nil else {
                    return errorBody(400, "BadRequest", "Secret with the new name already exists")
                }
                secrets[key] = nil
            }
            secrets[newKey] = stored
            // The update answer echoes what was sent: "" for a value not sent.
            var echoed = stored
            echoed.value = body["secretValue"] as? String ?? ""
            return answer(echoed, String(newKey.split(separator: "/").last ?? ""))
        case "DELETE":
            guard let stored = secrets.removeValue(forKey: key) else { return errorBody(404, "NotFound", "Secret not found") }
            return answer(stored, name)
        default:
            return errorBody(500, "InternalServerError", "unexpected \(call)")
        }
    }
}

private let folderA = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["a"]))
private let folderB = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["b"]))

private func backend(_ fake: FakeInfisical, log: InMemoryLogHandler? = nil) -> InfisicalBackend {
    InfisicalBackend(
        configuration: InfisicalConfiguration(siteURL: "http://infisical.test", credentials: .accessToken("tok")),
        transport: StubTransport { request throws(HTTPError) in try fake.handle(request) },
        logger: log.map { Logger(label: "api", handler: $0, minimumLevel: .debug) } ?? .disabled)
}

private func move(_ fake: FakeInfisical, _ from: SecretLocation, _ name: String, to target: SecretLocation, _ newName: String)
    -> Result<Secret, BackendError>
{
    Result { () throws(BackendError) in
        do {
            return try backend(fake).moveSecret(name, from: from, to: newName, in: target)
        } catch {
            throw error as! BackendError
        }
    }
}

/// Each step of a move failing in turn: a move that fails leaves source and
/// target as they were; one that succeeds leaves only the target.
@Suite("A move that fails changes nothing")
struct MoveRollbackTests {
    /// The copy path onto an existing target (another name in the same
    /// folder): GET B, GET A, POST B (taken), GET B (its old state), PATCH B,
    /// GET B (read back), DELETE A.
    @Test(arguments: ["GET /a/A", "PATCH /a/B", "DELETE /a/A"])
    func aReplacingMoveThatFailsLeavesBothAsTheyWere(failing call: String) {
        let fake = FakeInfisical()
        fake.seed("/a", "A", "source", comment: "from", tags: ["s"])
        fake.seed("/a", "B", "target", comment: "old", tags: ["t"])
        let before = fake.contents
        fake.fault(call)
        let result = move(fake, folderA, "A", to: folderA, "B")
        guard case .failure(let error) = result else {
            Issue.record("moved despite \(call) failing: \(fake.calls)")
            return
        }
        #expect(error.kind == .unavailable)
        #expect(fake.contents == before, "\(fake.calls)")
    }

    /// The copy path to a free name in another folder: a create the delete's
    /// failure takes back.
    @Test(arguments: ["GET /a/A", "POST /b/N", "DELETE /a/A"])
    func aCreatingMoveThatFailsLeavesNoTarget(failing call: String) {
        let fake = FakeInfisical()
        fake.seed("/a", "A", "source", comment: "from", tags: ["s"])
        fake.fault(call)
        guard case .failure = move(fake, folderA, "A", to: folderB, "N") else {
            Issue.record("moved despite \(call) failing")
            return
        }
        #expect(fake.contents == ["/a/A": "source|from|s"], "\(fake.calls)")
    }

    @Test func theUndoPutsBackValueCommentAndTagsAndSaysSo() {
        // An older server (no move route), across folders under the same name, onto an existing secret.
        let fake = FakeInfisical(hasMoveRoute: false)
        fake.seed("/a", "A", "source", comment: "from", tags: ["s"])
        fake.seed("/b", "A", "target", comment: "old", tags: ["t"])
        fake.fault("DELETE /a/A")
        guard case .failure(let error) = move(fake, folderA, "A", to: folderB, "A") else {
            Issue.record("moved: \(fake.calls)")
            return
        }
        #expect(fake.contents == ["/a/A": "source|from|s", "/b/A": "target|old|t"], "\(fake.calls)")
        // The delete failed (5xx, no clear answer): the source is looked at, then the target put back.
        #expect(fake.calls.suffix(3) == ["DELETE /a/A", "GET /a/A", "PATCH /b/A"], "\(fake.calls)")
        #expect(error.kind == .unavailable)
        #expect(error.reason.contains("the move was undone"), "\(error.reason)")
        #expect(!error.reason.contains("source|") && !error.reason.contains("\"target"), "no value: \(error.reason)")
    }

    @Test(arguments: [true, false])
    func anUndoThatFailsTooNamesBothStatesAndNoValue(targetExisted: Bool) {
        let fake = FakeInfisical(hasMoveRoute: false)
        fake.seed("/a", "A", "s3cr3t-source")
        if targetExisted { fake.seed("/b", "A", "s3cr3t-target") }
        fake.fault("DELETE /a/A")
        // The undo: the target's old value put back (the move's own PATCH goes through), or the created target deleted.
        fake.fault(targetExisted ? "PATCH /b/A" : "DELETE /b/A", .init(after: targetExisted ? 1 : 0))
        guard case .failure(let error) = move(fake, folderA, "A", to: folderB, "A") else {
            Issue.record("moved: \(fake.calls)")
            return
        }
        // Nothing lost: the source is there; the target holds its value.
        #expect(fake.contents["/a/A"] == "s3cr3t-source||")
        #expect(fake.contents["/b/A"] == "s3cr3t-source||")
        #expect(error.reason.contains("undoing the move failed too"), "\(error.reason)")
        #expect(error.reason.contains("/a/A is still there") || error.reason.contains("a/A is still there"), "\(error.reason)")
        #expect(error.reason.contains(targetExisted ? "not its old one" : "created by the move"), "\(error.reason)")
        #expect(!error.reason.contains("s3cr3t"), "a value in the reason: \(error.reason)")
        #expect(error.reason.split(whereSeparator: \.isNewline).count == 1)
    }

    @Test func aDeleteRefusedOutrightIsUndoneWithoutAsking() {
        let fake = FakeInfisical(hasMoveRoute: false)
        fake.seed("/a", "A", "source")
        fake.fault("DELETE /a/A", .init(status: 403))
        guard case .failure(let error) = move(fake, folderA, "A", to: folderB, "A") else {
            Issue.record("moved: \(fake.calls)")
            return
        }
        #expect(error.kind == .permissionDenied)
        #expect(fake.contents == ["/a/A": "source||"], "\(fake.calls)")
        // A 403 is a clear no: the source is known to be there.
        #expect(fake.calls.suffix(2) == ["DELETE /a/A", "DELETE /b/A"], "\(fake.calls)")
    }

    @Test func whenTheSourceCannotBeCheckedNothingMoreIsChanged() {
        let fake = FakeInfisical(hasMoveRoute: false)
        fake.seed("/a", "A", "source")
        fake.seed("/b", "A", "target")
        fake.fault("DELETE /a/A", .init(status: 503))
        // The check after the move's own reads: GET A (the move's), GET B (the target's old state),
        // GET B (read-back), then the check of A.
        fake.fault("GET /a/A", .init(status: 503, after: 1))
        guard case .failure(let error) = move(fake, folderA, "A", to: folderB, "A") else {
            Issue.record("moved: \(fake.calls)")
            return
        }
        // Maybe deleted: undoing could lose the only copy, so both stay as they are.
        #expect(fake.contents == ["/a/A": "source||", "/b/A": "source||"], "\(fake.calls)")
        #expect(error.reason.contains("whether") && error.reason.contains("unknown"), "\(error.reason)")
    }

    @Test func aDeleteWhoseAnswerIsLostButWasMadeIsAWholeMove() throws {
        let fake = FakeInfisical(hasMoveRoute: false)
        fake.seed("/a", "A", "source", comment: "from", tags: ["s"])
        fake.seed("/b", "A", "target")
        fake.fault("DELETE /a/A", .init(carriedOut: true))
        let moved = try move(fake, folderA, "A", to: folderB, "A").get()
        #expect(moved.value == "source")
        // Not undone: the source is gone, so the target keeps the only copy.
        #expect(fake.contents == ["/b/A": "source|from|s"], "\(fake.calls)")
    }

    @Test func aReadBackThatFailsDoesNotFailAMoveThatHappened() throws {
        // Copy path: the read-back of the target fails after it was written.
        let copy = FakeInfisical()
        copy.seed("/a", "A", "source", comment: "from", tags: ["s"])
        copy.fault("GET /b/N", .init(status: 500, count: 1))
        let moved = try move(copy, folderA, "A", to: folderB, "N").get()
        #expect(moved.name == "N" && moved.value == "source" && moved.comment == "from" && moved.tags == ["s"])
        #expect(copy.contents == ["/b/N": "source|from|s"], "\(copy.calls)")

        // Rename in place: its answer holds no value, and the read-back fails.
        let rename = FakeInfisical()
        rename.seed("/a", "A", "source", comment: "from", tags: ["s"])
        // The first GET of B is the check that it is free (404); the second, the read-back.
        rename.fault("GET /a/B", .init(status: 500, count: 2))
        let renamed = try move(rename, folderA, "A", to: folderA, "B").get()
        #expect(renamed.name == "B" && renamed.value == "source" && renamed.comment == "from")
        #expect(rename.contents == ["/a/B": "source|from|s"], "\(rename.calls)")

        // The move route: made in one call, then the read-back fails.
        let route = FakeInfisical()
        route.seed("/a", "A", "source", comment: "from", tags: ["s"])
        route.fault("GET /b/A", .init(status: 500, count: 1))
        let routed = try move(route, folderA, "A", to: folderB, "A").get()
        #expect(routed.value == "source" && routed.comment == "from" && routed.tags == ["s"])
        #expect(route.contents == ["/b/A": "source|from|s"], "\(route.calls)")
    }

    @Test func tagsThatCannotBeSetAgainDoNotFailAMoveThatHappened() throws {
        let fake = FakeInfisical()
        fake.seed("/a", "A", "source", comment: "from", tags: ["s"])
        fake.fault("PATCH /b/A")
        let log = InMemoryLogHandler()
        let moved = try backend(fake, log: log).moveSecret("A", from: folderA, to: "A", in: folderB)
        #expect(moved.value == "source")
        #expect(moved.tags.isEmpty)
        #expect(fake.contents == ["/b/A": "source|from|"], "the route drops tags: \(fake.calls)")
        #expect(log.entries.filter { $0.message.contains("tags could not be set again") }.count == 1)
    }
}
