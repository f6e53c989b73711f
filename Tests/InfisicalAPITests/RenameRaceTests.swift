import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

/// A rename whose target appears between the check and the one-call rename
/// (another writer created it): the target is replaced, as rename(2) does.
@Suite("Renames racing other writers")
struct RenameRaceTests {
    @Test func aTargetCreatedSinceTheCheckIsReplaced() throws {
        let location = SecretLocation(projectID: "p1", environment: "dev", path: .root)
        let targetReads = Mutex(0)
        let stub = StubTransport { request throws(HTTPError) in
            switch (request.method, request.path) {
            case ("GET", "/api/v3/secrets/raw/B"):
                // Free at the check, taken by the time the rename is sent.
                let reads = targetReads.withLock { count in
                    count += 1
                    return count
                }
                return reads == 1
                    ? errorBody(404, "NotFound", "Secret with name 'B' not found")
                    : response(200, #"{"secret":\#(secretJSON("B", "moved", version: 2))}"#)
            case ("PATCH", "/api/v3/secrets/raw/A"):
                return errorBody(400, "BadRequest", "Secret with the new name already exists")
            case ("GET", "/api/v3/secrets/raw/A"):
                return response(200, #"{"secret":\#(secretJSON("A", "moved"))}"#)
            case ("POST", "/api/v3/secrets/raw/B"):
                // The server's own words (no final "s").
                return errorBody(400, "BadRequest", "Secret already exist")
            case ("PATCH", "/api/v3/secrets/raw/B"):
                return response(200, #"{"secret":\#(secretJSON("B", "moved", version: 2))}"#)
            case ("DELETE", "/api/v3/secrets/raw/A"):
                return response(200, #"{"secret":\#(secretJSON("A", "moved"))}"#)
            default:
                return errorBody(500, "InternalServerError", "unexpected \(request.method) \(request.path)")
            }
        }
        let backend = InfisicalBackend(
            configuration: InfisicalConfiguration(siteURL: "http://infisical.test", credentials: .accessToken("tok")),
            transport: stub, logger: .disabled)
        let moved = try backend.moveSecret("A", from: location, to: "B", in: location)
        #expect(moved.name == "B")
        #expect(moved.value == "moved")
        #expect(
            stub.requests.map { "\($0.method) \($0.path.replacingOccurrences(of: "/api/v3/secrets/raw/", with: ""))" }
                == ["GET A", "GET B", "PATCH A", "POST B", "GET B", "PATCH B", "GET B", "DELETE A"])
    }
}
