import Foundation
import FuseKit
import Logging
import SecretsCore
import Synchronization

/// The `.env`, `.json` and `.yaml` views of a folder: read-only, rendered
/// from the folder's cached listing (one list call), so all three agree.
extension SecretsFileSystem {
    /// The view's bytes now: the folder's secrets as this mount shows them.
    func renderView(_ view: FolderView, of location: SecretLocation) throws(Errno) -> [UInt8] {
        let listing = try listing(of: location)
        let folders = Set(listing.folders)
        let shown = listing.secrets.filter {
            !folders.contains($0.name) && !isHidden(.secret(location, name: $0.name))
        }
        // A view without a secret its backend cannot open would be a config
        // quietly missing a key: the whole view is EIO instead.
        if let damaged = shown.first(where: { $0.damage?.value == true }), let damage = damaged.damage {
            logger.warning("cat /\(location)/\(view.rawValue): \(damage.reason) (\(Errno.ioError))")
            throw .ioError
        }
        return view.render(shown)
    }

    /// A lookup or stat renders the view and shows its size; on a mount
    /// that reads without opening, a changed rendering drops the kernel's
    /// pages, and reads serve this rendering (the size the kernel was given).
    func viewAttributes(_ node: Node, number: InodeNumber, known inode: InodeNumber?) throws(Errno) -> FileAttributes {
        guard case .view(let location, let view) = node else { throw .noSuchFileOrDirectory }
        let bytes = try renderView(view, of: location)
        if let inode = inode ?? state.withLock({ $0.inodes.inode(of: node) }) {
            let changed = state.withLock { state -> Bool in
                defer { state.viewSnapshots[inode.rawValue] = bytes }
                return state.viewSnapshots[inode.rawValue].map { $0 != bytes } ?? false
            }
            if changed, options.readsWithoutOpen { kernelCache.withLock { $0 }.invalidateContent(of: inode) }
        }
        let modified = (try? listing(of: location).secrets.map(\.updatedAt).max()) ?? nil
        var attributes = fileAttributes(number, size: UInt64(bytes.count), modified: modified ?? mountedAt)
        attributes.permissions &= 0o444
        return attributes
    }

    /// Read-write mounts: each open reads one rendering, past the page cache.
    func openView(_ inode: InodeNumber, node: Node, flags: OpenFlags) throws(Errno) -> OpenReply {
        guard case .view(let location, let view) = node else { throw .noSuchFileOrDirectory }
        if flags.writes { throw .permissionDenied }
        let file = OpenFile(
            inode: inode, flags: flags, content: try renderView(view, of: location), dirty: false, isNew: false)
        return OpenReply(handle: register(file), directIO: true, noFlush: true)
    }

    func readViewWithoutOpen(_ node: Node, inode: InodeNumber, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        guard case .view(let location, let view) = node else { throw .noSuchFileOrDirectory }
        let bytes: [UInt8]
        if let snapshot = state.withLock({ $0.viewSnapshots[inode.rawValue] }) {
            bytes = snapshot
        } else {
            bytes = try renderView(view, of: location)
        }
        guard offset < UInt64(bytes.count) else { return [] }
        return Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + size)])
    }
}
