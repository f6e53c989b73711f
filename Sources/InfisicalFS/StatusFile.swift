import Foundation
import FuseKit
import SecretsCore
import Synchronization

/// `/.status`: one JSON object a health check can `cat` — the mount, the
/// backend (its login and calls, from the backend's `status`), the cache's
/// figures, and the open files. A report is made at most once a second and
/// shared by whatever asks within that second (a `cat` is a lookup, a
/// stat and reads, which must agree on the size). Never holds a value,
/// token or credential.
extension SecretsFileSystem {
    func statusReport() -> [UInt8] {
        let (openFiles, cryptoFiles) = state.withLock { ($0.openFiles.count, $0.cryptoFiles.count) }
        let mount = StatusValue.object(
            options.statusLabels + [
                ("read_only", .boolean(options.readOnly)),
                ("started_at", .time(mountedAt)),
                ("uptime_seconds", .integer(Int(saturatingSeconds: Date().timeIntervalSince(mountedAt)))),
                ("timeout_seconds", .number(options.operationTimeout)),
                ("open_files", .integer(openFiles + cryptoFiles)),
            ])
        let report = StatusValue.object([("mount", mount)] + backend.status.fields)
        return Array((report.json(indent: 2) + "\n").utf8)
    }


    /// Seconds a report is reused.
    static let statusReuse: TimeInterval = 1

    /// The current report, and whether it was just made.
    func currentStatus() -> (report: [UInt8], new: Bool) {
        if let snapshot = state.withLock({ $0.statusSnapshot }),
            Date().timeIntervalSince(snapshot.madeAt) < Self.statusReuse
        {
            return (snapshot.report, false)
        }
        let report = statusReport()
        state.withLock { $0.statusSnapshot = (report, Date()) }
        return (report, true)
    }

    /// Read-write mounts: each open reads the current report, past the page cache.
    func openStatus(_ inode: InodeNumber, flags: OpenFlags) throws(Errno) -> OpenReply {
        if flags.writes { throw .permissionDenied }
        let file = OpenFile(inode: inode, flags: flags, content: currentStatus().report, dirty: false, isNew: false)
        return OpenReply(handle: register(file), directIO: true, noFlush: true)
    }

    /// A lookup or stat shows the current report's size (a read through the
    /// page cache goes no further). On a mount that reads without opening,
    /// a new report drops the kernel's pages of the last one; the kernel
    /// then also asks for the attributes again before it reads.
    func statusAttributes(_ number: InodeNumber, known inode: InodeNumber?) -> FileAttributes {
        let (report, new) = currentStatus()
        if new, options.readsWithoutOpen, let inode = inode ?? state.withLock({ $0.inodes.inode(of: .status) }) {
            kernelCache.withLock { $0 }.invalidateContent(of: inode)
        }
        var attributes = fileAttributes(number, size: UInt64(report.count), modified: Date())
        // Readable by whoever may read the mount's files; never writable.
        attributes.permissions &= 0o444
        return attributes
    }

    func readStatusWithoutOpen(offset: UInt64, size: Int) -> [UInt8] {
        let report = currentStatus().report
        guard offset < UInt64(report.count) else { return [] }
        return Array(report[Int(offset)..<min(report.count, Int(offset) + size)])
    }
}
