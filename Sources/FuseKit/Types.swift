public import Foundation
import CFuse
import Glibc

/// A kernel inode number; 1 is the root of every FUSE mount.
public struct InodeNumber: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let root = InodeNumber(rawValue: 1)
    public var description: String { "#\(rawValue)" }
}

/// The file system's handle for one open file, chosen by the file system.
public struct FuseHandle: Sendable, Hashable, RawRepresentable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

public enum FileType: Sendable, Equatable {
    case regular
    case directory
}

/// What `stat` shows for one inode.
public struct FileAttributes: Sendable, Equatable {
    public var inode: InodeNumber
    public var type: FileType
    /// Permission bits only (e.g. 0o600); the type bits come from `type`.
    public var permissions: UInt16
    public var size: UInt64
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var modified: Date
    public var changed: Date
    public var accessed: Date

    public init(
        inode: InodeNumber, type: FileType, permissions: UInt16, size: UInt64, linkCount: UInt32, uid: UInt32,
        gid: UInt32, modified: Date, changed: Date? = nil, accessed: Date? = nil
    ) {
        self.inode = inode
        self.type = type
        self.permissions = permissions
        self.size = size
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.modified = modified
        self.changed = changed ?? modified
        self.accessed = accessed ?? modified
    }
}

/// A name resolved to an inode, with how long the kernel may keep it.
/// Each returned `Entry` counts as one lookup the kernel will later `forget`.
public struct Entry: Sendable {
    public var attributes: FileAttributes
    /// Seconds the kernel may keep the name → inode binding.
    public var entryTimeout: Double
    /// Seconds the kernel may keep the attributes.
    public var attributeTimeout: Double

    public init(attributes: FileAttributes, entryTimeout: Double, attributeTimeout: Double) {
        self.attributes = attributes
        self.entryTimeout = entryTimeout
        self.attributeTimeout = attributeTimeout
    }

    /// The name does not exist, and the kernel may remember that for
    /// `timeout` seconds instead of asking again (a negative entry; no
    /// `forget` follows). A timeout of 0 is a plain ENOENT.
    public static func missing(cachedFor timeout: Double) -> Entry {
        let nothing = FileAttributes(
            inode: InodeNumber(rawValue: 0), type: .regular, permissions: 0, size: 0, linkCount: 0, uid: 0, gid: 0,
            modified: Date(timeIntervalSince1970: 0))
        return Entry(attributes: nothing, entryTimeout: timeout, attributeTimeout: 0)
    }

    /// Whether this is a negative entry (see `missing(cachedFor:)`).
    public var isMissing: Bool { attributes.inode.rawValue == 0 }
}

/// Who asked: the calling process's credentials.
public struct RequestContext: Sendable, Equatable {
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// The `open(2)` flags that matter to a file system.
public struct OpenFlags: Sendable, Equatable {
    public enum AccessMode: Sendable, Equatable {
        case readOnly, writeOnly, readWrite
    }

    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public init(accessMode: AccessMode, truncate: Bool = false, append: Bool = false) {
        var raw: Int32 =
            switch accessMode {
            case .readOnly: O_RDONLY
            case .writeOnly: O_WRONLY
            case .readWrite: O_RDWR
            }
        if truncate { raw |= O_TRUNC }
        if append { raw |= O_APPEND }
        self.rawValue = raw
    }

    public var accessMode: AccessMode {
        switch rawValue & O_ACCMODE {
        case O_WRONLY: .writeOnly
        case O_RDWR: .readWrite
        default: .readOnly
        }
    }

    public var writes: Bool { accessMode != .readOnly }
    public var reads: Bool { accessMode != .writeOnly }
    public var truncate: Bool { rawValue & O_TRUNC != 0 }
    public var append: Bool { rawValue & O_APPEND != 0 }
    /// O_EXCL: with O_CREAT, fail when the file exists.
    public var exclusive: Bool { rawValue & O_EXCL != 0 }
}

/// How an open file is to be treated by the kernel.
public struct OpenReply: Sendable, Equatable {
    public var handle: FuseHandle
    /// Bypass the page cache: every read and write reaches the file system.
    public var directIO: Bool
    /// Keep cached pages from an earlier open.
    public var keepCache: Bool
    /// No FLUSH on close: for opens that can have nothing to commit.
    public var noFlush: Bool

    public init(handle: FuseHandle, directIO: Bool = false, keepCache: Bool = false, noFlush: Bool = false) {
        self.handle = handle
        self.directIO = directIO
        self.keepCache = keepCache
        self.noFlush = noFlush
    }
}

/// The attribute changes of one `setattr` request; nil means unchanged.
public struct AttributeChanges: Sendable, Equatable {
    public var size: UInt64?
    public var permissions: UInt16?
    public var uid: UInt32?
    public var gid: UInt32?
    public var accessed: Date?
    public var modified: Date?

    public init(
        size: UInt64? = nil, permissions: UInt16? = nil, uid: UInt32? = nil, gid: UInt32? = nil,
        accessed: Date? = nil, modified: Date? = nil
    ) {
        self.size = size
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.accessed = accessed
        self.modified = modified
    }
}

public struct RenameFlags: Sendable, Equatable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// RENAME_NOREPLACE: fail with EEXIST when the target exists.
    public var noReplace: Bool { rawValue & 1 != 0 }
    /// RENAME_EXCHANGE: swap source and target.
    public var exchange: Bool { rawValue & 2 != 0 }
}

/// The flags of one `setxattr(2)`.
public struct ExtendedAttributeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// XATTR_CREATE: fail with EEXIST when the attribute exists.
    public static let create = ExtendedAttributeFlags(rawValue: Int32(XATTR_CREATE))
    /// XATTR_REPLACE: fail with ENODATA when the attribute does not exist.
    public static let replace = ExtendedAttributeFlags(rawValue: Int32(XATTR_REPLACE))
}

public struct DirectoryEntry: Sendable, Equatable {
    public let name: String
    public let inode: InodeNumber
    public let type: FileType

    public init(name: String, inode: InodeNumber, type: FileType) {
        self.name = name
        self.inode = inode
        self.type = type
    }
}

/// A directory's entries for one `opendir`, and whether the kernel may keep them.
public struct DirectoryListing: Sendable {
    /// Makes the entries, at the first `readdir` of this open: when the
    /// kernel keeps its cached listing, no `readdir` comes and nothing is made.
    public var entries: @Sendable () throws(Errno) -> [DirectoryEntry]
    /// The kernel may cache these entries and answer later listings itself.
    public var cacheable: Bool
    /// The entries the kernel cached from an earlier open are still right.
    public var keepCache: Bool

    public init(
        cacheable: Bool = false, keepCache: Bool = false,
        entries: @escaping @Sendable () throws(Errno) -> [DirectoryEntry]
    ) {
        self.entries = entries
        self.cacheable = cacheable
        self.keepCache = keepCache
    }

    public init(entries: [DirectoryEntry]) {
        self.init { entries }
    }
}

/// What `statfs` shows.
public struct FileSystemStatistics: Sendable, Equatable {
    public var blockSize: UInt64 = 4096
    public var blocks: UInt64 = 0
    public var freeBlocks: UInt64 = 0
    public var files: UInt64 = 0
    public var freeFiles: UInt64 = 0
    public var maximumNameLength: UInt64 = 255

    public init() {}
}

/// A name the kernel gives: its bytes, which must be UTF-8 to be a name
/// here. Never decoded with replacement, which would turn `\xff` and
/// `\xfe` alike into U+FFFD, and two files into one.
public enum FileName {
    /// The name, or nil when its bytes are not UTF-8.
    public static func decode(_ bytes: some Collection<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }
}
