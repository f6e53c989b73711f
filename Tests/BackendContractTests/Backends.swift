import Foundation
import Glibc
import HTTPClient
import InfisicalAPI
import LocalStore
import Logging
import SecretCrypto
import SecretsCore
import TestSupport
import Testing

/// Every `SecretBackend` the contract is checked against: each
/// implementation, and `CachingBackend` over each as the mount composes it.
indirect enum BackendFactory: Sendable, CustomTestStringConvertible {
    case inMemory
    case localStore
    /// `InfisicalBackend` against the Infisical test server (one server for
    /// the whole run, one project per test).
    case infisical
    case cached(BackendFactory)

    static let all: [BackendFactory] = [
        .inMemory, .localStore, .infisical, .cached(.inMemory), .cached(.localStore), .cached(.infisical),
    ]

    var testDescription: String {
        switch self {
        case .inMemory: "in-memory"
        case .localStore: "local store"
        case .infisical: "Infisical"
        case .cached(let inner): "cached \(inner.testDescription)"
        }
    }

    /// A backend holding one fresh, empty project with Infisical's default
    /// environments (dev, staging, prod).
    func make() throws -> Subject {
        switch self {
        case .inMemory:
            let backend = InMemoryBackend()
            return Subject(backend: backend, project: backend.addProject(slug: "contract"), close: {})
        case .localStore:
            let directory = FileManager.default.temporaryDirectory.path + "/backend-contract-\(UUID().uuidString)"
            let store = try LocalSecretStore(path: directory + "/store.db", key: SymmetricKey.random())
            let project = try store.createProject(slug: "contract")
            return Subject(backend: store, project: project) { try? FileManager.default.removeItem(atPath: directory) }
        case .infisical:
            let server = try SharedTestServer.shared.get()
            let slug = "contract-" + UUID().uuidString.prefix(13).lowercased().replacingOccurrences(of: "-", with: "")
            let made = try server.control("/__test__/projects", ["slug": slug, "members": [server.identityID]])
            guard let id = made["id"] as? String else { throw ContractFailure("the test server made no project: \(made)") }
            let backend = InfisicalBackend(
                configuration: InfisicalConfiguration(
                    siteURL: server.siteURL,
                    credentials: .universalAuth(clientID: server.clientID, clientSecret: server.clientSecret)),
                transport: CurlTransport(), logger: .disabled)
            return Subject(backend: backend, project: try backend.project(id), close: {})
        case .cached(let inner):
            let subject = try inner.make()
            // The mount's defaults: cache_ttl 300 s, max_stale one day.
            let cache = CachingBackend(subject.backend, ttl: 300, maxStale: 86_400)
            return Subject(backend: cache, project: subject.project, close: subject.close)
        }
    }
}

/// One backend under test and its project.
struct Subject {
    let backend: any SecretBackend
    let project: Project
    let close: () -> Void

    /// `path` ("/", "/a/b") in `environment` of the project.
    func location(_ path: String = "/", environment: String = "dev") -> SecretLocation {
        SecretLocation(
            projectID: project.id, environment: environment,
            path: SecretPath(segments: path.split(separator: "/").map(String.init)))
    }

    var root: SecretLocation { location() }
}

struct ContractFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The Infisical test server (Tests/InfisicalTestServer) for the whole run,
/// with one machine identity that every test's project admits.
final class SharedTestServer: @unchecked Sendable {
    // Immutable after init; the Process and Pipe are only kept alive.
    static let shared = Result { try SharedTestServer() }

    let siteURL: String
    let clientID = "contract-client"
    let clientSecret = "contract-secret-\(UUID().uuidString)"
    private(set) var identityID = ""
    private let process: Process
    /// Its write end is held by this process only: when this process ends,
    /// however it ends, the shell reading it sees end-of-file and kills the server.
    private let lifeline: Pipe
    private let transport = CurlTransport()

    private init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../InfisicalTestServer/infisical_test_server.py").standardizedFileURL.path
        lifeline = Pipe()
        // Not inherited by any program this process starts.
        _ = fcntl(lifeline.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        let output = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", #"python3 "$1" --port 0 </dev/null & server=$!; read -r _; kill -9 "$server""#, "sh", script,
        ]
        process.standardInput = lifeline
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            throw ContractFailure("the Infisical test server did not start: '\(text)'")
        }
        siteURL = "http://127.0.0.1:\(port)"
        let identity = try control("/__test__/identities", ["clientId": clientID, "clientSecret": clientSecret])
        guard let id = identity["identityId"] as? String else {
            throw ContractFailure("the test server made no identity: \(identity)")
        }
        identityID = id
    }

    /// A test-only control call (`POST /__test__/…`); its JSON answer.
    func control(_ path: String, _ body: [String: Any]) throws -> [String: Any] {
        let request = HTTPRequest(
            method: "POST", url: siteURL + path, headers: [("Content-Type", "application/json")],
            body: [UInt8](try JSONSerialization.data(withJSONObject: body)))
        let response = try transport.send(request)
        guard response.status == 200 else {
            throw ContractFailure("\(path) → \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }
}

/// Fails the test unless `body` throws a `BackendError` of `kind`.
func expectError<T>(
    _ kind: BackendError.Kind, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) {
    let label = what.isEmpty ? "" : "\(what): "
    do {
        let result = try body()
        Issue.record(
            "\(label)expected \(kind), but it succeeded: \(String(describing: result).prefix(300))",
            sourceLocation: sourceLocation)
    } catch let error as BackendError {
        if error.kind != kind {
            Issue.record("\(label)expected \(kind), got \(error.kind): \(error.reason)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("\(label)expected \(kind), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Fails the test unless two answers describe the same stored secret.
func expectSame(_ actual: Secret, _ expected: Secret, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.name == expected.name, sourceLocation: sourceLocation)
    #expect(actual.value == expected.value, sourceLocation: sourceLocation)
    #expect(actual.version == expected.version, sourceLocation: sourceLocation)
    #expect(actual.id == expected.id, sourceLocation: sourceLocation)
    #expect(actual.comment == expected.comment, sourceLocation: sourceLocation)
}
