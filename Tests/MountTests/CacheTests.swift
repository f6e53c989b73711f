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

    @Test(arguments: BackendKind.allCases)
    func aReadOnlyMountReadsWithoutOpeningAndStillSeesChanges(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let writer = try Mount(
            scratch: scratch, name: "writer", backend: backend, arguments: ["--cache-ttl", "0", "--log-level", "debug"])
        defer { writer.stop() }
        let reader = try Mount(
            scratch: scratch, name: "reader", backend: backend,
            arguments: ["--read-only", "--cache-ttl", "2", "--log-level", "debug"])
        defer { reader.stop() }
        try backend.makeProject("p", in: writer)
        try #require(sh("echo one > \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\" >/dev/null", in: writer).status == 0)
        // The probe: the writer's opens reach its daemon (and are logged at debug).
        #expect(writer.log.contains("open /"))
        #expect(try sh("for i in 1 2 3 4 5; do cat \"$MNT/p/dev/A\"; echo; done | sort -u", in: reader).stdout == "one\n")
        // Same size, so that only the version tells the values apart (a new
        // size alone would make the kernel drop its pages).
        try #require(sh("echo two > \"$MNT/p/dev/A\"", in: writer).status == 0)
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: reader).stdout == "one")
        usleep(2_500_000)
        // The kernel kept the pages of "one" without asking; the lookup after
        // the cache expired found a new version and had them dropped.
        #expect(try sh("cat \"$MNT/p/dev/A\"; stat -c %s \"$MNT/p/dev/A\"", in: reader).stdout == "two3\n")
        #expect(!reader.log.contains("open /"), "\(reader.log)")
        // Read-only mounts have no /.crypto: its files need an open each.
        #expect(try sh("ls -a \"$MNT\"", in: reader).stdout == ".\n..\n.status\np\n")
        #expect(try sh("cat \"$MNT/.crypto/key\"", in: reader).status != 0)
    }

    @Test func anExpiredValueIsNotServedPastMaxStale() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "1", "--max-stale", "1"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo warm > \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\" >/dev/null", in: mount).status == 0)
        usleep(2_500_000)  // expired 1.5 s ago: past max_stale
        try backend.server!.control("POST", "/__test__/faults", ["route": "*", "status": 503, "count": 0])
        defer { _ = try? backend.server!.control("DELETE", "/__test__/faults") }
        let result = try sh("cat \"$MNT/p/dev/A\"", in: mount)
        #expect(result.stdout == "")
        #expect(result.stderr.contains("Input/output error"), "\(result.stderr)")
        #expect(!mount.log.contains("serving cached"))
    }

    @Test func aMissingProjectNameIsAskedForOncePerCacheLifetime() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "60"])
        defer { mount.stop() }
        let server = backend.server!
        try server.control("DELETE", "/__test__/requests")
        // A name that could be a project (a slug) but is not: the kernel keeps
        // the miss 1 s, the cache for cache_ttl. (Names that cannot be
        // projects, such as `.git`, cost no call at all: InfisicalSafetyTests.)
        let probe = "stat \"$MNT/nope\" 2>/dev/null; stat \"$MNT/nope/HEAD\" 2>/dev/null; true"
        _ = try sh(probe, in: mount)
        let first = try server.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        usleep(1_200_000)
        _ = try sh(probe, in: mount)
        let second = try server.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        #expect(!first.isEmpty, "the first probe asks the server")
        #expect(second == first, "first \(first), then \(second)")
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
