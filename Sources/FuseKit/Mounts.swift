import CFuse
import Glibc
import Foundation

/// Mount-table questions and unmounting, for the command line.
public enum Mounts {
    /// What is at a path the user wants to mount on.
    public enum MountpointState: Sendable, Equatable {
        case directory
        case missing
        case notDirectory
        /// A FUSE mount whose daemon is gone ("Transport endpoint is not connected").
        case disconnected
        /// A FUSE mount is there (this file system's or another's).
        case mounted
    }

    /// A directory with a mount of another kind on it (a bind mount, a
    /// container volume) is `.directory`: a FUSE mount may go on top of it.
    public static func state(of path: String) -> MountpointState {
        var status = stat()
        if stat(path, &status) != 0 {
            return errno == ENOTCONN ? .disconnected : .missing
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { return .notDirectory }
        return isFuseMountPoint(path) ? .mounted : .directory
    }

    /// Whether `path` (made absolute and canonical) appears in this
    /// process's mount table.
    public static func isMountPoint(_ path: String) -> Bool { fileSystemType(mountedAt: path) != nil }

    /// Whether the topmost mount at `path` is a FUSE mount (`fuse`, `fuse.NAME`).
    public static func isFuseMountPoint(_ path: String) -> Bool {
        guard let type = fileSystemType(mountedAt: path) else { return false }
        return type == "fuse" || type.hasPrefix("fuse.")
    }

    /// The type of the topmost mount at `path` (the last line of
    /// mountinfo with that mount point), or nil when nothing is mounted there.
    public static func fileSystemType(mountedAt path: String) -> String? {
        let target = canonicalPath(path)
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        var found: String?
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, unescapeMountField(String(fields[4])) == target,
                let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count
            else { continue }
            found = String(fields[separator + 1])
        }
        return found
    }

    /// Unmounts `path`: directly when running as root, else through
    /// `fusermount3 -u`, which lets a user unmount their own FUSE mounts.
    ///
    /// A dead mount (its daemon gone) that a process still holds open, by a
    /// descriptor or its working directory, can never be unmounted plainly
    /// ("Device or resource busy"), and it has nothing left to flush: it is
    /// detached instead, so the directory can be mounted on again at once.
    /// The holders keep getting ENOTCONN until they let go.
    public static func unmount(_ path: String, lazy: Bool = false) throws(MountError) {
        let target = canonicalPath(path)
        if geteuid() == 0 {
            if umount2(target, lazy ? Int32(MNT_DETACH) : 0) == 0 { return }
            let failure = errno
            if failure == EBUSY, !lazy, state(of: target) == .disconnected, umount2(target, Int32(MNT_DETACH)) == 0 {
                return
            }
            throw MountError("cannot unmount \(target): \(Errno(rawValue: failure))")
        }
        if try fusermount(lazy ? ["-u", "-z", target] : ["-u", target]) { return }
        if !lazy, state(of: target) == .disconnected, try fusermount(["-u", "-z", target]) { return }
        throw MountError("fusermount3 could not unmount \(target)")
    }

    /// Runs fusermount3; whether it succeeded (it says why not on stderr).
    private static func fusermount(_ arguments: [String]) throws(MountError) -> Bool {
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
        helper.arguments = arguments
        do {
            try helper.run()
        } catch {
            throw MountError("cannot run fusermount3: \(error)")
        }
        helper.waitUntilExit()
        return helper.terminationStatus == 0
    }

    /// The absolute path with symbolic links resolved where it exists.
    public static func canonicalPath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    private static func unescapeMountField(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
