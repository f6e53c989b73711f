import Foundation
import SecretsCore
import Testing
import TestSupport

@Suite("/.status values")
struct StatusValueTests {
    @Test func jsonKeepsKeyOrderAndEscapes() throws {
        let value = StatusValue.object([
            ("b", .string("quote \" backslash \\ newline \n tab \t bell \u{07} é")),
            ("a", .integer(-3)), ("n", .number(1.5)), ("t", .boolean(true)), ("z", .null),
            ("when", .time(Date(timeIntervalSince1970: 0))), ("empty", .object([])),
        ])
        let text = value.json()
        #expect(text.hasPrefix(#"{"b":"quote \" backslash \\ newline \n tab \t bell \u0007 é","a":-3,"#))
        #expect(text.contains(#""when":"1970-01-01T00:00:00Z""#))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(value.json(indent: 2).utf8)) as? [String: Any])
        #expect(parsed["b"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é")
        #expect(parsed["n"] as? Double == 1.5)
        #expect(parsed["z"] is NSNull)
        #expect((parsed["empty"] as? [String: Any])?.isEmpty == true)
    }

    @Test func theCacheCountsHitsMissesAndStaleAnswers() throws {
        let backend = InMemoryBackend()
        let project = backend.addProject(slug: "p")
        let location = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        _ = try backend.createSecret("A", value: "a", in: location)
        let clock = ManualClock()
        let cache = CachingBackend(backend, ttl: 10, maxStale: 100, now: { clock.now })
        _ = try cache.listFolder(location)  // miss
        _ = try cache.getSecret("A", in: location)  // hit, from the listing
        _ = try cache.listFolder(location)  // hit
        clock.advance(11)
        backend.failNext("listFolder", with: BackendError(.unavailable, "down"))
        _ = try cache.listFolder(location)  // miss, served stale
        let figures = Dictionary(uniqueKeysWithValues: cache.status.fields.first { $0.0 == "cache" }!.1.fields)
        #expect(figures["hits"] == .integer(2))
        #expect(figures["misses"] == .integer(2))
        #expect(figures["stale_served"] == .integer(1))
        #expect(figures["ttl_seconds"] == .integer(10))
        #expect(figures["max_stale_seconds"] == .integer(100))
        #expect(figures["last_refresh"] == .time(Date(timeIntervalSince1970: 1_000_000)))
        #expect(figures["last_unreachable"] == .time(clock.now))
        let entries = Dictionary(uniqueKeysWithValues: figures["entries"]!.fields)
        #expect(entries["folders"] == .integer(1))
        #expect(entries["secrets"] == .integer(1))
    }
}
