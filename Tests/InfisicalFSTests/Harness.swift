import Foundation
import FuseKit
import InfisicalFS
import Logging
import SecretsCore
import TestSupport

/// The core called directly, as FuseKit would, over an in-memory backend.
struct Harness {
    let backend = InMemoryBackend()
    let fs: SecretsFileSystem
    let project: Project
    let context = RequestContext(uid: 1000, gid: 1000, pid: 1)

    init(
        configure: (inout FileSystemOptions) -> Void = { _ in }, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        project = backend.addProject(slug: "demo")
        var options = FileSystemOptions(uid: 1000, gid: 1000)
        configure(&options)
        fs = SecretsFileSystem(backend: backend, options: options, logger: .disabled, clock: clock)
    }

    var dev: SecretLocation { SecretLocation(projectID: project.id, environment: "dev", path: .root) }

    /// Walks a path from the root, as the kernel's lookups do: a missing
    /// name (a negative entry) is ENOENT.
    func inode(_ path: String) throws(Errno) -> InodeNumber {
        var inode = InodeNumber.root
        for name in path.split(separator: "/") {
            let entry = try fs.lookup(parent: inode, name: String(name), context: context)
            if entry.isMissing { throw .noSuchFileOrDirectory }
            inode = entry.attributes.inode
        }
        return inode
    }

    func parentAndName(_ path: String) throws(Errno) -> (InodeNumber, String) {
        let parts = path.split(separator: "/").map(String.init)
        return (try inode(parts.dropLast().joined(separator: "/")), parts.last!)
    }

    /// open(2) (creating when missing), write, close: returns close's error, if any.
    @discardableResult
    func write(_ path: String, _ text: String, truncate: Bool = true, append: Bool = false) throws(Errno) -> Errno? {
        try write(path, Array(text.utf8), truncate: truncate, append: append)
    }

    @discardableResult
    func write(_ path: String, _ bytes: [UInt8], truncate: Bool = true, append: Bool = false) throws(Errno) -> Errno? {
        let flags = OpenFlags(accessMode: .writeOnly, truncate: truncate, append: append)
        let handle: FuseHandle
        let file: InodeNumber
        if let existing = try? inode(path) {
            file = existing
            handle = try fs.open(existing, flags: flags, context: context).handle
        } else {
            let (parent, name) = try parentAndName(path)
            let (entry, reply) = try fs.create(parent: parent, name: name, flags: flags, context: context)
            file = entry.attributes.inode
            handle = reply.handle
        }
        if !bytes.isEmpty {
            _ = try fs.write(file, handle: handle, offset: 0, data: bytes, context: context)
        }
        defer { fs.release(file, handle: handle) }
        do {
            try fs.flush(file, handle: handle, context: context)
            return nil
        } catch {
            return error
        }
    }

    func read(_ path: String) throws(Errno) -> String {
        let file = try inode(path)
        let handle = try fs.open(file, flags: OpenFlags(accessMode: .readOnly), context: context).handle
        defer { fs.release(file, handle: handle) }
        return String(decoding: try fs.read(file, handle: handle, offset: 0, size: 1 << 20), as: UTF8.self)
    }

    /// A directory's names, without `.` and `..` and without a folder's
    /// three views (`listAll` keeps them).
    func list(_ path: String) throws(Errno) -> [String] {
        try listAll(path).filter { ![".env", ".json", ".yaml"].contains($0) }
    }

    func listAll(_ path: String) throws(Errno) -> [String] {
        try fs.openDirectory(try inode(path), context: context).entries().map(\.name).filter { $0 != "." && $0 != ".." }
    }

    func stat(_ path: String) throws(Errno) -> FileAttributes {
        try fs.attributes(of: try inode(path), handle: nil, context: context).0
    }

    func stored(_ name: String, in location: SecretLocation? = nil) -> String? {
        try? backend.getSecret(name, in: location ?? dev).value
    }

    func callCount(_ operation: String) -> Int { backend.calls.filter { $0.operation == operation }.count }

    /// rename(2) of two paths.
    func rename(_ from: String, _ to: String) throws(Errno) {
        let (parent, name) = try parentAndName(from)
        let (newParent, newName) = try parentAndName(to)
        try fs.rename(
            parent: parent, name: name, newParent: newParent, newName: newName, flags: RenameFlags(rawValue: 0),
            context: context)
    }

    /// unlink(2).
    func unlink(_ path: String) throws(Errno) {
        let (parent, name) = try parentAndName(path)
        try fs.removeFile(parent: parent, name: name, context: context)
    }

    /// Calls after the first `start` that changed what is stored (create,
    /// update, delete, move), by operation.
    func changes(after start: Int = 0) -> [String] {
        backend.calls.dropFirst(start).map(\.operation).filter {
            ["createSecret", "updateSecret", "deleteSecret", "moveSecret"].contains($0)
        }
    }
}

/// Runs `body` and returns the errno it threw, or nil; any other error is -1.
func errno(_ body: () throws -> Void) -> Errno? {
    do {
        try body()
        return nil
    } catch let error as Errno {
        return error
    } catch {
        return Errno(rawValue: -1)
    }
}
