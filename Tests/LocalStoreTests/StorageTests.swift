import Foundation
import LocalStore
import SecretCrypto
import SecretsCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("the store file")
struct StorageTests {
    @Test func storeFileAndFoldersArePrivate() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        _ = try seeded.store.createSecret("S", value: "v", in: seeded.root)
        #expect(mode(of: fixture.storePath) == 0o600)
        #expect(mode(of: fixture.directory + "/state") == 0o700)
        #expect(FileManager.default.fileExists(atPath: fixture.storePath + "-wal"))
        #expect(mode(of: fixture.storePath + "-wal") == 0o600)
        #expect(mode(of: fixture.storePath + "-shm") == 0o600)
    }

    @Test func nestedMissingFoldersAreCreated() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.directory + "/x/y/z/store.db"
        _ = try LocalSecretStore(path: path, key: fixture.key)
        #expect(mode(of: fixture.directory + "/x") == 0o700)
        #expect(mode(of: fixture.directory + "/x/y/z") == 0o700)
        #expect(mode(of: path) == 0o600)
    }

    @Test func storeFileOpenToOthersIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.open()
        #expect(chmod(fixture.storePath, 0o644) == 0)
        expectError(.permissionDenied) { try fixture.open() }
        #expect(chmod(fixture.storePath, 0o640) == 0)
        expectError(.permissionDenied) { try fixture.open() }
        #expect(chmod(fixture.storePath, 0o600) == 0)
        _ = try fixture.open()
    }

    @Test func storePathThatIsAFolderIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        expectError(.invalidArgument) { try LocalSecretStore(path: fixture.directory, key: fixture.key) }
    }

    @Test func schemaVersionAndWALAreRecorded() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        do { _ = try fixture.open() }  // closing the only connection checkpoints the WAL
        let header = fixture.bytes(of: fixture.storePath)
        try #require(header.count >= 100)
        #expect(Array(header[0..<15]) == Array("SQLite format 3".utf8))
        #expect(header[18] == 2 && header[19] == 2)  // WAL read and write versions
        #expect(Array(header[60..<64]) == [0, 0, 0, 3])  // PRAGMA user_version
    }

    @Test func noPlaintextValueOnDisk() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let distinctive = "zq-DISTINCTIVE-plaintext-7f3a9c"
        _ = try seeded.store.createSecret("MARKER", value: distinctive, in: seeded.root)
        try seeded.store.createFolder("f", in: seeded.root)
        _ = try seeded.store.createSecret("MARKER2", value: distinctive + "-2", in: seeded.location("/f"))
        try seeded.store.renameFolder("f", in: seeded.root, to: "g")
        _ = try seeded.store.moveSecret("MARKER", from: seeded.root, to: "MOVED", in: seeded.location("/g"))
        let files = [fixture.storePath, fixture.storePath + "-wal"]
        #expect(files.map { fixture.bytes(of: $0).count }.reduce(0, +) > 0)
        for file in files {
            let bytes = fixture.bytes(of: file)
            #expect(!contains(bytes, Array(distinctive.utf8)), "plaintext found in \(file)")
        }
        // Names are not encrypted, which shows the search itself works.
        #expect(files.contains { contains(fixture.bytes(of: $0), Array("MARKER2".utf8)) })
    }

    @Test func reopeningSeesEarlierWrites() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let projectID: String
        do {
            let seeded = try Seeded(fixture)
            projectID = seeded.project.id
            try seeded.store.createFolder("f", in: seeded.root)
            _ = try seeded.store.createSecret("S", value: "persisted", in: seeded.location("/f"))
            _ = try seeded.store.createEnvironment(slug: "qa", in: projectID)
        }
        let store = try fixture.open()
        let location = SecretLocation(projectID: projectID, environment: "dev", path: SecretPath(segments: ["f"]))
        #expect(try store.getSecret("S", in: location).value == "persisted")
        #expect(try store.project("app").environments.map(\.slug) == ["dev", "staging", "prod", "qa"])
    }

    @Test func anotherKeyIsRefusedBeforeAnythingIsRead() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        _ = try seeded.store.createSecret("S", value: "v", in: seeded.root)
        expectKeyMismatch(keys: [fixture.key]) { try fixture.open(key: SymmetricKey.random()) }
        // The right key still works.
        #expect(try seeded.store.getSecret("S", in: seeded.root).value == "v")
    }

    @Test func twoInstancesShareOneFile() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let first = try fixture.open()
        let second = try fixture.open()
        let project = try first.createProject(slug: "shared")
        #expect(try second.project("shared") == project)
        let root = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        _ = try second.createSecret("FROM_SECOND", value: "2", in: root)
        #expect(try first.getSecret("FROM_SECOND", in: root).value == "2")
        _ = try first.updateSecret("FROM_SECOND", value: "1", in: root)
        #expect(try second.getSecret("FROM_SECOND", in: root).version == 2)
        expectError(.alreadyExists) { try second.createSecret("FROM_SECOND", value: "x", in: root) }
        try second.deleteSecret("FROM_SECOND", in: root)
        expectError(.notFound) { try first.getSecret("FROM_SECOND", in: root) }
    }

    @Test func concurrentWritesFromEightThreadsAllLand() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let other = try fixture.open()  // a second connection, as a second mount would have
        let stores = [seeded.store, other]
        let root = seeded.root
        _ = try seeded.store.createSecret("COUNTER", value: "0", in: root)
        let failures = Failures()
        onThreads(8) { thread in
            let store = stores[thread % 2]
            for index in 0..<25 {
                do {
                    _ = try store.createSecret("T\(thread)_\(index)", value: "value \(thread) \(index)", in: root)
                    _ = try store.updateSecret("COUNTER", value: "\(thread)-\(index)", in: root)
                } catch {
                    failures.record("thread \(thread) write \(index): \(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
        let listing = try other.listFolder(root)
        #expect(listing.secrets.count == 8 * 25 + 1)
        for thread in 0..<8 {
            for index in 0..<25 {
                #expect(listing.secret(named: "T\(thread)_\(index)")?.value == "value \(thread) \(index)")
            }
        }
        #expect(try seeded.store.getSecret("COUNTER", in: root).version == 1 + 8 * 25)
    }
}

/// Errors collected from many threads.
final class Failures: Sendable {
    private let list = Mutex<[String]>([])
    func record(_ failure: String) { list.withLock { $0.append(failure) } }
    var all: [String] { list.withLock { $0 } }
}

@Suite("the store key")
struct StoreKeyTests {
    @Test func keyFileIsCreatedPrivateAndReused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:])
        let keyPath = fixture.storePath + ".key"
        #expect(mode(of: keyPath) == 0o600)
        #expect(mode(of: fixture.directory + "/state") == 0o700)
        let text = String(decoding: fixture.bytes(of: keyPath), as: UTF8.self)
        #expect(text == key.base64 + "\n")
        #expect(try LocalStoreKey.load(storePath: fixture.storePath, environment: [:]) == key)
        // No temporary files are left beside it.
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/state")
        #expect(names == ["store.db.key"])
    }

    @Test func keyFileWithoutTrailingNewlineIsAccepted() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let keyPath = fixture.directory + "/store.db.key"
        let key = SymmetricKey.random()
        #expect(
            FileManager.default.createFile(
                atPath: keyPath, contents: Data(key.base64.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(try LocalStoreKey.load(storePath: fixture.directory + "/store.db", environment: [:]) == key)
    }

    @Test func keyFileOpenToOthersIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:])
        #expect(chmod(fixture.storePath + ".key", 0o644) == 0)
        expectError(.permissionDenied) { try LocalStoreKey.load(storePath: fixture.storePath, environment: [:]) }
        do {
            _ = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:])
        } catch let error as BackendError {
            #expect(error.reason.contains("must be mode 0600"))
        }
    }

    @Test(arguments: ["", "not base64!", "AAAA", "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB_g="])
    func malformedKeyFileIsInvalid(content: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let keyPath = fixture.directory + "/store.db.key"
        #expect(
            FileManager.default.createFile(
                atPath: keyPath, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600]))
        expectError(.invalidArgument) {
            try LocalStoreKey.load(storePath: fixture.directory + "/store.db", environment: [:])
        }
    }

    @Test func environmentVariableWins() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = SymmetricKey.random()
        let loaded = try LocalStoreKey.load(
            storePath: fixture.storePath, environment: ["INFISICALFS_STORE_KEY": key.base64])
        #expect(loaded == key)
        #expect(LocalStoreKey.environmentVariable == "INFISICALFS_STORE_KEY")
        #expect(!FileManager.default.fileExists(atPath: fixture.storePath + ".key"))
        // Values sealed with that key read back with the key loaded again.
        let writer = try LocalSecretStore(path: fixture.storePath, key: loaded)
        let project = try writer.createProject(slug: "app")
        let root = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        _ = try writer.createSecret("S", value: "v", in: root)
        let again = try LocalStoreKey.load(
            storePath: fixture.storePath, environment: ["INFISICALFS_STORE_KEY": key.base64])
        #expect(try LocalSecretStore(path: fixture.storePath, key: again).getSecret("S", in: root).value == "v")
    }

    @Test(arguments: ["", "short", "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g", "AAAAAAAAAAAAAAAAAAAAAA=="])
    func malformedEnvironmentKeyIsInvalid(value: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        expectError(.invalidArgument) {
            try LocalStoreKey.load(storePath: fixture.storePath, environment: ["INFISICALFS_STORE_KEY": value])
        }
    }
}
