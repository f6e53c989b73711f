import Foundation
import Glibc
import Testing

/// What keeps a mount safe against the real Infisical and for every host
/// that shares its identity: a refused login backs off (never tripping
/// Infisical's lockout) while cached values are served; names that cannot
/// be projects cost no call; `mv` onto an existing secret replaces it.
@Suite("Safe against the real Infisical", .enabled(if: mountTestsEnabled), .serialized)
struct InfisicalSafetyTests {
    @Test func aRevokedClientSecretBacksOffKeepsServingCachedValuesAndNeverLocksTheIdentityOut() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("DB_PASSWORD", "hunter2")
        // Values expire after a second, so reads keep needing the server.
        let mount = try server.mount(scratch, arguments: ["--cache-ttl", "1"])
        defer { mount.stop() }
        let secret = mount.mountpoint + "/p/dev/DB_PASSWORD"
        #expect(try probe("read", secret).value == "hunter2")

        // Another host rotates the client secret; this one's token ends.
        try server.control(
            "POST", "/__test__/client-secrets", ["clientId": server.clientID, "clientSecret": "rotated-\(UUID())"])
        try server.control("POST", "/__test__/tokens/expire")
        try server.control("DELETE", "/__test__/requests")
        sleep(2)

        let started = Date()
        var rounds = 0
        while seconds(since: started) < 40 {
            let read = try probe("read", secret)
            #expect(read.result == "ok" && read.value == "hunter2", "round \(rounds): \(read)")
            let write = try probe("write", mount.mountpoint + "/p/dev/NEW_\(rounds)", "x")
            #expect(write.result == "EACCES", "round \(rounds): \(write)")
            #expect(write.seconds < 2)
            rounds += 1
            usleep(100_000)
        }
        let logins = try server.requestCounts()["POST /api/v1/auth/universal-auth/login"] ?? 0
        figure("logins in 40 s of reads and writes with a revoked secret", "\(logins) (\(rounds) rounds)")
        #expect(logins >= 1 && logins <= 2)
        let lockouts = try server.control("GET", "/__test__/lockouts") as? [String: Any]
        let entry = (lockouts?["lockouts"] as? [[String: Any]])?.first { $0["clientId"] as? String == server.clientID }
        #expect(entry?["timesLocked"] as? Int == 0)
        #expect(entry?["locked"] as? Bool == false)

        // /.status says why, and when the next attempt comes.
        let status = try #require(
            try JSONSerialization.jsonObject(with: Data(try probe("read", mount.mountpoint + "/.status").value.utf8))
                as? [String: Any])
        let auth = try #require(status["auth"] as? [String: Any])
        #expect(auth["state"] as? String == "failing")
        #expect((auth["last_failure"] as? String)?.contains("Invalid credentials") == true)
        #expect(auth["next_attempt_at"] is String)
        // One log line per failed login, not one per request.
        let lines = mount.log.split(separator: "\n").filter { $0.contains("Invalid credentials") }
        #expect(lines.count <= logins, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("next attempt in") })
    }

    @Test func aRefusedLoginInTheForegroundHoldsTheExitSoARestartLoopCannotLockTheIdentityOut() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        let mountpoint = try scratch.folder("mnt")
        let logPath = scratch.path + "/refused.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: infisicalfsBinary)
        process.arguments = ["mount", mountpoint, "--foreground", "--backend", "infisical", "--site-url", server.siteURL]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INFISICAL_") }
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"] = server.clientID
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = "stale-secret"
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        sleep(3)
        // Still there: a supervisor that restarts it cannot log in again sooner.
        #expect(process.isRunning)
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("Invalid credentials"), "\(log)")
        #expect(!log.contains("stale-secret"))
        let held = log.firstMatch(of: /waiting (\d+) s before exiting/).flatMap { Int($0.1) } ?? 0
        #expect(held >= 32 && held <= 41, "\(log)")
        #expect(!isMounted(mountpoint))
        // SIGTERM ends the wait at once, with the login's exit code.
        let stopped = Date()
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning && seconds(since: stopped) < 5 { usleep(10_000) }
        #expect(seconds(since: stopped) < 2)
        #expect(process.terminationStatus == 8)
        #expect(try server.requestCounts()["POST /api/v1/auth/universal-auth/login"] == 1)
    }

    @Test func namesThatCannotBeProjectsAreMissingWithoutACall() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        try server.control("DELETE", "/__test__/requests")
        for name in [".Trash-1000", ".Trash", ".git", "MyProj", "my_proj", ".hidden", "a--b", "autorun.inf"] {
            #expect(try probe("stat", mount.mountpoint + "/" + name).result == "ENOENT", "\(name)")
        }
        let counts = try server.requestCounts()
        #expect(counts.keys.filter { $0.contains("/api/v1/projects") }.isEmpty, "\(counts)")
        // A valid slug that is no project is asked for once, then remembered as missing.
        #expect(try probe("stat", mount.mountpoint + "/nope").result == "ENOENT")
        let asked = try server.requestCounts().filter { $0.key.contains("/api/v1/projects/") }.values.reduce(0, +)
        #expect(asked >= 1)
        #expect(try probe("stat", mount.mountpoint + "/nope").result == "ENOENT")
        #expect(try server.requestCounts().filter { $0.key.contains("/api/v1/projects/") }.values.reduce(0, +) == asked)
    }

    @Test(arguments: BackendKind.allCases)
    func mvOntoAnExistingSecretReplacesIt(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        // Infisical servers word a taken name two ways: "Secret already
        // exists" (the newest) and "Secret already exist" (older ones).
        let projects = kind == .infisical ? ["p", "older"] : ["p"]
        if kind == .infisical { for project in projects { try backend.makeProject(project, in: nil) } }
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        if kind == .local { try backend.makeProject("p", in: mount) }
        for project in projects {
            if project == "older" { try backend.server!.control("POST", "/__test__/options", ["legacyExistMessages": true]) }
            let env = "\"$MNT/\(project)/dev\""
            // Both written through the mount just before, as a new user would.
            let same = try sh("cd \(env) && printf aaa > A && printf bbb > B && mv -f A B && cat B && ls", in: mount)
            #expect(same.status == 0, "\(project): \(same.stderr)")
            #expect(same.stdout == "aaaB\n", "\(project)")
            // Across folders of one environment, onto a secret of the same name.
            let across = try sh(
                "cd \(env) && mkdir f1 f2 && printf one > f1/S && printf two > f2/S && mv -f f1/S f2/S"
                    + " && cat f2/S && ls f1 f2", in: mount)
            #expect(across.status == 0, "\(project): \(across.stderr)")
            #expect(across.stdout == "onef1:\n\nf2:\nS\n", "\(project)")
            // Onto a free name in another folder, then renamed within it.
            let free = try sh(
                "cd \(env) && printf three > T && mv T f1/T && mv f1/T f1/U && cat f1/U && ls f1 && ls | grep -c '^T$'",
                in: mount)
            #expect(free.stdout == "threeU\n0\n", "\(project): \(free.stderr)")
        }
    }

    // MARK: Projects of other products

    @Test(arguments: [false, true])
    func onlySecretManagerProjectsAreShown(olderServer: Bool) throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        for (slug, type) in [("keys", "kms"), ("certs", "cert-manager")] {
            try server.control("POST", "/__test__/projects", ["slug": slug, "type": type, "members": [server.identityID]])
        }
        // An older server ignores ?type=: the answer's type field still tells.
        if olderServer { try server.control("POST", "/__test__/options", ["ignoreProjectTypeQuery": true]) }
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        #expect(try sh("ls \"$MNT\"", in: mount).stdout == "p\n")
        #expect(try probe("stat", mount.mountpoint + "/keys").result == "ENOENT")
        #expect(try probe("stat", mount.mountpoint + "/certs").result == "ENOENT")
        #expect(try probe("listdir", mount.mountpoint + "/p").value == "dev,prod,staging")
    }

    // MARK: Moves between folders

    @Test(arguments: [true, false])
    func aMoveBetweenFoldersKeepsCommentAndTags(serverHasMoveRoute: Bool) throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        if !serverHasMoveRoute { try server.control("POST", "/__test__/options", ["moveRoute": false]) }
        try server.control("POST", "/__test__/secrets", [
            "projectSlug": "p", "secretPath": "/a", "secretKey": "K", "secretValue": "v", "secretComment": "why",
            "tags": ["prod-db"],
        ])
        try server.control("POST", "/__test__/secrets", ["projectSlug": "p", "secretPath": "/b", "secretKey": "OTHER"])
        let mount = try server.mount(scratch)
        defer { mount.stop() }
        try server.control("DELETE", "/__test__/requests")
        let moved = try sh("cd \"$MNT/p/dev\" && mv a/K b/K && cat b/K && ls a b", in: mount)
        #expect(moved.status == 0, "\(moved.stderr) \(mount.log)")
        #expect(moved.stdout == "va:\n\nb:\nK\nOTHER\n")
        let counts = try server.requestCounts()
        #expect(counts["POST /api/v4/secrets/move"] == 1)
        // One call when the server has the route: nothing created or deleted by name.
        #expect((counts["POST /api/v3/secrets/raw/{secretName}"] ?? 0) == (serverHasMoveRoute ? 0 : 1))
        #expect((counts["DELETE /api/v3/secrets/raw/{secretName}"] ?? 0) == (serverHasMoveRoute ? 0 : 1))
        let attributes = try sh("getfattr -d --absolute-names -m - \"$MNT/p/dev/b/K\"", in: mount).stdout
        #expect(attributes.contains("user.infisical.comment=\"why\""), "\(attributes)")
        #expect(attributes.contains("user.infisical.tags=\"prod-db\""), "\(attributes)")
        #expect(try server.stored("K", path: "/a") == nil)
        #expect(try server.stored("K", path: "/b")?.value == "v")
    }

    // MARK: OIDC and JWT auth

    /// A JWT the test server can decode (it checks the token it was given, not a signature).
    private func jwt(_ subject: String) -> String {
        func part(_ json: String) -> String {
            Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return part(#"{"alg":"RS256","typ":"JWT"}"#) + "." + part(#"{"sub":"\#(subject)","exp":4102444800}"#) + ".c2ln"
    }

    @Test(arguments: ["oidc-auth", "jwt-auth"])
    func aFederatedLoginRereadsItsRotatedJWTFile(method: String) throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("API_KEY", "k-1")
        try server.control("POST", "/__test__/\(method)", ["identityId": server.identityID, "token": jwt("first")])
        let tokenFile = scratch.path + "/jwt"
        try (jwt("first") + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let identityVariable = method == "oidc-auth" ? "INFISICAL_OIDC_AUTH_IDENTITY_ID" : "INFISICAL_MACHINE_IDENTITY_ID"
        var environment = [identityVariable: server.identityID, "INFISICAL_JWT_PATH": tokenFile]
        if method == "jwt-auth" { environment["INFISICAL_AUTH_METHOD"] = "jwt-auth" }
        let mount = try Mount(
            scratch: scratch,
            arguments: ["--backend", "infisical", "--site-url", server.siteURL, "--cache-ttl", "1"],
            environment: environment)
        defer { mount.stop() }
        let secret = mount.mountpoint + "/p/dev/API_KEY"
        #expect(try probe("read", secret).value == "k-1", "\(mount.log)")
        #expect(mount.log.contains(method == "oidc-auth" ? "OIDC auth" : "JWT auth"))

        // The provider issues a new token (the file is replaced), the old one stops working.
        try server.control("POST", "/__test__/\(method)", ["identityId": server.identityID, "token": jwt("second")])
        try jwt("second").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try server.control("POST", "/__test__/tokens/expire")
        try server.seedSecret("API_KEY", "k-2")
        sleep(2)
        #expect(try probe("read", secret).value == "k-2")
        #expect(!mount.log.contains(jwt("second")) && !mount.log.contains(jwt("first")))
    }
}
