import Foundation
import Glibc
import Testing

/// mount-helpers/ as a system uses it: install.sh, then mount(8), fstab
/// lines, umount(8), and mount.fuse3 running the binary by name.
@Suite("mount(8) helper and fstab", .enabled(if: mountTestsEnabled), .serialized)
struct MountHelperTests {
    static let helpers = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../mount-helpers").standardized.path
    static let mountProgram = FileManager.default.isExecutableFile(atPath: "/usr/bin/mount") ? "/usr/bin/mount" : "/bin/mount"
    static let umountProgram = FileManager.default.isExecutableFile(atPath: "/usr/bin/umount") ? "/usr/bin/umount" : "/bin/umount"

    @Test func installScriptPutsFilesInPlaceWithTheirModesAndIsIdempotent() throws {
        let scratch = try Scratch()
        let root = scratch.path + "/root"
        let first = try run("/bin/sh", [Self.helpers + "/install.sh", "--prefix", root, "--binary", infisicalfsBinary])
        #expect(first.status == 0, "\(first.stderr)")
        // Credentials already there are left alone by a second run.
        let credentials = root + "/etc/infisicalfs/mnt-secrets.env"
        _ = FileManager.default.createFile(atPath: credentials, contents: Data("A=1\n".utf8), attributes: [.posixPermissions: 0o600])
        let second = try run("/bin/sh", [Self.helpers + "/install.sh", "--prefix", root, "--binary", infisicalfsBinary])
        #expect(second.status == 0, "\(second.stderr)")
        func mode(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: root + path)[.posixPermissions] as? Int) ?? -1 }
        #expect(mode("/usr/local/bin/infisicalfs") == 0o755)
        #expect(mode("/sbin/mount.fuse.infisicalfs") == 0o755)
        #expect(mode("/etc/systemd/system/infisicalfs@.service") == 0o644)
        #expect(mode("/etc/infisicalfs") == 0o700)
        #expect(try String(contentsOfFile: credentials, encoding: .utf8) == "A=1\n")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.contains(".new.") }
        #expect(leftovers.isEmpty)
        // The helper and the unit point at the binary under the prefix, and it runs.
        let helper = try String(contentsOfFile: root + "/sbin/mount.fuse.infisicalfs", encoding: .utf8)
        #expect(helper.contains("\nINFISICALFS=\(root)/usr/local/bin/infisicalfs\n"))
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/infisicalfs@.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(root)/usr/local/bin/infisicalfs mount %f --foreground"))
        #expect(!unit.contains("=/usr/local/bin/"))
        #expect(try run(root + "/sbin/mount.fuse.infisicalfs", ["--version"]).stdout.hasPrefix("infisicalfs "))
        // A missing binary or an unknown argument is refused.
        #expect(try run("/bin/sh", [Self.helpers + "/install.sh", "--prefix", root, "--binary", scratch.path + "/none"]).status != 0)
        #expect(try run("/bin/sh", [Self.helpers + "/install.sh", "--frobnicate"]).status == 2)
    }

    @Test func mountDashTRunsTheHelperAndUmountStopsTheDaemon() throws {
        let scratch = try Scratch()
        let helper = try InstalledHelper(scratch: scratch)
        let mountpoint = try scratch.folder("mnt")
        let store = scratch.path + "/store/s.db"
        try FileManager.default.createDirectory(atPath: scratch.path + "/store", withIntermediateDirectories: true)
        defer { cleanUp(mountpoint) }
        let mounted = try run(Self.mountProgram, [
            "-t", helper.type, "local:" + store, mountpoint,
            "-o", "allow_other,uid=4321,gid=4322,cache_ttl=5,_netdev,nofail,x-systemd.requires=network-online.target",
        ])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        // The helper returned once the mount answers: the first operation works.
        #expect(isMounted(mountpoint))
        #expect(mkdir(mountpoint + "/demo", 0o700) == 0)
        var info = stat()
        #expect(stat(mountpoint + "/demo/dev", &info) == 0)
        #expect(info.st_uid == 4321 && info.st_gid == 4322)
        #expect(FileManager.default.fileExists(atPath: store), "local:PATH chose the local store at PATH")
        #expect(!daemons(serving: mountpoint).isEmpty)
        let unmounted = try run(Self.umountProgram, [mountpoint])
        #expect(unmounted.status == 0, "\(unmounted.stderr)")
        #expect(!isMounted(mountpoint))
        #expect(waitUntilNoDaemon(serving: mountpoint), "the daemon outlived umount")
    }

    @Test func anFstabLineMountsReadOnlyWithItsOwner() throws {
        let scratch = try Scratch()
        let helper = try InstalledHelper(scratch: scratch)
        let mountpoint = try scratch.folder("mnt")
        defer { cleanUp(mountpoint) }
        let fstab = scratch.path + "/fstab"
        let line = "local:\(scratch.path)/s.db  \(mountpoint)  \(helper.type)  "
            + "ro,allow_other,uid=2345,gid=2346,cache_ttl=60,_netdev,nofail,x-systemd.requires=network-online.target  0  0\n"
        try ("# a comment, as in /etc/fstab\n" + line).write(toFile: fstab, atomically: true, encoding: .utf8)
        // mount -T FILE uses FILE as fstab; naming only the mountpoint looks the rest up there.
        let mounted = try run(Self.mountProgram, ["-T", fstab, mountpoint])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(isMounted(mountpoint))
        var info = stat()
        #expect(stat(mountpoint, &info) == 0)
        #expect(info.st_uid == 2345 && info.st_gid == 2346)
        #expect(info.st_mode & 0o777 == 0o500, "read-only mounts show 0500 folders")
        errno = 0
        #expect(mkdir(mountpoint + "/p", 0o700) == -1 && errno == EROFS)
        #expect(try run(Self.umountProgram, [mountpoint]).status == 0)
        #expect(!isMounted(mountpoint))
        #expect(waitUntilNoDaemon(serving: mountpoint))
    }

    @Test func failuresComeBackThroughMountAndLeaveNothingMounted() throws {
        let scratch = try Scratch()
        let helper = try InstalledHelper(scratch: scratch)
        let mountpoint = try scratch.folder("mnt")
        defer { cleanUp(mountpoint) }
        let store = scratch.path + "/s.db"
        _ = FileManager.default.createFile(atPath: store, contents: Data("x".utf8), attributes: [.posixPermissions: 0o644])
        let broken = try run(Self.mountProgram, ["-t", helper.type, "local:" + store, mountpoint])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("cannot open local store"), "\(broken.stderr)")
        let unknown = try run(Self.mountProgram, ["-t", helper.type, "none", mountpoint, "-o", "frobnicate=1"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown -o option 'frobnicate'"), "\(unknown.stderr)")
        // mount -f (fake) checks and mounts nothing.
        let fake = try run(Self.mountProgram, ["-f", "-t", helper.type, "local:" + scratch.path + "/f.db", mountpoint])
        #expect(fake.status == 0, "\(fake.stderr)")
        #expect(!isMounted(mountpoint))
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/f.db"))
    }

    /// Without mount.fuse.infisicalfs, mount(8) runs mount.fuse3, which runs
    /// `infisicalfs SOURCE MOUNTPOINT -o OPTIONS` from PATH (/usr/local/bin when
    /// mount(8) calls it): the binary understands that form too.
    @Test func mountFuse3RunsTheBinaryByName() throws {
        let fuse3 = ["/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let fuse3 else { return }
        let scratch = try Scratch()
        let binaries = try scratch.folder("bin")
        try FileManager.default.createSymbolicLink(atPath: binaries + "/infisicalfs", withDestinationPath: infisicalfsBinary)
        let mountpoint = try scratch.folder("mnt")
        defer { cleanUp(mountpoint) }
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = binaries + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let mounted = try run(
            fuse3, ["local:" + scratch.path + "/s.db", mountpoint, "-t", "fuse.infisicalfs", "-o", "ro,uid=3456,_netdev,nofail"],
            environment: environment)
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(isMounted(mountpoint))
        var info = stat()
        #expect(stat(mountpoint, &info) == 0 && info.st_uid == 3456)
        errno = 0
        #expect(mkdir(mountpoint + "/p", 0o700) == -1 && errno == EROFS)
        #expect(try run(infisicalfsBinary, ["unmount", mountpoint]).status == 0)
        #expect(waitUntilNoDaemon(serving: mountpoint))
    }

    private func cleanUp(_ mountpoint: String) {
        if isMounted(mountpoint) {
            Issue.record("\(mountpoint) still mounted at the end of the test")
            _ = try? run(infisicalfsBinary, ["unmount", mountpoint])
        }
        if !waitUntilNoDaemon(serving: mountpoint) {
            for pid in daemons(serving: mountpoint) { kill(pid, SIGKILL) }
        }
    }
}

/// install.sh --prefix into a scratch folder, and that installation's helper
/// copied into /sbin, the one folder mount(8) searches here, under a type of
/// its own (fuse.infisicalfs-test-…) so that neither a real installation nor a
/// concurrent test run is touched; removed again at the end.
final class InstalledHelper {
    let root: String
    let type: String
    private let sbinPath: String

    init(scratch: Scratch) throws {
        root = scratch.path + "/root"
        let installed = try run(
            "/bin/sh", [MountHelperTests.helpers + "/install.sh", "--prefix", root, "--binary", infisicalfsBinary])
        guard installed.status == 0 else { throw MountFailure("install.sh failed: \(installed.stderr)") }
        type = "fuse.infisicalfs-test-" + UUID().uuidString.prefix(8).lowercased()
        sbinPath = "/sbin/mount." + type
        try FileManager.default.copyItem(atPath: root + "/sbin/mount.fuse.infisicalfs", toPath: sbinPath)
        chmod(sbinPath, 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: sbinPath) }
}

/// The detached daemons (started with --ready-pipe) that serve `mountpoint`.
func daemons(serving mountpoint: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry),
            let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
        else { return nil }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains(mountpoint) && arguments.contains("--ready-pipe") ? pid : nil
    }
}

/// Waits (up to 10 s) until no daemon serves `mountpoint`.
func waitUntilNoDaemon(serving mountpoint: String) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while !daemons(serving: mountpoint).isEmpty {
        guard Date() < deadline else { return false }
        usleep(20_000)
    }
    return true
}
