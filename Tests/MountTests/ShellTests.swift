import Foundation
import Glibc
import Testing

/// SPEC.md's shell examples on a real mount, once per backend: the local
/// store, and the Infisical backend against the Infisical test server.
@Suite("Shell on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct ShellTests {
    @Test(arguments: BackendKind.allCases)
    func projectsEnvironmentsAndSecretsAsFiles(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        // Infisical's projects exist before the mount lists them (the root
        // listing is cached for cache_ttl like any other); the local store
        // makes its project through the mount.
        if kind == .infisical { try backend.makeProject("demo", in: nil) }
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        if kind == .local { try backend.makeProject("demo", in: mount) }
        #expect(try sh("ls \"$MNT\"", in: mount).stdout == "demo\n")
        #expect(try sh("ls \"$MNT/demo\"", in: mount).stdout == "dev\nprod\nstaging\n")

        let written = try sh("echo hunter2 > \"$MNT/demo/dev/DB_PASSWORD\" && cat \"$MNT/demo/dev/DB_PASSWORD\"", in: mount)
        #expect(written.status == 0)
        #expect(written.stdout == "hunter2")  // the echo newline is gone, no newline added

        let listing = try sh("ls -l \"$MNT/demo/dev\" | awk 'NR>1 {print $1, $5, $NF}'", in: mount)
        #expect(listing.stdout == "-rw------- 7 DB_PASSWORD\n")
        let status = try sh("stat -c '%a %s %u' \"$MNT/demo/dev/DB_PASSWORD\"; stat -c '%a' \"$MNT/demo/dev\"", in: mount)
        #expect(status.stdout == "600 7 \(getuid())\n700\n")
    }

    @Test(arguments: BackendKind.allCases)
    func multiLineValuesAppendAndOverwrite(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)

        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"
        #expect(try sh("printf '%s' '\(pem)' > \"$MNT/p/dev/TLS_KEY\"", in: mount).status == 0)
        #expect(try sh("cat \"$MNT/p/dev/TLS_KEY\"", in: mount).stdout == pem)

        #expect(try sh("echo first > \"$MNT/p/dev/LIST\"; echo second >> \"$MNT/p/dev/LIST\"", in: mount).status == 0)
        #expect(try sh("cat \"$MNT/p/dev/LIST\"", in: mount).stdout == "first\nsecond\n")

        #expect(try sh("printf '  spaced  ' > \"$MNT/p/dev/S\"; cat \"$MNT/p/dev/S\"", in: mount).stdout == "spaced")
        #expect(try sh("stat -c %s \"$MNT/p/dev/S\"", in: mount).stdout == "6\n")

        #expect(try sh("echo new > \"$MNT/p/dev/LIST\"; cat \"$MNT/p/dev/LIST\"", in: mount).stdout == "new")
        #expect(try sh("cp \"$MNT/p/dev/LIST\" \"$MNT/p/dev/COPY\"; cat \"$MNT/p/dev/COPY\"", in: mount).stdout == "new")
        #expect(try sh("truncate -s 2 \"$MNT/p/dev/COPY\"; cat \"$MNT/p/dev/COPY\"", in: mount).stdout == "ne")
    }

    @Test(arguments: BackendKind.allCases)
    func foldersRemovalAndRenames(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("cd \"$MNT/p/dev\" && mkdir db && echo pw > db/PASSWORD", in: mount).status == 0)

        let refused = try sh("rmdir \"$MNT/p/dev/db\"", in: mount)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Directory not empty"))
        #expect(try sh("cat \"$MNT/p/dev/db/PASSWORD\"", in: mount).stdout == "pw")

        #expect(try sh("mv \"$MNT/p/dev/db/PASSWORD\" \"$MNT/p/dev/DB_PASS\"", in: mount).status == 0)
        #expect(try sh("ls \"$MNT/p/dev\"; cat \"$MNT/p/dev/DB_PASS\"", in: mount).stdout == "DB_PASS\ndb\npw")
        #expect(try sh("rmdir \"$MNT/p/dev/db\" && ls \"$MNT/p/dev\"", in: mount).stdout == "DB_PASS\n")

        // Across environments rename(2) is EXDEV, and mv copies then deletes.
        #expect(try sh("mv \"$MNT/p/dev/DB_PASS\" \"$MNT/p/prod/DB_PASS\"", in: mount).status == 0)
        #expect(try sh("cat \"$MNT/p/prod/DB_PASS\"; ls \"$MNT/p/dev\"", in: mount).stdout == "pw")

        #expect(try sh("rm \"$MNT/p/prod/DB_PASS\" && ls \"$MNT/p/prod\"", in: mount).stdout == "")
        #expect(try sh("cat \"$MNT/p/prod/DB_PASS\"", in: mount).stderr.contains("No such file or directory"))

        #expect(try sh("mkdir \"$MNT/p/dev/a\" && mv \"$MNT/p/dev/a\" \"$MNT/p/dev/b\" && ls \"$MNT/p/dev\"", in: mount).stdout == "b\n")
        if kind == .local {
            #expect(try sh("mkdir \"$MNT/p/qa\" && ls \"$MNT/p\" && rmdir \"$MNT/p/qa\" && ls \"$MNT/p\"", in: mount).stdout
                == "dev\nprod\nqa\nstaging\ndev\nprod\nstaging\n")
        } else {
            // Projects and environments are Infisical's to make.
            #expect(try sh("mkdir \"$MNT/p/qa\"", in: mount).stderr.contains("Operation not permitted"))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func badNamesAndValuesGetAClearErrnoAndChangeNothing(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo old > \"$MNT/p/dev/A\"", in: mount).status == 0)

        #expect(try sh("echo v > \"$MNT/p/dev/A:B\"", in: mount).stderr.contains("Invalid argument"))
        let long = String(repeating: "N", count: 256)
        #expect(try sh("echo v > \"$MNT/p/dev/\(long)\"", in: mount).stderr.contains("File name too long"))
        #expect(try sh("mkdir \"$MNT/p/dev/a.b\"", in: mount).stderr.contains("Invalid argument"))
        #expect(try sh("mkdir \"$MNT/Bad_Project\"", in: mount).stderr.contains("Invalid argument"))

        // dash ignores close(2) errors of a redirection; cp reports them.
        let notUTF8 = try sh("printf '\\377\\376' > bad.bin; cp bad.bin \"$MNT/p/dev/A\"", in: mount)
        #expect(notUTF8.status != 0)
        #expect(notUTF8.stderr.contains("Invalid or incomplete multibyte or wide character"))

        let tooBig = try sh("head -c 600000 /dev/zero | tr '\\0' x > \"$MNT/p/dev/A\"", in: mount)
        #expect(tooBig.status != 0)
        #expect(tooBig.stderr.contains("File too large"))

        #expect(try sh("ls \"$MNT/p/dev\"; cat \"$MNT/p/dev/A\"", in: mount).stdout == "A\nold")
        #expect(mount.log.contains("refused"))
    }

    @Test(arguments: BackendKind.allCases)
    func readOnlyMountRefusesEveryChange(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        do {
            let writer = try Mount(scratch: scratch, backend: backend)
            try backend.makeProject("p", in: writer)
            try #require(sh("echo v > \"$MNT/p/dev/A\"", in: writer).status == 0)
            writer.stop()
        }
        let mount = try Mount(scratch: scratch, name: "ro", backend: backend, arguments: ["--read-only"])
        defer { mount.stop() }
        #expect(try sh("cat \"$MNT/p/dev/A\"; stat -c %a \"$MNT/p/dev/A\" \"$MNT/p/dev\"", in: mount).stdout == "v400\n500\n")
        for script in ["echo x > \"$MNT/p/dev/A\"", "echo x > \"$MNT/p/dev/B\"", "rm \"$MNT/p/dev/A\"", "mkdir \"$MNT/p/dev/f\"",
                       "mv \"$MNT/p/dev/A\" \"$MNT/p/dev/C\""] {
            #expect(try sh(script, in: mount).stderr.contains("Read-only file system"), "\(script)")
        }
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "v")
    }

    @Test(arguments: BackendKind.allCases)
    func twoMountsOfOneStoreSeeEachOtherWithinTheCacheLifetime(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let first = try Mount(scratch: scratch, name: "one", backend: backend, arguments: ["--cache-ttl", "1"])
        defer { first.stop() }
        let second = try Mount(scratch: scratch, name: "two", backend: backend, arguments: ["--cache-ttl", "1"])
        defer { second.stop() }
        try backend.makeProject("p", in: first)
        try #require(sh("echo one > \"$MNT/p/dev/A\"", in: first).status == 0)
        usleep(2_500_000)
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: second).stdout == "one")
        try #require(sh("echo two > \"$MNT/p/dev/A\"", in: second).status == 0)
        usleep(2_500_000)
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: first).stdout == "two")
    }
}
