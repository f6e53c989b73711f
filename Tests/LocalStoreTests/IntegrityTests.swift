import Foundation
@testable import LocalStore
import SecretCrypto
import SecretsCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Expects `body` to throw `StoreKeyMismatch`, whose reason names no key.
func expectKeyMismatch<T>(
    keys: [SymmetricKey], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) {
    do {
        _ = try body()
        Issue.record("expected the key to be refused, but it was taken", sourceLocation: sourceLocation)
    } catch let error as StoreKeyMismatch {
        #expect(!error.reason.isEmpty, sourceLocation: sourceLocation)
        #expect(!error.reason.contains("\n"), sourceLocation: sourceLocation)
        for key in keys { #expect(!error.reason.contains(key.base64), sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected StoreKeyMismatch, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("the key check")
struct KeyCheckTests {
    @Test func anotherKeyIsRefusedAtOpeningAndChangesNothing() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        _ = try seeded.store.createSecret("S", value: "v", in: seeded.root)
        let other = SymmetricKey.random()
        expectKeyMismatch(keys: [fixture.key, other]) { try fixture.open(key: other) }
        // The store is as it was, and its own key still opens it.
        let again = try fixture.open()
        #expect(try again.getSecret("S", in: seeded.root).value == "v")
        #expect(try again.listProjects().map(\.slug) == ["app"])
    }

    @Test func aStoreWithoutSecretsStillKnowsItsKey() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.open()
        expectKeyMismatch(keys: [fixture.key]) { try fixture.open(key: SymmetricKey.random()) }
        _ = try fixture.open()
    }

    /// A store written before the key check (schema 2): made now, then
    /// stripped of the check as the old code would have left it.
    func makeVersion2Store(_ fixture: Fixture, secrets: Int) throws -> SecretLocation {
        let root: SecretLocation
        do {
            let seeded = try Seeded(fixture)
            root = seeded.root
            for index in 0..<secrets { _ = try seeded.store.createSecret("S\(index)", value: "v\(index)", in: root) }
        }
        let db = try Database(path: fixture.storePath)
        try db.execute("DROP TABLE settings; PRAGMA user_version = 2")
        return root
    }

    @Test func anOlderStoreIsCheckedAgainstItsValuesAndThenKeepsTheCheck() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let root = try makeVersion2Store(fixture, secrets: 3)
        let other = SymmetricKey.random()
        expectKeyMismatch(keys: [fixture.key, other]) { try fixture.open(key: other) }
        // Refused before any change: the file is still version 2.
        #expect(try Database(path: fixture.storePath).query("PRAGMA user_version") { $0.integer(0) } == [2])
        let store = try fixture.open()
        #expect(try store.getSecret("S2", in: root).value == "v2")
        #expect(try Database(path: fixture.storePath).query("PRAGMA user_version") { $0.integer(0) } == [3])
        let checks = try Database(path: fixture.storePath).query("SELECT count(*) FROM settings WHERE name = 'key_check'") {
            $0.integer(0)
        }
        #expect(checks == [1])
        expectKeyMismatch(keys: [fixture.key, other]) { try fixture.open(key: other) }
    }

    @Test func anOlderStoreWithOneDamagedValueStillTakesItsKey() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let root = try makeVersion2Store(fixture, secrets: 2)
        // The value sealed first no longer opens; the next one does.
        try Database(path: fixture.storePath).run("UPDATE secrets SET value = X'00' WHERE name = 'S0'")
        let store = try fixture.open()
        #expect(try store.getSecret("S1", in: root).value == "v1")
    }

    @Test func anOlderStoreWithoutValuesTakesTheKeyItIsFirstOpenedWith() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try makeVersion2Store(fixture, secrets: 0)
        let first = SymmetricKey.random()
        _ = try fixture.open(key: first)
        expectKeyMismatch(keys: [first, fixture.key]) { try fixture.open() }
        _ = try fixture.open(key: first)
    }

    @Test func aMissingKeyFileOfAnExistingStoreIsRefusedNotMadeAnew() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:], newKeyForExistingFile: false)
        _ = try LocalSecretStore(path: fixture.storePath, key: key)
        let keyPath = fixture.storePath + ".key"
        #expect(unlink(keyPath) == 0)
        expectKeyMismatch(keys: [key]) {
            try LocalStoreKey.load(storePath: fixture.storePath, environment: [:], newKeyForExistingFile: false)
        }
        #expect(!FileManager.default.fileExists(atPath: keyPath), "no key file is made for an existing store")
        // The offline cache's way: a fresh key, whose copies are then simply missing.
        _ = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:])
        #expect(FileManager.default.fileExists(atPath: keyPath))
    }
}

@Suite("who may change the store's files", .enabled(if: geteuid() == 0, "needs root to give files to another user"))
struct OwnershipTests {
    let nobody: uid_t = 65534

    @Test func aStoreOrKeyFileOfAnotherUserIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try LocalStoreKey.load(storePath: fixture.storePath, environment: [:])
        _ = try LocalSecretStore(path: fixture.storePath, key: key)
        #expect(chown(fixture.storePath, nobody, nobody) == 0)
        expectError(.permissionDenied) { try LocalSecretStore(path: fixture.storePath, key: key) }
        #expect(chown(fixture.storePath, 0, 0) == 0)
        _ = try LocalSecretStore(path: fixture.storePath, key: key)
        #expect(chown(fixture.storePath + ".key", nobody, nobody) == 0)
        expectError(.permissionDenied) { try LocalStoreKey.load(storePath: fixture.storePath, environment: [:]) }
    }

    @Test func aFolderOthersMayWriteOrOwnIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let folder = fixture.directory + "/state"
        _ = try fixture.open()
        for unsafe: mode_t in [0o770, 0o777, 0o702] {
            #expect(chmod(folder, unsafe) == 0)
            expectError(.permissionDenied) { try fixture.open() }
            expectError(.permissionDenied) { try LocalStoreKey.load(storePath: fixture.storePath, environment: [:]) }
        }
        // A folder above it counts too.
        #expect(chmod(folder, 0o700) == 0)
        #expect(chmod(fixture.directory, 0o777) == 0)
        expectError(.permissionDenied) { try fixture.open() }
        // With the sticky bit (as /tmp has), others cannot remove or rename what is not theirs.
        #expect(chmod(fixture.directory, 0o1777) == 0)
        _ = try fixture.open()
        #expect(chmod(fixture.directory, 0o755) == 0)
        #expect(chown(folder, nobody, nobody) == 0)
        expectError(.permissionDenied) { try fixture.open() }
        #expect(chown(folder, 0, 0) == 0)
        _ = try fixture.open()
    }
}

@Suite("missing folders")
struct MissingFolderTests {
    @Test func foldersAreMadeOnlyWhenAsked() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.directory + "/missing/store.db"
        expectError(.notFound) { try LocalSecretStore(path: path, key: fixture.key, createMissingFolders: false) }
        expectError(.notFound) {
            try LocalStoreKey.load(storePath: path, environment: [:], createMissingFolders: false)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/missing"))
        _ = try LocalSecretStore(path: path, key: fixture.key)
        #expect(mode(of: fixture.directory + "/missing") == 0o700)
    }
}

@Suite("the store file deleted or replaced while open")
struct MovedStoreTests {
    @Test func writesToADeletedStoreAreRefusedAndReadsGoOn() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        _ = try store.createSecret("KEPT", value: "old", in: seeded.root)
        try FileManager.default.removeItem(atPath: fixture.directory + "/state")
        expectError(.internalError) { try store.createSecret("NEW", value: "n", in: seeded.root) }
        expectError(.internalError) { try store.updateSecret("KEPT", value: "new", in: seeded.root) }
        expectError(.internalError) { try store.deleteSecret("KEPT", in: seeded.root) }
        expectError(.internalError) { try store.createFolder("f", in: seeded.root) }
        expectError(.internalError) { try store.createProject(slug: "other") }
        do {
            _ = try store.createSecret("NEW", value: "n", in: seeded.root)
        } catch let error as BackendError {
            #expect(error.reason.contains(fixture.storePath) && error.reason.contains("deleted"))
        }
        // Reads serve what the open connection has.
        #expect(try store.getSecret("KEPT", in: seeded.root).value == "old")
        expectError(.notFound) { try store.getSecret("NEW", in: seeded.root) }
    }

    @Test func writesToAReplacedStoreAreRefusedUntilItIsBack() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        _ = try store.createSecret("A", value: "1", in: seeded.root)
        let aside = fixture.directory + "/aside.db"
        let files = ["", "-wal", "-shm"]
        for suffix in files { #expect(rename(fixture.storePath + suffix, aside + suffix) == 0) }
        do {
            // Another store now answers to the path.
            let newcomer = try fixture.open()
            _ = try newcomer.createProject(slug: "newcomer")
            expectError(.internalError) { try store.updateSecret("A", value: "2", in: seeded.root) }
            do {
                _ = try store.updateSecret("A", value: "2", in: seeded.root)
            } catch let error as BackendError {
                #expect(error.reason.contains("replaced"))
            }
            #expect(try newcomer.listProjects().map(\.slug) == ["newcomer"])
        }
        // Put back, the original file takes writes again.
        for suffix in files {
            unlink(fixture.storePath + suffix)
            #expect(rename(aside + suffix, fixture.storePath + suffix) == 0)
        }
        #expect(try store.updateSecret("A", value: "2", in: seeded.root).version == 2)
        #expect(try store.listProjects().map(\.slug) == ["app"])
    }
}

/// A small tmpfs that a test fills to the last byte.
final class SmallFileSystem {
    let path: String

    init(size: String) throws {
        path = FileManager.default.temporaryDirectory.path + "/localstore-full-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
            let failure = errno
            rmdir(path)
            throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO)
        }
    }

    /// Writes a filler file until the file system refuses more.
    func fill() {
        let descriptor = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0x5a, count: 4096)
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        // The last, partial page, byte by byte.
        var byte: UInt8 = 0
        while write(descriptor, &byte, 1) == 1 {}
    }

    func free() { unlink(path + "/filler") }

    deinit {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }
}

@Suite("a full file system", .enabled(if: geteuid() == 0, "needs root to mount a small tmpfs"))
struct FullDiskTests {
    @Test func everyWriteIsNoSpaceAndKeepsTheOldValues() throws {
        let disk = try SmallFileSystem(size: "1m")
        defer { withExtendedLifetime(disk) {} }  // unmounted only after the stores are closed
        let path = disk.path + "/store.db"
        let key = SymmetricKey.random()
        let root: SecretLocation
        do {
            let store = try LocalSecretStore(path: path, key: key)
            let project = try store.createProject(slug: "app")
            root = SecretLocation(projectID: project.id, environment: "dev", path: .root)
            _ = try store.createSecret("A", value: "old", in: root)
            try store.createFolder("f", in: root)
            disk.fill()
            expectError(.noSpace) { try store.createSecret("B", value: String(repeating: "b", count: 9000), in: root) }
            expectError(.noSpace) { try store.updateSecret("A", value: String(repeating: "n", count: 9000), in: root) }
            expectError(.noSpace) { try store.setComment("a comment", of: "A", in: root) }
            expectError(.noSpace) { try store.deleteSecret("A", in: root) }
            expectError(.noSpace) { try store.createFolder("g", in: root) }
            expectError(.noSpace) { try store.deleteFolder("f", in: root) }
            expectError(.noSpace) { try store.moveSecret("A", from: root, to: "C", in: root) }
            expectError(.noSpace) { try store.createProject(slug: "other") }
            // Reads go on, and see the old state.
            #expect(try store.getSecret("A", in: root).value == "old")
            #expect(try store.listFolder(root).secrets.map(\.name) == ["A"])
            disk.free()
            #expect(try store.updateSecret("A", value: "new", in: root).version == 2)
        }
        let reopened = try LocalSecretStore(path: path, key: key)
        #expect(try reopened.getSecret("A", in: root).value == "new")
        #expect(try reopened.listFolder(root) == FolderListing(secrets: [try reopened.getSecret("A", in: root)], folders: ["f"]))
    }

    @Test func aStoreThatCannotBeMadeOnAFullDiskIsNoSpace() throws {
        let disk = try SmallFileSystem(size: "64k")
        defer { withExtendedLifetime(disk) {} }
        disk.fill()
        expectError(.noSpace) { try LocalSecretStore(path: disk.path + "/store.db", key: SymmetricKey.random()) }
    }
}

@Suite("a row that no longer decrypts")
struct DamagedRowTests {
    enum Harm: String, CaseIterable {
        case ciphertext = "a changed byte of ciphertext"
        case nonce = "a changed byte of the IV"
        case truncated = "a blob cut short"
        case stub = "a blob shorter than IV and tag"

        func apply(to sealed: [UInt8]) -> [UInt8] {
            var bytes = sealed
            switch self {
            case .ciphertext: bytes[12] ^= 0x01
            case .nonce: bytes[0] ^= 0x80
            case .truncated: bytes.removeLast(5)
            case .stub: bytes = Array(bytes.prefix(10))
            }
            return bytes
        }
    }

    /// Harms the sealed `column` of secret `name` in the file, as a disk
    /// fault or an edit would, through a connection of its own.
    func harm(_ harm: Harm, _ column: String = "value", of name: String, in fixture: Fixture) throws {
        let db = try Database(path: fixture.storePath)
        let sealed = try db.query("SELECT \(column) FROM secrets WHERE name = ?", .text(name)) { $0.blob(0) }
        try #require(sealed.count == 1)
        try db.run("UPDATE secrets SET \(column) = ? WHERE name = ?", .blob(harm.apply(to: sealed[0])), .text(name))
    }

    @Test(arguments: Harm.allCases)
    func aDamagedValueFailsOnlyItself(harm: Harm) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let root = seeded.root
        _ = try store.createSecret("A", value: "alpha", in: root)
        _ = try store.createSecret("BAD", value: "bravo-value", in: root)
        _ = try store.setComment("about c", of: try store.createSecret("C", value: "charlie", in: root).name, in: root)
        try store.createFolder("f", in: root)
        try self.harm(harm, of: "BAD", in: fixture)

        // The folder lists, the damaged secret by name and with its damage.
        let listing = try store.listFolder(root)
        #expect(listing.secrets.map(\.name) == ["A", "BAD", "C"] && listing.folders == ["f"])
        #expect(listing.secret(named: "A")?.value == "alpha" && listing.secret(named: "A")?.damage == nil)
        #expect(listing.secret(named: "C")?.comment == "about c")
        let bad = try store.getSecret("BAD", in: root)
        #expect(bad == listing.secret(named: "BAD"))
        #expect(bad.value == "" && bad.version == 1 && !bad.id.isEmpty)
        let damage = try #require(bad.damage)
        #expect(damage.value && !damage.comment)
        #expect(damage.reason.contains("secret BAD cannot be decrypted") && !damage.reason.contains("bravo"))

        // Siblings read and change; creates work; moves of the damaged one are refused and change nothing.
        #expect(try store.getSecret("C", in: root).value == "charlie")
        #expect(try store.updateSecret("A", value: "alpha 2", in: root).damage == nil)
        _ = try store.createSecret("NEW", value: "n", in: root)
        expectError(.internalError) { try store.moveSecret("BAD", from: root, to: "MOVED", in: root) }
        expectError(.internalError) { try store.moveSecret("BAD", from: root, to: "BAD", in: seeded.location("/f")) }
        #expect(try store.getSecret("BAD", in: root).damage != nil)
        expectError(.notFound) { try store.getSecret("MOVED", in: root) }

        // Deleting it works.
        try store.deleteSecret("BAD", in: root)
        #expect(try store.listFolder(root).secrets.map(\.name) == ["A", "C", "NEW"])
    }

    @Test func aFolderHoldingADamagedSecretIsNotRenamedHalfWay() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("f", in: seeded.root)
        _ = try store.createSecret("GOOD", value: "g", in: seeded.location("/f"))
        _ = try store.createSecret("BAD", value: "b", in: seeded.location("/f"))
        try harm(.ciphertext, of: "BAD", in: fixture)
        expectError(.internalError) { try store.renameFolder("f", in: seeded.root, to: "g") }
        #expect(try store.listFolder(seeded.root).folders == ["f"])
        #expect(try store.getSecret("GOOD", in: seeded.location("/f")).value == "g")
    }

    @Test func aNewValueOrAMoveOntoItReplacesTheDamagedOne() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let root = seeded.root
        _ = try store.createSecret("BAD", value: "b", in: root)
        _ = try store.createSecret("OTHER", value: "o", in: root)
        _ = try store.createSecret("SOURCE", value: "s", in: root)
        try harm(.ciphertext, of: "BAD", in: fixture)
        try harm(.truncated, of: "OTHER", in: fixture)
        let rewritten = try store.updateSecret("BAD", value: "fresh", in: root)
        #expect(rewritten.value == "fresh" && rewritten.damage == nil && rewritten.version == 2)
        let moved = try store.moveSecret("SOURCE", from: root, to: "OTHER", in: root)
        #expect(moved.value == "s" && moved.damage == nil)
        #expect(try store.listFolder(root).secrets.allSatisfy { $0.damage == nil })
    }

    @Test func aDamagedCommentLeavesTheValueReadableAndANewCommentReplacesIt() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let root = seeded.root
        _ = try store.createSecret("S", value: "value", in: root)
        _ = try store.setComment("old comment", of: "S", in: root)
        try harm(.nonce, "comment", of: "S", in: fixture)
        let secret = try store.getSecret("S", in: root)
        #expect(secret.value == "value" && secret.comment == "")
        #expect(secret.damage?.value == false && secret.damage?.comment == true)
        #expect(secret.damage?.reason.contains("the comment of secret S cannot be decrypted") == true)
        expectError(.internalError) { try store.moveSecret("S", from: root, to: "T", in: root) }
        let healed = try store.setComment("new comment", of: "S", in: root)
        #expect(healed.comment == "new comment" && healed.value == "value" && healed.damage == nil)
    }
}
