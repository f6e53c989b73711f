import Foundation
import FuseKit
import Logging
import SecretsCore
import Synchronization

/// An editor's or tool's scratch file (`ScratchNames`): swap, backup, lock
/// or temporary file. Its content lives in this mount's memory only.
struct ScratchFile: Sendable {
    var content: [UInt8] = []
    var modified = Date()
    /// The stored secret this file was renamed from (an editor moving the
    /// original aside as its backup). That secret stays stored and is hidden
    /// until a new file of its name is written; removing this file while it
    /// is still hidden deletes it, as the rename and the removal together ask.
    var origin: Node?
}

/// One open scratch file, by inode, so a rename while open keeps it.
struct ScratchOpen: Sendable {
    let inode: InodeNumber
    let flags: OpenFlags
}

extension SecretsFileSystem {
    /// Largest scratch file (an editor's swap file of a 512 KiB value is larger than the value).
    /// All of them together share the mount's `MemoryBudget`: beyond it,
    /// writes that grow them fail with ENOSPC.
    static let scratchLimit = 16 << 20

    /// Whether a file named `name` in `location` is a scratch file rather
    /// than a secret: a scratch name no stored secret has.
    func isScratchName(_ name: String, in location: SecretLocation) throws(Errno) -> Bool {
        guard ScratchNames.isScratch(name) else { return false }
        let stored = try listing(of: location).secret(named: name) != nil
        return !stored || isHidden(.secret(location, name: name))
    }

    func scratchFile(_ node: Node) -> ScratchFile? { state.withLock { $0.scratchFiles[node] } }

    func isHidden(_ node: Node) -> Bool { state.withLock { $0.hiddenSecrets.contains(node) } }

    func unhide(_ node: Node) { _ = state.withLock { $0.hiddenSecrets.remove(node) } }

    func scratchNames(in location: SecretLocation) -> [String] {
        state.withLock { state in
            state.scratchFiles.keys.compactMap { node in
                guard case .scratch(location, let name) = node else { return nil }
                return name
            }
        }
    }

    func scratchAttributes(_ node: Node, inode: InodeNumber) throws(Errno) -> FileAttributes {
        guard let file = scratchFile(node) else { throw .noSuchFileOrDirectory }
        return fileAttributes(inode, size: UInt64(file.content.count), modified: file.modified)
    }

    // MARK: Open files

    func createScratch(_ node: Node, flags: OpenFlags) -> (Entry, OpenReply) {
        state.withLock { state in
            if state.scratchFiles[node] == nil || flags.truncate { state.scratchFiles[node] = ScratchFile() }
        }
        logger.debug("create \(node.logPath) (scratch, kept in memory)")
        let entry = entry(for: node, attributes: fileAttributes(.root, size: 0, modified: Date()))
        return (entry, openScratch(entry.attributes.inode, node: node, flags: flags))
    }

    func openScratch(_ inode: InodeNumber, node: Node, flags: OpenFlags) -> OpenReply {
        state.withLock { state -> OpenReply in
            if flags.writes, flags.truncate {
                state.scratchFiles[node]?.content = []
                state.scratchFiles[node]?.modified = Date()
            }
            let handle = state.nextHandle
            state.nextHandle += 1
            state.scratchHandles[handle] = ScratchOpen(inode: inode, flags: flags)
            // Past the page cache: a rename over a secret changes what the inode holds.
            return OpenReply(handle: FuseHandle(rawValue: handle), directIO: true, noFlush: true)
        }
    }

    func isScratchHandle(_ handle: FuseHandle) -> Bool {
        state.withLock { $0.scratchHandles[handle.rawValue] != nil }
    }

    func readScratch(_ handle: FuseHandle, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        try state.withLock { state throws(Errno) -> [UInt8] in
            guard let open = state.scratchHandles[handle.rawValue], open.flags.reads else { throw .badFileDescriptor }
            guard let node = state.inodes.node(open.inode), let file = state.scratchFiles[node] else { return [] }
            guard offset < UInt64(file.content.count) else { return [] }
            return Array(file.content[Int(offset)..<min(file.content.count, Int(offset) + size)])
        }
    }

    func writeScratch(_ handle: FuseHandle, offset: UInt64, data: [UInt8]) throws(Errno) -> Int {
        // The file refused, when the budget refuses the write.
        let refused = try state.withLock { state throws(Errno) -> Node? in
            guard let open = state.scratchHandles[handle.rawValue], open.flags.writes else { throw .badFileDescriptor }
            // Removed while open: the writes go nowhere, as on a disk.
            guard let node = state.inodes.node(open.inode), state.scratchFiles[node] != nil else { return nil }
            // Out of the table while it changes: the content grows in place, not copied at each write.
            var file = state.scratchFiles.removeValue(forKey: node)!
            defer { state.scratchFiles[node] = file }
            let start = open.flags.append ? file.content.count : Int(clamping: offset)
            guard start <= Self.scratchLimit - data.count else { throw .fileTooLarge }
            guard MemoryBudget.reserve(max(file.content.count, start + data.count), in: &file.content, besides: state) else {
                return node
            }
            if start > file.content.count { file.content += repeatElement(0, count: start - file.content.count) }
            file.content.replaceSubrange(start..<min(start + data.count, file.content.count), with: data)
            file.modified = Date()
            return nil
        }
        if let refused {
            logger.warning("write \(refused.logPath) refused (\(Errno.noSpace)): \(MemoryBudget.refusal)")
            throw .noSpace
        }
        return data.count
    }

    func releaseScratch(_ handle: FuseHandle) {
        _ = state.withLock { $0.scratchHandles.removeValue(forKey: handle.rawValue) }
    }

    func resizeScratch(_ node: Node, to size: UInt64) throws(Errno) {
        guard size <= UInt64(Self.scratchLimit) else { throw .fileTooLarge }
        let size = Int(size)
        try state.withLock { state throws(Errno) in
            guard var file = state.scratchFiles.removeValue(forKey: node) else { throw .noSuchFileOrDirectory }
            defer { state.scratchFiles[node] = file }
            guard MemoryBudget.reserve(size, in: &file.content, besides: state) else { throw .noSpace }
            if size < file.content.count {
                file.content.removeSubrange(size...)
            } else {
                file.content += repeatElement(0, count: size - file.content.count)
            }
            file.modified = Date()
        }
    }

    // MARK: Removal and renames

    /// unlink: the file goes; a secret it was renamed from, still hidden, is
    /// deleted now (`mv S S~; rm S~` deletes S).
    func removeScratch(_ node: Node) throws(Errno) {
        guard let file = scratchFile(node) else { throw .noSuchFileOrDirectory }
        if let origin = file.origin, isHidden(origin), case .secret(let location, let name) = origin {
            try call("rm \(origin.logPath) (renamed to \(node.logPath), now removed)") {
                try backend.deleteSecret(name, in: location)
            }
            unhide(origin)
        }
        state.withLock { state in
            state.scratchFiles[node] = nil
            state.inodes.detach(node)
        }
    }

    /// A stored secret renamed to a scratch name: the scratch file gets its
    /// value; the secret stays stored, hidden here (see `ScratchFile.origin`).
    func moveSecretToScratch(_ source: Node, to target: Node) throws(Errno) {
        guard case .secret(let location, let name) = source else { throw .invalidArgument }
        let secret = try fetchValue(name, in: location, for: "mv")
        logger.debug("mv \(source.logPath) \(target.logPath): kept as a scratch file, the secret stays stored")
        state.withLock { state in
            state.scratchFiles[target] = ScratchFile(
                content: Array(secret.value.utf8), modified: secret.updatedAt, origin: source)
            state.hiddenSecrets.insert(source)
            state.inodes.move(source, to: target)
        }
    }

    func moveScratch(_ source: Node, to target: Node) {
        state.withLock { state in
            state.scratchFiles[target] = state.scratchFiles.removeValue(forKey: source)
            state.inodes.move(source, to: target)
        }
    }

    /// A scratch file renamed to a secret's name (`sed -i`, `mv NAME.tmp
    /// NAME`, an editor restoring its backup): one create or update of that
    /// secret with the file's content. A secret the scratch file was renamed
    /// from, still hidden and not the target, is then deleted: a move. A
    /// rename that fails changes nothing (see `finishMove`).
    func commitScratch(_ source: Node, as target: Node) throws(Errno) {
        guard case .secret(let location, let name) = target, let file = scratchFile(source) else {
            throw .noSuchFileOrDirectory
        }
        let replaced = try listing(of: location).secret(named: name)
        try commit(file.content, as: name, in: location, isNew: replaced == nil)
        if let origin = file.origin, origin != target, isHidden(origin) {
            try finishMove(from: origin, to: target, replacing: replaced)
            unhide(origin)
        }
        unhide(target)
        state.withLock { state in
            state.scratchFiles[source] = nil
            if let replaced = state.inodes.inode(of: target) { state.pageVersions[replaced.rawValue] = nil }
            state.inodes.move(source, to: target)
        }
    }

    /// The end of a move through a scratch file (`mv F F~; mv F~ G`): the
    /// secret the file was renamed from (F) is deleted, now that the file's
    /// content is stored as `target`. When that delete fails, `target` is
    /// put back as it was (`replaced`, or no secret), so the rename fails
    /// having changed nothing: F stays stored, the scratch file keeps the
    /// content. One log line says what happened, both states when putting
    /// the target back fails too.
    private func finishMove(from origin: Node, to target: Node, replacing replaced: Secret?) throws(Errno) {
        guard case .secret(let from, let oldName) = origin, case .secret(let location, let name) = target else { return }
        let failure: BackendError
        do {
            try backend.deleteSecret(oldName, in: from)
            return
        } catch let error as BackendError {
            // Gone already (removed elsewhere): the move is whole.
            if error.kind == .notFound { return }
            failure = error
        } catch {
            failure = BackendError(.internalError, "\(error)")
        }
        let what = "mv \(origin.logPath) \(target.logPath): \(failure.reason) (\(Errno(failure)))"
        do {
            if let replaced {
                _ = try backend.updateSecret(name, value: replaced.value, in: location)
            } else {
                try backend.deleteSecret(name, in: location)
            }
            logger.warning("\(what); undone: \(target.logPath) \(replaced == nil ? "removed again" : "holds its old value again")")
        } catch {
            let reason = (error as? BackendError)?.reason ?? "\(error)"
            logger.error(
                "\(what); undoing it failed too (\(reason)): \(origin.logPath) is still stored, and \(target.logPath)"
                    + " holds the renamed file's content\(replaced == nil ? " (created by the rename)" : ", not its old value")")
        }
        throw Errno(failure)
    }

    /// After a folder rename: scratch files and hidden secrets below it move along.
    func rebaseScratch(from old: SecretLocation, to new: SecretLocation) {
        state.withLock { state in
            var files: [Node: ScratchFile] = [:]
            for (node, var file) in state.scratchFiles {
                file.origin = file.origin.map { $0.rebased(from: old, to: new) ?? $0 }
                files[node.rebased(from: old, to: new) ?? node] = file
            }
            state.scratchFiles = files
            state.hiddenSecrets = Set(state.hiddenSecrets.map { $0.rebased(from: old, to: new) ?? $0 })
        }
    }
}

extension SecretsFileSystem {
    /// Renames of files in folders where a scratch name is on either side.
    /// Returns false when neither is (an ordinary secret rename).
    func renameFileInvolvingScratch(_ source: Node, existing: Node?, to newName: String, in targetParent: Node)
        throws(Errno) -> Bool
    {
        let from: SecretLocation
        switch source {
        case .secret(let location, _), .scratch(let location, _): from = location
        default: return false
        }
        guard case .folder(let to) = targetParent else {
            if case .scratch = source { throw .crossDevice }
            return false
        }
        let targetIsScratch = try isScratchName(newName, in: to)
        if case .secret = source, !targetIsScratch { return false }
        guard from.sharesEnvironment(with: to) else { throw .crossDevice }
        if let existing, existing.isDirectory { throw .isDirectory }
        let target = targetIsScratch ? Node.scratch(to, name: newName) : Node.secret(to, name: newName)
        if targetIsScratch, case .scratch? = existing {
            // Replaced, as on a disk.
            state.withLock { state in
                state.scratchFiles[target] = nil
                state.inodes.detach(target)
            }
        }
        switch (source, targetIsScratch) {
        case (.secret, true):
            try moveSecretToScratch(source, to: target)
        case (.scratch, true):
            moveScratch(source, to: target)
        default:
            try check(NamingRules.checkSecretName(newName), "rename", newName)
            try commitScratch(source, as: target)
        }
        return true
    }
}
