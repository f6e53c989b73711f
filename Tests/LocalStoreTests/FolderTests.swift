import LocalStore
import SecretsCore
import Testing

@Suite("folders")
struct FolderTests {
    @Test func createAndDelete() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("a", in: seeded.root)
        try store.createFolder("b", in: seeded.location("/a"))
        #expect(try store.listFolder(seeded.location("/a/b")).isEmpty)
        try store.deleteFolder("b", in: seeded.location("/a"))
        try store.deleteFolder("a", in: seeded.root)
        #expect(try store.listFolder(seeded.root).folders.isEmpty)
        expectError(.notFound) { try store.listFolder(seeded.location("/a")) }
    }

    @Test(arguments: ["", "a.b", "a b", "a/b", "ü", "."])
    func invalidFolderNames(name: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        expectError(.invalidArgument) { try seeded.store.createFolder(name, in: seeded.root) }
    }

    @Test func createRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.nameTooLong) { try store.createFolder(String(repeating: "f", count: 256), in: seeded.root) }
        expectError(.notFound) { try store.createFolder("x", in: seeded.location("/missing")) }
        expectError(.notFound) { try store.createFolder("x", in: seeded.location("/", environment: "qa")) }
        try store.createFolder("x", in: seeded.root)
        expectError(.alreadyExists) { try store.createFolder("x", in: seeded.root) }
        // Folder names are case-sensitive.
        try store.createFolder("X", in: seeded.root)
    }

    @Test func deleteRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) { try store.deleteFolder("missing", in: seeded.root) }
        try store.createFolder("full", in: seeded.root)
        _ = try store.createSecret("S", value: "v", in: seeded.location("/full"))
        expectError(.notEmpty) { try store.deleteFolder("full", in: seeded.root) }
        try store.deleteSecret("S", in: seeded.location("/full"))
        try store.createFolder("child", in: seeded.location("/full"))
        expectError(.notEmpty) { try store.deleteFolder("full", in: seeded.root) }
        try store.deleteFolder("child", in: seeded.location("/full"))
        try store.deleteFolder("full", in: seeded.root)
        // A sibling whose name extends another's is not its child.
        try store.createFolder("ab", in: seeded.root)
        try store.createFolder("ab-c", in: seeded.root)
        try store.deleteFolder("ab", in: seeded.root)
        #expect(try store.listFolder(seeded.root).folders == ["ab-c"])
    }

    @Test func renameMovesTheWholeSubtree() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("old", in: seeded.root)
        try store.createFolder("inner", in: seeded.location("/old"))
        try store.createFolder("deeper", in: seeded.location("/old/inner"))
        try store.createFolder("old2", in: seeded.root)  // shares a prefix; must not move
        let top = try store.createSecret("TOP", value: "t", in: seeded.location("/old"))
        _ = try store.createSecret("MID", value: "m", in: seeded.location("/old/inner"))
        _ = try store.createSecret("LOW", value: "l\n", in: seeded.location("/old/inner/deeper"))
        _ = try store.createSecret("OTHER", value: "o", in: seeded.location("/old2"))

        try store.renameFolder("old", in: seeded.root, to: "new")

        #expect(try store.listFolder(seeded.root).folders == ["new", "old2"])
        expectError(.notFound) { try store.listFolder(seeded.location("/old")) }
        expectError(.notFound) { try store.listFolder(seeded.location("/old/inner")) }
        #expect(try store.getSecret("TOP", in: seeded.location("/new")) == top)
        #expect(try store.getSecret("MID", in: seeded.location("/new/inner")).value == "m")
        #expect(try store.getSecret("LOW", in: seeded.location("/new/inner/deeper")).value == "l\n")
        #expect(try store.listFolder(seeded.location("/new/inner")).folders == ["deeper"])
        #expect(try store.getSecret("OTHER", in: seeded.location("/old2")).value == "o")
        // Renaming back restores the old paths.
        try store.renameFolder("new", in: seeded.root, to: "old")
        #expect(try store.getSecret("LOW", in: seeded.location("/old/inner/deeper")).value == "l\n")
    }

    @Test func renameNestedFolder() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("a", in: seeded.root)
        try store.createFolder("b", in: seeded.location("/a"))
        _ = try store.createSecret("S", value: "v", in: seeded.location("/a/b"))
        try store.renameFolder("b", in: seeded.location("/a"), to: "c")
        #expect(try store.listFolder(seeded.location("/a")).folders == ["c"])
        #expect(try store.getSecret("S", in: seeded.location("/a/c")).value == "v")
    }

    @Test func renameRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        try store.createFolder("a", in: seeded.root)
        try store.createFolder("b", in: seeded.root)
        expectError(.notFound) { try store.renameFolder("missing", in: seeded.root, to: "c") }
        expectError(.alreadyExists) { try store.renameFolder("a", in: seeded.root, to: "b") }
        expectError(.invalidArgument) { try store.renameFolder("a", in: seeded.root, to: "no.dots") }
        expectError(.nameTooLong) {
            try store.renameFolder("a", in: seeded.root, to: String(repeating: "x", count: 256))
        }
        try store.renameFolder("a", in: seeded.root, to: "a")
        #expect(try store.listFolder(seeded.root).folders == ["a", "b"])
    }
}
