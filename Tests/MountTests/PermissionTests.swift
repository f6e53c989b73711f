import Foundation
import Glibc
import Testing

/// Other users: kept out by default, let in by --allow-other as far as the modes say.
@Suite("Owners, modes and other users", .enabled(if: mountTestsEnabled && getuid() == 0), .serialized)
struct PermissionTests {
    /// Runs a shell command as the unprivileged user `nobody` (65534).
    func asNobody(_ script: String, in mount: Mount) throws -> CommandResult {
        try sh("setpriv --reuid 65534 --regid 65534 --clear-groups sh -c '\(script)'", in: mount)
    }

    @Test func otherUsersAreKeptOutWithoutAllowOther() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch, arguments: ["--umask", "022"])
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo v > \"$MNT/p/dev/A\"", in: mount).status == 0)
        let denied = try asNobody("cat \"$MNT/p/dev/A\"", in: mount)
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Permission denied"))
    }

    @Test func allowOtherFollowsTheModes() throws {
        let scratch = try Scratch()
        let open = try Mount(scratch: scratch, arguments: ["--allow-other", "--umask", "022"])
        defer { open.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo v > \"$MNT/p/dev/A\"", in: open).status == 0)
        #expect(try sh("stat -c \"%a %u\" \"$MNT/p/dev/A\" \"$MNT/p/dev\"", in: open).stdout == "644 0\n755 0\n")
        #expect(try asNobody("cat \"$MNT/p/dev/A\"", in: open).stdout == "v")
        let write = try asNobody("echo x > \"$MNT/p/dev/A\"", in: open)
        #expect(write.stderr.contains("Permission denied"))
        #expect(try asNobody("mkdir \"$MNT/p/dev/d\"", in: open).stderr.contains("Permission denied"))
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: open).stdout == "v")
    }

    @Test func defaultModesKeepOtherUsersOutEvenWithAllowOther() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch, arguments: ["--allow-other"])
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo v > \"$MNT/p/dev/A\"", in: mount).status == 0)
        #expect(try sh("stat -c %a \"$MNT/p/dev/A\" \"$MNT/p/dev\" \"$MNT\"", in: mount).stdout == "600\n700\n700\n")
        #expect(try asNobody("ls \"$MNT\"", in: mount).stderr.contains("Permission denied"))
    }

    @Test func uidAndGidOptionsSetTheOwnerTheKernelChecks() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch, arguments: ["--allow-other", "--uid", "65534", "--gid", "65534"])
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\"", in: mount).status == 0)
        #expect(try asNobody("echo mine > \"$MNT/p/dev/OWNED\" && cat \"$MNT/p/dev/OWNED\"", in: mount).stdout == "mine")
        #expect(try sh("stat -c \"%u %g %a\" \"$MNT/p/dev/OWNED\"", in: mount).stdout == "65534 65534 600\n")
    }
}
