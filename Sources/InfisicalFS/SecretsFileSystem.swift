public import FuseKit
public import Logging
public import SecretsCore
public import Foundation
import Synchronization

/// The file system of SPEC.md over any `SecretBackend`: decides what each
/// operation means for secrets and asks the backend. Knows nothing of libfuse.
public final class SecretsFileSystem: FileSystemOperations {
    let backend: any SecretBackend
    let options: FileSystemOptions
    let logger: Logger
    let mountedAt = Date()
    let state = Mutex(State())
    /// The time `/.crypto` answers expire by; tests move it.
    let clock: @Sendable () -> Date
    /// Drops what the kernel caches; detached until the mount exists.
    let kernelCache = Mutex(KernelCache.detached)

    struct State: Sendable {
        var inodes = InodeTable()
        /// Per folder inode: the fetch of the cached listing the kernel was
        /// last given, to tell it at the next opendir whether its copy is right.
        var listingStamps: [UInt64: Date] = [:]
        /// Per file inode: the version of the value the kernel may hold in
        /// its page cache (filled by reads without an open, on read-only
        /// mounts; opens read past it); nil after a write through this mount.
        var pageVersions: [UInt64: String] = [:]
        var openFiles: [UInt64: OpenFile] = [:]
        /// Open files of `/.crypto`; handles share one numbering with `openFiles`.
        var cryptoFiles: [UInt64: CryptoOpenFile] = [:]
        var cryptoResults = CryptoResults()
        /// The latest `/.status` report and when it was made: reused for a
        /// second, so the lookup, stat and reads of one `cat` see one report
        /// of the size `stat` showed.
        var statusSnapshot: (report: [UInt8], madeAt: Date)?
        /// Scratch files (`.scratch` nodes): editors' swap, backup and temporary files.
        var scratchFiles: [Node: ScratchFile] = [:]
        /// Open scratch files; handles share one numbering with `openFiles`.
        var scratchHandles: [UInt64: ScratchOpen] = [:]
        /// Stored secrets renamed to a scratch name: hidden in this mount
        /// until written again or removed (see `ScratchFile.origin`).
        var hiddenSecrets: Set<Node> = []
        /// Per view inode: the rendering its size was last shown for.
        var viewSnapshots: [UInt64: [UInt8]] = [:]
        var nextHandle: UInt64 = 1
    }

    public init(
        backend: any SecretBackend, options: FileSystemOptions, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.backend = backend
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    // MARK: Requests

    /// Every operation answers within `operationTimeout`: backend calls
    /// made for it share one deadline.
    public func serve<Result>(_ body: () throws(Errno) -> Result) throws(Errno) -> Result {
        try Deadline.within(options.operationTimeout, body)
    }

    public func attach(_ kernelCache: KernelCache) {
        self.kernelCache.withLock { $0 = kernelCache }
    }

    // MARK: Names and attributes

    public func lookup(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry {
        let parentNode = try node(parent)
        let node: Node
        do {
            node = try child(named: name, of: parentNode)
        } catch .noSuchFileOrDirectory {
            // The kernel may remember the miss as long as what said so stays
            // fresh: shells probing for files do not ask again each time.
            return .missing(cachedFor: negativeTimeout(in: parentNode))
        }
        let attributes = try attributes(of: node, inode: nil)
        return entry(for: node, attributes: attributes)
    }

    public func forget(_ inode: InodeNumber, lookups: UInt64) {
        state.withLock { $0.inodes.forget(inode, lookups: lookups) }
    }

    public func attributes(of inode: InodeNumber, handle: FuseHandle?, context: RequestContext) throws(Errno)
        -> (FileAttributes, timeout: Double)
    {
        // The node, and the open that answers for it if any, in one look.
        let (last, openSize) = state.withLock { state -> ((node: Node, detached: Bool)?, Int?) in
            guard let last = state.inodes.lastNode(inode) else { return (nil, nil) }
            return (last, Self.openSize(of: inode, handle: handle, detached: last.detached, in: state))
        }
        guard let (node, detached) = last else { throw .noSuchFileOrDirectory }
        if let openSize { return openFileAttributes(node, inode: inode, size: openSize, detached: detached) }
        guard !detached else { throw .noSuchFileOrDirectory }
        return (try attributes(of: node, inode: inode), kernelTimeout(for: node))
    }

    /// The size of the open that speaks for an inode, as on any POSIX file
    /// system, where an open file keeps its inode until it is released: with
    /// a handle (ftruncate(2) and the kernel's own checks send it), that
    /// open; once the name was removed or replaced, any open of the inode
    /// (fstat(2) reaches the daemon without the descriptor's handle). Nil
    /// otherwise: the name's attributes answer.
    private static func openSize(of inode: InodeNumber, handle: FuseHandle?, detached: Bool, in state: State) -> Int? {
        let file =
            handle.flatMap { state.openFiles[$0.rawValue] }.flatMap { $0.inode == inode ? $0 : nil }
            ?? (detached ? state.openFiles.values.first { $0.inode == inode } : nil)
        return file?.content.count
    }

    /// An open secret's attributes: the name's, with the open's size (kept
    /// by the kernel only while the two agree); once no name leads to it,
    /// the open's content with no link.
    private func openFileAttributes(_ node: Node, inode: InodeNumber, size: Int, detached: Bool)
        -> (FileAttributes, timeout: Double)
    {
        if !detached, var attributes = try? attributes(of: node, inode: inode) {
            let agrees = attributes.size == UInt64(size)
            attributes.size = UInt64(size)
            return (attributes, agrees ? kernelTimeout(for: node) : 0)
        }
        var attributes = fileAttributes(inode, size: UInt64(size), modified: Date())
        attributes.linkCount = detached ? 0 : 1
        return (attributes, 0)
    }

    public func setAttributes(
        of inode: InodeNumber, _ changes: AttributeChanges, handle: FuseHandle?, context: RequestContext
    ) throws(Errno) -> (FileAttributes, timeout: Double) {
        // ftruncate(2) of an open file whose name is gone still resizes that open.
        let openNode = handle.flatMap { handle in
            state.withLock { $0.openFiles[handle.rawValue] != nil ? $0.inodes.lastNode(inode)?.node : nil }
        }
        let node: Node
        if let openNode { node = openNode } else { node = try self.node(inode) }
        // Modes, owners and times come from the mount options and the backend;
        // chmod, chown and touch succeed without changing them.
        if let size = changes.size {
            logger.debug("truncate \(node.logPath) to \(size)\(handle == nil ? "" : " (open file)")")
            if node.isControl { throw .notPermitted }
            if case .view = node { throw .notPermitted }
            if case .scratch = node {
                try refuseIfReadOnly()
                try resizeScratch(node, to: size)
                return (try attributes(of: node, inode: inode), kernelTimeout(for: node))
            }
            guard case .secret(let location, let name) = node else { throw .isDirectory }
            try refuseIfReadOnly()
            guard size <= UInt64(SecretValue.maximumBytes) else { throw .fileTooLarge }
            // The kernel's cached pages no longer match what is (or will be) stored.
            state.withLock { $0.pageVersions[inode.rawValue] = nil }
            if let handle, try resize(handle, to: Int(size)) {
                // Truncating an open file: committed with its content on close.
            } else {
                var content = Array(try fetchValue(name, in: location, for: "truncate").value.utf8)
                resizeContent(&content, to: Int(size))
                try commit(content, as: name, in: location, isNew: false)
            }
        }
        return try attributes(of: inode, handle: handle, context: context)
    }

    public func statistics() -> FileSystemStatistics {
        var statistics = FileSystemStatistics()
        statistics.maximumNameLength = UInt64(NamingRules.maximumNameBytes)
        return statistics
    }

    // MARK: Directories

    public func openDirectory(_ inode: InodeNumber, context: RequestContext) throws(Errno) -> DirectoryListing {
        let node = try node(inode)
        let makeEntries: @Sendable () throws(Errno) -> [DirectoryEntry] = { () throws(Errno) in
            try self.directoryEntries(of: node, inode: inode)
        }
        // A folder's listing may stay in the kernel while the cached listing
        // it was made from is the same fetch: the kernel drops it by itself
        // on this mount's own creates, unlinks and renames. Projects and the
        // root are small and always listed afresh.
        guard case .folder(let location) = node, let cache = backend as? CachingBackend else {
            return DirectoryListing(entries: try makeEntries())
        }
        _ = try listing(of: location)  // fails here, at opendir, for a folder that is gone
        guard let stamp = cache.listingStamp(of: location) else { return DirectoryListing(entries: try makeEntries()) }
        let keepCache = state.withLock { state -> Bool in
            defer { state.listingStamps[inode.rawValue] = stamp }
            return state.listingStamps[inode.rawValue] == stamp
        }
        return DirectoryListing(cacheable: true, keepCache: keepCache, entries: makeEntries)
    }

    func directoryEntries(of node: Node, inode: InodeNumber) throws(Errno) -> [DirectoryEntry] {
        let children = try children(of: node)
        // The kernel resolves ".." itself; its number here is only informative.
        var entries = [
            DirectoryEntry(name: ".", inode: inode, type: .directory),
            DirectoryEntry(name: "..", inode: Self.unknownInode, type: .directory),
        ]
        entries.reserveCapacity(children.count + 2)
        state.withLock { state in
            for (name, child) in children {
                let number = state.inodes.inode(of: child) ?? Self.unknownInode
                entries.append(DirectoryEntry(name: name, inode: number, type: child.isDirectory ? .directory : .regular))
            }
        }
        return entries
    }

    public func makeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry {
        try refuseIfReadOnly()
        let parentNode = try node(parent)
        let created: Node
        switch parentNode {
        case .root where name == Node.cryptoName, .crypto:
            throw .notPermitted
        case .root:
            try check(NamingRules.checkSlug(name, of: "project"), "mkdir", name)
            let project = try call("mkdir /\(name)") { try backend.createProject(slug: name) }
            created = .project(id: project.id)
        case .project(let id):
            try check(NamingRules.checkSlug(name, of: "environment"), "mkdir", name)
            _ = try call("mkdir \(parentNode.logPath)/\(name)") { try backend.createEnvironment(slug: name, in: id) }
            created = .folder(SecretLocation(projectID: id, environment: name, path: .root))
        case .folder(let location):
            try check(NamingRules.checkFolderName(name), "mkdir", name)
            if try listing(of: location).secret(named: name) != nil { throw .fileExists }
            if scratchFile(.scratch(location, name: name)) != nil { throw .fileExists }
            try call("mkdir \(parentNode.logPath)/\(name)") { try backend.createFolder(name, in: location) }
            created = .folder(location.appending(name))
        case .secret, .cryptoFile, .status, .scratch, .view:
            throw .notDirectory
        }
        return entry(for: created, attributes: try attributes(of: created, inode: nil))
    }

    public func removeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) {
        try refuseIfReadOnly()
        let parentNode = try node(parent)
        if parentNode == .crypto { throw .notPermitted }
        let target = try child(named: name, of: parentNode)
        let what = "rmdir \(target.logPath)"
        switch target {
        case .crypto, .cryptoFile:
            throw .notPermitted
        case .root, .secret, .status, .scratch, .view:
            throw .notDirectory
        case .project(let id):
            try call(what) { try backend.deleteProject(id: id) }
        case .folder(let location):
            if location.path.isRoot {
                try call(what) { try backend.deleteEnvironment(slug: location.environment, in: location.projectID) }
            } else {
                // Every backend refuses a non-empty folder, but only this
                // mount knows the files it is still creating in it.
                guard try listing(of: location).isEmpty, !hasPendingFiles(in: location),
                    scratchNames(in: location).isEmpty
                else {
                    throw .directoryNotEmpty
                }
                try call(what) { try backend.deleteFolder(location.path.name!, in: location.parent!) }
            }
        }
        state.withLock { $0.inodes.detach(target) }
    }

    // MARK: Files

    public func removeFile(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) {
        try refuseIfReadOnly()
        let parentNode = try node(parent)
        if parentNode == .crypto { throw .notPermitted }
        let target = try child(named: name, of: parentNode)
        if target.isControl { throw .notPermitted }
        switch target {
        case .view:
            throw .notPermitted
        case .scratch:
            return try removeScratch(target)
        default:
            break
        }
        guard case .secret(let location, _) = target else { throw .isDirectory }
        if !isPending(target) {
            try call("rm \(target.logPath)") { try backend.deleteSecret(name, in: location) }
        }
        state.withLock { $0.inodes.detach(target) }
    }

    public func rename(
        parent: InodeNumber, name: String, newParent: InodeNumber, newName: String, flags: RenameFlags,
        context: RequestContext
    ) throws(Errno) {
        try refuseIfReadOnly()
        guard !flags.exchange else { throw .invalidArgument }
        let sourceParent = try node(parent)
        let targetParent = try node(newParent)
        // Nothing moves into, out of, or onto /.crypto.
        if sourceParent == .crypto || targetParent == .crypto { throw .notPermitted }
        if targetParent == .root, newName == Node.cryptoName { throw .notPermitted }
        let source = try child(named: name, of: sourceParent)
        if source.isControl { throw .notPermitted }
        let existing: Node?
        do {
            existing = try child(named: newName, of: targetParent)
        } catch .noSuchFileOrDirectory {
            existing = nil
        }
        // Views are derived from their folder: neither moved nor replaced.
        if case .view = source { throw .notPermitted }
        if case .view? = existing { throw .notPermitted }
        if existing == source { return }
        if flags.noReplace, existing != nil { throw .fileExists }
        guard !isPending(source) else { throw .busy }  // not stored yet: nothing to move
        if try renameFileInvolvingScratch(source, existing: existing, to: newName, in: targetParent) { return }

        switch (source, targetParent) {
        case (.secret(let from, _), .folder(let to)):
            guard from.sharesEnvironment(with: to) else { throw .crossDevice }
            try check(NamingRules.checkSecretName(newName), "rename", newName)
            if let existing, existing.isDirectory { throw .isDirectory }
            let target = Node.secret(to, name: newName)
            _ = try call("mv \(source.logPath) \(target.logPath)") {
                try backend.moveSecret(name, from: from, to: newName, in: to)
            }
            unhide(target)
            state.withLock { $0.inodes.move(source, to: target) }
        case (.folder(let from), .folder(let to)) where !from.path.isRoot:
            guard from.sharesEnvironment(with: to) else { throw .crossDevice }
            // Infisical renames a folder in place but cannot move it to another
            // parent; EXDEV lets mv(1) copy and delete instead.
            guard to == from.parent! else { throw .crossDevice }
            try check(NamingRules.checkFolderName(newName), "rename", newName)
            let target = Node.folder(to.appending(newName))
            if let existing {
                guard existing.isDirectory else { throw .notDirectory }
                // Replacing deletes the target first, so only where the rename can follow.
                guard backend.capabilities.renamesFolders else { throw .crossDevice }
                guard try listing(of: to.appending(newName)).isEmpty else { throw .directoryNotEmpty }
                try call("rmdir \(target.logPath)") { try backend.deleteFolder(newName, in: to) }
            }
            do {
                try call("mv \(source.logPath) \(target.logPath)") {
                    try backend.renameFolder(from.path.name!, in: to, to: newName)
                }
            } catch {
                // The empty folder this rename was to replace was deleted
                // first: put it back, so that a rename that fails changes nothing.
                if existing != nil {
                    _ = try? call("mkdir \(target.logPath) (after a failed rename onto it)") {
                        try backend.createFolder(newName, in: to)
                    }
                }
                throw error
            }
            state.withLock { $0.inodes.move(source, to: target) }
            rebaseScratch(from: from, to: to.appending(newName))
        case (.secret, _):
            throw .crossDevice
        default:
            // Projects and environments are renamed in Infisical, not here.
            throw .notPermitted
        }
    }

    // MARK: Helpers shared by the operations

    static let unknownInode = InodeNumber(rawValue: 0xffff_ffff)

    /// How long the kernel may keep a name and its attributes: as long as
    /// the cached listing they came from stays fresh, so the kernel never
    /// outlives the cache (0 with `cache_ttl` 0: every stat asks). Names
    /// above the folders (projects, environments, /.crypto) keep the
    /// mount's short default.
    func kernelTimeout(for node: Node) -> Double {
        let location: SecretLocation
        switch node {
        case .secret(let parent, _): location = parent
        case .folder(let folder) where !folder.path.isRoot: location = folder.parent!
        case .status, .view: return 0  // the size changes with every rendering
        case .scratch: return options.kernelCacheTimeout
        default: return options.kernelCacheTimeout
        }
        guard let cache = backend as? CachingBackend else { return options.kernelCacheTimeout }
        return cache.freshness(of: location)
    }

    /// How long the kernel may remember that a name is missing from `parent`.
    func negativeTimeout(in parent: Node) -> Double {
        switch parent {
        case .folder(let location):
            guard let cache = backend as? CachingBackend else { return 0 }
            return cache.freshness(of: location)
        case .root, .project, .crypto:
            return options.kernelCacheTimeout
        case .secret, .cryptoFile, .status, .scratch, .view:
            return 0
        }
    }

    /// The version of a value as the kernel's page cache would hold it. A
    /// digest of the value is part of it: an expanded reference or an
    /// imported secret changes without its own version changing.
    func pageVersion(of secret: Secret) -> String {
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in secret.value.utf8 { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "\(secret.version) \(secret.updatedAt.timeIntervalSince1970) \(secret.value.utf8.count) \(digest)"
    }

    /// When the kernel may hold pages of another version of `inode`'s value
    /// (found changed on a lookup or stat after the cache refetched it),
    /// tells the kernel to drop them, so the next read asks again. Never
    /// from a `read` of the same inode (see `KernelCache`).
    func dropPagesIfChanged(_ inode: InodeNumber, current version: String) {
        let changed = state.withLock { state -> Bool in
            guard let held = state.pageVersions[inode.rawValue], held != version else { return false }
            state.pageVersions[inode.rawValue] = nil
            return true
        }
        guard changed else { return }
        logger.debug("value of \(inode) changed: dropping the kernel's cached pages")
        kernelCache.withLock { $0 }.invalidateContent(of: inode)
    }

    func node(_ inode: InodeNumber) throws(Errno) -> Node {
        guard let node = state.withLock({ $0.inodes.node(inode) }) else { throw .noSuchFileOrDirectory }
        return node
    }

    func entry(for node: Node, attributes: FileAttributes) -> Entry {
        var attributes = attributes
        attributes.inode = state.withLock { $0.inodes.reference(node) }
        let timeout = kernelTimeout(for: node)
        return Entry(attributes: attributes, entryTimeout: timeout, attributeTimeout: timeout)
    }

    /// Resolves one name in a directory.
    func child(named name: String, of parent: Node) throws(Errno) -> Node {
        switch parent {
        case .root where name == Node.cryptoName && !options.readsWithoutOpen:
            return .crypto
        case .root where name == Node.statusName:
            return .status
        case .root where !NamingRules.isSlug(name):
            // Not a slug nor an ID (what shells and file managers probe for:
            // `.Trash-1000`, `.git`, `MyProj`): no project has that name.
            throw .noSuchFileOrDirectory
        case .root:
            let project = try call("lookup /\(name)", quietWhenMissing: true) { try backend.project(name) }
            guard isShown(project) else { throw .noSuchFileOrDirectory }
            return .project(id: project.id)
        case .project(let id):
            let project = try call("lookup /\(id)") { try backend.project(id) }
            guard project.environments.contains(where: { $0.slug == name }) else { throw .noSuchFileOrDirectory }
            return .folder(SecretLocation(projectID: id, environment: name, path: .root))
        case .folder(let location):
            let listing = try listing(of: location)
            if listing.folders.contains(name) { return .folder(location.appending(name)) }
            let node = Node.secret(location, name: name)
            if isHidden(node) { throw .noSuchFileOrDirectory }
            if listing.secret(named: name) != nil || isPending(node) { return node }
            // A secret of a view's or a scratch file's name wins over it (above).
            if let view = FolderView(rawValue: name) { return .view(location, view) }
            let scratch = Node.scratch(location, name: name)
            if scratchFile(scratch) != nil { return scratch }
            throw .noSuchFileOrDirectory
        case .crypto:
            guard let file = CryptoFile(rawValue: name) else { throw .noSuchFileOrDirectory }
            return .cryptoFile(file)
        case .secret, .cryptoFile, .status, .scratch, .view:
            throw .notDirectory
        }
    }

    /// A directory's entries by name, each name once (the first of a name
    /// the backend repeats), only names that can be directory entries
    /// (`isShowable`). A folder and a secret of one name can coexist in
    /// Infisical; the folder is shown.
    func children(of node: Node) throws(Errno) -> [(String, Node)] {
        switch node {
        case .root:
            let projects = try call("ls /") { try backend.listProjects() }
            let control: [(String, Node)] =
                (options.readsWithoutOpen ? [] : [(Node.cryptoName, .crypto)]) + [(Node.statusName, .status)]
            var names = Set(control.map(\.0))
            // Only slugs: a lookup refuses any other name without asking (found by fuzzing).
            let shown = projects.filter {
                isShown($0) && NamingRules.isSlug($0.slug) && names.insert($0.slug).inserted
            }
            return control + shown.map { ($0.slug, Node.project(id: $0.id)) }
        case .project(let id):
            let project = try call("ls /\(id)") { try backend.project(id) }
            var names = Set<String>()
            return project.environments.filter { isShowable($0.slug) && names.insert($0.slug).inserted }.map {
                ($0.slug, .folder(SecretLocation(projectID: id, environment: $0.slug, path: .root)))
            }
        case .folder(let location):
            let listing = try listing(of: location)
            var folderNames = Set<String>()
            var result = listing.folders.filter { isShowable($0) && folderNames.insert($0).inserted }.map {
                ($0, Node.folder(location.appending($0)))
            }
            // Secret names by their bytes: NFC and NFD spellings are two entries, as in Infisical.
            var secretNames = Set<ExactName>()
            for secret in listing.secrets where !folderNames.contains(secret.name) && isShowable(secret.name) {
                guard secretNames.insert(ExactName(secret.name)).inserted else { continue }
                result.append((secret.name, .secret(location, name: secret.name)))
            }
            secretNames.subtract(secretNames.filter { isHidden(.secret(location, name: $0.string)) })
            result.removeAll { entry in
                if case .secret = entry.1 { return !secretNames.contains(ExactName(entry.0)) }
                return false
            }
            for name in pendingNames(in: location) where secretNames.insert(ExactName(name)).inserted {
                result.append((name, .secret(location, name: name)))
            }
            for name in scratchNames(in: location) where !secretNames.contains(ExactName(name)) {
                result.append((name, .scratch(location, name: name)))
            }
            return result
        case .crypto:
            return CryptoFile.allCases.map { ($0.rawValue, .cryptoFile($0)) }
        case .secret, .cryptoFile, .status, .scratch, .view:
            throw .notDirectory
        }
    }

    func attributes(of node: Node, inode: InodeNumber?) throws(Errno) -> FileAttributes {
        let number = inode ?? Self.unknownInode
        switch node {
        case .root, .crypto:
            return directoryAttributes(number)
        case .cryptoFile:
            // Size 0: what a read returns differs per open and per user.
            return fileAttributes(number, size: 0, modified: mountedAt)
        case .status:
            return statusAttributes(number, known: inode)
        case .scratch:
            return try scratchAttributes(node, inode: number)
        case .view:
            return try viewAttributes(node, number: number, known: inode)
        case .project(let id):
            _ = try call("stat /\(id)") { try backend.project(id) }
            return directoryAttributes(number)
        case .folder(let location):
            if location.path.isRoot {
                let project = try call("stat /\(location)") { try backend.project(location.projectID) }
                guard project.environments.contains(where: { $0.slug == location.environment }) else {
                    throw .noSuchFileOrDirectory
                }
            } else if !(try listing(of: location.parent!).folders.contains(location.path.name!)) {
                // The parent's listing (which the lookup came from) says whether
                // the folder exists; listing the folder itself would cost a
                // backend call per folder in `ls -l`.
                throw .noSuchFileOrDirectory
            }
            return directoryAttributes(number)
        case .secret(let location, let name):
            if let size = pendingSize(of: node) {
                return fileAttributes(number, size: size, modified: Date())
            }
            let secret = try fetch(name, in: location)
            if let known = inode ?? state.withLock({ $0.inodes.inode(of: node) }) {
                dropPagesIfChanged(known, current: pageVersion(of: secret))
            }
            return fileAttributes(number, size: UInt64(secret.size), modified: secret.updatedAt)
        }
    }

    func directoryAttributes(_ inode: InodeNumber) -> FileAttributes {
        FileAttributes(
            inode: inode, type: .directory, permissions: options.directoryPermissions, size: 4096, linkCount: 2,
            uid: options.uid, gid: options.gid, modified: mountedAt)
    }

    func fileAttributes(_ inode: InodeNumber, size: UInt64, modified: Date) -> FileAttributes {
        FileAttributes(
            inode: inode, type: .regular, permissions: options.filePermissions, size: size, linkCount: 1,
            uid: options.uid, gid: options.gid, modified: modified)
    }

    func listing(of location: SecretLocation) throws(Errno) -> FolderListing {
        try call("ls /\(location)") { try backend.listFolder(location) }
    }

    func fetch(_ name: String, in location: SecretLocation) throws(Errno) -> Secret {
        try call("cat /\(location)/\(name)", quietWhenMissing: true) { try backend.getSecret(name, in: location) }
    }

    /// A secret whose value is about to be read, appended to, resized or
    /// copied: one the backend lists but cannot open (a damaged row of the
    /// local store) is EIO, with one log line naming it. Its name, attributes
    /// and removal need no value and still work.
    func fetchValue(_ name: String, in location: SecretLocation, for operation: String) throws(Errno) -> Secret {
        let secret = try fetch(name, in: location)
        if let damage = secret.damage, damage.value {
            logger.warning("\(operation) /\(location)/\(name): \(damage.reason) (\(Errno.ioError))")
            throw .ioError
        }
        return secret
    }

    func isShown(_ project: Project) -> Bool {
        options.projects.isEmpty || options.projects.contains(where: project.isNamed)
    }

    /// A name from the backend (project, environment, folder or secret)
    /// that cannot be a directory entry is left out of listings: the kernel
    /// fails a whole READDIR with EIO for one empty name, one holding "/" or
    /// NUL, or one over NAME_MAX bytes; "." and ".." are the kernel's own.
    /// Bytes, not Characters: "/" and a combining mark are one Character.
    func isShowable(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= NamingRules.maximumNameBytes && name != "." && name != ".."
            && !bytes.contains(UInt8(ascii: "/")) && !bytes.contains(0)
    }

    func refuseIfReadOnly() throws(Errno) {
        if options.readOnly { throw .readOnlyFileSystem }
    }

    func check(_ verdict: NamingRules.Verdict, _ operation: String, _ name: String) throws(Errno) {
        switch verdict {
        case .valid: return
        case .invalid(let reason), .tooLong(let reason):
            logger.notice("\(operation) refused: \(reason)")
            throw Errno(verdict)
        }
    }

    /// Runs one backend call; a failure becomes an errno and one log line.
    func call<T>(_ what: @autoclosure () -> String, quietWhenMissing: Bool = false, _ body: () throws -> T)
        throws(Errno) -> T
    {
        do {
            return try body()
        } catch let error as BackendError {
            let level: LogLevel =
                switch error.kind {
                case _ where error.alreadyLogged: .debug
                case .notFound where quietWhenMissing: .debug
                case .notFound, .alreadyExists, .notEmpty, .invalidArgument, .nameTooLong, .tooLarge: .notice
                default: .warning
                }
            let errno = Errno(error)
            logger.log(level, "\(what()): \(error.reason) (\(errno))")
            throw errno
        } catch {
            logger.error("\(what()): unexpected \(error)")
            throw .ioError
        }
    }
}
