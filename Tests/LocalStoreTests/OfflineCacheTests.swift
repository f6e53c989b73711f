import Foundation
import LocalStore
import SecretCrypto
import SecretsCore
import Testing

@Suite("The offline cache file")
struct OfflineCacheTests {
    let location = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(canonical: "/app")!)

    func listing(_ value: String) -> FolderListing {
        FolderListing(
            secrets: [
                Secret(
                    name: "DB_PASSWORD", value: value, version: 3, type: .shared,
                    createdAt: Date(timeIntervalSince1970: 1_000), updatedAt: Date(timeIntervalSince1970: 2_000),
                    id: "id-1", comment: "rotated monthly", tags: ["db"])
            ], folders: ["sub"])
    }

    @Test func copiesComeBackAsSavedAndEncrypted() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.directory + "/offline/cache.db"
        let cache = try OfflineCache(path: path, key: fixture.key, partition: "https://x universal auth id")
        let distinctive = "zq-OFFLINE-plaintext-5c1d"
        cache.saveListing(listing(distinctive), of: location, savedAt: Date(timeIntervalSince1970: 5_000))
        let project = Project(id: "p1", slug: "payments", name: "Payments", environments: [Environment(slug: "dev", name: "Development")])
        cache.saveProjects([project], savedAt: Date(timeIntervalSince1970: 5_000))
        let again = try OfflineCache(path: path, key: fixture.key, partition: "https://x universal auth id")
        let kept = try #require(again.listing(of: location))
        #expect(kept.listing == listing(distinctive))
        #expect(kept.savedAt == Date(timeIntervalSince1970: 5_000))
        #expect(again.projects()?.projects == [project])
        #expect(mode(of: path) == 0o600)
        for file in [path, path + "-wal", path + ".key"] where FileManager.default.fileExists(atPath: file) || file == path {
            #expect(mode(of: file) == 0o600, "\(file)")
            for needle in [distinctive, "rotated monthly", "payments", "DB_PASSWORD"] {
                #expect(!contains(fixture.bytes(of: file), Array(needle.utf8)), "\(needle) in \(file)")
            }
        }
    }

    @Test func olderDataNeverReplacesNewerEvenFromAnotherProcess() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.directory + "/cache.db"
        let one = try OfflineCache(path: path, key: fixture.key, partition: "me")
        let other = try OfflineCache(path: path, key: fixture.key, partition: "me")
        one.saveListing(listing("newer"), of: location, savedAt: Date(timeIntervalSince1970: 200))
        other.saveListing(listing("older"), of: location, savedAt: Date(timeIntervalSince1970: 100))
        #expect(one.listing(of: location)?.listing.secret(named: "DB_PASSWORD")?.value == "newer")
        other.saveListing(listing("newest"), of: location, savedAt: Date(timeIntervalSince1970: 300))
        #expect(one.listing(of: location)?.listing.secret(named: "DB_PASSWORD")?.value == "newest")
    }

    @Test func anotherIdentityOrAnotherKeyFindsNothing() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.directory + "/cache.db"
        try OfflineCache(path: path, key: fixture.key, partition: "me")
            .saveListing(listing("v"), of: location, savedAt: Date())
        #expect(try OfflineCache(path: path, key: fixture.key, partition: "someone else").listing(of: location) == nil)
        #expect(try OfflineCache(path: path, key: SymmetricKey.random(), partition: "me").listing(of: location) == nil)
    }

    @Test func aLocalStoreIsNotTakenForAnOfflineCache() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.open()
        expectError(.invalidArgument) { try OfflineCache(path: fixture.storePath, key: fixture.key, partition: "me") }
    }
}
