import Foundation
import SecretsCore
import Testing
import TestSupport

/// What the cache keeps and tells of a secret besides its value: its
/// comment (written through), and how old the copy it serves is.
@Suite("Secret metadata through the cache")
struct CacheMetadataTests {
    let backend = InMemoryBackend()
    let clock = ManualClock()
    let location: SecretLocation

    init() throws {
        let project = backend.addProject(slug: "p")
        location = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        for name in ["A", "B"] { _ = try backend.createSecret(name, value: name.lowercased(), in: location) }
    }

    func cache(ttl: TimeInterval, maxStale: TimeInterval = .infinity) -> CachingBackend {
        let clock = self.clock
        return CachingBackend(backend, ttl: ttl, maxStale: maxStale, now: { clock.now })
    }

    func count(_ operation: String) -> Int { backend.calls.filter { $0.operation == operation }.count }

    func unreachable(_ operations: String...) {
        for operation in operations {
            backend.failNext(operation, with: BackendError(.unavailable, "connection refused"))
        }
    }

    @Test func setCommentGoesThroughAndUpdatesTheCachedSecret() throws {
        let cache = cache(ttl: 300)
        let before = try #require(try cache.listFolder(location).secret(named: "A"))
        let stored = try cache.setComment("rotated monthly", of: "A", in: location)
        #expect(stored.comment == "rotated monthly")
        #expect(stored.value == "a" && stored.id == before.id && stored.version == before.version + 1)
        // Served from the cache, listing and secret alike, with no new read.
        #expect(try cache.getSecret("A", in: location) == stored)
        #expect(try cache.listFolder(location).secret(named: "A") == stored)
        #expect(count("setComment") == 1 && count("listFolder") == 1 && count("getSecret") == 0)
        // The backend holds it too, value untouched.
        let held = try backend.getSecret("A", in: location)
        #expect(held.comment == "rotated monthly" && held.value == "a")
    }

    @Test func setCommentOnAMissingSecretIsNotFoundAndChangesNothing() throws {
        let cache = cache(ttl: 300)
        let listing = try cache.listFolder(location)
        #expect {
            try cache.setComment("x", of: "MISSING", in: location)
        } throws: { ($0 as? BackendError)?.kind == .notFound }
        #expect(try cache.listFolder(location) == listing)
    }

    @Test func anUpdateKeepsTheCommentAndTheID() throws {
        let cache = cache(ttl: 300)
        let commented = try cache.setComment("note", of: "A", in: location)
        let updated = try cache.updateSecret("A", value: "new", in: location)
        #expect(updated.comment == "note" && updated.id == commented.id && !updated.id.isEmpty)
    }

    @Test func aFreshCopyIsNotStale() throws {
        let cache = cache(ttl: 10)
        let fetched = clock.now
        _ = try cache.listFolder(location)
        clock.advance(4)
        #expect(cache.cacheAge(of: "A", in: location) == CacheAge(fetchedAt: fetched, servedStale: false))
        #expect(cache.cacheAge(of: location) == CacheAge(fetchedAt: fetched, servedStale: false))
        // A name the fresh listing lacks has no cached copy.
        #expect(cache.cacheAge(of: "MISSING", in: location) == nil)
    }

    @Test func nothingCachedHasNoAge() throws {
        #expect(cache(ttl: 10).cacheAge(of: "A", in: location) == nil)
        let off = cache(ttl: 0)
        _ = try off.listFolder(location)
        _ = try off.getSecret("A", in: location)
        #expect(off.cacheAge(of: "A", in: location) == nil)
        #expect(off.cacheAge(of: location) == nil)
    }

    @Test func aWriteMakesTheSecretsCopyNewerThanItsListing() throws {
        let cache = cache(ttl: 10)
        _ = try cache.listFolder(location)
        clock.advance(3)
        let written = clock.now
        _ = try cache.setComment("c", of: "B", in: location)
        #expect(cache.cacheAge(of: "B", in: location)?.fetchedAt == written)
        #expect(cache.cacheAge(of: "A", in: location)?.fetchedAt == written.addingTimeInterval(-3))
    }

    @Test func anExpiredCopyServedWhileTheBackendIsUnreachableIsStale() throws {
        let cache = cache(ttl: 10)
        let fetched = clock.now
        _ = try cache.listFolder(location)
        clock.advance(60)
        // Expired, but nobody has found the backend unreachable: not stale.
        #expect(cache.cacheAge(of: "A", in: location) == CacheAge(fetchedAt: fetched, servedStale: false))
        unreachable("getSecret", "listFolder")
        // Only the listing held A: it stands in for the value.
        #expect(try cache.getSecret("A", in: location).value == "a")
        #expect(cache.cacheAge(of: "A", in: location) == CacheAge(fetchedAt: fetched, servedStale: true))
        #expect(cache.cacheAge(of: location) == CacheAge(fetchedAt: fetched, servedStale: true))
        // The backend is back: the next read refetches and the copy is fresh again.
        backend.failNext("getSecret", with: nil)
        backend.failNext("listFolder", with: nil)
        clock.advance(CachingBackend.unreachableBackoff + 1)
        #expect(try cache.getSecret("A", in: location).value == "a")
        #expect(cache.cacheAge(of: "A", in: location) == CacheAge(fetchedAt: clock.now, servedStale: false))
    }

    @Test func aCopyPastMaxStaleIsNotServedAndNotCalledStale() throws {
        let cache = cache(ttl: 10, maxStale: 5)
        _ = try cache.getSecret("A", in: location)
        clock.advance(30)
        unreachable("getSecret")
        #expect(throws: BackendError.self) { try cache.getSecret("A", in: location) }
        #expect(cache.cacheAge(of: "A", in: location)?.servedStale == false)
    }
}
