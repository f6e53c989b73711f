public import SecretsCore

/// How the tree is shown: owner, modes, caching and write rules.
public struct FileSystemOptions: Sendable {
    /// Owner shown on every file and folder.
    public var uid: UInt32
    public var gid: UInt32
    /// Mode bits taken away from 0666 (files) and 0777 (folders).
    public var umask: UInt16 = 0o077
    /// Refuse every change with EROFS; modes lose their write bits.
    public var readOnly = false
    /// Send file content exactly, without dropping the one trailing newline
    /// of a single-line value.
    public var keepNewline = false
    /// Seconds the kernel keeps names and attributes.
    public var kernelCacheTimeout: Double = 1
    /// Projects shown at the root (IDs or slugs); empty shows every project.
    public var projects: [String] = []
    /// Seconds within which every operation answers, however slow the
    /// backend: what is left of it bounds each backend call (`Deadline`).
    public var operationTimeout: Double = 10
    /// Files are read without being opened (the mount's
    /// `readsWithoutOpen`): reads come without a handle, so nothing may
    /// depend on per-open state, and `/.crypto`, which does, is left out.
    /// Only for read-only mounts.
    public var readsWithoutOpen = false
    /// Fields `/.status` shows first under "mount" (version, mountpoint).
    public var statusLabels: [(String, StatusValue)] = []

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    var filePermissions: UInt16 { (readOnly ? 0o444 : 0o666) & ~umask }
    var directoryPermissions: UInt16 { (readOnly ? 0o555 : 0o777) & ~umask }
}
