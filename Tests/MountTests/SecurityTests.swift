import Foundation
import Glibc
import Testing

/// What must never leak, and what cannot get out of the tree: values, tokens,
/// client secrets and keys in no log line at debug level and not on the
/// command line; credentials only from the environment or a credentials
/// file; the store's files 0600; other users kept out by the modes; no link
/// or special file; no name from a server that escapes or breaks the tree.
/// PermissionTests holds the modes with --allow-other, CryptoMountTests
/// another user's `/.crypto` results, CommandLineTests the store without
/// plaintext.
@Suite("Secrets stay in their place", .enabled(if: mountTestsEnabled), .serialized)
struct SecurityTests {
    /// `/proc/PID/cmdline` with its NULs as spaces.
    func commandLine(_ pid: Int32) -> String {
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// Reads, writes, renames, deletes, views, xattrs, `/.crypto` and
    /// `/.status` on `$MNT/p/dev`, with distinctive values; returns the
    /// secrets the session handled (values, the crypto key, the plaintext).
    func session(_ mount: Mount, marker: String) throws -> [String] {
        let values = [
            "single-\(marker)", "multi-\(marker)-line1\nline2-\(marker)\n", "  spaced \(marker)  ",
            "comment-\(marker)", "plain-\(marker)",
        ]
        let script = """
            set -e
            D="$MNT/p/dev"
            printf '%s' "$V1" > "$D/ONE"; printf '%s' "$V2" > "$D/TWO"; printf '%s' "$V3" > "$D/THREE"
            cat "$D/ONE" "$D/TWO" "$D/THREE" > /dev/null
            ls -l "$D" > /dev/null; cat "$D/.env" "$D/.json" "$D/.yaml" > /dev/null
            setfattr -n user.infisical.comment -v "$V4" "$D/ONE"; getfattr --absolute-names -d -m - "$D/ONE" > /dev/null
            mv "$D/TWO" "$D/TWO_MOVED"; cat "$D/TWO_MOVED" > /dev/null; rm "$D/THREE"
            printf '%s' "$V1" | cp /dev/stdin "$D/ONE"
            mkdir "$D/sub"; printf '%s' "$V1" > "$D/sub/IN_FOLDER"; cat "$D/sub/IN_FOLDER" > /dev/null
            KEY=$(cat "$MNT/.crypto/key")
            printf '{"key": "%s", "plaintext": "%s"}' "$KEY" "$V5" > "$MNT/.crypto/encrypt"
            RESULT=$(cat "$MNT/.crypto/encrypt")
            printf '{"key": "%s", %s' "$KEY" "${RESULT#\\{}" > "$MNT/.crypto/decrypt"
            test "$(cat "$MNT/.crypto/decrypt")" = "$V5"
            cat "$MNT/.status" > /dev/null
            printf '%s' "$KEY"
            """
        var environment = ProcessInfo.processInfo.environment
        environment["MNT"] = mount.mountpoint
        environment["LC_ALL"] = "C"
        for (index, value) in values.enumerated() { environment["V\(index + 1)"] = value }
        let result = try run("/bin/sh", ["-c", script], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let key = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count == 44, "the crypto key: \(key)")
        // Values as written and as stored (trimmed), each line of the multi-line one.
        return values + values.map { $0.trimmingCharacters(in: .whitespaces) }
            + values[1].split(separator: "\n").map(String.init) + [key]
    }

    /// Fails for each secret found in `text`.
    func expectNone(of secrets: [String], in text: String, _ place: String) {
        for secret in Set(secrets) where !secret.isEmpty {
            #expect(!text.contains(secret), "\(place) holds \(secret.prefix(24).debugDescription)")
        }
    }

    @Test func noValueTokenOrClientSecretReachesTheLogOrTheCommandLine() throws {
        let scratch = try Scratch()
        // Tokens live 2 s: the session renews them and logs in again.
        let server = try RestartableServer(scratch: scratch, accessTokenTTL: 2, accessTokenMaxTTL: 5)
        let marker = "LEAKCHECK\(UUID().uuidString.prefix(8))"
        try server.seedSecret("SEEDED", "seeded-\(marker)")
        let mount = try server.mount(
            scratch, arguments: ["--log-level", "debug", "--cache-ttl", "1", "--timeout", "2"])
        defer { mount.stop() }
        var secrets = try session(mount, marker: marker)
        secrets.append("seeded-\(marker)")
        #expect(try probe("read", mount.mountpoint + "/p/dev/SEEDED").value == "seeded-\(marker)")
        // Refused and failed writes name the file and the reason, not the value.
        try server.fault(["method": "PATCH", "route": secretRoute, "status": 422, "count": 1])
        #expect(try probe("write", mount.mountpoint + "/p/dev/ONE", "refused-\(marker)").result == "EINVAL")
        try server.fault(["method": "POST", "route": secretRoute, "status": 503, "count": 1])
        #expect(try probe("write", mount.mountpoint + "/p/dev/NEW", "failed-\(marker)").result == "EIO")
        secrets += ["refused-\(marker)", "failed-\(marker)"]
        // Renewals and logins again, by time (calls for 6 s: past the 5 s
        // maximum lifetime) and by force.
        let started = Date()
        while seconds(since: started) < 6 {
            #expect(try probe("read", mount.mountpoint + "/p/dev/ONE").result == "ok")
            usleep(300_000)
        }
        try server.control("POST", "/__test__/tokens/expire", [:])
        #expect(try probe("read", mount.mountpoint + "/p/dev/ONE").result == "ok")
        usleep(1_200_000)
        #expect(try probe("listdir", mount.mountpoint + "/p/dev").result == "ok")

        let tokens = try server.control("GET", "/__test__/tokens") as? [String: Any]
        let issued = tokens?["tokens"] as? [String] ?? []
        #expect(issued.count >= 3, "\(issued.count) tokens")
        // A token, and its signature alone (the header part is the same in every JWT).
        secrets += issued + issued.compactMap { $0.split(separator: ".").last.map(String.init) }
        secrets.append(server.clientSecret)
        let status = try probe("read", mount.mountpoint + "/.status").value
        let cmdline = commandLine(mount.pid)
        let log = mount.log
        #expect(log.contains("debug:"))
        #expect(log.contains("access token renewed") && log.contains("logging in again"), "\(log)")
        expectNone(of: secrets, in: log, "the log")
        expectNone(of: secrets + ["Bearer"], in: log, "the log")
        expectNone(of: secrets, in: cmdline, "/proc/PID/cmdline")
        expectNone(of: secrets, in: status, "/.status")
        figure(
            "log hygiene (Infisical)",
            "\(log.split(separator: "\n").count) debug log lines, \(Set(secrets).count) secrets (values, \(issued.count) tokens, the client secret, a crypto key) in none of them, nor in cmdline or /.status")
    }

    @Test func noValueOrStoreKeyReachesTheLogWithTheLocalStore() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch, arguments: ["--log-level", "debug"])
        defer { mount.stop() }
        try #require(mkdir(mount.mountpoint + "/p", 0o700) == 0)
        let marker = "LEAKCHECK\(UUID().uuidString.prefix(8))"
        var secrets = try session(mount, marker: marker)
        let key = try String(contentsOfFile: mount.store + ".key", encoding: .utf8)
        secrets.append(key.trimmingCharacters(in: .whitespacesAndNewlines))
        let log = mount.log
        #expect(log.contains("debug:"))
        expectNone(of: secrets, in: log, "the log")
        expectNone(of: secrets, in: commandLine(mount.pid), "/proc/PID/cmdline")
    }

    @Test func credentialsAreNeverTakenFromTheCommandLine() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        let secret = "CMDLINE\(UUID().uuidString.prefix(8))"
        let attempts = [
            ["--client-secret", secret], ["--client-id", secret], ["--access-token", secret], ["--token", secret],
            ["-o", "client_secret=\(secret)"], ["-o", "access_token=\(secret)"], ["-o", "token=\(secret)"],
        ]
        for attempt in attempts {
            let result = try run(infisicalfsBinary, ["mount", mountpoint] + attempt)
            #expect(result.status == 2, "\(attempt): \(result.stderr)")
            #expect(!result.stderr.contains(secret), "\(attempt) echoes the value: \(result.stderr)")
            #expect(!isMounted(mountpoint))
        }
    }

    @Test func theStoreItsLogsAndItsKeyAre0600InA0700Folder() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo v > \"$MNT/p/dev/A\" && mkdir \"$MNT/p/dev/f\"", in: mount).status == 0)
        // While mounted: the write-ahead log and its index are there too.
        let folder = URL(fileURLWithPath: mount.store).deletingLastPathComponent().path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["store.db", "store.db-shm", "store.db-wal", "store.db.key"], "\(files)")
        for file in files {
            let mode = try FileManager.default.attributesOfItem(atPath: folder + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int == 0o700)
        // Every kind of node, by default: directories 0700, files 0600, /.status 0400.
        let modes = try sh(
            "cd \"$MNT\" && stat -c '%a %n' . p p/dev p/dev/f p/dev/A .crypto .crypto/key .crypto/encrypt .status",
            in: mount)
        #expect(
            modes.stdout == """
                700 .
                700 p
                700 p/dev
                700 p/dev/f
                600 p/dev/A
                700 .crypto
                600 .crypto/key
                600 .crypto/encrypt
                400 .status

                """, "\(modes.stdout)")
    }

    @Test(.enabled(if: getuid() == 0)) func anotherUserCannotReadA0600SecretEvenWhereItMayPass() throws {
        let scratch = try Scratch()
        // umask 066: directories 0711 (others may pass, not list), files 0600.
        let mount = try Mount(scratch: scratch, arguments: ["--allow-other", "--umask", "066"])
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo private > \"$MNT/p/dev/A\"", in: mount).status == 0)
        #expect(try sh("stat -c %a \"$MNT/p/dev\" \"$MNT/p/dev/A\"", in: mount).stdout == "711\n600\n")
        func asNobody(_ script: String) throws -> CommandResult {
            try sh("setpriv --reuid 65534 --regid 65534 --clear-groups sh -c '\(script)'", in: mount)
        }
        #expect(try asNobody("stat -c %s \"$MNT/p/dev/A\"").stdout == "7\n")
        for attempt in [
            "cat \"$MNT/p/dev/A\"", "ls \"$MNT/p/dev\"", "echo x > \"$MNT/p/dev/A\"", "echo x > \"$MNT/p/dev/NEW\"",
            "rm \"$MNT/p/dev/A\"", "mv \"$MNT/p/dev/A\" \"$MNT/p/dev/B\"", "cat \"$MNT/.crypto/key\"",
        ] {
            let result = try asNobody(attempt)
            #expect(result.status != 0 && result.stderr.contains("Permission denied"), "\(attempt): \(result.stderr)")
        }
        #expect(try sh("cat \"$MNT/p/dev/A\"; ls \"$MNT/p/dev\"", in: mount).stdout == "privateA\n")
    }

    @Test func nothingButSecretsAndFoldersCanBeMade() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo v > \"$MNT/p/dev/A\"", in: mount).status == 0)
        let dev = mount.mountpoint + "/p/dev"
        // EPERM, POSIX's answer of a file system that does not make such files (not ENOSYS).
        #expect(symlink("/etc/passwd", dev + "/LINK") == -1 && errno == EPERM)
        #expect(link(dev + "/A", dev + "/HARD") == -1 && errno == EPERM)
        #expect(mkfifo(dev + "/FIFO", 0o600) == -1 && errno == EPERM)
        #expect(mknod(dev + "/NODE", S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == -1 && errno == EPERM)
        #expect(symlink("/etc/passwd", mount.mountpoint + "/.crypto/LINK") == -1)
        #expect(try probe("listdir", dev).value == "A")
    }

    @Test func namesFromTheServerCannotEscapeOrBreakTheTree() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        // The test server takes any name through its controls; Infisical would refuse these.
        for name in ["..", ".", "../x", "a/b", "x/../../etc", "GOOD"] {
            try server.seedSecret(name, "value of \(name)")
        }
        try server.seedSecret("IN_DOTDOT", "hidden", path: "/../up")  // makes a folder named ".."
        try server.seedSecret("S", "in a folder", path: "/sub")
        try server.control("POST", "/__test__/projects", ["slug": "bad/slug", "members": [server.identityID]])
        try server.control(
            "POST", "/__test__/projects", ["slug": "q", "members": [server.identityID], "environments": ["dev", "bad/env", ".."]])
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"

        // Only names that can be file names, and one "." and ".." (the real ones).
        #expect(try sh("ls -a \"$MNT/p/dev\"", in: mount).stdout == ".\n..\nGOOD\nsub\n")
        #expect(try sh("ls -a \"$MNT\"", in: mount).stdout == ".\n..\n.crypto\n.status\np\nq\n")
        #expect(try sh("ls -a \"$MNT/q\"", in: mount).stdout == ".\n..\ndev\n")
        // ".." is the kernel's: the parent directory, never a secret or a folder of that name.
        var parent = stat()
        var project = stat()
        #expect(stat(dev + "/..", &parent) == 0 && stat(mount.mountpoint + "/p", &project) == 0)
        #expect(parent.st_ino == project.st_ino)
        #expect(try probe("read", dev + "/..").result == "EISDIR")
        // A path through ".." leaves the mount the way the kernel resolves it, not through the daemon.
        #expect(try probe("read", dev + "/../../../etc/passwd").result == "ENOENT")
        #expect(try probe("read", dev + "/a/b").result == "ENOENT")
        #expect(try probe("read", dev + "/GOOD").value == "value of GOOD")
        #expect(try probe("write", dev + "/NEW:NAME", "x").result == "EINVAL")
    }
}
