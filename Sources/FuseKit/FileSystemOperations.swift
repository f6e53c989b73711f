/// The operations a FUSE file system answers, in Swift terms. FuseKit
/// decodes each kernel request, calls one of these on a libfuse worker
/// thread, and sends the one reply. Implementations are called from many
/// threads at once and must not hold a lock across slow work.
///
/// Directory listings are snapshots: `openDirectory` says how to make all entries
/// once and FuseKit pages them out to `readdir` (or the kernel serves them
/// from its own cache when the listing says so).
///
/// On a mount whose configuration reads files without opening them
/// (`MountConfiguration.readsWithoutOpen`), `open`, `flush` and `release` are
/// never called for files and `read` comes with no handle.
public protocol FileSystemOperations: AnyObject, Sendable {
    /// Runs one request's work; FuseKit calls every other operation inside
    /// it. A file system wraps it to set up what a whole request shares
    /// (a deadline, for instance). The default just runs `body`.
    func serve<Result>(_ body: () throws(Errno) -> Result) throws(Errno) -> Result
    /// Called once the mount exists, with the means to drop what the kernel
    /// caches. The default ignores it.
    func attach(_ kernelCache: KernelCache)

    func lookup(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry
    /// The kernel dropped `lookups` references to `inode`.
    func forget(_ inode: InodeNumber, lookups: UInt64)
    /// Attributes and how many seconds the kernel may keep them.
    func attributes(of inode: InodeNumber, handle: FuseHandle?, context: RequestContext) throws(Errno)
        -> (FileAttributes, timeout: Double)
    func setAttributes(
        of inode: InodeNumber, _ changes: AttributeChanges, handle: FuseHandle?, context: RequestContext
    ) throws(Errno) -> (FileAttributes, timeout: Double)

    func makeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry
    func removeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno)
    func removeFile(parent: InodeNumber, name: String, context: RequestContext) throws(Errno)
    func rename(
        parent: InodeNumber, name: String, newParent: InodeNumber, newName: String, flags: RenameFlags,
        context: RequestContext
    ) throws(Errno)

    func open(_ inode: InodeNumber, flags: OpenFlags, context: RequestContext) throws(Errno) -> OpenReply
    func create(parent: InodeNumber, name: String, flags: OpenFlags, context: RequestContext) throws(Errno)
        -> (Entry, OpenReply)
    /// `handle` is nil on a mount that reads without opening.
    func read(_ inode: InodeNumber, handle: FuseHandle?, offset: UInt64, size: Int) throws(Errno) -> [UInt8]
    /// Returns the number of bytes taken.
    func write(_ inode: InodeNumber, handle: FuseHandle, offset: UInt64, data: [UInt8], context: RequestContext)
        throws(Errno) -> Int
    /// Called on every close(2) of a descriptor; its error is close's error.
    func flush(_ inode: InodeNumber, handle: FuseHandle, context: RequestContext) throws(Errno)
    func fsync(_ inode: InodeNumber, handle: FuseHandle, dataOnly: Bool) throws(Errno)
    /// The last descriptor of the open file is gone; no reply error reaches anyone.
    func release(_ inode: InodeNumber, handle: FuseHandle)

    func openDirectory(_ inode: InodeNumber, context: RequestContext) throws(Errno) -> DirectoryListing
    func statistics() -> FileSystemStatistics

    // Extended attributes (xattr(7)). FuseKit answers the size protocol of
    // getxattr/listxattr itself (a zero-size query gets the length, a short
    // buffer ERANGE). The kernel has checked the caller's permission on
    // `user.*` names before calling; other namespaces (`security.`,
    // `system.`, `trusted.`) arrive too: the kernel asks for
    // `security.capability` before every write(2) to a file (measured: 50
    // writes, 50 GETXATTRs), so answer such names at once, with no backend
    // call. By default each throws ENOTSUP (EOPNOTSUPP), which the kernel
    // passes on and asks again next time; ENOSYS would turn the operation
    // off for the whole mount.

    /// The value of attribute `name`; ENODATA when the inode has none of that name.
    func getExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno) -> [UInt8]
    /// Sets attribute `name` to `value`, honouring `flags` (EEXIST, ENODATA).
    func setExtendedAttribute(_ inode: InodeNumber, name: String, value: [UInt8], flags: ExtendedAttributeFlags)
        throws(Errno)
    /// The names of the inode's attributes (each without a NUL).
    func listExtendedAttributes(_ inode: InodeNumber) throws(Errno) -> [String]
    /// Removes attribute `name`; ENODATA when there is none.
    func removeExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno)
}

extension FileSystemOperations {
    public func serve<Result>(_ body: () throws(Errno) -> Result) throws(Errno) -> Result { try body() }
    public func attach(_ kernelCache: KernelCache) {}

    public func getExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno) -> [UInt8] {
        throw .notSupported
    }

    public func setExtendedAttribute(
        _ inode: InodeNumber, name: String, value: [UInt8], flags: ExtendedAttributeFlags
    ) throws(Errno) {
        throw .notSupported
    }

    public func listExtendedAttributes(_ inode: InodeNumber) throws(Errno) -> [String] { throw .notSupported }

    public func removeExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno) { throw .notSupported }
}
