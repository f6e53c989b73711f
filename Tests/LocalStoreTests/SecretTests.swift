import Foundation
import LocalStore
import SecretsCore
import Testing

@Suite("secrets")
struct SecretTests {
    @Test func createGetUpdateDelete() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let created = try store.createSecret("API_KEY", value: "abc", in: seeded.root)
        #expect(created.name == "API_KEY")
        #expect(created.value == "abc")
        #expect(created.type == .shared)
        #expect(try store.getSecret("API_KEY", in: seeded.root) == created)
        let updated = try store.updateSecret("API_KEY", value: "def", in: seeded.root)
        #expect(updated.value == "def")
        #expect(try store.getSecret("API_KEY", in: seeded.root) == updated)
        try store.deleteSecret("API_KEY", in: seeded.root)
        expectError(.notFound) { try store.getSecret("API_KEY", in: seeded.root) }
    }

    @Test func missingSecretsAreNotFound() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) { try store.getSecret("X", in: seeded.root) }
        expectError(.notFound) { try store.updateSecret("X", value: "v", in: seeded.root) }
        expectError(.notFound) { try store.deleteSecret("X", in: seeded.root) }
        expectError(.notFound) { try store.getSecret("X", in: seeded.location("/missing")) }
        expectError(.notFound) { try store.getSecret("X", in: seeded.location("/", environment: "nope")) }
    }

    @Test func versionsAndTimestamps() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let before = Date()
        let created = try store.createSecret("V", value: "1", in: seeded.root)
        #expect(created.version == 1)
        #expect(created.createdAt == created.updatedAt)
        #expect(created.createdAt.timeIntervalSince(before) > -1)
        #expect(created.createdAt.timeIntervalSinceNow < 1)
        Thread.sleep(forTimeInterval: 0.02)
        let second = try store.updateSecret("V", value: "2", in: seeded.root)
        #expect(second.version == 2)
        #expect(second.createdAt == created.createdAt)
        #expect(second.updatedAt > created.updatedAt)
        let third = try store.updateSecret("V", value: "3", in: seeded.root)
        #expect(third.version == 3)
        // What a write returns is exactly what a read sees.
        #expect(try store.getSecret("V", in: seeded.root) == third)
        #expect(try store.listFolder(seeded.root).secrets == [third])
    }

    @Test(
        arguments: [
            ("  a b \n\n", "a b\n"), (" x ", "x"), ("x\n", "x\n"), ("x \n", "x\n"), ("\n", "\n"), ("", ""),
            ("line1\nline2\n", "line1\nline2\n"), ("\u{A0}nbsp\u{3000}", "nbsp"),
        ])
    func valuesAreTrimmedLikeInfisical(input: String, stored: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        #expect(try store.createSecret("T", value: input, in: seeded.root).value == stored)
        #expect(try store.getSecret("T", in: seeded.root).value == stored)
        #expect(
            try store.updateSecret("T", value: input + input, in: seeded.root).value
                == SecretValue.storedForm(input + input))
        #expect(try store.getSecret("T", in: seeded.root).value == SecretValue.storedForm(input + input))
    }

    @Test(arguments: ["", "a/b", "a:b", " lead", "trail ", "tab\t", ".", ".."])
    func invalidSecretNames(name: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        expectError(.invalidArgument) { try seeded.store.createSecret(name, value: "v", in: seeded.root) }
        #expect(try seeded.store.listFolder(seeded.root).secrets.isEmpty)
    }

    @Test func longNamesAndValues() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.nameTooLong) {
            try store.createSecret(String(repeating: "n", count: 256), value: "v", in: seeded.root)
        }
        let longest = String(repeating: "n", count: 255)
        #expect(try store.createSecret(longest, value: "v", in: seeded.root).name == longest)

        let biggest = String(repeating: "x", count: SecretValue.maximumBytes)
        #expect(try store.createSecret("BIG", value: biggest, in: seeded.root).value == biggest)
        #expect(try store.getSecret("BIG", in: seeded.root).value == biggest)
        expectError(.tooLarge) { try store.createSecret("HUGE", value: biggest + "x", in: seeded.root) }
        expectError(.tooLarge) { try store.updateSecret("BIG", value: biggest + "x", in: seeded.root) }
    }

    @Test func createRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) { try store.createSecret("A", value: "v", in: seeded.location("/missing")) }
        expectError(.notFound) { try store.createSecret("A", value: "v", in: seeded.location("/", environment: "qa")) }
        expectError(.notFound) {
            try store.createSecret(
                "A", value: "v", in: SecretLocation(projectID: "nope", environment: "dev", path: .root))
        }
        _ = try store.createSecret("A", value: "v", in: seeded.root)
        expectError(.alreadyExists) { try store.createSecret("A", value: "w", in: seeded.root) }
        #expect(try store.getSecret("A", in: seeded.root).value == "v")
        // Names are case-sensitive, and any other characters are allowed.
        _ = try store.createSecret("a", value: "lower", in: seeded.root)
        _ = try store.createSecret("with space.and-ünïcode 🔐", value: "u", in: seeded.root)
        #expect(try store.getSecret("with space.and-ünïcode 🔐", in: seeded.root).value == "u")
    }

    @Test func sameNameInDifferentPlacesIsDistinct() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("sub", in: seeded.root)
        _ = try store.createSecret("K", value: "root", in: seeded.root)
        _ = try store.createSecret("K", value: "sub", in: seeded.location("/sub"))
        _ = try store.createSecret("K", value: "prod", in: seeded.location("/", environment: "prod"))
        #expect(try store.getSecret("K", in: seeded.root).value == "root")
        #expect(try store.getSecret("K", in: seeded.location("/sub")).value == "sub")
        #expect(try store.getSecret("K", in: seeded.location("/", environment: "prod")).value == "prod")
    }

    @Test func listFolderSortsSecretsAndFolders() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        for name in ["b", "C", "a"] { _ = try store.createSecret(name, value: name, in: seeded.root) }
        for name in ["zz", "Aa", "m_1"] { try store.createFolder(name, in: seeded.root) }
        try store.createFolder("deep", in: seeded.location("/zz"))
        _ = try store.createSecret("inner", value: "i", in: seeded.location("/zz"))
        let listing = try store.listFolder(seeded.root)
        #expect(listing.secrets.map(\.name) == ["C", "a", "b"])
        #expect(listing.secrets.map(\.value) == ["C", "a", "b"])
        #expect(listing.folders == ["Aa", "m_1", "zz"])
        let inner = try store.listFolder(seeded.location("/zz"))
        #expect(inner.folders == ["deep"])
        #expect(inner.secrets.map(\.name) == ["inner"])
        #expect(try store.listFolder(seeded.location("/zz/deep")).isEmpty)
    }

    @Test func listFolderNotFound() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) {
            try store.listFolder(SecretLocation(projectID: "nope", environment: "dev", path: .root))
        }
        expectError(.notFound) { try store.listFolder(seeded.location("/", environment: "nope")) }
        expectError(.notFound) { try store.listFolder(seeded.location("/missing")) }
        // The slug does not stand for the ID in a location.
        expectError(.notFound) {
            try store.listFolder(SecretLocation(projectID: "app", environment: "dev", path: .root))
        }
        // A segment no folder could have does not reach another folder.
        try store.createFolder("a", in: seeded.root)
        try store.createFolder("b", in: seeded.location("/a"))
        let sneaky = SecretLocation(
            projectID: seeded.project.id, environment: "dev", path: SecretPath(segments: ["a/b"]))
        expectError(.notFound) { try store.listFolder(sneaky) }
        expectError(.notFound) { try store.deleteFolder("a/b", in: seeded.root) }
    }
}

@Suite("moving secrets")
struct MoveTests {
    @Test func renameInPlace() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let original = try store.createSecret("OLD", value: "v", in: seeded.root)
        let moved = try store.moveSecret("OLD", from: seeded.root, to: "NEW", in: seeded.root)
        #expect(moved.name == "NEW")
        #expect(moved.value == "v")
        #expect(moved.createdAt == original.createdAt)
        #expect(moved.version == original.version + 1)
        #expect(try store.getSecret("NEW", in: seeded.root) == moved)
        expectError(.notFound) { try store.getSecret("OLD", in: seeded.root) }
    }

    @Test func moveToAnotherFolder() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("dst", in: seeded.root)
        _ = try store.createSecret("S", value: "multi\nline\n", in: seeded.root)
        let moved = try store.moveSecret("S", from: seeded.root, to: "S", in: seeded.location("/dst"))
        #expect(moved.value == "multi\nline\n")
        #expect(try store.getSecret("S", in: seeded.location("/dst")) == moved)
        #expect(try store.listFolder(seeded.root).secrets.isEmpty)
    }

    @Test func moveReplacesTarget() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        _ = try store.createSecret("SRC", value: "new value", in: seeded.root)
        let target = try store.createSecret("DST", value: "old value", in: seeded.root)
        _ = try store.updateSecret("DST", value: "old value 2", in: seeded.root)
        let moved = try store.moveSecret("SRC", from: seeded.root, to: "DST", in: seeded.root)
        #expect(moved.value == "new value")
        #expect(moved.version == 3)
        #expect(moved.createdAt == target.createdAt)
        #expect(try store.getSecret("DST", in: seeded.root) == moved)
        #expect(try store.listFolder(seeded.root).secrets.map(\.name) == ["DST"])
    }

    @Test func moveOntoItselfIsANoOp() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        let original = try store.createSecret("S", value: "v", in: seeded.root)
        #expect(try store.moveSecret("S", from: seeded.root, to: "S", in: seeded.root) == original)
        #expect(try store.getSecret("S", in: seeded.root) == original)
    }

    @Test func moveRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        _ = try store.createSecret("S", value: "v", in: seeded.root)
        expectError(.notFound) { try store.moveSecret("MISSING", from: seeded.root, to: "X", in: seeded.root) }
        expectError(.notFound) { try store.moveSecret("S", from: seeded.root, to: "X", in: seeded.location("/none")) }
        expectError(.invalidArgument) {
            try store.moveSecret("S", from: seeded.root, to: "X", in: seeded.location("/", environment: "prod"))
        }
        expectError(.invalidArgument) { try store.moveSecret("S", from: seeded.root, to: "a:b", in: seeded.root) }
        expectError(.invalidArgument) { try store.moveSecret("S", from: seeded.root, to: " X", in: seeded.root) }
        expectError(.nameTooLong) {
            try store.moveSecret("S", from: seeded.root, to: String(repeating: "x", count: 256), in: seeded.root)
        }
        // Every refusal left the source in place.
        #expect(try store.getSecret("S", in: seeded.root).value == "v")
        #expect(try store.listFolder(seeded.root).secrets.map(\.name) == ["S"])
    }
}
