import Foundation
import Testing

/// `/.status` read with `cat` from a real mount, as a health check would.
@Suite("/.status on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct StatusTests {
    func report(_ mount: Mount) throws -> [String: Any] {
        let result = try sh("cat \"$MNT/.status\"", in: mount)
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func cacheHits(_ report: [String: Any]) -> Int { (report["cache"] as? [String: Any])?["hits"] as? Int ?? -1 }

    @Test func theInfisicalBackendReportsItsLoginCallsAndCache() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        try backend.makeProject("p", in: nil)
        try backend.server!.control(
            "POST", "/__test__/secrets", ["projectSlug": "p", "environment": "dev", "secretKey": "A", "secretValue": "alpha-value"])
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        #expect(try sh("cat \"$MNT/p/dev/A\"; cat \"$MNT/p/dev/A\"", in: mount).stdout == "alpha-valuealpha-value")
        let status = try sh("cat \"$MNT/.status\"; stat -c %a \"$MNT/.status\"", in: mount).stdout
        #expect(status.hasSuffix("}\n400\n"))
        #expect(!status.contains("alpha-value") && !status.contains(backend.clientSecret))
        let report = try self.report(mount)
        #expect(report["backend"] as? String == "infisical")
        #expect((report["mount"] as? [String: Any])?["mountpoint"] as? String == mount.mountpoint)
        let auth = try #require(report["auth"] as? [String: Any])
        #expect(auth["state"] as? String == "logged in")
        #expect(auth["method"] as? String != nil)
        let routes = try #require((report["api"] as? [String: Any])?["by_route"] as? [String: [String: Any]])
        #expect((routes["GET /api/v3/secrets/raw"]?["calls"] as? Int ?? 0) >= 1, "\(routes)")
        #expect(routes["GET /api/v3/secrets/raw"]?["last_status"] as? Int == 200)
        #expect(cacheHits(report) >= 1)
        #expect(try sh("echo x > \"$MNT/.status\"", in: mount).status != 0)
    }

    @Test func aReadOnlyMountReportsFreshFiguresWithoutOpening() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.local, scratch: scratch)
        let writer = try Mount(scratch: scratch, name: "writer", backend: backend)
        try backend.makeProject("p", in: writer)
        try #require(sh("echo one > \"$MNT/p/dev/A\"", in: writer).status == 0)
        writer.stop()
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--read-only"])
        defer { mount.stop() }
        let before = try report(mount)
        #expect(before["backend"] as? String == "local")
        #expect((before["mount"] as? [String: Any])?["read_only"] as? Bool == true)
        // Reads in between: the next report, read through the kernel without
        // an open, shows them (its pages were not kept).
        try #require(sh("cat \"$MNT/p/dev/A\" \"$MNT/p/dev/A\" >/dev/null; stat \"$MNT/p/dev\" >/dev/null", in: mount).status == 0)
        usleep(1_100_000)  // a report is reused for a second
        let after = try report(mount)
        #expect(cacheHits(after) > cacheHits(before), "before \(cacheHits(before)), after \(cacheHits(after))")
    }
}
