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
        case mounted
    }

    public static func state(of path: String) -> MountpointState {
        var status = stat()
        if stat(path, &status) != 0 {
            return errno == ENOTCONN ? .disconnected : .missing
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { return .notDirectory }
        return isMountPoint(path) ? .mounted : .directory
    }

    /// Whether `path` (made absolute and canonical) appears in this
    /// process's mount table.
    public static func isMountPoint(_ path: String) -> Bool {
        let target = canonicalPath(path)
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && unescapeMountField(String(fields[4])) == target
        }
    }

    /// Unmounts `path`: directly when running as root, else through
    /// `fusermount3 -u`, which lets a user unmount their own FUSE mounts.
    public static func unmount(_ path: String, lazy: Bool = false) throws(MountError) {
        let target = canonicalPath(path)
        if geteuid() == 0 {
            guard umount2(target, lazy ? Int32(MNT_DETACH) : 0) == 0 else {
                throw MountError("cannot unmount \(target): \(Errno(rawValue: errno))")
            }
            return
        }
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
        helper.arguments = (lazy ? ["-u", "-z"] : ["-u"]) + [target]
        do {
            try helper.run()
            helper.waitUntilExit()
        } catch {
            throw MountError("cannot run fusermount3: \(error)")
        }
        guard helper.terminationStatus == 0 else { throw MountError("fusermount3 could not unmount \(target)") }
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
