import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Testing

private let location = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["app"]))

private func backend(_ transport: StubTransport) -> InfisicalBackend {
    InfisicalBackend(
        configuration: InfisicalConfiguration(siteURL: "http://infisical.test", credentials: .accessToken("tok")),
        transport: transport, logger: .disabled)
}

/// A secret as list and get answer it (§4.1), with an ID, a comment and tags.
private func described(_ name: String, _ value: String, comment: String, version: Int = 1, tags: String = "[]")
    -> String
{
    #"{"id":"id-\#(name)","_id":"id-\#(name)","workspace":"p1","environment":"dev","version":\#(version),"type":"shared","secretKey":"\#(name)","secretValue":"\#(value)","secretComment":"\#(comment)","secretPath":"/app","secretValueHidden":false,"tags":\#(tags),"secretMetadata":[],"createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:06.000Z"}"#
}

@Suite("Secret metadata from Infisical")
struct SecretMetadataTests {
    @Test func getMapsTheIDCommentAndTagSlugs() throws {
        let tags = #"[{"id":"t1","slug":"db","color":"red","name":"Database"},{"id":"t2","slug":"prod-only","color":null,"name":"Prod"}]"#
        let stub = StubTransport { _ throws(HTTPError) in
            response(200, #"{"secret":\#(described("A", "v", comment: "rotated monthly", tags: tags))}"#)
        }
        let secret = try backend(stub).getSecret("A", in: location)
        #expect(secret.id == "id-A")
        #expect(secret.comment == "rotated monthly")
        #expect(secret.tags == ["db", "prod-only"])
    }

    @Test func listMapsEverySecretsMetadata() throws {
        let stub = StubTransport { request throws(HTTPError) in
            request.path == "/api/v2/folders"
                ? response(200, #"{"folders":[]}"#)
                : response(
                    200,
                    #"{"secrets":[\#(described("A", "a", comment: "first", tags: #"[{"id":"t1","slug":"db","name":"Database"}]"#)),\#(described("B", "b", comment: ""))],"imports":[]}"#
                )
        }
        let secrets = try backend(stub).listFolder(location).secrets
        #expect(secrets.map(\.id) == ["id-A", "id-B"])
        #expect(secrets.map(\.comment) == ["first", ""])
        #expect(secrets.map(\.tags) == [["db"], []])
    }

    @Test func answersWithoutTheNewerFieldsStillMap() throws {
        // An older server: `_id` only, no comment, tags without slugs.
        let stub = StubTransport { _ throws(HTTPError) in
            response(
                200,
                #"{"secret":{"_id":"legacy","secretKey":"A","secretValue":"v","version":1,"tags":[{"name":"Named"},{"id":"only-id"}]}}"#)
        }
        let secret = try backend(stub).getSecret("A", in: location)
        #expect(secret.id == "legacy" && secret.comment == "" && secret.tags == ["Named", "only-id"])
    }

    @Test func setCommentPatchesOnlyTheCommentThenReadsTheSecretBack() throws {
        let stub = StubTransport { request throws(HTTPError) in
            // §4.5: the PATCH answer echoes "" for the value it was not sent.
            request.method == "PATCH"
                ? response(200, #"{"secret":\#(described("A", "", comment: #" note\n"#, version: 3))}"#)
                : response(200, #"{"secret":\#(described("A", "kept", comment: #" note\n"#, version: 3))}"#)
        }
        let secret = try backend(stub).setComment(" note\n", of: "A B", in: location)
        #expect(secret.value == "kept" && secret.comment == " note\n" && secret.version == 3)
        #expect(stub.requests.map(\.method) == ["PATCH", "GET"])
        let patch = stub.requests[0]
        #expect(patch.path == "/api/v3/secrets/raw/A%20B")
        #expect(
            patch.json.keys.sorted() == ["environment", "secretComment", "secretPath", "type", "workspaceId"])
        #expect(patch.json["secretComment"] as? String == " note\n")
        #expect(patch.json["type"] as? String == "shared")
        #expect(patch.json["secretPath"] as? String == "/app")
        let get = stub.requests[1]
        #expect(get.path == "/api/v3/secrets/raw/A%20B")
        #expect(get.query.contains("type=shared") && get.query.contains("workspaceId=p1"))
    }

    @Test func setCommentOnAMissingSecretIsNotFound() {
        let stub = StubTransport { _ throws(HTTPError) in errorBody(404, "NotFound", "Secret with name A not found") }
        #expect {
            try backend(stub).setComment("x", of: "A", in: location)
        } throws: { ($0 as? BackendError)?.kind == .notFound }
        #expect(stub.requests.count == 1)
    }

    @Test func aFailedReadBackIsAnErrorNotAGuessedValue() {
        let stub = StubTransport { request throws(HTTPError) in
            request.method == "PATCH"
                ? response(200, #"{"secret":\#(described("A", "", comment: "c", version: 2))}"#)
                : errorBody(500, "InternalServerError", "Something went wrong")
        }
        #expect(throws: BackendError.self) { try backend(stub).setComment("c", of: "A", in: location) }
    }
}
