import Foundation
import SecretsCore
import Testing

/// `moveSecret` with Infisical's outcome for each kind of move (see its
/// doc comment): what the Infisical backend gets from Infisical, every
/// backend gives. The value and comment always go with the secret.
@Suite("Backend contract: moves")
struct MoveContractTests {
    @Test(arguments: BackendFactory.all)
    func aRenameInPlaceKeepsTheSecretOneVersionOn(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let created = try s.backend.createSecret("A", value: "value", in: s.root)
        _ = try s.backend.setComment("about A", of: "A", in: s.root)
        _ = try s.backend.listFolder(s.root)  // a cache holds the listing from here on
        let moved = try s.backend.moveSecret("A", from: s.root, to: "B", in: s.root)
        #expect(moved.name == "B")
        #expect(moved.value == "value")
        #expect(moved.version == 3)
        #expect(moved.id == created.id)
        #expect(moved.comment == "about A")
        expectSame(try s.backend.getSecret("B", in: s.root), moved)
        expectError(.notFound, "the source") { try s.backend.getSecret("A", in: s.root) }
        #expect(try s.backend.listFolder(s.root).secrets.map(\.name) == ["B"])
    }

    @Test(arguments: BackendFactory.all)
    func aMoveOntoAnExistingNameReplacesThatSecretKeepingItsID(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        _ = try s.backend.createSecret("A", value: "from A", in: s.root)
        _ = try s.backend.setComment("about A", of: "A", in: s.root)
        let target = try s.backend.createSecret("B", value: "old B", in: s.root)
        _ = try s.backend.setComment("about B", of: "B", in: s.root)
        _ = try s.backend.listFolder(s.root)
        let moved = try s.backend.moveSecret("A", from: s.root, to: "B", in: s.root)
        #expect(moved.name == "B")
        #expect(moved.value == "from A")
        #expect(moved.version == 3)
        #expect(moved.id == target.id)
        #expect(moved.comment == "about A")
        expectSame(try s.backend.getSecret("B", in: s.root), moved)
        expectError(.notFound, "the source") { try s.backend.getSecret("A", in: s.root) }
        #expect(try s.backend.listFolder(s.root).secrets.map(\.name) == ["B"])
    }

    @Test(arguments: BackendFactory.all)
    func aMoveToAFreeNameInAnotherFolderMakesANewSecret(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let sub = s.location("/sub")
        try s.backend.createFolder("sub", in: s.root)
        let created = try s.backend.createSecret("A", value: "multi\nline\n", in: s.root)
        _ = try s.backend.setComment("about A", of: "A", in: s.root)
        _ = (try s.backend.listFolder(s.root), try s.backend.listFolder(sub))
        let moved = try s.backend.moveSecret("A", from: s.root, to: "C", in: sub)
        #expect(moved.name == "C")
        #expect(moved.value == "multi\nline\n")
        #expect(moved.version == 1)
        #expect(moved.id != created.id)
        #expect(moved.comment == "about A")
        expectSame(try s.backend.getSecret("C", in: sub), moved)
        expectError(.notFound, "the source") { try s.backend.getSecret("A", in: s.root) }
        #expect(try s.backend.listFolder(s.root).secrets.isEmpty)
        #expect(try s.backend.listFolder(sub).secrets.map(\.name) == ["C"])

        // The same name in another folder (Infisical's move route, where the server has it).
        let other = s.location("/other")
        try s.backend.createFolder("other", in: s.root)
        _ = try s.backend.updateSecret("C", value: "updated", in: sub)
        let again = try s.backend.moveSecret("C", from: sub, to: "C", in: other)
        #expect(again.name == "C")
        #expect(again.value == "updated")
        #expect(again.version == 1)
        #expect(again.id != moved.id)
        #expect(again.comment == "about A")
        expectSame(try s.backend.getSecret("C", in: other), again)
        #expect(try s.backend.listFolder(sub).isEmpty)
    }

    @Test(arguments: BackendFactory.all)
    func aMoveOntoAnExistingNameInAnotherFolderReplacesThatSecretKeepingItsID(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let sub = s.location("/sub")
        try s.backend.createFolder("sub", in: s.root)
        _ = try s.backend.createSecret("A", value: "from A", in: s.root)
        _ = try s.backend.setComment("about A", of: "A", in: s.root)
        let target = try s.backend.createSecret("A", value: "old", in: sub)
        _ = try s.backend.setComment("about the target", of: "A", in: sub)
        _ = (try s.backend.listFolder(s.root), try s.backend.listFolder(sub))
        let moved = try s.backend.moveSecret("A", from: s.root, to: "A", in: sub)
        #expect(moved.value == "from A")
        #expect(moved.version == 3)
        #expect(moved.id == target.id)
        #expect(moved.comment == "about A")
        expectSame(try s.backend.getSecret("A", in: sub), moved)
        expectError(.notFound, "the source") { try s.backend.getSecret("A", in: s.root) }
        #expect(try s.backend.listFolder(sub).secrets.map(\.name) == ["A"])
    }

    @Test(arguments: BackendFactory.all)
    func aMoveOntoItselfChangesNothing(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let created = try s.backend.createSecret("A", value: "value", in: s.root)
        let moved = try s.backend.moveSecret("A", from: s.root, to: "A", in: s.root)
        expectSame(moved, created)
        expectSame(try s.backend.getSecret("A", in: s.root), created)
    }

    /// A refused move changes nothing, in the source folder or elsewhere.
    @Test(arguments: BackendFactory.all)
    func aRefusedMoveChangesNothing(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let sub = s.location("/sub")
        try s.backend.createFolder("sub", in: s.root)
        let original = try s.backend.createSecret("S", value: "v", in: s.root)
        expectError(.notFound, "a missing source") { try s.backend.moveSecret("MISSING", from: s.root, to: "X", in: s.root) }
        expectError(.notFound, "a missing target folder") {
            try s.backend.moveSecret("S", from: s.root, to: "X", in: s.location("/nope"))
        }
        expectError(.invalidArgument, "a new name with ':' in place") {
            try s.backend.moveSecret("S", from: s.root, to: "a:b", in: s.root)
        }
        expectError(.invalidArgument, "a new name with ':' in another folder") {
            try s.backend.moveSecret("S", from: s.root, to: "a:b", in: sub)
        }
        expectError(.invalidArgument, "another environment") {
            try s.backend.moveSecret("S", from: s.root, to: "X", in: s.location(environment: "prod"))
        }
        expectSame(try s.backend.getSecret("S", in: s.root), original)
        #expect(try s.backend.listFolder(s.root).secrets.map(\.name) == ["S"])
        #expect(try s.backend.listFolder(sub).isEmpty)
        #expect(try s.backend.listFolder(s.location(environment: "prod")).isEmpty)
    }
}

@Suite("Backend contract: folders")
struct FolderContractTests {
    @Test(arguments: BackendFactory.all)
    func aFolderIsMadeOnlyOnceAndOnlyInAnExistingParent(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        _ = try s.backend.listFolder(s.root)
        try s.backend.createFolder("db", in: s.root)
        #expect(try s.backend.listFolder(s.root).folders == ["db"])
        #expect(try s.backend.listFolder(s.location("/db")).isEmpty)
        expectError(.alreadyExists, "the same name again") { try s.backend.createFolder("db", in: s.root) }
        try s.backend.createFolder("inner", in: s.location("/db"))
        #expect(try s.backend.listFolder(s.location("/db")).folders == ["inner"])
        expectError(.notFound, "in a missing parent") { try s.backend.createFolder("deeper", in: s.location("/nope")) }
        #expect(try s.backend.listFolder(s.root).folders == ["db"], "the missing parent was made on the way")
        for name in ["a b", "a.b", "a:b"] {
            expectError(.invalidArgument, name.debugDescription) { try s.backend.createFolder(name, in: s.root) }
        }
        #expect(try s.backend.listFolder(s.root).folders == ["db"])
    }

    /// Never recursive: a folder holding a secret or a folder stays, whole.
    @Test(arguments: BackendFactory.all)
    func onlyAnEmptyFolderIsDeleted(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        try s.backend.createFolder("full", in: s.root)
        let kept = try s.backend.createSecret("S", value: "v", in: s.location("/full"))
        try s.backend.createFolder("parent", in: s.root)
        try s.backend.createFolder("child", in: s.location("/parent"))
        try s.backend.createFolder("empty", in: s.root)
        for path in ["/", "/full", "/parent", "/empty"] { _ = try s.backend.listFolder(s.location(path)) }

        expectError(.notEmpty, "a folder holding a secret") { try s.backend.deleteFolder("full", in: s.root) }
        expectSame(try s.backend.getSecret("S", in: s.location("/full")), kept)
        expectError(.notEmpty, "a folder holding a folder") { try s.backend.deleteFolder("parent", in: s.root) }
        #expect(try s.backend.listFolder(s.location("/parent")).folders == ["child"])
        expectError(.notFound, "a missing folder") { try s.backend.deleteFolder("nope", in: s.root) }
        expectError(.notFound, "in a missing parent") { try s.backend.deleteFolder("x", in: s.location("/nope")) }

        try s.backend.deleteFolder("empty", in: s.root)
        #expect(try s.backend.listFolder(s.root).folders == ["full", "parent"])
        expectError(.notFound, "the deleted folder") { try s.backend.listFolder(s.location("/empty")) }
        try s.backend.deleteFolder("child", in: s.location("/parent"))
        try s.backend.deleteFolder("parent", in: s.root)
        #expect(try s.backend.listFolder(s.root).folders == ["full"])
    }

    /// In place, with everything in it; `.notSupported` where the backend
    /// says it cannot.
    @Test(arguments: BackendFactory.all)
    func aFolderIsRenamedWithEverythingInIt(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        try s.backend.createFolder("old", in: s.root)
        guard s.backend.capabilities.renamesFolders else {
            expectError(.notSupported) { try s.backend.renameFolder("old", in: s.root, to: "new") }
            #expect(try s.backend.listFolder(s.root).folders == ["old"])
            return
        }
        let secret = try s.backend.createSecret("S", value: "s", in: s.location("/old"))
        try s.backend.createFolder("inner", in: s.location("/old"))
        let deep = try s.backend.createSecret("T", value: "t", in: s.location("/old/inner"))
        try s.backend.createFolder("other", in: s.root)
        for path in ["/", "/old", "/old/inner", "/other"] { _ = try s.backend.listFolder(s.location(path)) }

        try s.backend.renameFolder("old", in: s.root, to: "new")
        #expect(try s.backend.listFolder(s.root).folders == ["new", "other"])
        expectSame(try s.backend.getSecret("S", in: s.location("/new")), secret)
        expectSame(try s.backend.getSecret("T", in: s.location("/new/inner")), deep)
        expectError(.notFound, "the old name") { try s.backend.listFolder(s.location("/old")) }
        expectError(.notFound, "a missing folder") { try s.backend.renameFolder("nope", in: s.root, to: "x") }
        expectError(.alreadyExists, "onto an existing folder") { try s.backend.renameFolder("new", in: s.root, to: "other") }
        #expect(try s.backend.listFolder(s.root).folders == ["new", "other"])
    }
}
