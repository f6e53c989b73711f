import Foundation
import Glibc
import Testing

/// kill -9 of the daemon in the middle of writes: the store stays sound and
/// every write whose close() returned 0 is there after a remount.
@Suite("Crash durability", .enabled(if: mountTestsEnabled), .serialized)
struct DurabilityTests {
    @Test func killNineMidWriteLosesNoCommittedValue() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let mount = try Mount(scratch: scratch, store: store)
        try #require(sh("mkdir \"$MNT/p\"", in: mount).status == 0)

        let journal = scratch.path + "/committed.txt"
        let writer = Process()
        // Python reports a failed close(2); a shell redirection would not.
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        writer.arguments = [
            "python3", "-c",
            """
            import os, sys
            mnt, journal = sys.argv[1], open(sys.argv[2], "a", buffering=1)
            for i in range(1000000):
                try:
                    fd = os.open(f"{mnt}/p/dev/K{i % 20}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.write(fd, f"v{i}\\n".encode())
                    os.close(fd)
                except OSError:
                    break
                journal.write(f"{i}\\n")
            """,
            mount.mountpoint, journal,
        ]
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        usleep(1_500_000)
        kill(mount.pid, SIGKILL)
        writer.waitUntilExit()
        mount.stop()  // detaches the dead mount

        let committed = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int($0) }
        try #require(committed.count > 20, "too few writes before the kill to test anything")
        let inFlight = committed.last! + 1

        let check = try run(
            "/usr/bin/env", ["python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])", store])
        #expect(check.stdout == "ok\n")

        let remount = try Mount(scratch: scratch, name: "again", store: store)
        defer { remount.stop() }
        for key in 0..<20 {
            guard let last = committed.last(where: { $0 % 20 == key }) else { continue }
            let value = try String(contentsOfFile: remount.mountpoint + "/p/dev/K\(key)", encoding: .utf8)
            var allowed = ["v\(last)"]
            if inFlight % 20 == key { allowed.append("v\(inFlight)") }
            #expect(allowed.contains(value), "K\(key) = \(value), expected one of \(allowed)")
        }
    }
}
