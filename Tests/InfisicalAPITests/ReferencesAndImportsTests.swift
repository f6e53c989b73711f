import Foundation
import HTTPClient
import InfisicalAPI
import Logging
import SecretsCore
import Synchronization
import Testing

private let location = SecretLocation(projectID: "p1", environment: "dev", path: .root)

private func backend(_ transport: StubTransport, expand: Bool = false, imports: Bool = false) -> InfisicalBackend {
    var configuration = InfisicalConfiguration(siteURL: "http://infisical.test", credentials: .accessToken("tok"))
    configuration.expandReferences = expand
    configuration.includeImports = imports
    return InfisicalBackend(configuration: configuration, transport: transport, logger: .disabled)
}

/// A secret as a list answer's `imports[].secrets[]` holds it: no dates (§4.1).
private func importedJSON(_ name: String, _ value: String, environment: String = "prod", version: Int = 1) -> String {
    #"{"id":"i","_id":"i","workspace":"p1","environment":"\#(environment)","version":\#(version),"type":"shared","secretKey":"\#(name)","secretValue":"\#(value)","secretComment":"","secretValueHidden":false,"secretMetadata":[]}"#
}

private func personalJSON(_ name: String, _ value: String) -> String {
    secretJSON(name, value).replacingOccurrences(of: #""type":"shared""#, with: #""type":"personal""#)
}

/// A list answer with the folder's own secrets and, per import (in import order), its secrets.
private func listAnswer(_ own: [String], imports: [[String]] = []) -> HTTPResponse {
    let groups = imports.enumerated().map { index, secrets in
        #"{"secretPath":"/common\#(index)","environment":"prod","folderId":"f\#(index)","secrets":[\#(secrets.joined(separator: ","))]}"#
    }
    return response(200, #"{"secrets":[\#(own.joined(separator: ","))],"imports":[\#(groups.joined(separator: ","))]}"#)
}

private func folders(_ request: HTTPRequest) -> HTTPResponse? {
    request.path == "/api/v2/folders" ? response(200, #"{"folders":[]}"#) : nil
}

@Suite("expandSecretReferences and include_imports")
struct ReferencesAndImportsTests {
    /// Both read routes carry both values, spelled as the server wants them,
    /// whatever the options; the shared→personal fallback sends them again.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func everyReadSendsBothOptions(expand: Bool, imports: Bool) throws {
        let stub = StubTransport { request throws(HTTPError) in
            if let answer = folders(request) { return answer }
            if request.path == "/api/v3/secrets/raw" { return listAnswer([secretJSON("A", "a")]) }
            return request.query.contains("type=shared")
                ? errorBody(404, "NotFound", "Secret with name 'B' not found")
                : response(200, #"{"secret":\#(personalJSON("B", "b"))}"#)
        }
        let infisical = backend(stub, expand: expand, imports: imports)
        _ = try infisical.listFolder(location)
        #expect(try infisical.getSecret("B", in: location).value == "b")
        let reads = stub.requests.filter { $0.path.hasPrefix("/api/v3/secrets/raw") }
        #expect(reads.map(\.path) == ["/api/v3/secrets/raw", "/api/v3/secrets/raw/B", "/api/v3/secrets/raw/B"])
        for read in reads {
            let fields = read.query.split(separator: "&").map(String.init)
            #expect(fields.filter { $0.hasPrefix("include_imports=") } == ["include_imports=\(imports)"], "\(read.url)")
            #expect(
                fields.filter { $0.hasPrefix("expandSecretReferences=") } == ["expandSecretReferences=\(expand)"],
                "\(read.url)")
        }
    }

    @Test func theValuesComeAsInfisicalExpandedThem() throws {
        let stub = StubTransport { request throws(HTTPError) in
            if let answer = folders(request) { return answer }
            return request.path == "/api/v3/secrets/raw"
                ? listAnswer([secretJSON("A", "x"), secretJSON("B", "x")])
                : response(200, #"{"secret":\#(secretJSON("A", "x"))}"#)
        }
        let infisical = backend(stub, expand: true)
        #expect(try infisical.listFolder(location).secret(named: "A")?.value == "x")
        #expect(try infisical.getSecret("A", in: location).value == "x")
    }

    /// The folder's own shared secret wins over every import; a later import
    /// wins over an earlier one (the server's get searches the last import
    /// first); an import wins over the caller's personal secret (a get asks
    /// for the shared one, imports included, before the personal one).
    @Test func importsMergeInTheOrderAGetFindsThem() throws {
        let stub = StubTransport { request throws(HTTPError) in
            folders(request)
                ?? listAnswer(
                    [secretJSON("OWN", "own"), secretJSON("CLASH", "own-clash"), personalJSON("MINE", "personal"),
                     personalJSON("ONLY_MINE", "personal-only")],
                    imports: [
                        [importedJSON("CLASH", "first-import"), importedJSON("LATER", "first"),
                         importedJSON("FIRST_ONLY", "1")],
                        [importedJSON("LATER", "second"), importedJSON("MINE", "imported", version: 7)],
                    ])
        }
        let listing = try backend(stub, imports: true).listFolder(location)
        let values = Dictionary(uniqueKeysWithValues: listing.secrets.map { ($0.name, $0.value) })
        #expect(
            values == [
                "OWN": "own", "CLASH": "own-clash", "LATER": "second", "FIRST_ONLY": "1", "MINE": "imported",
                "ONLY_MINE": "personal-only",
            ])
        #expect(listing.secrets.map(\.name) == listing.secrets.map(\.name).sorted())
        #expect(listing.secret(named: "MINE")?.version == 7)
        #expect(listing.secret(named: "ONLY_MINE")?.type == .personal)
    }

    /// Without the option an answer's imports (which a server would not send) are not merged.
    @Test func withoutTheOptionImportsAreNotMerged() throws {
        let stub = StubTransport { request throws(HTTPError) in
            folders(request) ?? listAnswer([secretJSON("OWN", "own")], imports: [[importedJSON("OTHER", "x")]])
        }
        #expect(try backend(stub).listFolder(location).secrets.map(\.name) == ["OWN"])
    }

    @Test func aGetFindsAnImportedSecret() throws {
        let stub = StubTransport { request throws(HTTPError) in
            // The server answers a get with include_imports=true from the imports
            // when the folder has no such secret; the answer names the source's environment.
            request.query.contains("include_imports=true")
                ? response(200, #"{"secret":\#(secretJSON("SHARED_URL", "https://db").replacingOccurrences(of: #""environment":"dev""#, with: #""environment":"prod""#))}"#)
                : errorBody(404, "NotFound", "Secret with name 'SHARED_URL' not found")
        }
        #expect(try backend(stub, imports: true).getSecret("SHARED_URL", in: location).value == "https://db")
        #expect(stub.requests.count == 1)
        #expect(throws: BackendError.self) { try backend(stub).getSecret("SHARED_URL", in: location) }
    }

    @Test func statusShowsTheOptions() throws {
        let stub = StubTransport { _ throws(HTTPError) in response(200, #"{"projects":[]}"#) }
        let fields = backend(stub, expand: true).status.fields
        #expect(fields.first { $0.0 == "expand_references" }?.1 == .boolean(true))
        #expect(fields.first { $0.0 == "include_imports" }?.1 == .boolean(false))
    }
}
