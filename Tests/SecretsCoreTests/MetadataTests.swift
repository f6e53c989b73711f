import Foundation
import SecretsCore
import Testing
import TestSupport

/// What the cache keeps of a secret besides its value: its comment, written through.
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
}
