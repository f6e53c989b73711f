import Foundation
import FuseKit
import InfisicalFS
import Logging
import SecretsCore
import Testing
import TestSupport

/// What the core tells the kernel it may keep: missing names, reads
/// without an open, and the deadline every operation runs under.
@Suite("Kernel caching decisions")
struct KernelCacheTests {
    let backend = InMemoryBackend()
    let project: Project
    let dev: SecretLocation
    let context = RequestContext(uid: 0, gid: 0, pid: 1)

    init() throws {
        project = backend.addProject(slug: "demo")
        dev = SecretLocation(projectID: project.id, environment: "dev", path: .root)
        _ = try backend.createSecret("A", value: "alpha", in: dev)
    }

    func fileSystem(ttl: TimeInterval, configure: (inout FileSystemOptions) -> Void = { _ in }) -> SecretsFileSystem {
        var options = FileSystemOptions(uid: 0, gid: 0)
        configure(&options)
        return SecretsFileSystem(backend: CachingBackend(backend, ttl: ttl), options: options, logger: .disabled)
    }

    func inode(_ fs: SecretsFileSystem, _ path: String) throws -> InodeNumber {
        var inode = InodeNumber.root
        for name in path.split(separator: "/") {
            inode = try fs.lookup(parent: inode, name: String(name), context: context).attributes.inode
        }
        return inode
    }

    @Test func aMissingNameInAFreshFolderIsANegativeEntryForTheListingsFreshness() throws {
        let fs = fileSystem(ttl: 300)
        let folder = try inode(fs, "demo/dev")
        let missing = try fs.lookup(parent: folder, name: "MISSING", context: context)
        #expect(missing.isMissing)
        #expect(missing.entryTimeout > 290 && missing.entryTimeout <= 300)
        // Asking again costs no backend call: the listing answered.
        let calls = backend.calls.count
        _ = try fs.lookup(parent: folder, name: "OTHER", context: context)
        #expect(backend.calls.count == calls)
    }

    @Test func withoutACacheAMissingNameIsNotKept() throws {
        let fs = fileSystem(ttl: 0)
        let missing = try fs.lookup(parent: try inode(fs, "demo/dev"), name: "MISSING", context: context)
        #expect(missing.isMissing)
        #expect(missing.entryTimeout == 0)
    }

    @Test func aMissingProjectIsKeptBriefly() throws {
        let fs = fileSystem(ttl: 300)
        let missing = try fs.lookup(parent: .root, name: "nope", context: context)
        #expect(missing.isMissing)
        #expect(missing.entryTimeout == FileSystemOptions(uid: 0, gid: 0).kernelCacheTimeout)
    }

    @Test func aMountThatReadsWithoutOpeningHasNoCryptoFolderAndReadsByInode() throws {
        let fs = fileSystem(ttl: 300) {
            $0.readOnly = true
            $0.readsWithoutOpen = true
        }
        let entries = try fs.openDirectory(.root, context: context).entries().map(\.name)
        #expect(!entries.contains(".crypto"))
        #expect(entries.contains("demo"))
        #expect(try fs.lookup(parent: .root, name: ".crypto", context: context).isMissing)
        let file = try inode(fs, "demo/dev/A")
        #expect(try fs.read(file, handle: nil, offset: 0, size: 4096) == Array("alpha".utf8))
        #expect(try fs.read(file, handle: nil, offset: 2, size: 2) == Array("ph".utf8))
        #expect(try fs.read(file, handle: nil, offset: 9, size: 10) == [])
    }

    @Test func everyOperationRunsUnderTheMountsDeadline() throws {
        let fs = fileSystem(ttl: 300) { $0.operationTimeout = 3 }
        let left = try fs.serve { () throws(Errno) in Deadline.remaining(atMost: 100) }
        #expect(left > 2.5 && left <= 3)
    }
}

@Suite("/.status in the core")
struct StatusFileTests {
    let backend = InMemoryBackend()
    let context = RequestContext(uid: 0, gid: 0, pid: 1)

    func fileSystem(readsWithoutOpen: Bool = false) -> SecretsFileSystem {
        _ = backend.addProject(slug: "demo")
        var options = FileSystemOptions(uid: 0, gid: 0)
        options.readOnly = readsWithoutOpen
        options.readsWithoutOpen = readsWithoutOpen
        options.statusLabels = [("version", .string("9.9.9")), ("mountpoint", .string("/mnt/s"))]
        return SecretsFileSystem(backend: CachingBackend(backend, ttl: 300), options: options, logger: .disabled)
    }

    func parse(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func eachOpenReadsAFreshReport() throws {
        let fs = fileSystem()
        let entry = try fs.lookup(parent: .root, name: ".status", context: context)
        #expect(entry.attributes.type == .regular)
        #expect(entry.attributes.permissions == 0o400)
        #expect(entry.entryTimeout == 0 && entry.attributeTimeout == 0)
        let inode = entry.attributes.inode
        let open = try fs.open(inode, flags: OpenFlags(accessMode: .readOnly), context: context)
        #expect(open.directIO)
        let report = try parse(try fs.read(inode, handle: open.handle, offset: 0, size: 1 << 20))
        fs.release(inode, handle: open.handle)
        let mount = try #require(report["mount"] as? [String: Any])
        #expect(mount["version"] as? String == "9.9.9")
        #expect(mount["mountpoint"] as? String == "/mnt/s")
        #expect(mount["read_only"] as? Bool == false)
        let cache = try #require(report["cache"] as? [String: Any])
        #expect(cache["ttl_seconds"] as? Int == 300)
        #expect(try fs.openDirectory(.root, context: context).entries().map(\.name).contains(".status"))
    }

    @Test func itCannotBeWrittenRemovedOrRenamed() throws {
        let fs = fileSystem()
        let inode = try fs.lookup(parent: .root, name: ".status", context: context).attributes.inode
        #expect(throws: Errno.permissionDenied) { try fs.open(inode, flags: OpenFlags(accessMode: .writeOnly), context: context) }
        #expect(throws: Errno.notPermitted) { try fs.removeFile(parent: .root, name: ".status", context: context) }
        #expect(throws: Errno.notPermitted) {
            try fs.rename(parent: .root, name: ".status", newParent: .root, newName: "x", flags: RenameFlags(rawValue: 0), context: context)
        }
        #expect(throws: Errno.notPermitted) { _ = try fs.setAttributes(of: inode, AttributeChanges(size: 0), handle: nil, context: context) }
    }

    @Test func withoutAnOpenAReadServesTheReportTheLastStatSized() throws {
        let fs = fileSystem(readsWithoutOpen: true)
        let entry = try fs.lookup(parent: .root, name: ".status", context: context)
        let bytes = try fs.read(entry.attributes.inode, handle: nil, offset: 0, size: 1 << 20)
        #expect(UInt64(bytes.count) == entry.attributes.size)
        #expect((try parse(bytes)["mount"] as? [String: Any])?["read_only"] as? Bool == true)
    }
}
