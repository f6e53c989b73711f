import Foundation
import Glibc
import Testing

/// `-o expand_references` and `-o include_imports` against the Infisical
/// test server: what `cat` and `ls` show with and without them, that a
/// folder listing and a get by name agree, and that such mounts refuse writes.
@Suite("References and imports on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct ReferenceTests {
    /// Project `p`: in dev `/`, `A=${B}`, `B=x`, `CROSS=${prod.common.SHARED_URL}`,
    /// `CLASH=own`; in prod `/common`, `SHARED_URL`, `CLASH` and `ORDER`; in
    /// staging `/`, `ORDER`. dev `/` imports prod `/common`, then staging `/`.
    func seededBackend(_ scratch: Scratch) throws -> TestBackend {
        let backend = try TestBackend(.infisical, scratch: scratch)
        let server = backend.server!
        try backend.makeProject("p", in: nil)
        for (environment, path, key, value) in [
            ("dev", "/", "A", "${B}"), ("dev", "/", "B", "x"), ("dev", "/", "CROSS", "${prod.common.SHARED_URL}"),
            ("dev", "/", "CLASH", "own"), ("prod", "/common", "SHARED_URL", "https://db"),
            ("prod", "/common", "CLASH", "imported"), ("prod", "/common", "ORDER", "first-import"),
            ("staging", "/", "ORDER", "last-import"),
        ] {
            try server.control(
                "POST", "/__test__/secrets",
                [
                    "projectSlug": "p", "environment": environment, "secretPath": path, "secretKey": key,
                    "secretValue": value,
                ])
        }
        for (environment, path) in [("prod", "/common"), ("staging", "/")] {
            try server.control(
                "POST", "/__test__/imports",
                [
                    "projectSlug": "p", "environment": "dev", "secretPath": "/", "importEnvironment": environment,
                    "importPath": path,
                ])
        }
        return backend
    }

    /// The server's log of secret reads (list and get): route and query.
    func secretReads(_ backend: TestBackend) throws -> [(route: String, query: [String: String])] {
        let log = try backend.server!.control("GET", "/__test__/requests/log") as? [String: Any]
        let requests = log?["requests"] as? [[String: Any]] ?? []
        return requests.compactMap { request in
            guard request["method"] as? String == "GET", let route = request["route"] as? String,
                route.hasPrefix("/api/v3/secrets/raw")
            else { return nil }
            return (route, request["query"] as? [String: String] ?? [:])
        }
    }

    /// `NAME=value` for each name, read with `cat` alone (each a lookup and a
    /// get by name: the cache is off) or after an `ls -l` of the folder
    /// (answered by its listing), with the sizes `stat` reports.
    func readings(_ names: [String], of backend: TestBackend, scratch: Scratch, options: [String], listFirst: Bool)
        throws -> String
    {
        let name = "m\(UUID().uuidString.prefix(6))"
        let mount = try Mount(
            scratch: scratch, name: name, backend: backend,
            arguments: options + (listFirst ? [] : ["--cache-ttl", "0"]))
        defer { mount.stop() }
        try backend.server!.control("DELETE", "/__test__/requests")
        let script = """
            \(listFirst ? "ls -l \"$MNT/p/dev\" >/dev/null" : ":")
            for name in \(names.joined(separator: " ")); do
                value=$(cat "$MNT/p/dev/$name" 2>&1 | sed 's/.*: //')
                size=$(stat -c %s "$MNT/p/dev/$name" 2>/dev/null || echo -)
                echo "$name=$value $size"
            done
            """
        let result = try sh(script, in: mount).stdout
        let routes = Set(try secretReads(backend).map(\.route))
        #expect(routes.contains(listFirst ? "/api/v3/secrets/raw" : "/api/v3/secrets/raw/{secretName}"), "\(routes)")
        return result
    }

    static let names = ["A", "B", "CROSS", "CLASH", "SHARED_URL", "ORDER"]

    @Test func withoutTheOptionsFilesShowStoredValuesAndNoImports() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let expected = """
            A=${B} 4
            B=x 1
            CROSS=${prod.common.SHARED_URL} 25
            CLASH=own 3
            SHARED_URL=No such file or directory -
            ORDER=No such file or directory -

            """
        for listFirst in [true, false] {
            let read = try readings(Self.names, of: backend, scratch: scratch, options: [], listFirst: listFirst)
            #expect(read == expected)
        }
        for read in try secretReads(backend) {
            #expect(read.query["expandSecretReferences"] == "false" && read.query["include_imports"] == "false")
        }
    }

    @Test func expandReferencesShowsTheExpansionThroughListAndGetAlike() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let expected = """
            A=x 1
            B=x 1
            CROSS=https://db 10
            CLASH=own 3
            SHARED_URL=No such file or directory -
            ORDER=No such file or directory -

            """
        for (options, listFirst) in [(["-o", "expand_references"], true), (["--expand-references"], false)] {
            let read = try readings(Self.names, of: backend, scratch: scratch, options: options, listFirst: listFirst)
            #expect(read == expected)
            for read in try secretReads(backend) {
                #expect(read.query["expandSecretReferences"] == "true" && read.query["include_imports"] == "false")
            }
        }
    }

    /// An imported name shows in `ls` and reads with `cat`; the folder's own
    /// secret wins over an imported one, and the last import over an earlier one.
    @Test func includeImportsShowsImportedSecretsThroughListAndGetAlike() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let expected = """
            A=${B} 4
            B=x 1
            CROSS=${prod.common.SHARED_URL} 25
            CLASH=own 3
            SHARED_URL=https://db 10
            ORDER=last-import 11

            """
        for (options, listFirst) in [(["-o", "include_imports"], true), (["--include-imports"], false)] {
            let read = try readings(Self.names, of: backend, scratch: scratch, options: options, listFirst: listFirst)
            #expect(read == expected)
            for read in try secretReads(backend) {
                #expect(read.query["expandSecretReferences"] == "false" && read.query["include_imports"] == "true")
            }
        }
        let mount = try Mount(scratch: scratch, name: "ls", backend: backend, arguments: ["-o", "include_imports"])
        defer { mount.stop() }
        #expect(try sh("ls \"$MNT/p/dev\" | tr '\\n' ' '", in: mount).stdout == "A B CLASH CROSS ORDER SHARED_URL ")
    }

    @Test func bothTogetherExpandImportedValuesToo() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        try backend.server!.control(
            "POST", "/__test__/secrets",
            [
                "projectSlug": "p", "environment": "prod", "secretPath": "/common", "secretKey": "DB",
                "secretValue": "${SHARED_URL}/app",
            ])
        for listFirst in [true, false] {
            let options = ["-o", "expand_references,include_imports"]
            #expect(
                try readings(["A", "DB"], of: backend, scratch: scratch, options: options, listFirst: listFirst)
                    == "A=x 1\nDB=https://db/app 14\n")
        }
    }

    /// A file showing an expansion, written back, would replace the reference;
    /// an imported secret is not in the folder: these mounts are read-only.
    @Test(arguments: [["-o", "expand_references"], ["--include-imports"]])
    func writesAreRefusedAsOnAReadOnlyMount(options: [String]) throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: options)
        defer { mount.stop() }
        try backend.server!.control("DELETE", "/__test__/requests")
        for script in [
            "echo y > \"$MNT/p/dev/A\"", "echo v > \"$MNT/p/dev/NEW\"", "rm \"$MNT/p/dev/B\"",
            "mkdir \"$MNT/p/dev/folder\"", "mv \"$MNT/p/dev/B\" \"$MNT/p/dev/C\"", "truncate -s 0 \"$MNT/p/dev/B\"",
            "echo v > \"$MNT/p/dev/SHARED_URL\"",
        ] {
            #expect(try sh(script, in: mount).stderr.contains("Read-only file system"), "\(script)")
        }
        #expect(try sh("stat -c %a \"$MNT/p/dev/A\" \"$MNT/p/dev\"", in: mount).stdout == "400\n500\n")
        let counts = try backend.server!.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        #expect(counts.keys.allSatisfy { $0.hasPrefix("GET ") }, "\(counts)")
        #expect(mount.log.contains("mounting read-only"))
        let status = try sh("cat \"$MNT/.status\"", in: mount).stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect((report["mount"] as? [String: Any])?["read_only"] as? Bool == true)
        #expect(report["expand_references"] as? Bool == options.contains { $0.contains("expand") })
        #expect(report["include_imports"] as? Bool == options.contains { $0.contains("import") })
        // The stored reference is untouched.
        let plain = try Mount(scratch: scratch, name: "plain", backend: backend)
        defer { plain.stop() }
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: plain).stdout == "${B}")
    }

    /// `B` changes to a value of the same length elsewhere: `A=${B}` keeps its
    /// own version, yet its expansion shows the new value once the cache
    /// lifetime has passed, through `cat` and through `ls`, not the kernel's
    /// pages of the old expansion.
    func setB(_ value: String, in backend: TestBackend) throws {
        try backend.server!.control(
            "POST", "/__test__/secrets",
            ["projectSlug": "p", "environment": "dev", "secretKey": "B", "secretValue": value])
    }

    @Test func aChangedReferenceShowsInTheExpansionAfterTheCacheLifetime() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let mount = try Mount(
            scratch: scratch, backend: backend, arguments: ["-o", "expand_references", "--cache-ttl", "1"])
        defer { mount.stop() }
        #expect(try sh("cat \"$MNT/p/dev/A\"; cat \"$MNT/p/dev/A\"", in: mount).stdout == "xx")
        try setB("y", in: backend)
        usleep(1_500_000)
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "y")
        try setB("z", in: backend)
        usleep(1_500_000)
        #expect(try sh("ls -l \"$MNT/p/dev\" >/dev/null; cat \"$MNT/p/dev/A\"", in: mount).stdout == "z")
    }

    /// Infisical refuses a whole listing (403 "Failed to expand one or more
    /// secret references") when one value in it references a secret the
    /// identity may not read, and a get of that value likewise.
    @Test func aReferenceTheIdentityMayNotReadMakesTheFolderUnreadableWithExpansion() throws {
        let scratch = try Scratch()
        let backend = try seededBackend(scratch)
        let server = backend.server!
        for (environment, path, key, value) in [
            ("prod", "/vault", "K", "top-secret"), ("dev", "/app", "R", "${prod.vault.K}"), ("dev", "/app", "PLAIN", "p"),
        ] {
            try server.control(
                "POST", "/__test__/secrets",
                ["projectSlug": "p", "environment": environment, "secretPath": path, "secretKey": key, "secretValue": value])
        }
        try server.control(
            "POST", "/__test__/permissions",
            ["identityId": backend.identityID, "projectSlug": "p", "environment": "prod", "secretPath": "/vault", "deny": ["read"]])

        let expanding = try Mount(
            scratch: scratch, name: "expanding", backend: backend, arguments: ["-o", "expand_references"])
        defer { expanding.stop() }
        let app = expanding.mountpoint + "/p/dev/app"
        #expect(try probe("listdir", app).result == "EACCES")
        #expect(try probe("read", app + "/PLAIN").result == "EACCES")
        #expect(try probe("read", app + "/R").result == "EACCES")
        // The reason names the reference; the value never shows.
        #expect(expanding.log.contains("Failed to expand one or more secret references"), "\(expanding.log)")
        #expect(expanding.log.contains("'K'"), "\(expanding.log)")
        #expect(!expanding.log.contains("top-secret"))
        // Other folders are not affected.
        #expect(try probe("read", expanding.mountpoint + "/p/dev/B").value == "x")

        // Without expansion the reference reads as stored.
        let plain = try Mount(scratch: scratch, name: "plain", backend: backend)
        defer { plain.stop() }
        #expect(try probe("read", plain.mountpoint + "/p/dev/app/R").value == "${prod.vault.K}")
        #expect(try probe("read", plain.mountpoint + "/p/dev/app/PLAIN").value == "p")
    }

    @Test func theLocalStoreRefusesThemWithAUsageError() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        for options in [["--expand-references"], ["-o", "include_imports"]] {
            let result = try run(
                infisicalfsBinary,
                ["mount", mountpoint, "--backend", "local", "--local-store", scratch.path + "/s.db"] + options)
            #expect(result.status == 2)
            #expect(result.stderr.contains("needs the Infisical backend"), "\(result.stderr)")
            #expect(!isMounted(mountpoint))
        }
    }
}
