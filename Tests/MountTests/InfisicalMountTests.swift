import Foundation
import Glibc
import Testing

/// The python with the official SDKs (scripts/python-venv.sh makes it).
let sdkPython: String = {
    if let python = ProcessInfo.processInfo.environment["INFISICALFS_PYTHON"] { return python }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/python-venv.sh").standardizedFileURL.path
    let result = try? run("/bin/bash", [script], timeout: 600)
    return result?.stdout.split(separator: "\n").last.map(String.init) ?? "python3"
}()

/// What only the Infisical backend has: logins, tokens, server answers,
/// TLS, and the official SDK seeing what the mount wrote.
@Suite("Infisical backend on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct InfisicalMountTests {
    func mountCommand(_ backend: TestBackend, _ mountpoint: String, environment: [String: String]) throws
        -> CommandResult
    {
        var env = ProcessInfo.processInfo.environment
        for variable in env.keys where variable.hasPrefix("INFISICAL_") { env[variable] = nil }
        for (key, value) in environment { env[key] = value }
        return try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", backend.server!.siteURL], environment: env)
    }

    @Test func aLoginThatFailsExitsBeforeMountingWithAReason() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mountpoint = try scratch.folder("mnt")
        let refused = try mountCommand(backend, mountpoint, environment: [
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": backend.clientID,
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "wrong-secret-value",
        ])
        #expect(refused.status == 8)
        #expect(refused.stderr.contains("Invalid credentials"))
        #expect(!refused.stderr.contains("wrong-secret-value"))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(!isMounted(mountpoint))

        let half = try mountCommand(backend, mountpoint, environment: ["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "x"])
        #expect(half.status == 8)
        #expect(half.stderr.contains("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET is missing"))
    }

    @Test func anUnreachableServerFailsWithin15Seconds() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        let started = Date()
        var env = ProcessInfo.processInfo.environment
        env["INFISICAL_ACCESS_TOKEN"] = "token"
        let result = try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", "http://127.0.0.1:9"], environment: env)
        #expect(result.status == 8)
        #expect(result.stderr.contains("cannot connect"))
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(!isMounted(mountpoint))
    }

    @Test func aCredentialsFileMustBeMode0600() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        try backend.makeProject("p", in: nil)
        let path = scratch.path + "/credentials"
        let text = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=\(backend.clientID)\nINFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=\(backend.clientSecret)\n"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        let mountpoint = try scratch.folder("mnt")
        let refused = try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", backend.server!.siteURL, "--credentials-file", path])
        #expect(refused.status == 6)
        #expect(refused.stderr.contains("must be 0600"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let mount = try Mount(scratch: scratch, name: "m2", arguments: ["--backend", "infisical", "--site-url", backend.server!.siteURL, "-o", "credentials_file=\(path)"])
        defer { mount.stop() }
        #expect(try sh("ls \"$MNT\"", in: mount).stdout == "p\n")
    }

    @Test func projectsResolveBySlugAndByID() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let project = try backend.server!.control("POST", "/__test__/projects", ["slug": "web", "members": [backend.identityID]])
        let id = try #require((project as? [String: Any])?["id"] as? String)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try #require(sh("echo v > \"$MNT/web/dev/A\"", in: mount).status == 0)
        #expect(try sh("cat \"$MNT/\(id)/dev/A\"; ls \"$MNT\"", in: mount).stdout == "vweb\n")
        #expect(try sh("stat -c %i \"$MNT/web\" \"$MNT/\(id)\" | uniq | wc -l", in: mount).stdout == "1\n")
    }

    @Test func theOfficialSDKSeesWhatTheMountWroteAndBack() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "0"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        let changes = """
            mkdir "$MNT/p/dev/app" && echo '  from-mount  ' > "$MNT/p/dev/app/DB_URL" &&
            printf 'a\\nb\\n' > "$MNT/p/dev/app/MULTI" && echo old > "$MNT/p/dev/app/RENAMED_FROM" &&
            mv "$MNT/p/dev/app/RENAMED_FROM" "$MNT/p/dev/app/RENAMED_TO" && echo gone > "$MNT/p/dev/GONE" &&
            rm "$MNT/p/dev/GONE" && echo updated > "$MNT/p/dev/app/MULTI2" && echo second >> "$MNT/p/dev/app/MULTI2"
            """
        try #require(sh(changes, in: mount).status == 0)
        // Both official SDKs read what the mount wrote; one writes for the mount to read.
        let sdk = """
            import sys
            from infisical_sdk import InfisicalSDKClient
            from infisical_client import (InfisicalClient, ClientSettings, AuthenticationOptions,
                                          UniversalAuthMethod, ListSecretsOptions)
            host, cid, secret = sys.argv[1], sys.argv[2], sys.argv[3]
            new = InfisicalSDKClient(host=host, cache_ttl=None)
            new.auth.universal_auth.login(client_id=cid, client_secret=secret)
            listed = new.secrets.list_secrets(project_slug="p", environment_slug="dev", secret_path="/app")
            print(sorted((s.secretKey, s.secretValue) for s in listed.secrets))
            root = new.secrets.list_secrets(project_slug="p", environment_slug="dev", secret_path="/")
            print(sorted(s.secretKey for s in root.secrets))
            project_id = new.secrets.get_secret_by_name(secret_name="DB_URL", project_slug="p",
                                                        environment_slug="dev", secret_path="/app").workspace
            old = InfisicalClient(ClientSettings(site_url=host, cache_ttl=0, auth=AuthenticationOptions(
                universal_auth=UniversalAuthMethod(client_id=cid, client_secret=secret))))
            got = old.listSecrets(options=ListSecretsOptions(environment="dev", project_id=project_id, path="/app"))
            print(sorted(s.secret_key for s in got))
            new.secrets.create_secret_by_name(secret_name="FROM_SDK", project_slug="p", environment_slug="dev",
                                              secret_path="/app", secret_value="sdk-value")
            """
        let result = try run(sdkPython, ["-c", sdk, backend.server!.siteURL, backend.clientID, backend.clientSecret])
        #expect(
            result.stdout == """
                [('DB_URL', 'from-mount'), ('MULTI', 'a\\nb\\n'), ('MULTI2', 'updated\\nsecond\\n'), ('RENAMED_TO', 'old')]
                []
                ['DB_URL', 'MULTI', 'MULTI2', 'RENAMED_TO']

                """, "\(result.stderr)")
        #expect(try sh("cat \"$MNT/p/dev/app/FROM_SDK\"", in: mount).stdout == "sdk-value")
    }

    @Test func aPersonalSecretIsReadWhenThereIsNoSharedOne() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let user = try backend.server!.control(
            "POST", "/__test__/identities",
            ["clientId": "user-client", "clientSecret": "user-secret", "actorType": "user", "accessToken": "user-token"])
        let userID = try #require((user as? [String: Any])?["userId"] as? String)
        let userIdentity = try #require((user as? [String: Any])?["identityId"] as? String)
        try backend.server!.control("POST", "/__test__/projects", ["slug": "p", "members": [userIdentity]])
        for (key, value, type) in [("MINE", "personal-value", "personal"), ("BOTH", "shared-value", "shared"), ("BOTH", "personal-override", "personal")] {
            try backend.server!.control("POST", "/__test__/secrets", [
                "projectSlug": "p", "environment": "dev", "secretKey": key, "secretValue": value, "type": type, "userId": userID,
            ])
        }
        let mount = try Mount(
            scratch: scratch, arguments: ["--backend", "infisical", "--site-url", backend.server!.siteURL],
            environment: ["INFISICAL_ACCESS_TOKEN": "user-token"])
        defer { mount.stop() }
        #expect(try sh("cat \"$MNT/p/dev/MINE\"; echo; cat \"$MNT/p/dev/BOTH\"", in: mount).stdout == "personal-value\nshared-value")
    }

    @Test func anExpiredTokenMeansALoginAndTheCallSucceeds() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "0"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo v > \"$MNT/p/dev/A\"", in: mount).status == 0)
        try backend.server!.control("POST", "/__test__/tokens/expire", [:])
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "v")
        let counts = try backend.server!.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        #expect(counts["POST /api/v1/auth/universal-auth/login"] == 2)
    }

    /// Puts a fault on the server; `count` 0 lasts until cleared.
    func fault(_ backend: TestBackend, _ fields: [String: Any]) throws {
        try backend.server!.control("POST", "/__test__/faults", fields)
    }

    @Test func serverAnswersBecomeErrnosWithOneLogLine() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "0"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo secret-value > \"$MNT/p/dev/A\"", in: mount).status == 0)
        let secretRoute = "/api/v3/secrets/raw/{secretName}"

        // Faults last until cleared: the kernel retries a failed lookup once by itself.
        try fault(backend, ["method": "GET", "route": secretRoute, "status": 403, "count": 0, "body": ["reqId": "req-denied1234567", "statusCode": 403, "message": "You are not allowed to readValue on secrets", "error": "PermissionDenied"]])
        let denied = try sh("cat \"$MNT/p/dev/A\"", in: mount)
        #expect(denied.stderr.contains("Permission denied"), "\(denied.stdout) \(denied.stderr) \(mount.log)")
        #expect(mount.log.contains("GET /api/v3/secrets/raw/{secretName} → 403 PermissionDenied"))
        #expect(mount.log.contains("req-denied1234567"))
        try backend.server!.control("DELETE", "/__test__/faults")

        try fault(backend, ["method": "GET", "route": "/api/v3/secrets/raw", "status": 500, "count": 0])
        #expect(try sh("ls \"$MNT/p/dev\"", in: mount).stderr.contains("Input/output error"))
        try backend.server!.control("DELETE", "/__test__/faults")

        try fault(backend, ["method": "PATCH", "route": secretRoute, "status": 422, "count": 0])
        let refused = try sh("printf new > in.txt && cp in.txt \"$MNT/p/dev/A\"", in: mount)
        #expect(refused.stderr.contains("Invalid argument"))
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "secret-value")
        try backend.server!.control("DELETE", "/__test__/faults")

        try fault(backend, ["method": "GET", "route": secretRoute, "status": 429, "headers": ["retry-after": "1"]])
        let started = Date()
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "secret-value")
        #expect(Date().timeIntervalSince(started) >= 0.9)

        #expect(!mount.log.contains("secret-value"))
        #expect(!mount.log.contains(backend.clientSecret))
        #expect(!mount.log.contains("Bearer"))
    }

    @Test func aHungServerIsEIOInBoundedTimeAndCachedValuesAreServed() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "1", "--timeout", "1"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo cached > \"$MNT/p/dev/A\" && ls \"$MNT/p/dev\" >/dev/null", in: mount).status == 0)
        usleep(1_500_000)
        try fault(backend, ["route": "*", "delaySeconds": 30, "count": 0])
        // Each file operation answers within --timeout (1 s); a `cat` is a
        // few of them (lookups, open), so it is bounded by a few seconds.
        var started = Date()
        let stale = try sh("cat \"$MNT/p/dev/A\"", in: mount)
        #expect(stale.stdout == "cached", "\(stale.stderr) \(mount.log)")  // stale but served
        #expect(Date().timeIntervalSince(started) < 4)
        // Nothing cached for prod: a cold read waits for the operation's deadline, then EIO.
        started = Date()
        #expect(try sh("cat \"$MNT/p/prod/NEVER_SEEN\"", in: mount).stderr.contains("Input/output error"))
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(mount.log.contains("deadline") || mount.log.contains("timed out"), "\(mount.log)")
        try backend.server!.control("DELETE", "/__test__/faults")
    }
}

/// A private CA made with the openssl CLI, and a certificate for 127.0.0.1.
struct PrivateCA {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var certificate: String { directory + "/server.pem" }
    var key: String { directory + "/server.key" }

    init(in scratch: Scratch) throws {
        directory = try scratch.folder("ca")
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
            """
        let result = try run("/bin/sh", ["-c", script])
        guard result.status == 0 else { throw MountFailure("openssl: \(result.stderr)") }
    }
}

@Suite("Infisical over TLS with a private CA", .enabled(if: mountTestsEnabled), .serialized)
struct InfisicalTLSTests {
    @Test func thePEMTextOrSSL_CERT_FILEMakeThePrivateCATrusted() throws {
        let scratch = try Scratch()
        let ca = try PrivateCA(in: scratch)
        let server = try InfisicalTestServer(tlsCertificate: ca.certificate, tlsKey: ca.key)
        try server.control("POST", "/__test__/identities", ["clientId": "c", "clientSecret": "s", "accessToken": "static-token"])
        var env = ProcessInfo.processInfo.environment
        for variable in env.keys where variable.hasPrefix("INFISICAL_") || variable == "SSL_CERT_FILE" { env[variable] = nil }
        env["INFISICAL_ACCESS_TOKEN"] = "static-token"

        let mountpoint = try scratch.folder("mnt")
        let untrusted = try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", server.siteURL], environment: env)
        #expect(untrusted.status == 8)
        #expect(untrusted.stderr.contains("TLS"))

        var withPEM = env
        withPEM["INFISICAL_SSL_CERTIFICATE"] = try String(contentsOfFile: ca.caFile, encoding: .utf8)
        #expect(try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", server.siteURL], environment: withPEM).status == 0)
        #expect(isMounted(mountpoint))
        #expect(try run(infisicalfsBinary, ["unmount", mountpoint]).status == 0)

        var withFile = env
        withFile["SSL_CERT_FILE"] = ca.caFile
        #expect(try run(infisicalfsBinary, ["mount", mountpoint, "--site-url", server.siteURL], environment: withFile).status == 0)
        #expect(isMounted(mountpoint))
        #expect(try run(infisicalfsBinary, ["unmount", mountpoint]).status == 0)
    }
}
