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

@Suite("Secret comments and IDs")
struct CommentTests {
    @Test func aCommentRoundTripsUntrimmedAndLeavesTheValue() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let created = try seeded.store.createSecret("S", value: "v", in: seeded.root)
        #expect(created.comment == "" && created.tags.isEmpty)
        #expect(created.id.count == 36 && created.id == created.id.lowercased())
        let comment = "  rotated by ops\nsee the runbook  "
        let stored = try seeded.store.setComment(comment, of: "S", in: seeded.root)
        #expect(stored.comment == comment)
        #expect(stored.value == "v" && stored.version == 2 && stored.id == created.id)
        #expect(try seeded.store.getSecret("S", in: seeded.root) == stored)
        #expect(try seeded.store.listFolder(seeded.root).secret(named: "S") == stored)
        // An update of the value keeps the comment and the ID.
        let updated = try seeded.store.updateSecret("S", value: "w", in: seeded.root)
        #expect(updated.comment == comment && updated.id == created.id && updated.version == 3)
        // An empty comment is none.
        #expect(try seeded.store.setComment("", of: "S", in: seeded.root).comment == "")
        #expect(try seeded.store.getSecret("S", in: seeded.root).comment == "")
    }

    @Test func commentsAndIDsSurviveReopening() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let stored: Secret
        let location: SecretLocation
        do {
            let seeded = try Seeded(fixture)
            location = seeded.root
            _ = try seeded.store.createSecret("S", value: "v", in: location)
            stored = try seeded.store.setComment("kept", of: "S", in: location)
        }
        #expect(try fixture.open().getSecret("S", in: location) == stored)
    }

    @Test func aMissingSecretHasNoCommentToSet() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        expectError(.notFound) { try seeded.store.setComment("x", of: "MISSING", in: seeded.root) }
        expectError(.notFound) { try seeded.store.setComment("x", of: "S", in: seeded.location("/nope")) }
    }

    /// Infisical's outcomes: a rename keeps the ID, a move to another folder
    /// makes a new secret, a replaced target keeps its ID; the comment goes
    /// with the value every time.
    @Test func aMoveCarriesTheCommentAndAReplacedTargetKeepsOnlyItsID() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        try seeded.store.createFolder("f", in: seeded.root)
        let a = try seeded.store.createSecret("A", value: "a", in: seeded.root)
        _ = try seeded.store.setComment("about a", of: "A", in: seeded.root)
        let renamed = try seeded.store.moveSecret("A", from: seeded.root, to: "R", in: seeded.root)
        #expect(renamed.comment == "about a" && renamed.id == a.id && renamed.value == "a" && renamed.version == 3)
        let moved = try seeded.store.moveSecret("R", from: seeded.root, to: "B", in: seeded.location("/f"))
        #expect(moved.comment == "about a" && moved.id != a.id && moved.value == "a" && moved.version == 1)
        #expect(try seeded.store.getSecret("B", in: seeded.location("/f")) == moved)

        let target = try seeded.store.createSecret("T", value: "t", in: seeded.root)
        _ = try seeded.store.setComment("about t", of: "T", in: seeded.root)
        _ = try seeded.store.createSecret("C", value: "c", in: seeded.root)
        _ = try seeded.store.setComment("about c", of: "C", in: seeded.root)
        let replaced = try seeded.store.moveSecret("C", from: seeded.root, to: "T", in: seeded.root)
        #expect(replaced.value == "c" && replaced.comment == "about c" && replaced.id == target.id)
        #expect(replaced.version == 3)
    }

    @Test func aRenamedFolderKeepsItsSecretsComments() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        try seeded.store.createFolder("f", in: seeded.root)
        try seeded.store.createFolder("sub", in: seeded.location("/f"))
        _ = try seeded.store.createSecret("S", value: "v", in: seeded.location("/f/sub"))
        let before = try seeded.store.setComment("deep", of: "S", in: seeded.location("/f/sub"))
        try seeded.store.renameFolder("f", in: seeded.root, to: "g")
        #expect(try seeded.store.getSecret("S", in: seeded.location("/g/sub")) == before)
    }

    @Test func noPlaintextCommentOnDisk() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let distinctive = "zq-DISTINCTIVE-comment-4b1e77"
        try seeded.store.createFolder("f", in: seeded.root)
        _ = try seeded.store.createSecret("MARKER", value: "v", in: seeded.location("/f"))
        _ = try seeded.store.setComment(distinctive, of: "MARKER", in: seeded.location("/f"))
        try seeded.store.renameFolder("f", in: seeded.root, to: "g")
        _ = try seeded.store.moveSecret("MARKER", from: seeded.location("/g"), to: "MOVED", in: seeded.root)
        #expect(try seeded.store.getSecret("MOVED", in: seeded.root).comment == distinctive)
        let files = [fixture.storePath, fixture.storePath + "-wal"]
        for file in files {
            #expect(!contains(fixture.bytes(of: file), Array(distinctive.utf8)), "plaintext comment in \(file)")
        }
        #expect(files.contains { contains(fixture.bytes(of: $0), Array("MOVED".utf8)) })
    }

    @Test func aCommentSwappedWithTheValueDoesNotDecrypt() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        _ = try seeded.store.createSecret("S", value: "the value", in: seeded.root)
        _ = try seeded.store.setComment("the comment", of: "S", in: seeded.root)
        // Both are sealed for the same row; only the field in the associated data tells them apart.
        let db = try Database(path: fixture.storePath)
        try db.execute("UPDATE secrets SET value = comment, comment = value WHERE name = 'S'")
        let swapped = try seeded.store.getSecret("S", in: seeded.root)
        #expect(swapped.value == "" && swapped.comment == "")
        #expect(swapped.damage?.value == true && swapped.damage?.comment == true)
    }
}

@Suite("Migrating a version 1 store")
struct MigrationTests {
    /// The schema as infisicalfs wrote it before comments and IDs (version 1), verbatim.
    static let version1 = """
        CREATE TABLE projects (
            id TEXT PRIMARY KEY NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE environments (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (project_id, slug)
        );
        CREATE TABLE folders (
            project_id TEXT NOT NULL,
            environment TEXT NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (project_id, environment, path),
            FOREIGN KEY (project_id, environment) REFERENCES environments(project_id, slug) ON DELETE CASCADE
        );
        CREATE TABLE secrets (
            project_id TEXT NOT NULL,
            environment TEXT NOT NULL,
            path TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('shared', 'personal')),
            value BLOB NOT NULL,
            version INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (project_id, environment, path, name, type),
            FOREIGN KEY (project_id, environment) REFERENCES environments(project_id, slug) ON DELETE CASCADE
        );
        PRAGMA user_version = 1;
        """

    static let projectID = "0b7a3c52-5d1e-4f0e-9a51-3f6f2b1c9d10"

    /// Writes a version 1 store as the old code did: WAL, the tables, a
    /// project with dev/staging/prod, a folder, and values sealed with the
    /// version 1 associated data.
    func writeVersion1Store(_ fixture: Fixture, values: [(path: String, name: String, value: String)]) throws {
        try FileManager.default.createDirectory(
            atPath: fixture.directory + "/state", withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        #expect(FileManager.default.createFile(
            atPath: fixture.storePath, contents: nil, attributes: [.posixPermissions: 0o600]))
        let db = try Database(path: fixture.storePath)
        try db.execute("PRAGMA journal_mode = WAL")
        try db.execute(Self.version1)
        try db.run("INSERT INTO projects VALUES (?, 'old', 'old', 1000)", .text(Self.projectID))
        for (position, slug) in ["dev", "staging", "prod"].enumerated() {
            try db.run(
                "INSERT INTO environments VALUES (?, ?, ?, ?)", .text(Self.projectID), .text(slug), .text(slug),
                .integer(Int64(position)))
        }
        try db.run("INSERT INTO folders VALUES (?, 'dev', '/f')", .text(Self.projectID))
        for (index, secret) in values.enumerated() {
            let aad = Array("\(Self.projectID)\u{0}dev\u{0}\(secret.path)\u{0}\(secret.name)".utf8)
            let sealed = try AESGCM.seal(Array(secret.value.utf8), using: fixture.key, authenticating: aad).combined
            try db.run(
                "INSERT INTO secrets VALUES (?, 'dev', ?, ?, 'shared', ?, ?, 1000, ?)", .text(Self.projectID),
                .text(secret.path), .text(secret.name), .blob(sealed), .integer(Int64(index + 1)),
                .real(Double(2000 + index)))
        }
    }

    func location(_ path: String) -> SecretLocation {
        SecretLocation(projectID: Self.projectID, environment: "dev", path: SecretPath(canonical: path)!)
    }

    @Test func everyValueIsKeptAndEachSecretGetsAStableID() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let values = [
            (path: "/", name: "A", value: "alpha"), (path: "/", name: "PEM", value: "-----BEGIN-----\nx\n"),
            (path: "/f", name: "B", value: "bravo"),
        ]
        try writeVersion1Store(fixture, values: values)

        let store = try fixture.open()
        var ids: [String: String] = [:]
        for (index, old) in values.enumerated() {
            let secret = try store.getSecret(old.name, in: location(old.path))
            #expect(secret.value == old.value)
            #expect(secret.version == index + 1)
            #expect(secret.updatedAt == Date(timeIntervalSince1970: Double(2000 + index)))
            #expect(secret.comment == "")
            #expect(secret.id.count == 36)
            ids[old.name] = secret.id
        }
        #expect(Set(ids.values).count == values.count)
        #expect(try store.listFolder(location("/")).secrets.map(\.name) == ["A", "PEM"])

        // The file now says the current version, and a second opening changes nothing.
        let version = try Database(path: fixture.storePath).query("PRAGMA user_version") { $0.integer(0) }
        #expect(version == [Schema.version])
        let again = try fixture.open()
        for old in values { #expect(try again.getSecret(old.name, in: location(old.path)).id == ids[old.name]) }

        // Migrated secrets take comments like new ones.
        let commented = try again.setComment("after the migration", of: "A", in: location("/"))
        #expect(commented.value == "alpha" && commented.id == ids["A"] && commented.version == 2)
        #expect(try store.getSecret("A", in: location("/")).comment == "after the migration")
    }

    @Test func anEmptyVersion1StoreMigrates() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try writeVersion1Store(fixture, values: [])
        let store = try fixture.open()
        let created = try store.createSecret("NEW", value: "n", in: location("/f"))
        #expect(try store.getSecret("NEW", in: location("/f")) == created)
    }
}
