import CFuse
import Synchronization

/// Drops what the kernel caches for this mount, for changes the kernel
/// cannot see by itself (a value changed elsewhere). Safe from any thread,
/// including inside a request for the same inode, except that it must not
/// be called from a `read` of that inode (the kernel holds the pages being
/// read locked until the reply).
public final class KernelCache: Sendable {
    private let session: Mutex<SessionPointer?>

    init(session: SessionPointer) { self.session = Mutex(session) }

    /// A cache that reaches no kernel, for file systems driven without a mount.
    public static var detached: KernelCache { KernelCache() }

    private init() { self.session = Mutex(nil) }

    /// The kernel forgets the cached pages and attributes of `inode`: the
    /// next read asks the file system again. Returns false when the kernel
    /// did not take the notice (for instance, it no longer knows the inode).
    @discardableResult
    public func invalidateContent(of inode: InodeNumber) -> Bool {
        // Held across the notice so that the session cannot go away under it.
        session.withLock { session in
            guard let session else { return false }
            return fuse_lowlevel_notify_inval_inode(session.pointer, inode.rawValue, 0, 0) == 0
        }
    }

    /// Called before the session is destroyed: notices after it go nowhere.
    func detach() { session.withLock { $0 = nil } }
}
