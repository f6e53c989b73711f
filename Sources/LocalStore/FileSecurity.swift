import SecretsCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creation and permission checks for the store and key files, which must
/// never be readable by anyone but their owner.
enum FileSecurity {
    /// Creates the missing folders above `path` with mode 0700.
    static func createParentFolders(of path: String) throws(BackendError) {
        var ancestors: [String] = []
        var current = parent(of: path)
        while let folder = current, !exists(folder) {
            ancestors.append(folder)
            current = parent(of: folder)
        }
        for folder in ancestors.reversed() where mkdir(folder, 0o700) != 0 && errno != EEXIST {
            let failure = errno
            throw BackendError(kind(of: failure), "cannot create folder \(folder): \(reason(failure))")
        }
    }

    /// Creates `path` empty with mode 0600 when missing, so files created from
    /// it (SQLite's -wal and -shm) get 0600 too; returns whether it created it.
    /// An existing file must be a regular file with no group or other access.
    @discardableResult
    static func createPrivateFile(_ path: String, what: String) throws(BackendError) -> Bool {
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if descriptor >= 0 {
            // The umask may have taken bits away; 0600 exactly is what is wanted.
            let status = fchmod(descriptor, 0o600)
            let failure = errno
            close(descriptor)
            guard status == 0 else {
                throw BackendError(.permissionDenied, "cannot set mode 0600 on \(what) \(path): \(reason(failure))")
            }
            return true
        }
        guard errno == EEXIST else {
            let failure = errno
            throw BackendError(kind(of: failure), "cannot create \(what) \(path): \(reason(failure))")
        }
        try checkPrivate(path, what: what)
        return false
    }

    /// Refuses a file that is not a regular file, that its group or others
    /// may access, or that another user owns (they could read or swap it).
    static func checkPrivate(_ path: String, what: String) throws(BackendError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let failure = errno
            throw BackendError(
                failure == ENOENT ? .notFound : .internalError, "cannot stat \(what) \(path): \(reason(failure))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw BackendError(.invalidArgument, "\(what) \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw BackendError(
                .permissionDenied, "\(what) \(path) is owned by uid \(info.st_uid), not by this user (uid \(geteuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw BackendError(
                .permissionDenied, "\(what) \(path) must be mode 0600 (it is 0\(mode)); run chmod 600 \(path)")
        }
    }

    /// Refuses a file whose folder, or any folder above it, another user
    /// could change: one owned by someone other than this user or root, or
    /// writable by its group or others without the sticky bit (as ssh
    /// refuses for its keys). Such a user could swap the store or the key
    /// for their own. The folders must exist.
    static func checkFolders(above path: String, what: String) throws(BackendError) {
        let folder = parent(of: path) ?? (path.hasPrefix("/") ? "/" : ".")
        guard let resolved = realpath(folder, nil) else {
            let failure = errno
            if failure == ENOENT {
                throw BackendError(
                    .notFound,
                    "folder \(folder) of \(what) \(path) does not exist: make it (mkdir -m 700 \(folder)) or choose another path")
            }
            throw BackendError(kind(of: failure), "folder \(folder) of \(what) \(path) cannot be used: \(reason(failure))")
        }
        var current = String(cString: resolved)
        free(resolved)
        while true {
            var info = stat()
            guard stat(current, &info) == 0 else {
                let failure = errno
                throw BackendError(kind(of: failure), "cannot stat folder \(current) of \(what) \(path): \(reason(failure))")
            }
            if info.st_uid != geteuid() && info.st_uid != 0 {
                throw BackendError(
                    .permissionDenied,
                    "folder \(current) of \(what) \(path) is owned by uid \(info.st_uid), neither this user nor root")
            }
            if info.st_mode & 0o022 != 0 && info.st_mode & S_ISVTX == 0 {
                let mode = String(info.st_mode & 0o7777, radix: 8)
                throw BackendError(
                    .permissionDenied,
                    "folder \(current) of \(what) \(path) may be written by others (mode 0\(mode)); run chmod go-w \(current)")
            }
            if current == "/" { return }
            current = parent(of: current) ?? "/"
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` holds an SQLite database: its header, or a write-ahead
    /// log with something in it (a store whose first writes were never
    /// copied into the file itself).
    static func holdsDatabase(_ path: String) -> Bool {
        var info = stat()
        if lstat(path + "-wal", &info) == 0, info.st_size > 0 { return true }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var header = [UInt8](repeating: 0, count: 16)
        let count = header.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 16) }
        return count == 16 && header == Array("SQLite format 3\u{0}".utf8)
    }

    /// Which file a path names: compared later to notice the file deleted,
    /// renamed away or replaced under an open connection.
    struct Identity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64
    }

    /// The identity of the file at `path` now (symbolic links not followed); nil when there is none.
    static func identity(of path: String) -> Identity? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Access problems are the user's to fix, as is a full disk; anything else is unexpected.
    static func kind(of code: Int32) -> BackendError.Kind {
        switch code {
        case EACCES, EPERM, EROFS: .permissionDenied
        case ENOSPC, EDQUOT: .noSpace
        default: .internalError
        }
    }

    /// The folder holding `path`, or nil at the top ("/" or a bare relative name).
    private static func parent(of path: String) -> String? {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return nil }
        let folder = trimmed[..<slash]
        return folder.isEmpty ? nil : String(folder)
    }
}
