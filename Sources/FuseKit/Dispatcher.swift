import CFuse
import Glibc
import Foundation
import Logging
import Synchronization

/// Decodes libfuse's low-level requests into `FileSystemOperations` calls and
/// sends exactly one reply per request. Reached from the C callbacks through
/// the session's user data, never a global.
final class Dispatcher: Sendable {
    let operations: any FileSystemOperations
    let logger: Logger
    private let directories = Mutex<[UInt64: OpenDirectory]>([:])

    /// An open directory: its entries once the first `readdir` made them.
    enum OpenDirectory: Sendable {
        case pending(@Sendable () throws(Errno) -> [DirectoryEntry])
        case ready([DirectoryEntry])
    }
    private let nextDirectoryHandle = Atomic<UInt64>(1)
    /// The configuration asks to read files without opening them.
    let wantsNoOpen: Bool
    /// Set once the connection is up: no-open was asked for and the kernel can.
    private let noOpen = Atomic<Bool>(false)

    /// Files are read without opening them: asked for, and the kernel can
    /// (known once the connection is set up).
    var skipsOpen: Bool { noOpen.load(ordering: .relaxed) }

    /// Called from `init` when the kernel supports no-open.
    func kernelSupportsNoOpen() {
        if wantsNoOpen { noOpen.store(true, ordering: .relaxed) }
    }

    init(operations: any FileSystemOperations, logger: Logger, readsWithoutOpen: Bool) {
        self.operations = operations
        self.logger = logger
        self.wantsNoOpen = readsWithoutOpen
    }

    static func from(_ request: fuse_req_t?) -> Dispatcher {
        Unmanaged<Dispatcher>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    static func context(_ request: fuse_req_t?) -> RequestContext {
        let ctx = fuse_req_ctx(request)!.pointee
        return RequestContext(uid: ctx.uid, gid: ctx.gid, pid: ctx.pid)
    }

    // MARK: Replies

    /// Everything a file system can answer; `send` turns it into the one C reply.
    enum Reply {
        case error(Errno)
        case ok
        case entry(Entry)
        case attributes(FileAttributes, Double)
        case open(OpenReply)
        case openDirectory(UInt64, DirectoryListing)
        case created(Entry, OpenReply)
        case data([UInt8])
        /// The length a getxattr or listxattr answer needs (its size query).
        case extendedAttributeSize(Int)
        case written(Int)
        case statistics(FileSystemStatistics)
    }

    static func respond(_ request: fuse_req_t?, _ body: () throws(Errno) -> Reply) {
        let reply: Reply
        do {
            reply = try from(request).operations.serve(body)
        } catch {
            reply = .error(error)
        }
        send(reply, to: request)
    }

    static func send(_ reply: Reply, to request: fuse_req_t?) {
        switch reply {
        case .error(let errno):
            fuse_reply_err(request, errno.rawValue)
        case .ok:
            fuse_reply_err(request, 0)
        case .entry(let entry):
            var parameters = entryParameters(entry)
            fuse_reply_entry(request, &parameters)
        case .attributes(let attributes, let timeout):
            var status = statBuffer(attributes)
            fuse_reply_attr(request, &status, timeout)
        case .open(let open):
            var info = fileInfo(open)
            fuse_reply_open(request, &info)
        case .openDirectory(let handle, let listing):
            var info = fuse_file_info()
            info.fh = handle
            info.cache_readdir = listing.cacheable ? 1 : 0
            info.keep_cache = listing.keepCache ? 1 : 0
            fuse_reply_open(request, &info)
        case .created(let entry, let open):
            var parameters = entryParameters(entry)
            var info = fileInfo(open)
            fuse_reply_create(request, &parameters, &info)
        case .data(let bytes):
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { _ = fuse_reply_buf(request, $0.baseAddress, $0.count) }
            }
        case .extendedAttributeSize(let count):
            fuse_reply_xattr(request, count)
        case .written(let count):
            fuse_reply_write(request, count)
        case .statistics(let statistics):
            var buffer = statvfs()
            buffer.f_bsize = UInt(statistics.blockSize)
            buffer.f_frsize = UInt(statistics.blockSize)
            buffer.f_blocks = fsblkcnt_t(statistics.blocks)
            buffer.f_bfree = fsblkcnt_t(statistics.freeBlocks)
            buffer.f_bavail = fsblkcnt_t(statistics.freeBlocks)
            buffer.f_files = fsfilcnt_t(statistics.files)
            buffer.f_ffree = fsfilcnt_t(statistics.freeFiles)
            buffer.f_favail = fsfilcnt_t(statistics.freeFiles)
            buffer.f_namemax = UInt(statistics.maximumNameLength)
            fuse_reply_statfs(request, &buffer)
        }
    }

    static func statBuffer(_ attributes: FileAttributes) -> stat {
        var status = stat()
        status.st_ino = ino_t(attributes.inode.rawValue)
        let typeBits = attributes.type == .directory ? Glibc.S_IFDIR : Glibc.S_IFREG
        status.st_mode = mode_t(typeBits) | mode_t(attributes.permissions)
        status.st_nlink = nlink_t(attributes.linkCount)
        status.st_uid = attributes.uid
        status.st_gid = attributes.gid
        status.st_size = off_t(clamping: attributes.size)
        status.st_blksize = 4096
        status.st_blocks = blkcnt_t((attributes.size + 511) / 512)
        status.st_mtim = timespec(attributes.modified)
        status.st_ctim = timespec(attributes.changed)
        status.st_atim = timespec(attributes.accessed)
        return status
    }

    private static func timespec(_ date: Date) -> Glibc.timespec {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanoseconds = ((date.timeIntervalSince1970 - seconds) * 1e9).rounded(.down)
        return Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))
    }

    private static func entryParameters(_ entry: Entry) -> fuse_entry_param {
        var parameters = fuse_entry_param()
        // Inode 0 is a negative entry: the kernel caches that the name does not exist.
        parameters.ino = entry.attributes.inode.rawValue
        parameters.generation = 0
        parameters.attr = statBuffer(entry.attributes)
        parameters.attr_timeout = entry.attributeTimeout
        parameters.entry_timeout = entry.entryTimeout
        return parameters
    }

    private static func fileInfo(_ open: OpenReply) -> fuse_file_info {
        var info = fuse_file_info()
        info.fh = open.handle.rawValue
        info.direct_io = open.directIO ? 1 : 0
        info.keep_cache = open.keepCache ? 1 : 0
        info.noflush = open.noFlush ? 1 : 0
        return info
    }

    // MARK: Extended attributes

    /// FUSE's size protocol for getxattr and listxattr: a query of size 0
    /// gets the length, a buffer too small ERANGE, else the bytes.
    static func extendedAttributeReply(_ bytes: [UInt8], bufferSize size: Int) throws(Errno) -> Reply {
        if size == 0 { return .extendedAttributeSize(bytes.count) }
        guard bytes.count <= size else { throw .outOfRange }
        return .data(bytes)
    }

    /// A listxattr answer: each name followed by a NUL. A name holding a NUL
    /// could not be read back, so none is listed.
    static func packAttributeNames(_ names: [String]) -> [UInt8] {
        names.filter { !$0.utf8.contains(0) }.flatMap { Array($0.utf8) + [0] }
    }

    // MARK: Directory snapshots

    func storeDirectory(_ listing: DirectoryListing) -> UInt64 {
        let handle = nextDirectoryHandle.add(1, ordering: .relaxed).oldValue
        directories.withLock { $0[handle] = .pending(listing.entries) }
        return handle
    }

    /// The entries of an open directory, made at the first call.
    func directory(_ handle: UInt64) throws(Errno) -> [DirectoryEntry] {
        switch directories.withLock({ $0[handle] }) {
        case nil:
            throw .badFileDescriptor
        case .ready(let entries):
            return entries
        case .pending(let produce):
            let entries = try produce()
            directories.withLock { $0[handle] = .ready(entries) }
            return entries
        }
    }

    func dropDirectory(_ handle: UInt64) { directories.withLock { $0[handle] = nil } }

    /// Packs entries from `offset` into a readdir buffer of at most `size` bytes.
    static func packDirectory(
        _ entries: [DirectoryEntry], from offset: Int, size: Int, request: fuse_req_t?
    ) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: size)
        var used = 0
        buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in
                for index in offset..<entries.count where index >= 0 {
                    let entry = entries[index]
                    var status = stat()
                    status.st_ino = ino_t(entry.inode.rawValue)
                    status.st_mode = mode_t(entry.type == .directory ? Glibc.S_IFDIR : Glibc.S_IFREG)
                    let needed = entry.name.withCString { name in
                        fuse_add_direntry(
                            request, chars.baseAddress! + used, size - used, name, &status, off_t(index + 1))
                    }
                    if needed > size - used { break }
                    used += needed
                }
            }
        }
        return Array(buffer.prefix(used))
    }
}
