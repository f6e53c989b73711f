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

    /// Refuses a file that is not a regular file or that its group or others may access.
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
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw BackendError(
                .permissionDenied, "\(what) \(path) must be mode 0600 (it is 0\(mode)); run chmod 600 \(path)")
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Access problems are the user's to fix; anything else is unexpected.
    private static func kind(of code: Int32) -> BackendError.Kind {
        code == EACCES || code == EPERM || code == EROFS ? .permissionDenied : .internalError
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
