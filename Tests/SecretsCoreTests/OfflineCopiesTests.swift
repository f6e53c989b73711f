import Foundation
import SecretsCore
import Synchronization
import Testing
import TestSupport

/// An `OfflineCopies` in memory, with the newer-wins rule.
final class MemoryOfflineCopies: OfflineCopies {
    private let listings = Mutex<[SecretLocation: (FolderListing, Date)]>([:])
    private let projectList = Mutex<([Project], Date)?>(nil)

    func saveListing(_ listing: FolderListing, of location: SecretLocation, savedAt: Date) {
        listings.withLock { if $0[location].map({ $0.1 <= savedAt }) ?? true { $0[location] = (listing, savedAt) } }
    }
    func listing(of location: SecretLocation) -> (listing: FolderListing, savedAt: Date)? {
        listings.withLock { $0[location].map { ($0.0, $0.1) } }
    }
    func saveProjects(_ projects: [Project], savedAt: Date) {
        projectList.withLock { if $0.map({ $0.1 <= savedAt }) ?? true { $0 = (projects, savedAt) } }
    }
    func projects() -> (projects: [Project], savedAt: Date)? { projectList.withLock { $0.map { ($0.0, $0.1) } } }
    var status: StatusValue { .object([("kind", .string("memory"))]) }
}

@Suite("Offline copies of the cache")
struct OfflineCopiesTests {
    let backend = InMemoryBackend()
    let clock = ManualClock()
    let offline = MemoryOfflineCopies()
    let location: SecretLocation

    init() throws {
        let project = backend.addProject(slug: "p")
        location = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        _ = try backend.createSecret("A", value: "a", in: location)
    }

    func cache(maxStale: TimeInterval = 86_400) -> CachingBackend {
        let clock = self.clock
        return CachingBackend(backend, ttl: 10, maxStale: maxStale, offline: offline, now: { clock.now })
    }

    @Test func aRestartWhileTheBackendIsUnreachableServesTheKeptCopiesAsStale() throws {
        _ = try cache().listProjects()
        _ = try cache().listFolder(location)
        #expect(offline.listing(of: location)?.listing.secret(named: "A")?.value == "a")
        // A new process: nothing in memory, the backend down.
        clock.advance(60)
        backend.failNext("listFolder", with: BackendError(.unavailable, "down"))
        backend.failNext("listProjects", with: BackendError(.timedOut, "no answer"))
        let restarted = cache()
        #expect(try restarted.listProjects().map(\.slug) == ["p"])
        backend.failNext("getSecret", with: BackendError(.unavailable, "down"))
        #expect(try restarted.listFolder(location).secret(named: "A")?.value == "a")
        #expect(try restarted.getSecret("A", in: location).value == "a")
        #expect(restarted.cacheAge(of: "A", in: location)?.servedStale == true)
        let figures = Dictionary(uniqueKeysWithValues: restarted.status.fields.first { $0.0 == "cache" }!.1.fields)
        #expect(figures["stale_served"].map { $0 != .integer(0) } == true)
        #expect(restarted.status.fields.contains { $0.0 == "offline_cache" })
    }

    @Test func aRefusalIsNeverAnsweredFromTheKeptCopies() throws {
        _ = try cache().listFolder(location)
        clock.advance(60)
        backend.failNext("listFolder", with: BackendError(.permissionDenied, "revoked"))
        #expect(throws: BackendError.self) { try cache().listFolder(location) }
    }

    @Test func keptCopiesOlderThanMaxStaleAreNotServed() throws {
        _ = try cache().listFolder(location)
        clock.advance(200)
        backend.failNext("listFolder", with: BackendError(.unavailable, "down"))
        #expect(throws: BackendError.self) { try cache(maxStale: 100).listFolder(location) }
    }

    @Test func writesThroughTheCacheKeepTheNewValue() throws {
        let cache = cache()
        _ = try cache.listFolder(location)
        clock.advance(1)
        _ = try cache.updateSecret("A", value: "new", in: location)
        #expect(offline.listing(of: location)?.listing.secret(named: "A")?.value == "new")
        _ = try cache.deleteSecret("A", in: location)
        #expect(offline.listing(of: location)?.listing.secret(named: "A") == nil)
    }
}
