import Foundation
import FuseKit
import InfisicalFS
import SecretsCore
import Testing
import TestSupport

@Suite("Tree and attributes")
struct TreeTests {
    @Test func rootListsProjectsAndProjectListsEnvironments() throws {
        let h = Harness()
        #expect(try h.list("") == [".crypto", ".status", "demo"])
        #expect(try h.list("demo") == ["dev", "staging", "prod"])
        #expect(try h.list("demo/dev") == [])
    }

    @Test func projectResolvesByIDAndSlugToOneInode() throws {
        let h = Harness()
        #expect(try h.inode("demo") == h.inode(h.project.id))
    }

    @Test func unknownNamesAreENOENT() {
        let h = Harness()
        #expect(errno { _ = try h.inode("nope") } == .noSuchFileOrDirectory)
        #expect(errno { _ = try h.inode("demo/qa") } == .noSuchFileOrDirectory)
        #expect(errno { _ = try h.inode("demo/dev/MISSING") } == .noSuchFileOrDirectory)
    }

    @Test func modesOwnerSizeAndTime() throws {
        let h = Harness { $0.uid = 42; $0.gid = 43 }
        try h.write("demo/dev/A", "hello\n")
        let file = try h.stat("demo/dev/A")
        #expect(file.type == .regular)
        #expect(file.permissions == 0o600)
        #expect(file.size == 5)
        #expect(file.uid == 42 && file.gid == 43)
        let secret = try h.backend.getSecret("A", in: h.dev)
        #expect(file.modified == secret.updatedAt)
        let folder = try h.stat("demo/dev")
        #expect(folder.type == .directory && folder.permissions == 0o700)
    }

    @Test func umaskWidensModes() throws {
        let h = Harness { $0.umask = 0o022 }
        try h.write("demo/dev/A", "x")
        #expect(try h.stat("demo/dev/A").permissions == 0o644)
        #expect(try h.stat("demo").permissions == 0o755)
    }

    @Test func projectsOptionLimitsTheRoot() throws {
        let h = Harness { $0.projects = ["other"] }
        #expect(try h.list("") == [".crypto", ".status"])
        #expect(errno { _ = try h.inode("demo") } == .noSuchFileOrDirectory)
    }

    @Test func aFolderHidesASecretOfTheSameName() throws {
        let h = Harness()
        try h.backend.createFolder("X", in: h.dev)
        _ = try h.backend.createSecret("X", value: "v", in: h.dev)
        #expect(try h.list("demo/dev") == ["X"])
        #expect(try h.stat("demo/dev/X").type == .directory)
    }
}

@Suite("Reading and writing")
struct ReadWriteTests {
    @Test func echoArtifactIsDroppedFromSingleLineValues() throws {
        let h = Harness()
        try h.write("demo/dev/API_KEY", "abc123\n")
        #expect(h.stored("API_KEY") == "abc123")
        #expect(try h.read("demo/dev/API_KEY") == "abc123")
    }

    @Test func multiLineValuesKeepTheirFinalNewline() throws {
        let h = Harness()
        let pem = "-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n"
        try h.write("demo/dev/PEM", pem)
        #expect(try h.read("demo/dev/PEM") == pem)
    }

    @Test func keepNewlineSendsBytesExactlyAndTheBackendTrims() throws {
        let h = Harness { $0.keepNewline = true }
        try h.write("demo/dev/A", "v\n")
        #expect(h.stored("A") == "v\n")
        try h.write("demo/dev/B", "  padded  ")
        #expect(try h.read("demo/dev/B") == "padded")
    }

    @Test func overwriteUpdatesEvenWhenTheCachedValueLooksTheSame() throws {
        // The cache may be stale (another mount wrote meanwhile): every write is sent.
        let h = Harness()
        try h.write("demo/dev/A", "one\n")
        try h.write("demo/dev/A", "two\n")
        #expect(h.stored("A") == "two")
        #expect(try h.backend.getSecret("A", in: h.dev).version == 2)
        try h.write("demo/dev/A", "two\n")
        #expect(h.callCount("updateSecret") == 2)
    }

    @Test func aNewFileIsNotKeptByTheKernelBeforeItIsStored() throws {
        let h = Harness()
        let (parent, _) = try h.parentAndName("demo/dev/NEW")
        let (entry, reply) = try h.fs.create(
            parent: parent, name: "NEW", flags: OpenFlags(accessMode: .writeOnly), context: h.context)
        #expect(entry.entryTimeout == 0 && entry.attributeTimeout == 0)
        h.fs.release(entry.attributes.inode, handle: reply.handle)
    }

    @Test func appendAddsToTheValue() throws {
        let h = Harness()
        try h.write("demo/dev/LIST", "a\n")
        try h.write("demo/dev/LIST", "b\n", truncate: false, append: true)
        #expect(try h.read("demo/dev/LIST") == "a\nb\n")
        try h.write("demo/dev/LIST", "c\n", truncate: false, append: true)
        #expect(try h.read("demo/dev/LIST") == "a\nb\nc\n")
        try h.write("demo/dev/WORD", "ab")
        try h.write("demo/dev/WORD", "cd", truncate: false, append: true)
        #expect(try h.read("demo/dev/WORD") == "abcd")
    }

    @Test func writeAtAnOffsetPatchesTheValue() throws {
        let h = Harness()
        try h.write("demo/dev/A", "hello world")
        let file = try h.inode("demo/dev/A")
        let handle = try h.fs.open(file, flags: OpenFlags(accessMode: .readWrite), context: h.context).handle
        _ = try h.fs.write(file, handle: handle, offset: 6, data: Array("WORLD".utf8), context: h.context)
        #expect(try h.fs.read(file, handle: handle, offset: 0, size: 100) == Array("hello WORLD".utf8))
        try h.fs.flush(file, handle: handle, context: h.context)
        h.fs.release(file, handle: handle)
        #expect(h.stored("A") == "hello WORLD")
    }

    @Test func nothingIsSentBeforeClose() throws {
        let h = Harness()
        try h.write("demo/dev/A", "old")
        let file = try h.inode("demo/dev/A")
        let flags = OpenFlags(accessMode: .writeOnly, truncate: true)
        let handle = try h.fs.open(file, flags: flags, context: h.context).handle
        _ = try h.fs.write(file, handle: handle, offset: 0, data: Array("new".utf8), context: h.context)
        #expect(h.stored("A") == "old")
        try h.fs.flush(file, handle: handle, context: h.context)
        #expect(h.stored("A") == "new")
        h.fs.release(file, handle: handle)
    }

    @Test func aRedirectionsEarlyCloseStoresNothing() throws {
        // `printf … > F` in a shell: open(O_TRUNC), dup2, close (a flush), write, close.
        let h = Harness()
        try h.write("demo/dev/A", "old")
        let file = try h.inode("demo/dev/A")
        let handle = try h.fs.open(file, flags: OpenFlags(accessMode: .writeOnly, truncate: true), context: h.context).handle
        try h.fs.flush(file, handle: handle, context: h.context)
        #expect(h.stored("A") == "old")
        _ = try h.fs.write(file, handle: handle, offset: 0, data: [0xff], context: h.context)
        #expect(errno { try h.fs.flush(file, handle: handle, context: h.context) } == .illegalByteSequence)
        h.fs.release(file, handle: handle)
        #expect(h.stored("A") == "old")
    }

    /// close(2) returns after FLUSH; RELEASE comes later. A read in between
    /// (the writer's next command) sees the stored value's size, not the
    /// content that failed to be stored.
    @Test func afterAFailedCommitTheStoredSizeIsShownBeforeTheRelease() throws {
        let h = Harness()
        try h.write("demo/dev/A", "good")
        let file = try h.inode("demo/dev/A")
        let handle = try h.fs.open(file, flags: OpenFlags(accessMode: .writeOnly, truncate: true), context: h.context).handle
        _ = try h.fs.write(file, handle: handle, offset: 0, data: [0xc3, 0x28], context: h.context)
        #expect(try h.stat("demo/dev/A").size == 2)  // while written: the writer's content
        #expect(errno { try h.fs.flush(file, handle: handle, context: h.context) } == .illegalByteSequence)
        #expect(try h.stat("demo/dev/A").size == 4)
        #expect(h.stored("A") == "good")
        h.fs.release(file, handle: handle)
    }

    @Test func truncatingWithoutWritingEmptiesTheValueAtRelease() throws {
        let h = Harness()
        try h.write("demo/dev/A", "old")
        try h.write("demo/dev/A", "")
        #expect(h.stored("A") == "")
    }

    @Test func aNewFileIsListedWhileOpenAndCreatedOnClose() throws {
        let h = Harness()
        let (parent, _) = try h.parentAndName("demo/dev/NEW")
        let (entry, reply) = try h.fs.create(
            parent: parent, name: "NEW", flags: OpenFlags(accessMode: .writeOnly), context: h.context)
        #expect(try h.list("demo/dev") == ["NEW"])
        #expect(h.stored("NEW") == nil)
        try h.fs.flush(entry.attributes.inode, handle: reply.handle, context: h.context)
        h.fs.release(entry.attributes.inode, handle: reply.handle)
        #expect(h.stored("NEW") == "")
    }

    @Test func truncateCommitsAtOnce() throws {
        let h = Harness()
        try h.write("demo/dev/A", "abcdef")
        _ = try h.fs.setAttributes(
            of: try h.inode("demo/dev/A"), AttributeChanges(size: 3), handle: nil, context: h.context)
        #expect(h.stored("A") == "abc")
    }

    @Test func readsOfOneOpenSeeOneVersion() throws {
        let h = Harness()
        try h.write("demo/dev/A", "first")
        let file = try h.inode("demo/dev/A")
        let handle = try h.fs.open(file, flags: OpenFlags(accessMode: .readOnly), context: h.context).handle
        _ = try h.backend.updateSecret("A", value: "second", in: h.dev)
        #expect(try h.fs.read(file, handle: handle, offset: 0, size: 100) == Array("first".utf8))
        h.fs.release(file, handle: handle)
    }
}

@Suite("Failures lose nothing")
struct FailureTests {
    @Test func aFailedUpdateReturnsTheErrorAtCloseAndKeepsTheOldValue() throws {
        let h = Harness()
        try h.write("demo/dev/A", "old")
        h.backend.failNext("updateSecret", with: BackendError(.unavailable, "connection refused"))
        #expect(try h.write("demo/dev/A", "new") == .ioError)
        #expect(h.stored("A") == "old")
    }

    @Test func aFailedCreateLeavesNoFile() throws {
        let h = Harness()
        h.backend.failNext("createSecret", with: BackendError(.permissionDenied, "denied"))
        #expect(try h.write("demo/dev/A", "v") == .permissionDenied)
        #expect(try h.list("demo/dev") == [])
    }

    @Test func invalidUTF8IsRefusedAtClose() throws {
        let h = Harness()
        try h.write("demo/dev/A", "old")
        #expect(try h.write("demo/dev/A", [0xff, 0xfe, 0x41]) == .illegalByteSequence)
        #expect(h.stored("A") == "old")
    }

    @Test func oversizedValuesAreRefusedAtWrite() throws {
        let h = Harness()
        try h.write("demo/dev/A", "old")
        let big = [UInt8](repeating: 0x41, count: SecretValue.maximumBytes + 1)
        #expect(errno { try h.write("demo/dev/A", big) } == .fileTooLarge)
        // A refused write poisons the open: close reports it and stores nothing.
        let file0 = try h.inode("demo/dev/A")
        let handle = try h.fs.open(file0, flags: OpenFlags(accessMode: .writeOnly, truncate: true), context: h.context).handle
        _ = try h.fs.write(file0, handle: handle, offset: 0, data: Array("partial".utf8), context: h.context)
        #expect(errno { _ = try h.fs.write(file0, handle: handle, offset: 7, data: big, context: h.context) } == .fileTooLarge)
        #expect(errno { try h.fs.flush(file0, handle: handle, context: h.context) } == .fileTooLarge)
        h.fs.release(file0, handle: handle)
        #expect(h.stored("A") == "old")
        let file = try h.inode("demo/dev/A")
        let size = UInt64(SecretValue.maximumBytes + 1)
        #expect(
            errno { _ = try h.fs.setAttributes(of: file, AttributeChanges(size: size), handle: nil, context: h.context) }
                == .fileTooLarge)
    }

    @Test(arguments: [
        ("A:B", Errno.invalidArgument), (" LEAD", .invalidArgument), ("TRAIL ", .invalidArgument),
        (String(repeating: "N", count: 256), .nameTooLong),
    ])
    func badSecretNamesCreateNothing(name: String, expected: Errno) throws {
        let h = Harness()
        #expect(errno { try h.write("demo/dev/\(name)", "v") } == expected)
        #expect(h.callCount("createSecret") == 0)
    }

    @Test(arguments: [("a.b", Errno.invalidArgument), ("sp ace", .invalidArgument)])
    func badFolderNamesCreateNothing(name: String, expected: Errno) throws {
        let h = Harness()
        let dev = try h.inode("demo/dev")
        #expect(errno { _ = try h.fs.makeDirectory(parent: dev, name: name, context: h.context) } == expected)
        #expect(h.callCount("createFolder") == 0)
    }

    @Test func aBackendFailureOnReadIsEIO() throws {
        let h = Harness()
        try h.write("demo/dev/A", "v")
        h.backend.failNext("getSecret", with: BackendError(.timedOut, "deadline"))
        #expect(errno { _ = try h.read("demo/dev/A") } == .ioError)
    }
}

@Suite("Directories, removal and renames")
struct NamespaceTests {
    @Test func mkdirAndRmdirFolders() throws {
        let h = Harness()
        let dev = try h.inode("demo/dev")
        _ = try h.fs.makeDirectory(parent: dev, name: "db", context: h.context)
        try h.write("demo/dev/db/PASSWORD", "pw")
        #expect(try h.list("demo/dev") == ["db"])
        #expect(errno { try h.fs.removeDirectory(parent: dev, name: "db", context: h.context) } == .directoryNotEmpty)
        #expect(h.stored("PASSWORD", in: h.dev.appending("db")) == "pw")
        try h.fs.removeFile(parent: try h.inode("demo/dev/db"), name: "PASSWORD", context: h.context)
        try h.fs.removeDirectory(parent: dev, name: "db", context: h.context)
        #expect(try h.list("demo/dev") == [])
    }

    @Test func statOfAFolderAsksOnlyItsParentsListing() throws {
        let h = Harness()
        for name in ["a", "b", "c"] { try h.backend.createFolder(name, in: h.dev) }
        for name in ["a", "b", "c"] { #expect(try h.stat("demo/dev/\(name)").type == .directory) }
        let listed = Set(h.backend.calls.filter { $0.operation == "listFolder" }.map(\.target))
        #expect(listed == [h.dev.description])
    }

    @Test func mkdirOverASecretIsEEXIST() throws {
        let h = Harness()
        try h.write("demo/dev/A", "v")
        #expect(errno { _ = try h.fs.makeDirectory(parent: try h.inode("demo/dev"), name: "A", context: h.context) } == .fileExists)
    }

    @Test func projectsAndEnvironmentsAreMadeWhereTheBackendManagesThem() throws {
        let h = Harness()
        _ = try h.fs.makeDirectory(parent: .root, name: "newproj", context: h.context)
        #expect(try h.list("") == [".crypto", ".status", "demo", "newproj"])
        #expect(try h.list("newproj") == ["dev", "staging", "prod"])
        _ = try h.fs.makeDirectory(parent: try h.inode("newproj"), name: "qa", context: h.context)
        #expect(try h.list("newproj") == ["dev", "staging", "prod", "qa"])
        #expect(errno { _ = try h.fs.makeDirectory(parent: .root, name: "Bad_Slug", context: h.context) } == .invalidArgument)
        let long = String(repeating: "p", count: 65)
        #expect(errno { _ = try h.fs.makeDirectory(parent: .root, name: long, context: h.context) } == .invalidArgument)
    }

    @Test func renameWithinAnEnvironmentMovesTheValue() throws {
        let h = Harness()
        try h.write("demo/dev/A", "value")
        _ = try h.fs.makeDirectory(parent: try h.inode("demo/dev"), name: "sub", context: h.context)
        let (dev, sub) = (try h.inode("demo/dev"), try h.inode("demo/dev/sub"))
        try h.fs.rename(parent: dev, name: "A", newParent: sub, newName: "B", flags: RenameFlags(rawValue: 0), context: h.context)
        #expect(h.stored("A") == nil)
        #expect(h.stored("B", in: h.dev.appending("sub")) == "value")
    }

    @Test func renameReplacesAnExistingTargetUnlessNoReplace() throws {
        let h = Harness()
        try h.write("demo/dev/A", "a")
        try h.write("demo/dev/B", "b")
        let dev = try h.inode("demo/dev")
        #expect(errno { try h.fs.rename(parent: dev, name: "A", newParent: dev, newName: "B", flags: RenameFlags(rawValue: 1), context: h.context) } == .fileExists)
        try h.fs.rename(parent: dev, name: "A", newParent: dev, newName: "B", flags: RenameFlags(rawValue: 0), context: h.context)
        #expect(h.stored("B") == "a")
        #expect(h.stored("A") == nil)
    }

    @Test func renameAcrossEnvironmentsIsEXDEV() throws {
        let h = Harness()
        try h.write("demo/dev/A", "a")
        let (dev, prod) = (try h.inode("demo/dev"), try h.inode("demo/prod"))
        #expect(errno { try h.fs.rename(parent: dev, name: "A", newParent: prod, newName: "A", flags: RenameFlags(rawValue: 0), context: h.context) } == .crossDevice)
        #expect(h.stored("A") == "a")
    }

    @Test func unlinkDeletes() throws {
        let h = Harness()
        try h.write("demo/dev/A", "a")
        try h.fs.removeFile(parent: try h.inode("demo/dev"), name: "A", context: h.context)
        #expect(h.stored("A") == nil)
        #expect(errno { _ = try h.inode("demo/dev/A") } == .noSuchFileOrDirectory)
    }
}

@Suite("Read-only mounts")
struct ReadOnlyTests {
    @Test func everyChangeIsEROFSAndModesLoseWriteBits() throws {
        let writable = Harness()
        try writable.write("demo/dev/A", "a")
        let h = Harness { $0.readOnly = true }
        _ = try h.backend.createSecret("A", value: "a", in: h.dev)
        #expect(try h.stat("demo/dev/A").permissions == 0o400)
        #expect(try h.stat("demo/dev").permissions == 0o500)
        #expect(try h.read("demo/dev/A") == "a")
        let dev = try h.inode("demo/dev")
        #expect(errno { try h.write("demo/dev/A", "b") } == .readOnlyFileSystem)
        #expect(errno { try h.write("demo/dev/NEW", "b") } == .readOnlyFileSystem)
        #expect(errno { _ = try h.fs.makeDirectory(parent: dev, name: "d", context: h.context) } == .readOnlyFileSystem)
        #expect(errno { try h.fs.removeFile(parent: dev, name: "A", context: h.context) } == .readOnlyFileSystem)
        #expect(h.stored("A") == "a")
    }
}
