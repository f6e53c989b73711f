import Foundation
import Glibc
import Testing

/// A rename that fails leaves source and target as they were, whichever of
/// its calls fails (issue 14, item 3); numeric options have ranges checked
/// before mounting, and the mount's buffers a memory budget (item 8). On
/// real mounts; the renames against the Infisical test server's faults.
@Suite("Limits and failed renames", .enabled(if: mountTestsEnabled), .serialized)
struct LimitsAndRollbackTests {
    // MARK: Renames that fail

    /// A secret of the test server with what a move must keep: value, comment, tags.
    private func seed(_ server: RestartableServer, _ path: String, _ key: String, _ value: String, tag: String) throws {
        try server.control("POST", "/__test__/secrets", [
            "projectSlug": "p", "secretPath": path, "secretKey": key, "secretValue": value,
            "secretComment": "comment of \(value)", "tags": [tag],
        ])
    }

    /// "value|comment|tags" of each shared secret of environment dev, by "/folder/KEY".
    private func contents(_ server: RestartableServer) throws -> [String: String] {
        let state = try server.control("GET", "/__test__/state") as? [String: Any] ?? [:]
        let folders = (state["folders"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["id"] as? String ?? ""] = $1["path"] as? String
        }
        var contents: [String: String] = [:]
        for secret in state["secrets"] as? [[String: Any]] ?? [] where secret["type"] as? String == "shared" {
            guard secret["envSlug"] as? String == "dev", let path = folders[secret["folderId"] as? String ?? ""] else { continue }
            let tags = (secret["tagIds"] as? [String] ?? []).sorted().joined(separator: ",")
            let key = (path == "/" ? "" : path) + "/" + (secret["key"] as? String ?? "")
            contents[key] = "\(secret["value"] as? String ?? "")|\(secret["comment"] as? String ?? "")|\(tags)"
        }
        return contents
    }

    /// One failed step of a rename: the server's fault, the rename, and
    /// whether the server has the move route.
    struct FailedStep: CustomTestStringConvertible, Sendable {
        let name: String
        let method: String
        /// The secret whose call fails (the route `/api/v3/secrets/raw/NAME`).
        let failing: String
        let from: String
        let to: String
        var moveRoute = true
        var testDescription: String { name }
    }

    static let failedSteps: [FailedStep] = [
        // The case of the issue: across folders onto an existing name, the source's delete failing.
        FailedStep(name: "delete, across folders onto an existing name, no move route", method: "DELETE", failing: "SRC",
                   from: "f1/SRC", to: "f2/SRC", moveRoute: false),
        FailedStep(name: "delete, in one folder onto an existing name", method: "DELETE", failing: "SRC",
                   from: "f1/SRC", to: "f1/OTHER"),
        FailedStep(name: "delete, to a free name in another folder", method: "DELETE", failing: "SRC",
                   from: "f1/SRC", to: "f2/NEW"),
        FailedStep(name: "create of the target", method: "POST", failing: "NEW", from: "f1/SRC", to: "f2/NEW"),
        FailedStep(name: "update of the target", method: "PATCH", failing: "OTHER", from: "f1/SRC", to: "f1/OTHER"),
        FailedStep(name: "the one-call rename", method: "PATCH", failing: "SRC", from: "f1/SRC", to: "f1/FREE"),
        FailedStep(name: "the move route", method: "POST", failing: "/api/v4/secrets/move", from: "f1/SRC", to: "f2/SRC"),
    ]

    @Test(arguments: failedSteps)
    func aRenameThatFailsLeavesSourceAndTargetAsTheyWere(step: FailedStep) throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        if !step.moveRoute { try server.control("POST", "/__test__/options", ["moveRoute": false]) }
        try seed(server, "/f1", "SRC", "s3cr3t-source", tag: "s")
        try seed(server, "/f1", "OTHER", "s3cr3t-other", tag: "o")
        try seed(server, "/f2", "SRC", "s3cr3t-target", tag: "t")
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev/"
        #expect(try probe("listdir", dev + "f1").value == "OTHER,SRC")
        let before = try contents(server)
        let route = step.failing.hasPrefix("/") ? step.failing : "/api/v3/secrets/raw/\(step.failing)"
        try server.fault(["method": step.method, "route": route, "status": 500, "count": 1])
        let renamed = try probe("rename", dev + step.from, dev + step.to)
        #expect(renamed.result == "EIO", "\(renamed) \(mount.log)")
        #expect(try contents(server) == before, "\(mount.log)")
        // The mount shows the same: both names, their old values.
        #expect(try probe("read", dev + step.from).value == "s3cr3t-source")
        let target = try probe("read", dev + step.to)
        let old = before["/" + step.to].map { String($0.prefix { $0 != "|" }) }
        #expect(target.result == (old == nil ? "ENOENT" : "ok") && target.value == old ?? "", "\(target)")
        // One line for the failed rename, and no value in the log.
        let lines = mount.log.split(separator: "\n").filter { $0.contains("mv /") }
        #expect(lines.count == 1, "\(mount.log)")
        #expect(!mount.log.contains("s3cr3t"), "\(mount.log)")
    }

    @Test func theIssuesCaseSaysTheMoveWasUndone() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.control("POST", "/__test__/options", ["moveRoute": false])
        try seed(server, "/f1", "SRC", "s3cr3t-source", tag: "s")
        try seed(server, "/f2", "SRC", "s3cr3t-target", tag: "t")
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        try server.fault(["method": "DELETE", "route": "/api/v3/secrets/raw/SRC", "status": 500, "count": 1])
        let moved = try sh("mv \"$MNT/p/dev/f1/SRC\" \"$MNT/p/dev/f2/SRC\"", in: mount)
        #expect(moved.status != 0 && moved.stderr.contains("Input/output error"), "\(moved.stderr)")
        #expect(try contents(server) == [
            "/f1/SRC": "s3cr3t-source|comment of s3cr3t-source|s", "/f2/SRC": "s3cr3t-target|comment of s3cr3t-target|t",
        ])
        #expect(mount.log.contains("the move was undone"), "\(mount.log)")
        #expect(!mount.log.contains("s3cr3t"), "a value in the log: \(mount.log)")
        // Once the server works again, the same rename goes through and leaves only the target.
        #expect(try sh("mv \"$MNT/p/dev/f1/SRC\" \"$MNT/p/dev/f2/SRC\"", in: mount).status == 0)
        #expect(try contents(server) == ["/f2/SRC": "s3cr3t-source|comment of s3cr3t-source|s"])
    }

    @Test func anUndoThatFailsTooIsOneLineNamingBothStates() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try seed(server, "/f1", "SRC", "s3cr3t-source", tag: "s")
        try seed(server, "/f2", "KEEP", "s3cr3t-keep", tag: "k")
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        // The source's delete fails, then so does the delete that would take the new target back.
        try server.fault(["method": "DELETE", "route": "/api/v3/secrets/raw/SRC", "status": 500, "count": 1])
        try server.fault(["method": "DELETE", "route": "/api/v3/secrets/raw/NEW", "status": 500, "count": 1])
        let moved = try probe("rename", mount.mountpoint + "/p/dev/f1/SRC", mount.mountpoint + "/p/dev/f2/NEW")
        #expect(moved.result == "EIO")
        // Nothing lost: two copies.
        let after = try contents(server)
        #expect(after["/f1/SRC"]?.hasPrefix("s3cr3t-source|") == true && after["/f2/NEW"]?.hasPrefix("s3cr3t-source|") == true)
        let lines = mount.log.split(separator: "\n").filter { $0.contains("undoing the move failed too") }
        #expect(lines.count == 1, "\(mount.log)")
        #expect(lines.first?.contains("f1/SRC is still there") == true && lines.first?.contains("f2/NEW") == true, "\(lines)")
        #expect(!mount.log.contains("s3cr3t"), "a value in the log: \(mount.log)")
    }

    /// Steps after the move was made: their failure does not fail it. (The
    /// read-back after the move route reads the same name as the source's
    /// first read, which a fault cannot tell apart: MoveRollbackTests has it.)
    @Test(arguments: [
        ("GET", "NEW", "f1/SRC", "f2/NEW"),  // the read-back of a copy
        ("GET", "FREE", "f1/SRC", "f1/FREE"),  // the read-back of a one-call rename
        ("PATCH", "SRC", "f1/SRC", "f2/SRC"),  // setting the tags again after the move route
    ])
    func aRenameWhoseLaterStepFailsIsMade(method: String, failing: String, from: String, to: String) throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try seed(server, "/f1", "SRC", "source", tag: "s")
        try seed(server, "/f2", "KEEP", "keep", tag: "k")
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev/"
        // Known to the mount first, so that the only calls left are the move's.
        _ = try probe("listdir", dev + "f1")
        _ = try probe("listdir", dev + "f2")
        // The read of the target by name comes only after the move (a free name is not asked for first,
        // except by the one-call rename, whose check is the first GET: skip it with a count of 2).
        let count = failing == "FREE" ? 2 : 1
        try server.fault(["method": method, "route": "/api/v3/secrets/raw/\(failing)", "status": 500, "count": count])
        let moved = try probe("rename", dev + from, dev + to)
        #expect(moved.result == "ok", "\(moved) \(mount.log)")
        let after = try contents(server)
        #expect(after["/" + from] == nil, "\(after)")
        let tags = method == "PATCH" ? "" : "s"  // the move route drops tags; setting them again failed
        #expect(after["/" + to] == "source|comment of source|\(tags)", "\(after)")
        #expect(try probe("read", dev + to).value == "source")
        #expect(try probe("read", dev + from).result == "ENOENT")
    }

    /// The file system's own two-step folder rename: an empty target folder
    /// is deleted, then the source renamed onto its name. When the rename
    /// fails, the deleted folder must come back.
    @Test func aFolderRenameThatFailsKeepsTheEmptyFolderItWouldReplace() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try seed(server, "/x", "K", "v", tag: "k")
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev/"
        try #require(sh("mkdir \"$MNT/p/dev/y\"", in: mount).status == 0)
        try server.fault(["method": "PATCH", "route": "/api/v2/folders/{folderId}", "status": 500, "count": 1])
        #expect(try probe("rename", dev + "x", dev + "y").result == "EIO", "\(mount.log)")
        #expect(try probe("listdir", dev).value == "x,y", "\(mount.log)")
        #expect(try contents(server) == ["/x/K": "v|comment of v|k"])
    }

    // MARK: Numeric options

    @Test(arguments: [
        ["--cache-ttl", "9223372036854775807"], ["--max-stale", "9223372036854775807"],
        ["-o", "cache_ttl=9223372036854775807"], ["-o", "max_stale=9223372036854775807"],
        ["--uid", "4294967295"], ["--gid", "4294967295"], ["-o", "uid=4294967295,gid=0"],
        ["--umask", "1000"], ["--timeout", "301"], ["-o", "timeout=0.4"],
    ])
    func outOfRangeNumbersAreRefusedBeforeMounting(option: [String]) throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        // A build that accepts the value mounts and serves until killed: leave no dead mount behind.
        defer { if isMounted(mountpoint) { umount2(mountpoint, Int32(MNT_DETACH)) } }
        let result = try run(
            infisicalfsBinary,
            ["mount", mountpoint, "--foreground", "--backend", "local", "--local-store", scratch.path + "/s.db"] + option,
            timeout: 10)
        #expect(result.status == 2, "\(result)")
        let lines = result.stderr.split(separator: "\n")
        let name = option[0] == "-o" ? "-o " + option[1].prefix { $0 != "=" } : option[0]
        #expect(lines.first?.hasPrefix("infisicalfs: \(name) must be") == true, "\(result.stderr)")
        #expect(lines.first?.contains(" from ") == true || lines.first?.contains(" to ") == true, "no range: \(result.stderr)")
        #expect(!isMounted(mountpoint))
    }

    @Test func theLargestNumbersMountAndTheStatusAnswers() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch, arguments: [
            "--cache-ttl", "31536000", "--max-stale", "315360000", "--uid", "4294967294", "--gid", "4294967294",
            "--umask", "000", "--timeout", "300",
        ])
        defer { mount.stop() }
        for _ in 0..<2 {
            let status = try probe("read", mount.mountpoint + "/.status")
            #expect(status.result == "ok", "\(status) \(mount.log)")
            let json = try JSONSerialization.jsonObject(with: Data(status.value.utf8)) as? [String: Any]
            let cache = json?["cache"] as? [String: Any]
            #expect(cache?["ttl_seconds"] as? Int == 31_536_000 && cache?["max_stale_seconds"] as? Int == 315_360_000)
        }
        #expect(mount.isRunning, "\(mount.log)")
        #expect(try sh("stat -c '%u %g %a' \"$MNT\"", in: mount).stdout == "4294967294 4294967294 777\n")
    }

    // MARK: The memory budget

    /// The daemon's resident memory, in MiB.
    private func residentMiB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? .infinity) / 1024
    }

    /// Many descriptors each writing, round-robin, 64 KiB at a time: first
    /// `/.crypto` requests left open (up to 1 MiB each), then unsaved writes
    /// to new files (up to 512 KiB each), both past the budget; then an
    /// existing secret is written. Prints one JSON object: each descriptor's
    /// first errno ("ok" when none), the close errnos, the daemon's RSS
    /// after each phase (`pid` from argv).
    private static let fillScript = #"""
        import errno, json, os, sys
        dev, crypto, pid, files, requests = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        def rss():
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        def name(e):
            return errno.errorcode.get(e, str(e))
        chunk = b"x" * 65536
        fds, first, peaks = [], [], []
        def fill(opened, rounds, head):
            start = len(fds)
            fds.extend(opened)
            first.extend([None] * len(opened))
            for round in range(rounds):
                for i in range(start, len(fds)):
                    if first[i] is not None:
                        continue
                    try:
                        os.write(fds[i][0], head + chunk[len(head):] if round == 0 else chunk)
                    except OSError as error:
                        first[i] = name(error.errno)
            peaks.append(rss())
        # Requests that never end (an open JSON string): each holds up to 1 MiB.
        fill([(os.open(crypto, os.O_WRONLY), "crypto") for _ in range(requests)], 16, b'{"key": "AAAA", "plaintext": "')
        fill([(os.open(f"{dev}/F{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "file") for i in range(files)], 8, b"")
        # An existing secret written while the budget is used up: refused, its value kept.
        old = os.open(f"{dev}/OLD", os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(old, chunk + b"more")
            old_write = "ok"
        except OSError as error:
            old_write = name(error.errno)
        try:
            os.close(old)
            old_close = "ok"
        except OSError as error:
            old_close = name(error.errno)
        # The files are unlinked before their closes: nothing is stored (the test needs no 64 MiB store).
        for i in range(files):
            os.unlink(f"{dev}/F{i}")
        closes = []
        for fd, kind in fds:
            try:
                os.close(fd)
                closes.append("ok")
            except OSError as error:
                closes.append(name(error.errno))
        print(json.dumps({"first": [f or "ok" for f in first], "closes": closes, "kinds": [k for _, k in fds],
                          "peaks": peaks, "old_write": old_write, "old_close": old_close}))
        """#

    @Test func manyDescriptorsWritingStopAtTheBudgetAndMemoryStaysBounded() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        try #require(sh("mkdir \"$MNT/p\" && printf 'old value' > \"$MNT/p/dev/OLD\"", in: mount).status == 0)
        let before = residentMiB(mount.pid)
        let output = try runPython(Self.fillScript, [dev, mount.mountpoint + "/.crypto/encrypt", "\(mount.pid)", "200", "100"], timeout: 120)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any], "\(output)")
        let first = result["first"] as? [String] ?? []
        let closes = result["closes"] as? [String] ?? []
        let peak = (result["peaks"] as? [Double] ?? []).max() ?? .infinity
        figure(
            "memoryBudget",
            "RSS \(before) MiB at mount, after the requests and after the files \(result["peaks"] ?? ""); "
                + "\(first.filter { $0 == "ENOSPC" }.count) of \(first.count) descriptors refused")
        // 200 × 512 KiB + 100 × 1 MiB is 200 MiB: the budget (64 MiB) refuses the rest with ENOSPC, nothing else.
        let kinds = result["kinds"] as? [String] ?? []
        #expect(Set(first).isSubset(of: ["ok", "ENOSPC"]), "\(first)")
        let whole = zip(kinds, first).filter { $0 == ("file", "ok") }.count
        #expect(whole <= 128, "\(whole) files of 512 KiB held at once")
        #expect(zip(kinds, first).contains { $0 == ("crypto", "ENOSPC") }, "\(first)")
        #expect(zip(kinds, first).contains { $0 == ("file", "ENOSPC") }, "\(first)")
        // A refused open says so at its close too.
        for index in first.indices where first[index] == "ENOSPC" {
            #expect(closes[index] == "ENOSPC", "\(index) \(kinds[index])")
        }
        #expect(result["old_write"] as? String == "ENOSPC" && result["old_close"] as? String == "ENOSPC", "\(result)")
        #expect(try probe("read", dev + "/OLD").value == "old value")
        // Bounded: the budget plus the daemon's own working memory, not the 200 MiB written.
        #expect(peak - before < 64 + 40, "RSS \(before) → \(peak) MiB")
        // Released at close: the same write now goes through; the mount is healthy.
        #expect(try probe("write", dev + "/OLD", String(repeating: "y", count: 100_000)).result == "ok")
        #expect(try sh("wc -c < \"$MNT/p/dev/OLD\"; ls \"$MNT/p/dev\"", in: mount).stdout == "100000\nOLD\n")
        // One warning line per refused descriptor at most, naming the budget.
        let warnings = mount.log.split(separator: "\n").filter { $0.contains("64 MiB for unsaved writes") }
        #expect(!warnings.isEmpty && warnings.count <= first.filter { $0 == "ENOSPC" }.count + 1, "\(warnings.count)")
        #expect(mount.isRunning)
    }
}
