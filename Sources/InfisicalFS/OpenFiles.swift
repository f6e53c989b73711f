public import FuseKit
import Foundation
import Logging
import SecretsCore
import Synchronization

/// One open file: its content as the writer sees it, committed to the
/// backend as a whole on flush, fsync or close.
struct OpenFile: Sendable {
    let inode: InodeNumber
    let flags: OpenFlags
    var content: [UInt8]
    /// Content changed since the last commit.
    var dirty: Bool
    /// Bytes were written or the size set through this open since the last
    /// commit. A change that is only the O_TRUNC or the creation of the open
    /// waits for the release: a shell redirection closes one descriptor
    /// before it writes, and that close must not store an empty value.
    var written = false
    /// Created by this open and not stored yet: the first commit creates it.
    var isNew: Bool
    /// An O_APPEND open of a single-line value whose echo newline was dropped
    /// when it was stored: a first write that is a line gets it back, so
    /// `echo a > F; echo b >> F` gives "a\nb\n" as on a disk.
    var restoresLineBreak = false
    /// A write through this open was refused (EFBIG: over the value's limit;
    /// ENOSPC: over the mount's memory budget): the content is incomplete
    /// and is never stored; every later write and flush reports the refusal.
    var refusedWrite: Errno?
    /// The last commit of this content failed: the name keeps its stored
    /// value, and that is what others see (stat, a new open) until this
    /// open writes again or a later flush stores it.
    var commitFailed = false
    /// A comment set (setxattr) before the file was first stored: set right
    /// after the create (`cp -a`, `mv` to another environment carry it).
    var pendingComment: String?
}

extension SecretsFileSystem {
    public func open(_ inode: InodeNumber, flags: OpenFlags, context: RequestContext) throws(Errno) -> OpenReply {
        let node = try node(inode)
        if case .cryptoFile(let file) = node { return try openCrypto(file, flags: flags, context: context) }
        if node == .status { return try openStatus(inode, flags: flags) }
        if case .view = node { return try openView(inode, node: node, flags: flags) }
        if case .scratch = node {
            if flags.writes { try refuseIfReadOnly() }
            return openScratch(inode, node: node, flags: flags)
        }
        guard case .secret(let location, let name) = node else { throw .isDirectory }
        logger.debug("open \(node.logPath) \(flags.accessMode)\(flags.truncate ? " truncate" : "")\(flags.append ? " append" : "")")
        if flags.writes { try refuseIfReadOnly() }
        let content: [UInt8]
        if flags.writes && flags.truncate {
            content = []
        } else if let pending = pendingContent(of: inode) {
            content = pending
        } else {
            // A snapshot: every read of this open sees one version of the value.
            content = Array(try fetchValue(name, in: location, for: "open").value.utf8)
        }
        var file = OpenFile(inode: inode, flags: flags, content: content, dirty: flags.truncate, isNew: false)
        file.restoresLineBreak =
            flags.append && !options.keepNewline && !content.isEmpty && content.last != UInt8(ascii: "\n")
        // Every read of this open is served from its snapshot, past the page
        // cache: pages shared by all opens of the inode, and a size the
        // kernel got from an earlier lookup or another open's write, would
        // mix versions (a value cut to another's length, or NUL-padded).
        // A read-only open has nothing to commit: no FLUSH round trip at close.
        return OpenReply(handle: register(file), directIO: true, noFlush: !flags.writes)
    }

    public func create(parent: InodeNumber, name: String, flags: OpenFlags, context: RequestContext) throws(Errno)
        -> (Entry, OpenReply)
    {
        try refuseIfReadOnly()
        let parentNode = try node(parent)
        if parentNode == .crypto {
            // Only when the kernel's view was stale: the three files always exist.
            guard let file = CryptoFile(rawValue: name) else { throw .notPermitted }
            if flags.exclusive { throw .fileExists }
            let node = Node.cryptoFile(file)
            let entry = entry(for: node, attributes: try attributes(of: node, inode: nil))
            return (entry, try openCrypto(file, flags: flags, context: context))
        }
        guard case .folder(let location) = parentNode else {
            // Only folders hold secrets; the root and a project hold directories.
            throw .notPermitted
        }
        try check(NamingRules.checkSecretName(name), "create", name)
        let node = Node.secret(location, name: name)
        if try isScratchName(name, in: location) {
            let scratch = Node.scratch(location, name: name)
            if flags.exclusive, scratchFile(scratch) != nil { throw .fileExists }
            return createScratch(scratch, flags: flags)
        }
        if isHidden(node) {
            // Written again after an editor moved it aside: the stored secret
            // is replaced (one update), not created anew.
            unhide(node)
            let entry = entry(for: node, attributes: try attributes(of: node, inode: nil))
            let truncating = OpenFlags(accessMode: flags.accessMode, truncate: true, append: flags.append)
            return (entry, try open(entry.attributes.inode, flags: truncating, context: context))
        }
        switch Result(catching: { () throws(Errno) in try child(named: name, of: .folder(location)) }) {
        case .success(let existing) where existing.isDirectory:
            throw .isDirectory
        case .success:
            // The kernel's view was stale: the file exists, so this is an open.
            if flags.exclusive { throw .fileExists }
            let attributes = try attributes(of: node, inode: nil)
            let entry = entry(for: node, attributes: attributes)
            return (entry, try open(entry.attributes.inode, flags: flags, context: context))
        case .failure(let errno) where errno == .noSuchFileOrDirectory:
            break
        case .failure(let errno):
            throw errno
        }
        // Not stored yet: the kernel must not keep the name, so that a failed
        // first commit leaves no phantom entry behind.
        var entry = entry(for: node, attributes: fileAttributes(.root, size: 0, modified: Date()))
        entry.entryTimeout = 0
        entry.attributeTimeout = 0
        let file = OpenFile(inode: entry.attributes.inode, flags: flags, content: [], dirty: true, isNew: true)
        return (entry, OpenReply(handle: register(file), directIO: true))
    }

    public func read(_ inode: InodeNumber, handle: FuseHandle?, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        guard let handle else { return try readWithoutOpen(inode, offset: offset, size: size) }
        if isCryptoHandle(handle) { return try readCrypto(handle, offset: offset, size: size) }
        if isScratchHandle(handle) { return try readScratch(handle, offset: offset, size: size) }
        return try withOpenFile(handle) { file throws(Errno) in
            guard file.flags.reads else { throw .badFileDescriptor }
            guard offset < UInt64(file.content.count) else { return [] }
            let start = Int(offset)
            return Array(file.content[start..<min(file.content.count, start + size)])
        }
    }

    /// A read on a mount that reads without opening: the value as the cache
    /// has it now. The kernel keeps the pages until `dropPagesIfChanged`
    /// sees another version.
    func readWithoutOpen(_ inode: InodeNumber, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        let node = try node(inode)
        if node == .status { return readStatusWithoutOpen(offset: offset, size: size) }
        if case .view = node { return try readViewWithoutOpen(node, inode: inode, offset: offset, size: size) }
        guard case .secret(let location, let name) = node else { throw .isDirectory }
        let secret = try fetchValue(name, in: location, for: "read")
        let version = pageVersion(of: secret)
        state.withLock { $0.pageVersions[inode.rawValue] = version }
        let content = secret.value.utf8
        guard offset < UInt64(content.count) else { return [] }
        let start = content.index(content.startIndex, offsetBy: Int(offset))
        let end = content.index(start, offsetBy: min(size, content.count - Int(offset)))
        return Array(content[start..<end])
    }

    public func write(
        _ inode: InodeNumber, handle: FuseHandle, offset: UInt64, data: [UInt8], context: RequestContext
    ) throws(Errno) -> Int {
        if isCryptoHandle(handle) { return try writeCrypto(handle, data: data, context: context) }
        try refuseIfReadOnly()
        if isScratchHandle(handle) { return try writeScratch(handle, offset: offset, data: data) }
        // The refusal, and whether it is new (logged once: later writes of a refused open fail quietly).
        let outcome = try state.withLock { state throws(Errno) -> Result<Int, Refusal> in
            try Self.withOpenFile(handle, in: &state) { file, others throws(Errno) -> Result<Int, Refusal> in
                guard file.flags.writes else { throw .badFileDescriptor }
                // Refused once: the content is incomplete, and every later write says so.
                if let refusal = file.refusedWrite { return .failure(Refusal(errno: refusal, new: false)) }
                var line: [UInt8] = []
                if file.restoresLineBreak, data.last == UInt8(ascii: "\n") { line = [UInt8(ascii: "\n")] }
                let base = file.content.count + line.count
                // O_APPEND writes go to the end of the value as this open sees it,
                // whatever offset a stale kernel size suggests.
                let start = file.flags.append ? base : Int(clamping: offset)
                guard start <= SecretValue.maximumBytes - data.count else {
                    file.refusedWrite = .fileTooLarge
                    return .failure(Refusal(errno: .fileTooLarge, new: false))
                }
                guard MemoryBudget.reserve(max(base, start + data.count), in: &file.content, besides: others) else {
                    file.refusedWrite = .noSpace
                    return .failure(Refusal(errno: .noSpace, new: true))
                }
                file.restoresLineBreak = false
                file.content += line
                if start > file.content.count { resizeContent(&file.content, to: start) }
                let end = min(start + data.count, file.content.count)
                file.content.replaceSubrange(start..<end, with: data)
                file.dirty = true
                file.written = true
                file.commitFailed = false
                return .success(data.count)
            }
        }
        // The kernel's pages of this file now hold bytes that are not stored.
        state.withLock { $0.pageVersions[inode.rawValue] = nil }
        switch outcome {
        case .success(let count):
            return count
        case .failure(let refusal):
            if refusal.new {
                let path = (try? node(inode))?.logPath ?? "inode \(inode.rawValue)"
                logger.warning("write \(path) refused (\(refusal.errno)): \(MemoryBudget.refusal); nothing will be stored, the old value stays")
            }
            throw refusal.errno
        }
    }

    /// A write refused; `new` when this write is the one refused first (it is logged).
    private struct Refusal: Error {
        let errno: Errno
        let new: Bool
    }

    public func flush(_ inode: InodeNumber, handle: FuseHandle, context: RequestContext) throws(Errno) {
        if isCryptoHandle(handle) { return try flushCrypto(handle) }
        if isScratchHandle(handle) { return }
        try commitIfNeeded(handle, final: false)
    }

    public func fsync(_ inode: InodeNumber, handle: FuseHandle, dataOnly: Bool) throws(Errno) {
        if isCryptoHandle(handle) { return try flushCrypto(handle) }
        if isScratchHandle(handle) { return }  // memory only: nothing to make durable
        try commitIfNeeded(handle, final: false)
    }

    public func release(_ inode: InodeNumber, handle: FuseHandle) {
        if isCryptoHandle(handle) { return releaseCrypto(handle) }
        if isScratchHandle(handle) { return releaseScratch(handle) }
        // An open that only truncated or created (`: > F`, `touch F`) commits
        // now; nobody is left to receive an error, so it is logged.
        if let file = state.withLock({ $0.openFiles[handle.rawValue] }), file.dirty, !file.written {
            try? commitIfNeeded(handle, final: true)
        }
        let dropped = state.withLock { $0.openFiles.removeValue(forKey: handle.rawValue) }
        // A refused write was logged when it was refused: one line, not two.
        if let dropped, dropped.dirty, dropped.refusedWrite == nil, let node = try? node(inode) {
            logger.notice("close \(node.logPath): uncommitted change discarded")
        }
    }

    // MARK: Commit

    /// Stores the open file's content when it changed; on failure the old
    /// value stays and the error is returned by close(2) or fsync(2).
    func commitIfNeeded(_ handle: FuseHandle, final: Bool) throws(Errno) {
        guard let file = state.withLock({ $0.openFiles[handle.rawValue] }) else { return }
        if let refusal = file.refusedWrite { throw refusal }
        guard file.dirty, file.written || final else { return }
        guard let node = state.withLock({ $0.inodes.node(file.inode) }),
            case .secret(let location, let name) = node
        else {
            // Unlinked while open: the content has nowhere to go, as on a disk.
            markCommitted(handle, content: file.content)
            return
        }
        do {
            try commit(file.content, as: name, in: location, isNew: file.isNew)
        } catch {
            state.withLock { $0.openFiles[handle.rawValue]?.commitFailed = true }
            throw error
        }
        markCommitted(handle, content: file.content)
        if let comment = file.pendingComment, !comment.isEmpty {
            state.withLock { $0.openFiles[handle.rawValue]?.pendingComment = nil }
            // The value is stored; a comment that fails is logged, not close's error.
            _ = try? call("setfattr comment /\(location)/\(name)") { try backend.setComment(comment, of: name, in: location) }
        }
    }

    /// Creates or updates one secret from file content.
    func commit(_ content: [UInt8], as name: String, in location: SecretLocation, isNew: Bool) throws(Errno) {
        let value: String
        do {
            value = try SecretValue.fromFileContent(content, keepNewline: options.keepNewline)
        } catch {
            logger.notice("write /\(location)/\(name) refused: \(error == .notUTF8 ? "value is not UTF-8" : "value is larger than \(SecretValue.maximumBytes) bytes")")
            throw Errno(error)
        }
        let what = "write /\(location)/\(name)"
        // Created elsewhere meanwhile: this write replaces it, as on a disk.
        // Deleted elsewhere while open: the write brings it back. Other
        // writers may create and delete the name between two calls, so the
        // two alternate a few times before the race is given up as an error.
        var create = isNew
        for attempt in 1...Self.commitAttempts {
            do {
                if create {
                    _ = try call(what) { try backend.createSecret(name, value: value, in: location) }
                } else {
                    _ = try call(what) { try backend.updateSecret(name, value: value, in: location) }
                }
                return
            } catch .fileExists where create && attempt < Self.commitAttempts {
                create = false
            } catch .noSuchFileOrDirectory where !create && attempt < Self.commitAttempts {
                create = true
            }
        }
    }

    /// Calls one commit may make while other writers keep creating and
    /// deleting its name (create, update, create, ...).
    static let commitAttempts = 6

    private func markCommitted(_ handle: FuseHandle, content: [UInt8]) {
        state.withLock { state in
            // What is stored may differ from what the kernel cached (trimming).
            if let inode = state.openFiles[handle.rawValue]?.inode { state.pageVersions[inode.rawValue] = nil }
            guard var file = state.openFiles[handle.rawValue] else { return }
            // Writes that raced the commit keep the file dirty.
            if file.content == content {
                file.dirty = false
                file.written = false
            }
            file.isNew = false
            state.openFiles[handle.rawValue] = file
        }
    }

    // MARK: Open-file bookkeeping

    func register(_ file: OpenFile) -> FuseHandle {
        state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.openFiles[handle] = file
            return FuseHandle(rawValue: handle)
        }
    }

    func withOpenFile<T>(_ handle: FuseHandle, _ body: (inout OpenFile) throws(Errno) -> T) throws(Errno) -> T {
        try state.withLock { state throws(Errno) -> T in
            // Out of the table while `body` runs (see the static form).
            guard var file = state.openFiles.removeValue(forKey: handle.rawValue) else { throw .badFileDescriptor }
            defer { state.openFiles[handle.rawValue] = file }
            return try body(&file)
        }
    }

    /// Runs `body` on an open file taken out of the table while it runs, so
    /// that its content is the only reference to its buffer: a write then
    /// changes the buffer in place instead of copying the whole content
    /// (which cost a copy per write, and twice the memory at the peak).
    /// `body` also sees the rest of the state, without this file (what the
    /// memory budget holds besides it). The file
    /// goes back as `body` left it, also when it throws.
    static func withOpenFile<T>(
        _ handle: FuseHandle, in state: inout State, _ body: (inout OpenFile, State) throws(Errno) -> T
    ) throws(Errno) -> T {
        guard var file = state.openFiles.removeValue(forKey: handle.rawValue) else { throw .badFileDescriptor }
        defer { state.openFiles[handle.rawValue] = file }
        return try body(&file, state)
    }

    /// Truncates an open file's content; false when `handle` is not a writable open file.
    /// Growing it past the memory budget is ENOSPC, and changes nothing.
    func resize(_ handle: FuseHandle, to size: Int) throws(Errno) -> Bool {
        let resized = try state.withLock { state throws(Errno) -> Bool in
            guard state.openFiles[handle.rawValue] != nil else { return false }
            return try Self.withOpenFile(handle, in: &state) { file, others throws(Errno) -> Bool in
                guard file.flags.writes else { return false }
                guard MemoryBudget.reserve(size, in: &file.content, besides: others) else { throw .noSpace }
                resizeContent(&file.content, to: size)
                file.dirty = true
                file.written = true
                file.commitFailed = false
                return true
            }
        }
        return resized
    }

    func resizeContent(_ content: inout [UInt8], to size: Int) {
        if size < content.count {
            content.removeSubrange(size...)
        } else {
            content.append(contentsOf: repeatElement(0, count: size - content.count))
        }
    }

    /// A file created by an open that has not committed yet.
    func isPending(_ node: Node) -> Bool {
        state.withLock { state in
            state.openFiles.values.contains { $0.isNew && state.inodes.node($0.inode) == node }
        }
    }

    func pendingNames(in location: SecretLocation) -> [String] {
        state.withLock { state in
            state.openFiles.values.compactMap { file in
                guard file.isNew, case .secret(location, let name) = state.inodes.node(file.inode) else { return nil }
                return name
            }
        }
    }

    func hasPendingFiles(in location: SecretLocation) -> Bool { !pendingNames(in: location).isEmpty }

    func pendingContent(of inode: InodeNumber) -> [UInt8]? {
        state.withLock { state in state.openFiles.values.first { $0.isNew && $0.inode == inode }?.content }
    }

    /// While a file is written, its size is the writer's content, not the
    /// stored value; not once storing that content failed (the stored value
    /// stands, and a read right after the failed close must see its size).
    func pendingSize(of node: Node) -> UInt64? {
        state.withLock { state in
            state.openFiles.values.first { $0.dirty && !$0.commitFailed && state.inodes.node($0.inode) == node }
                .map { UInt64($0.content.count) }
        }
    }
}
