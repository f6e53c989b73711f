import Foundation
import Glibc
import Testing

/// The binary as a user runs it: exit codes, detaching, signals, the store on disk.
@Suite("The infisicalfs command", .enabled(if: mountTestsEnabled), .serialized)
struct CommandLineTests {
    @Test func versionHelpAndUsageErrors() throws {
        #expect(try run(infisicalfsBinary, ["--version"]).stdout.hasPrefix("infisicalfs "))
        #expect(try run(infisicalfsBinary, ["--help"]).stdout.contains("--cache-ttl"))
        let bad = try run(infisicalfsBinary, ["mount", "/tmp", "--cache-ttl", "soon"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--cache-ttl must be a whole number"))
        #expect(try run(infisicalfsBinary, ["mount", "/tmp", "-o", "bogus=1"]).status == 2)
    }

    @Test func mountpointProblemsHaveDistinctExitCodes() throws {
        let scratch = try Scratch()
        let env = ["INFISICALFS_STORE_KEY": String(repeating: "A", count: 43) + "="]
        let missing = try run(infisicalfsBinary, ["mount", scratch.path + "/nope", "--backend", "local", "--local-store", scratch.path + "/s.db"])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("does not exist"))
        _ = FileManager.default.createFile(atPath: scratch.path + "/file", contents: Data())
        #expect(try run(infisicalfsBinary, ["mount", scratch.path + "/file", "--backend", "local"]).status == 4)
        let mount = try Mount(scratch: scratch, environment: env)
        defer { mount.stop() }
        let again = try run(infisicalfsBinary, ["mount", mount.mountpoint, "--backend", "local", "--local-store", scratch.path + "/other.db"])
        #expect(again.status == 5)
        #expect(again.stderr.contains("already mounted"))
    }

    @Test func aVolumeOrBindMountCanBeMountedOnAndIsNeverUnmountedByUs() throws {
        // A container volume is a mount of its own: infisicalfs goes on top of it.
        let scratch = try Scratch()
        let volume = try scratch.folder("volume")
        let source = try scratch.folder("source")
        try #require(run("/bin/mount", ["--bind", source, volume]).status == 0)
        defer { _ = try? run("/bin/umount", ["-l", volume]) }
        let refused = try run(infisicalfsBinary, ["unmount", volume])
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("not a FUSE mount"))
        #expect(isMounted(volume), "the bind mount is still there")
        let result = try run(
            infisicalfsBinary, ["mount", volume, "--backend", "local", "--local-store", scratch.path + "/s.db"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(mkdir(volume + "/demo", 0o700) == 0)
        #expect(try run(infisicalfsBinary, ["unmount", volume]).status == 0)
        // Only the FUSE mount went; the bind mount under it is left as it was.
        #expect(isMounted(volume))
        #expect(!FileManager.default.fileExists(atPath: volume + "/demo"))
    }

    @Test func detachedMountReturnsWhenReadyAndUnmountRemovesIt() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        // Relative paths, as a user types them: the daemon resolves them before it leaves the directory.
        let result = try run(
            "/bin/sh", ["-c", "cd '\(scratch.path)' && '\(infisicalfsBinary)' mount mnt --backend local --local-store s.db"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(isMounted(mountpoint))
        // Ready means ready: the first operation after return works.
        #expect(mkdir(mountpoint + "/demo", 0o700) == 0)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: mountpoint + "/demo"))?.sorted() == ["dev", "prod", "staging"])
        let unmount = try run(infisicalfsBinary, ["unmount", mountpoint])
        #expect(unmount.status == 0, "\(unmount.stderr)")
        #expect(!isMounted(mountpoint))
        #expect(try run(infisicalfsBinary, ["unmount", mountpoint]).status == 5)
    }

    @Test func detachedMountReportsAStoreItCannotOpen() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        _ = FileManager.default.createFile(atPath: scratch.path + "/s.db", contents: Data("x".utf8), attributes: [.posixPermissions: 0o644])
        let result = try run(infisicalfsBinary, ["mount", mountpoint, "--backend", "local", "--local-store", scratch.path + "/s.db"])
        #expect(result.status == 6)
        #expect(result.stderr.contains("cannot open local store"))
        #expect(!isMounted(mountpoint))
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func aSignalUnmountsCleanlyAndExitsZero(signal: Int32) throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        kill(mount.pid, signal)
        #expect(mount.terminationStatus == 0)
        #expect(!isMounted(mount.mountpoint))
    }

    @Test func storeAndKeyAreMode0600AndHoldNoPlaintext() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        let marker = "plaintext-marker-\(UUID().uuidString)"
        try #require(sh("mkdir \"$MNT/p\" && echo \(marker) > \"$MNT/p/dev/A\"", in: mount).status == 0)
        for path in [mount.store, mount.store + ".key"] {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            #expect(mode == 0o600, "\(path)")
        }
        let storeDirectory = URL(fileURLWithPath: mount.store).deletingLastPathComponent().path
        for file in try FileManager.default.contentsOfDirectory(atPath: storeDirectory) {
            let data = try Data(contentsOf: URL(fileURLWithPath: storeDirectory + "/" + file))
            #expect(data.range(of: Data(marker.utf8)) == nil, "\(file) holds the value in plaintext")
        }
        #expect(!mount.log.contains(marker))
    }
}
