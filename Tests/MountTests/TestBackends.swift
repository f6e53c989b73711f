import Foundation
import Glibc
import Testing

/// A Python server from Tests/InfisicalTestServer on a free loopback port:
/// it prints `PORT <n>` once listening, and is killed when this goes away.
final class LoopbackServerProcess {
    let port: Int
    private let process: Process

    init(script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--port", "0"] + arguments
        let output = Pipe()
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
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw MountFailure("\(URL(fileURLWithPath: script).lastPathComponent) did not start: \(text)")
        }
        self.port = port
    }

    deinit {
        // SIGKILL: test threads block SIGTERM, and a spawned child inherits that mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// The Infisical test server (Tests/InfisicalTestServer), started on a free
/// loopback port for one test and stopped when it ends.
final class InfisicalTestServer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../InfisicalTestServer/infisical_test_server.py").standardizedFileURL.path

    let scheme: String
    private let server: LoopbackServerProcess

    init(tlsCertificate: String? = nil, tlsKey: String? = nil) throws {
        var arguments: [String] = []
        if let tlsCertificate, let tlsKey { arguments += ["--tls-cert", tlsCertificate, "--tls-key", tlsKey] }
        server = try LoopbackServerProcess(script: Self.script, arguments: arguments)
        scheme = tlsCertificate == nil ? "http" : "https"
    }

    var port: Int { server.port }

    var siteURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// A test-only control call (`/__test__/…`); returns the JSON answer.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: [String: Any] = [:]) throws -> Any {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let code = """
            import json, ssl, sys, urllib.request
            req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method=sys.argv[3],
                                         headers={"Content-Type": "application/json"})
            ctx = ssl._create_unverified_context()
            print(urllib.request.urlopen(req, timeout=10, context=ctx).read().decode())
            """
        let result = try run("/usr/bin/env", ["python3", "-c", code, siteURL + path, json, method])
        guard result.status == 0 else { throw MountFailure("control \(method) \(path) failed: \(result.stderr)") }
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) ?? [:]
    }

}

/// Where a test mount keeps its secrets: one suite, two backends.
enum BackendKind: String, CaseIterable, CustomTestStringConvertible {
    case local
    case infisical

    var testDescription: String { rawValue }
}

/// A backend for one test: a local store file, or the Infisical test server
/// with one machine identity. Several mounts of one `TestBackend` share it.
final class TestBackend {
    let kind: BackendKind
    let store: String
    let server: InfisicalTestServer?
    let clientID = "client-\(UUID().uuidString.prefix(8))"
    let clientSecret = "secret-\(UUID().uuidString)"
    private(set) var identityID = ""

    init(_ kind: BackendKind, scratch: Scratch) throws {
        self.kind = kind
        store = scratch.path + "/store/store.db"
        switch kind {
        case .local:
            server = nil
        case .infisical:
            let server = try InfisicalTestServer()
            self.server = server
            let identity = try server.control(
                "POST", "/__test__/identities", ["clientId": clientID, "clientSecret": clientSecret])
            identityID = (identity as? [String: Any])?["identityId"] as? String ?? ""
        }
    }

    /// Mount arguments and environment that select this backend.
    var mountArguments: [String] {
        switch kind {
        case .local: ["--backend", "local", "--local-store", store]
        case .infisical: ["--site-url", server!.siteURL]
        }
    }

    var mountEnvironment: [String: String] {
        switch kind {
        case .local: [:]
        case .infisical:
            ["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": clientID, "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": clientSecret]
        }
    }

    /// A project with Infisical's default environments: made through the
    /// mount for the local store (mkdir), seeded on the server for Infisical.
    func makeProject(_ slug: String, in mount: Mount?) throws {
        switch kind {
        case .local:
            guard let mount, mkdir(mount.mountpoint + "/" + slug, 0o700) == 0 else {
                throw MountFailure("mkdir \(slug): errno \(errno)")
            }
        case .infisical:
            try server!.control("POST", "/__test__/projects", ["slug": slug, "members": [identityID]])
        }
    }
}
