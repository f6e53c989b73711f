import Foundation
import SecretsCore
import Testing
import TestSupport

/// `/.status` is made from the cache's settings: no setting, however large,
/// may trap the daemon when the report is made (it did: `Int(ttl)` of a TTL
/// of 9223372036854775807 s, which is 2^63 as a Double).
@Suite("Status figures never trap")
struct StatusSaturationTests {
    private func figures(ttl: TimeInterval, maxStale: TimeInterval) -> String {
        CachingBackend(InMemoryBackend(), ttl: ttl, maxStale: maxStale).status.json()
    }

    @Test func hugeSettingsAreShownSaturated() {
        let json = figures(ttl: TimeInterval(Int.max), maxStale: 1e300)
        #expect(json.contains(#""ttl_seconds":9223372036854775807"#), "\(json)")
        #expect(json.contains(#""max_stale_seconds":9223372036854775807"#), "\(json)")
    }

    @Test func unboundedSettingsAreNull() {
        let json = figures(ttl: 300, maxStale: .infinity)
        #expect(json.contains(#""ttl_seconds":300"#) && json.contains(#""max_stale_seconds":null"#), "\(json)")
        #expect(figures(ttl: .nan, maxStale: -.infinity).contains(#""ttl_seconds":null"#))
    }

    @Test func theLargestAcceptedOptionsAreShownExactly() {
        let json = figures(ttl: 31_536_000, maxStale: 315_360_000)
        #expect(json.contains(#""ttl_seconds":31536000"#) && json.contains(#""max_stale_seconds":315360000"#), "\(json)")
    }
}
