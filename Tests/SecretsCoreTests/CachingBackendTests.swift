import Foundation
import SecretsCore
import Synchronization
import Testing
import TestSupport

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

@Suite("Read-through cache")
struct CachingBackendTests {
    let backend = InMemoryBackend()
    let clock = ManualClock()
    let location: SecretLocation

    init() throws {
        let project = backend.addProject(slug: "p")
        location = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        for name in ["A", "B", "C"] { _ = try backend.createSecret(name, value: name.lowercased(), in: location) }
    }

    func cache(ttl: TimeInterval) -> CachingBackend {
        let clock = self.clock
        return CachingBackend(backend, ttl: ttl, now: { clock.now })
    }

    func count(_ operation: String) -> Int { backend.calls.filter { $0.operation == operation }.count }

    @Test func oneListFillsEverySecretOfTheFolder() throws {
        let cache = cache(ttl: 300)
        _ = try cache.listFolder(location)
        for name in ["A", "B", "C"] { #expect(try cache.getSecret(name, in: location).value == name.lowercased()) }
        #expect(count("getSecret") == 0)
        #expect(count("listFolder") == 1)
        #expect(throws: BackendError.self) { try cache.getSecret("MISSING", in: location) }
        #expect(count("getSecret") == 0)
    }

    @Test func entriesExpireAfterTheirLifetime() throws {
        let cache = cache(ttl: 10)
        #expect(try cache.getSecret("A", in: location).value == "a")
        _ = try backend.updateSecret("A", value: "changed", in: location)
        clock.advance(9)
        #expect(try cache.getSecret("A", in: location).value == "a")
        clock.advance(2)
        #expect(try cache.getSecret("A", in: location).value == "changed")
    }

    @Test func zeroDisablesTheCache() throws {
        let cache = cache(ttl: 0)
        _ = try cache.getSecret("A", in: location)
        _ = try cache.getSecret("A", in: location)
        #expect(count("getSecret") == 2)
    }

    @Test func writesUpdateTheCacheWithTheStoredValue() throws {
        let cache = cache(ttl: 300)
        _ = try cache.listFolder(location)
        _ = try cache.updateSecret("A", value: "  new \n\n", in: location)
        #expect(try cache.getSecret("A", in: location).value == "new\n")
        _ = try cache.createSecret("D", value: "d", in: location)
        #expect(try cache.listFolder(location).secret(named: "D")?.value == "d")
        try cache.deleteSecret("B", in: location)
        #expect(try cache.listFolder(location).secret(named: "B") == nil)
        #expect(count("listFolder") == 1)
    }

    @Test func expiredEntriesAreServedWhileTheBackendIsUnreachable() throws {
        let cache = cache(ttl: 10)
        _ = try cache.listFolder(location)
        clock.advance(60)
        backend.failNext("listFolder", with: BackendError(.unavailable, "connection refused"))
        #expect(try cache.listFolder(location).secret(named: "A")?.value == "a")
        // For a while after that failure, stale entries are served without asking again.
        let asked = count("listFolder")
        #expect(try cache.listFolder(location).secret(named: "A")?.value == "a")
        #expect(count("listFolder") == asked)
        clock.advance(CachingBackend.unreachableBackoff + 1)
        backend.failNext("listFolder", with: BackendError(.permissionDenied, "revoked"))
        #expect(throws: BackendError.self) { try cache.listFolder(location) }
    }

    @Test func aListingFetchedAcrossAWriteIsNotKeptAsFresh() throws {
        // The fetch may have been answered before the write: keeping it would
        // show the old state (a renamed temporary file, say) for the whole TTL.
        let cache = CachingBackend(backend, ttl: 300)
        backend.setLatency(0.3)
        let fetched = DispatchSemaphore(value: 0)
        let location = self.location
        Thread { _ = try? cache.listFolder(location); fetched.signal() }.start()
        usleep(50_000)
        backend.setLatency(0)
        // The write lands while the fetch is still under way.
        _ = try cache.updateSecret("A", value: "new", in: location)
        fetched.wait()
        let asked = count("listFolder")
        #expect(try cache.listFolder(location).secret(named: "A")?.value == "new")
        #expect(count("listFolder") == asked + 1)
    }

    @Test func aWriteWithoutAnAnswerMakesTheNextReadAsk() throws {
        // The request may have been carried out: what is stored is not known.
        let cache = cache(ttl: 300)
        _ = try cache.listFolder(location)
        backend.failNext("updateSecret", with: BackendError(.timedOut, "no answer"))
        #expect(throws: BackendError.self) { try cache.updateSecret("A", value: "new", in: location) }
        backend.failNext("updateSecret", with: nil)
        let asked = count("listFolder")
        _ = try cache.listFolder(location)
        #expect(count("listFolder") == asked + 1)
        // A refusal leaves no doubt: the cached listing stays fresh.
        backend.failNext("updateSecret", with: BackendError(.permissionDenied, "no"))
        #expect(throws: BackendError.self) { try cache.updateSecret("A", value: "new", in: location) }
        _ = try cache.listFolder(location)
        #expect(count("listFolder") == asked + 1)
    }

    @Test func expiredEntriesAreNotServedPastMaxStale() throws {
        let clock = self.clock
        let cache = CachingBackend(backend, ttl: 10, maxStale: 30, now: { clock.now })
        _ = try cache.listFolder(location)
        backend.failNext("listFolder", with: BackendError(.unavailable, "connection refused"))
        clock.advance(39)  // expired 29 s ago: still within max_stale
        #expect(try cache.listFolder(location).secret(named: "A")?.value == "a")
        clock.advance(2)  // expired 31 s ago: the outage is now an error
        #expect(throws: BackendError.self) { try cache.listFolder(location) }
        let unreachableFor = CachingBackend.unreachableBackoff
        clock.advance(unreachableFor + 1)
        #expect(throws: BackendError.self) { try cache.listFolder(location) }
    }

    @Test func zeroMaxStaleNeverServesAnExpiredEntry() throws {
        let clock = self.clock
        let cache = CachingBackend(backend, ttl: 10, maxStale: 0, now: { clock.now })
        _ = try cache.listFolder(location)
        clock.advance(11)
        backend.failNext("listFolder", with: BackendError(.timedOut, "no answer"))
        #expect(throws: BackendError.self) { try cache.listFolder(location) }
    }

    @Test func aMissingProjectIsAskedForOncePerLifetime() throws {
        let cache = cache(ttl: 10)
        for _ in 0..<3 { #expect(throws: BackendError.self) { try cache.project("nope") } }
        #expect(count("project") == 1)
        clock.advance(11)
        #expect(throws: BackendError.self) { try cache.project("nope") }
        #expect(count("project") == 2)
        // Made meanwhile (here, through the cache): found at once.
        _ = try cache.createProject(slug: "nope")
        #expect(try cache.project("nope").slug == "nope")
    }

    @Test func concurrentMissesOfOneEntryMakeOneRequest() async throws {
        let cache = cache(ttl: 300)
        backend.setLatency(0.2)
        let location = self.location
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try cache.listFolder(location).secret(named: "A")!.value } }
            for try await value in group { #expect(value == "a") }
        }
        #expect(count("listFolder") == 1)
    }

    @Test func freshnessCountsDownFromTheFetch() throws {
        let cache = cache(ttl: 10)
        #expect(cache.freshness(of: location) == 0)
        _ = try cache.listFolder(location)
        clock.advance(4)
        #expect(cache.freshness(of: location) == 6)
        clock.advance(7)
        #expect(cache.freshness(of: location) == 0)
    }

    @Test func projectsByIDAndSlugCostOneListing() throws {
        let cache = cache(ttl: 300)
        let project = try cache.project("p")
        #expect(try cache.project(project.id) == project)
        #expect(count("listProjects") == 1)
        #expect(count("project") == 0)
        // A name the listing lacks is asked for by name, and stays unknown.
        #expect(throws: BackendError.self) { try cache.project("elsewhere") }
        #expect(count("project") == 1)
    }

    @Test func aPrimedProjectListAnswersWithoutACall() throws {
        let cache = cache(ttl: 300)
        cache.prime(projects: try backend.listProjects())
        _ = try cache.project("p")
        #expect(count("listProjects") == 1)
    }
}
