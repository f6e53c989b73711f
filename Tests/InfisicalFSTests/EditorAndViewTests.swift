import Foundation
import FuseKit
import InfisicalFS
import SecretsCore
import Testing
import TestSupport

/// Scratch files: what editors and tools write next to a file never
/// reaches the backend, and their saves are one update.
@Suite("Editors and scratch files")
struct ScratchFileTests {
    @Test(arguments: [
        ".A.swp", ".A.swo", ".A.swx", ".A.swpx", "A~", ".#A", "#A#", "4913", "5036", "sedAb12Cd", "A.tmp", ".A.tmp", ".dat.nosync2277.x5SHlZ",
    ])
    func scratchFilesNeverReachTheBackend(name: String) throws {
        let h = Harness()
        try #require(h.write("demo/dev/\(name)", "scratch content") == nil)
        #expect(try h.read("demo/dev/\(name)") == "scratch content")
        #expect(try h.stat("demo/dev/\(name)").size == 15)
        #expect(try h.list("demo/dev") == [name])
        #expect(h.changes().isEmpty)
        try h.unlink("demo/dev/\(name)")
        #expect(try h.list("demo/dev") == [])
        #expect(h.changes().isEmpty)
    }

    @Test(arguments: ["A", "4914", "sedABC", "A.tmpx", ".A.sw", "A.swp", "~"])
    func otherNamesAreSecrets(name: String) throws {
        let h = Harness()
        try #require(h.write("demo/dev/\(name)", "v") == nil)
        #expect(h.stored(name) == "v")
    }

    @Test func aStoredSecretWithAScratchNameStaysASecret() throws {
        let h = Harness()
        _ = try h.backend.createSecret("KEY~", value: "stored", in: h.dev)
        #expect(try h.read("demo/dev/KEY~") == "stored")
        try #require(h.write("demo/dev/KEY~", "new") == nil)
        #expect(h.stored("KEY~") == "new")
    }

    @Test func aTemporaryFileRenamedOverASecretIsOneUpdate() throws {
        // sed -i, and any "write a temp file, then mv it in place".
        let h = Harness()
        _ = try h.backend.createSecret("A", value: "old", in: h.dev)
        let start = h.backend.calls.count
        try #require(h.write("demo/dev/sedX1y2Z3", "new") == nil)
        try h.rename("demo/dev/sedX1y2Z3", "demo/dev/A")
        #expect(h.stored("A") == "new")
        #expect(h.changes(after: start) == ["updateSecret"])
        #expect(try h.list("demo/dev") == ["A"])
        // Onto a name no secret has: one create.
        try #require(h.write("demo/dev/B.tmp", "b") == nil)
        try h.rename("demo/dev/B.tmp", "demo/dev/B")
        #expect(h.changes(after: start) == ["updateSecret", "createSecret"])
        #expect(h.stored("B") == "b")
    }

    @Test func anEditorMovingTheOriginalAsideThenWritingAgainIsOneUpdate() throws {
        // vim with backupcopy=no, emacs: rename A → A~, write a new A, remove A~.
        let h = Harness()
        _ = try h.backend.createSecret("A", value: "old", in: h.dev)
        let start = h.backend.calls.count
        try h.rename("demo/dev/A", "demo/dev/A~")
        #expect(try h.list("demo/dev") == ["A~"])
        #expect(errno { _ = try h.inode("demo/dev/A") } == .noSuchFileOrDirectory)
        #expect(try h.read("demo/dev/A~") == "old")
        #expect(h.stored("A") == "old", "still stored while the editor works")
        try #require(h.write("demo/dev/A", "new") == nil)
        try h.unlink("demo/dev/A~")
        #expect(h.stored("A") == "new")
        #expect(h.changes(after: start) == ["updateSecret"])
        #expect(try h.list("demo/dev") == ["A"])
    }

    @Test func movingTheBackupBackRestoresTheOriginal() throws {
        let h = Harness()
        _ = try h.backend.createSecret("A", value: "old", in: h.dev)
        try h.rename("demo/dev/A", "demo/dev/A~")
        try h.rename("demo/dev/A~", "demo/dev/A")
        #expect(h.stored("A") == "old")
        #expect(try h.read("demo/dev/A") == "old")
        #expect(try h.list("demo/dev") == ["A"])
    }

    @Test func renamingASecretAwayAndRemovingTheCopyDeletesIt() throws {
        let h = Harness()
        _ = try h.backend.createSecret("A", value: "old", in: h.dev)
        let start = h.backend.calls.count
        try h.rename("demo/dev/A", "demo/dev/A.tmp")
        try h.unlink("demo/dev/A.tmp")
        #expect(h.stored("A") == nil)
        #expect(h.changes(after: start) == ["deleteSecret"])
        // And through a temp name to another name: a move.
        _ = try h.backend.createSecret("B", value: "b", in: h.dev)
        try h.rename("demo/dev/B", "demo/dev/B.tmp")
        try h.rename("demo/dev/B.tmp", "demo/dev/C")
        #expect(h.stored("B") == nil)
        #expect(h.stored("C") == "b")
    }

    @Test func scratchFilesKeepWritesAtOffsetsAndTruncation() throws {
        let h = Harness()
        try #require(h.write("demo/dev/.A.swp", "0123456789") == nil)
        let file = try h.inode("demo/dev/.A.swp")
        let handle = try h.fs.open(file, flags: OpenFlags(accessMode: .readWrite), context: h.context).handle
        _ = try h.fs.write(file, handle: handle, offset: 12, data: Array("xy".utf8), context: h.context)
        #expect(try h.fs.read(file, handle: handle, offset: 0, size: 100) == Array("0123456789\0\0xy".utf8))
        _ = try h.fs.setAttributes(of: file, AttributeChanges(size: 4), handle: handle, context: h.context)
        #expect(try h.fs.read(file, handle: handle, offset: 0, size: 100) == Array("0123".utf8))
        h.fs.release(file, handle: handle)
        #expect(h.changes().isEmpty)
    }

    @Test func scratchFilesHaveLimits() throws {
        let h = Harness()
        let chunk = [UInt8](repeating: 0x61, count: 8 << 20)
        try #require(h.write("demo/dev/a.tmp", chunk + chunk) == nil)
        #expect(throws: Errno.fileTooLarge) { try h.write("demo/dev/b.tmp", chunk + chunk + [1]) }
        for name in ["c", "d", "e"] { try #require(h.write("demo/dev/\(name).tmp", chunk + chunk) == nil) }
        #expect(throws: Errno.noSpace, "64 MiB in all") { try h.write("demo/dev/f.tmp", [1]) }
        try h.unlink("demo/dev/c.tmp")
        #expect(try h.write("demo/dev/f.tmp", [1]) == nil)
    }

    @Test func aFolderHoldingScratchFilesIsNotEmpty() throws {
        let h = Harness()
        _ = try h.fs.makeDirectory(parent: try h.inode("demo/dev"), name: "f", context: h.context)
        try #require(h.write("demo/dev/f/x~", "v") == nil)
        #expect(errno { try h.fs.removeDirectory(parent: try h.inode("demo/dev"), name: "f", context: h.context) } == .directoryNotEmpty)
    }
}

/// The `.env`, `.json` and `.yaml` views of a folder.
@Suite("Folder views")
struct ViewTests {
    func harness() throws -> Harness {
        let h = Harness()
        _ = try h.backend.createSecret("PLAIN", value: "abc-1.2", in: h.dev)
        _ = try h.backend.createSecret("MULTI", value: "l1\nl2\n", in: h.dev)
        _ = try h.backend.createSecret("QUOTE", value: #"it's "q" $X #c \ z"#, in: h.dev)
        _ = try h.backend.createSecret("SPACE NAME", value: "üñ 😀", in: h.dev)
        return h
    }

    @Test func threeViewsInEveryFolderRenderingTheSameSecrets() throws {
        let h = try harness()
        // Reached by name, never listed: tools walking a tree see secrets and folders only.
        #expect(try h.listAll("demo/dev") == ["MULTI", "PLAIN", "QUOTE", "SPACE NAME"])
        #expect(
            try h.read("demo/dev/.env") == """
                MULTI='l1
                l2
                '
                PLAIN=abc-1.2
                QUOTE='it\\'s "q" $X #c \\\\ z'
                'SPACE NAME'='üñ 😀'

                """)
        #expect(
            try h.read("demo/dev/.json") == """
                {
                  "MULTI": "l1\\nl2\\n",
                  "PLAIN": "abc-1.2",
                  "QUOTE": "it's \\"q\\" $X #c \\\\ z",
                  "SPACE NAME": "üñ 😀"
                }

                """)
        #expect(
            try h.read("demo/dev/.yaml") == """
                "MULTI": "l1\\nl2\\n"
                "PLAIN": "abc-1.2"
                "QUOTE": "it's \\"q\\" $X #c \\\\ z"
                "SPACE NAME": "üñ 😀"

                """)
        for view in [".env", ".json", ".yaml"] {
            #expect(try h.stat("demo/dev/\(view)").size == UInt64(try h.read("demo/dev/\(view)").utf8.count))
            #expect(try h.stat("demo/dev/\(view)").permissions == 0o400)
        }
    }

    @Test func anEmptyFolderAndControlCharacters() throws {
        let h = Harness()
        #expect(try h.read("demo/dev/.json") == "{}\n")
        #expect(try h.read("demo/dev/.yaml") == "{}\n")
        #expect(try h.read("demo/dev/.env") == "")
        _ = try h.backend.createSecret("C", value: "a\u{1}b\u{85}c\u{2028}d", in: h.dev)
        #expect(try h.read("demo/dev/.json") == "{\n  \"C\": \"a\\u0001b\u{85}c\u{2028}d\"\n}\n")
        #expect(try h.read("demo/dev/.yaml") == "\"C\": \"a\\u0001b\\u0085c\\u2028d\"\n")
    }

    @Test func aSecretOfAViewsNameWins() throws {
        let h = try harness()
        _ = try h.backend.createSecret(".env", value: "A=1", in: h.dev)
        #expect(try h.read("demo/dev/.env") == "A=1")
        #expect(try h.listAll("demo/dev").filter { $0 == ".env" } == [".env"], "listed, as a secret")
        #expect(try h.read("demo/dev/.json").contains("\".env\": \"A=1\""))
    }

    @Test func viewsAreReadOnly() throws {
        let h = try harness()
        let view = try h.inode("demo/dev/.json")
        #expect(errno { _ = try h.fs.open(view, flags: OpenFlags(accessMode: .writeOnly), context: h.context) } == .permissionDenied)
        #expect(errno { _ = try h.fs.setAttributes(of: view, AttributeChanges(size: 0), handle: nil, context: h.context) } == .notPermitted)
        #expect(errno { try h.rename("demo/dev/.json", "demo/dev/X") } == .notPermitted)
        #expect(errno { try h.rename("demo/dev/PLAIN", "demo/dev/.yaml") } == .notPermitted)
        #expect(errno { try h.unlink("demo/dev/.env") } == .notPermitted)
        #expect(try h.read("demo/dev/.env").contains("PLAIN=abc-1.2"))
        #expect(h.changes().count == 4, "only the four creates of the setup")
    }

    @Test func aWriteThroughTheMountShowsInTheViewsAtOnce() throws {
        let h = try harness()
        #expect(try h.read("demo/dev/.env").contains("PLAIN=abc-1.2"))
        try #require(h.write("demo/dev/PLAIN", "changed") == nil)
        #expect(try h.read("demo/dev/.env").contains("PLAIN=changed"))
        #expect(try h.stat("demo/dev/.env").size == UInt64(try h.read("demo/dev/.env").utf8.count))
    }
}

/// A secret's metadata as extended attributes, in the core.
@Suite("Extended attributes in the core")
struct ExtendedAttributeTests {
    @Test func aSecretsMetadataAndItsComment() throws {
        let h = Harness()
        _ = try h.backend.createSecret("A", value: "v", in: h.dev)
        let file = try h.inode("demo/dev/A")
        #expect(try h.fs.listExtendedAttributes(file) == [
            "user.infisical.version", "user.infisical.type", "user.infisical.tags", "user.infisical.updated_at",
            "user.infisical.id",
        ])
        #expect(try h.fs.getExtendedAttribute(file, name: "user.infisical.version") == Array("1".utf8))
        #expect(throws: Errno.noData) { try h.fs.getExtendedAttribute(file, name: "user.infisical.comment") }
        #expect(throws: Errno.noData) { try h.fs.getExtendedAttribute(file, name: "security.capability") }
        try h.fs.setExtendedAttribute(file, name: "user.infisical.comment", value: Array("note".utf8), flags: [])
        #expect(try h.backend.getSecret("A", in: h.dev).comment == "note")
        #expect(try h.fs.getExtendedAttribute(file, name: "user.infisical.comment") == Array("note".utf8))
        #expect(throws: Errno.fileExists) {
            try h.fs.setExtendedAttribute(file, name: "user.infisical.comment", value: [], flags: .create)
        }
        #expect(throws: Errno.notPermitted) {
            try h.fs.setExtendedAttribute(file, name: "user.infisical.id", value: [], flags: [])
        }
        #expect(throws: Errno.notSupported) { try h.fs.setExtendedAttribute(file, name: "user.x", value: [], flags: []) }
        #expect(throws: Errno.illegalByteSequence) {
            try h.fs.setExtendedAttribute(file, name: "user.infisical.comment", value: [0xff], flags: [])
        }
        try h.fs.removeExtendedAttribute(file, name: "user.infisical.comment")
        #expect(try h.backend.getSecret("A", in: h.dev).comment == "")
        #expect(throws: Errno.noData) {
            try h.fs.setExtendedAttribute(file, name: "user.infisical.comment", value: Array("x".utf8), flags: .replace)
        }
    }

    @Test func aCopyBeingMadeTakesTheCommentAndIgnoresTheRest() throws {
        // cp -a / mv to another environment: create, write, copy the attributes, close.
        let h = Harness()
        let (parent, _) = try h.parentAndName("demo/prod/A")
        let flags = OpenFlags(accessMode: .writeOnly, truncate: true)
        let (entry, open) = try h.fs.create(parent: parent, name: "A", flags: flags, context: h.context)
        let file = entry.attributes.inode
        _ = try h.fs.write(file, handle: open.handle, offset: 0, data: Array("v".utf8), context: h.context)
        for (name, value) in [("user.infisical.version", "7"), ("user.infisical.id", "other"), ("user.infisical.comment", "kept")] {
            try h.fs.setExtendedAttribute(file, name: name, value: Array(value.utf8), flags: [])
        }
        try h.fs.flush(file, handle: open.handle, context: h.context)
        h.fs.release(file, handle: open.handle)
        let prod = SecretLocation(projectID: h.project.id, environment: "prod", path: .root)
        let stored = try h.backend.getSecret("A", in: prod)
        #expect(stored.value == "v" && stored.comment == "kept")
        #expect(stored.id != "other")
    }

    @Test func foldersScratchFilesAndViewsHaveNone() throws {
        let h = Harness()
        try #require(h.write("demo/dev/A~", "v") == nil)
        for path in ["demo/dev", "demo/dev/A~", "demo/dev/.env"] {
            #expect(try h.fs.listExtendedAttributes(try h.inode(path)) == [])
        }
    }
}
