import Foundation
import Glibc
import Testing

/// Freshness and cost of the read-through cache and the kernel's caches,
/// asserted as behaviour (what a reader sees, how many calls are made), not as timings.
@Suite("Caching and freshness", .enabled(if: mountTestsEnabled), .serialized)
struct CacheTests {
    @Test(arguments: BackendKind.allCases)
    func aChangeElsewhereShowsWithinTheCacheLifetimeAndNotBefore(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let writer = try Mount(scratch: scratch, name: "writer", backend: backend, arguments: ["--cache-ttl", "0"])
        defer { writer.stop() }
        let reader = try Mount(scratch: scratch, name: "reader", backend: backend, arguments: ["--cache-ttl", "3"])
        defer { reader.stop() }
        try backend.makeProject("p", in: writer)
        try #require(sh("echo one > \"$MNT/p/dev/A\"", in: writer).status == 0)
        #expect(try sh("cat \"$MNT/p/dev/A\"; stat -c %s \"$MNT/p/dev/A\"", in: reader).stdout == "one3\n")
        try #require(sh("echo three > \"$MNT/p/dev/A\"", in: writer).status == 0)
        // Still within the reader's cache lifetime: the value it cached.
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: reader).stdout == "one")
        usleep(3_500_000)
        #expect(try sh("cat \"$MNT/p/dev/A\"; stat -c %s \"$MNT/p/dev/A\"", in: reader).stdout == "three5\n")
    }

    @Test(arguments: BackendKind.allCases)
    func aLocalWriteIsVisibleAtOnceWhateverTheCacheLifetime(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "300"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo first > \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\" >/dev/null", in: mount).status == 0)
        // The stored value differs from the bytes written (trimming): the kernel must not keep either.
        #expect(try sh("printf '   second   ' > \"$MNT/p/dev/A\"; cat \"$MNT/p/dev/A\"; stat -c %s \"$MNT/p/dev/A\"", in: mount).stdout == "second6\n")
        #expect(try sh("rm \"$MNT/p/dev/A\"; ls \"$MNT/p/dev\"; echo new > \"$MNT/p/dev/B\"; ls \"$MNT/p/dev\"", in: mount).stdout == "B\n")
        #expect(try sh("cat \"$MNT/p/dev/B\"", in: mount).stdout == "new")
    }

    @Test func readingEveryFileOfAFolderCostsOneListing() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let server = backend.server!
        try backend.makeProject("p", in: nil)
        for index in 0..<40 {
            try server.control("POST", "/__test__/secrets", ["projectSlug": "p", "environment": "dev", "secretKey": "K\(index)", "secretValue": "v\(index)"])
        }
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try server.control("DELETE", "/__test__/requests")
        let result = try sh("for round in 1 2 3; do for f in \"$MNT\"/p/dev/K*; do cat \"$f\" >/dev/null || exit 1; done; done; ls -l \"$MNT/p/dev\" | wc -l", in: mount)
        #expect(result.stdout == "41\n")
        let counts = try server.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        #expect(counts["GET /api/v3/secrets/raw"] == 1, "\(counts)")
        #expect(counts["GET /api/v2/folders"] == 1, "\(counts)")
        #expect(counts["GET /api/v3/secrets/raw/{secretName}"] == nil, "\(counts)")
    }

    @Test func aServerErrorWithAWarmCacheServesTheCachedValue() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "1"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo warm > \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\" >/dev/null", in: mount).status == 0)
        usleep(1_500_000)
        try backend.server!.control("POST", "/__test__/faults", ["route": "*", "status": 503, "count": 0])
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "warm")
        #expect(mount.log.contains("serving cached"))
        try backend.server!.control("DELETE", "/__test__/faults")
    }
}
