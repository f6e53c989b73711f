import Foundation
import Glibc
import Testing

/// `-o offline_cache=`: what was read survives a restart during an outage.
@Suite("The offline cache on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct OfflineCacheMountTests {
    @Test func aRestartDuringAnOutageServesTheKeptCopiesMarkedStale() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let server = backend.server!
        try backend.makeProject("p", in: nil)
        let distinctive = "offline-value-\(UUID().uuidString.prefix(8))"
        try server.control(
            "POST", "/__test__/secrets", ["projectSlug": "p", "environment": "dev", "secretKey": "A", "secretValue": distinctive])
        let cachePath = scratch.path + "/offline/cache.db"
        let options = ["--offline-cache", cachePath, "--cache-ttl", "1", "--timeout", "1"]
        let first = try Mount(scratch: scratch, name: "first", backend: backend, arguments: options)
        #expect(try sh("cat \"$MNT/p/dev/A\"; ls \"$MNT/p/dev\"", in: first).stdout == distinctive + "A\n")
        first.stop()
        // The file holds copies, encrypted, private.
        #expect(try sh("stat -c %a '\(cachePath)' '\(cachePath).key'", in: first).stdout == "600\n600\n")
        #expect(try sh("cat '\(cachePath)'* | grep -c '\(distinctive)' || true", in: first).stdout == "0\n")

        // Infisical stops answering; the daemon restarts.
        try server.control("POST", "/__test__/faults", ["route": "*", "delaySeconds": 30, "count": 0])
        defer { _ = try? server.control("DELETE", "/__test__/faults") }
        let without = try run(
            infisicalfsBinary, ["mount", scratch.path + "/first", "--foreground"] + backend.mountArguments + ["--timeout", "1"],
            environment: ProcessInfo.processInfo.environment.merging(backend.mountEnvironment) { $1 }, timeout: 30)
        #expect(without.status == 8, "without the offline cache, a mount needs Infisical: \(without.stderr)")
        let second = try Mount(scratch: scratch, name: "second", backend: backend, arguments: options)
        defer { second.stop() }
        #expect(second.log.contains("mounting with the offline cache"), "\(second.log)")
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: second).stdout == distinctive)
        #expect(try sh("getfattr --only-values -n user.infisical.stale \"$MNT/p/dev/A\"", in: second).stdout == "1")
        let status = try sh("cat \"$MNT/.status\"", in: second).stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect(((report["cache"] as? [String: Any])?["stale_served"] as? Int ?? 0) >= 1, "\(status)")
        #expect(((report["offline_cache"] as? [String: Any])?["copies"] as? Int ?? 0) >= 2, "\(status)")
        #expect(!status.contains(distinctive))
        // A name never read before has no copy: EIO, within the deadline.
        #expect(try sh("cat \"$MNT/p/prod/NEVER\"", in: second).stderr.contains("Input/output error"))
    }

    @Test func theLocalStoreRefusesTheOption() throws {
        let scratch = try Scratch()
        let result = try run(
            infisicalfsBinary, ["mount", try scratch.folder("m"), "--backend", "local", "--offline-cache", scratch.path + "/c.db"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("needs the Infisical backend"))
    }
}
