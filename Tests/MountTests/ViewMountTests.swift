import Foundation
import Testing

/// The `.env`, `.json` and `.yaml` views read back by the parsers programs use.
@Suite("Folder views on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct ViewMountTests {
    static let values: [(String, String)] = [
        ("PLAIN", "abc-1.2_x"), ("MULTI", "line 1\nline 2\n"), ("QUOTES", #"it's "quoted" \ back"#),
        ("DOLLAR", "$HOME ${PATH} $(id)"), ("HASH", "a #not a comment"), ("UNICODE", "üñí €😀"),
        ("EMPTY", ""), ("SPACE NAME", "x y"),
    ]

    @Test(arguments: BackendKind.allCases)
    func dotenvJqAndYAMLReadBackExactlyTheStoredValues(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        for (name, value) in Self.values {
            let path = mount.mountpoint + "/p/dev/" + name
            try #require(FileManager.default.createFile(atPath: path, contents: Data(value.utf8)) || FileManager.default.fileExists(atPath: path))
        }
        let expected = try #require(String(data: try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: Self.values), options: [.sortedKeys]), encoding: .utf8))
        let python = try venvPython()
        let check = """
            import json, sys, yaml
            from dotenv import dotenv_values
            folder = sys.argv[1]
            expected = json.loads(sys.argv[2])
            # Literal values: python-dotenv expands ${NAME} in every value unless told not to.
            dotenv = dict(dotenv_values(folder + "/.env", interpolate=False))
            data = json.load(open(folder + "/.json"))
            doc = yaml.safe_load(open(folder + "/.yaml"))
            for name, got in (("env", dotenv), ("json", data), ("yaml", doc)):
                if got != expected:
                    print(name, {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}, sorted(set(got) - set(expected)))
                    sys.exit(1)
            print("ok")
            """
        let result = try run(python, ["-c", check, mount.mountpoint + "/p/dev", expected])
        #expect(result.stdout == "ok\n", "\(result.stdout) \(result.stderr)")
        let jq = try sh("jq -r '.MULTI' \"$MNT/p/dev/.json\"", in: mount)
        #expect(jq.stdout == "line 1\nline 2\n\n")
        // stat shows the size a read gives.
        #expect(try sh("for v in .env .json .yaml; do f=\"$MNT/p/dev/$v\"; [ \"$(stat -c %s \"$f\")\" = \"$(wc -c < \"$f\")\" ] || echo \"$v differs\"; done", in: mount).stdout == "")
        #expect(try sh("stat -c %a \"$MNT/p/dev/.env\"; echo x > \"$MNT/p/dev/.env\"", in: mount).stdout == "400\n")
    }

    @Test func aReadOnlyMountsViewsFollowChangesMadeElsewhere() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.local, scratch: scratch)
        let writer = try Mount(scratch: scratch, name: "writer", backend: backend, arguments: ["--cache-ttl", "0"])
        defer { writer.stop() }
        let reader = try Mount(scratch: scratch, name: "reader", backend: backend, arguments: ["--read-only", "--cache-ttl", "1"])
        defer { reader.stop() }
        try backend.makeProject("p", in: writer)
        try #require(sh("printf one > \"$MNT/p/dev/A\"", in: writer).status == 0)
        #expect(try sh("cat \"$MNT/p/dev/.env\"", in: reader).stdout == "A=one\n")
        try #require(sh("printf two > \"$MNT/p/dev/A\"", in: writer).status == 0)
        usleep(1_500_000)
        // Same size, so only the rendering tells: the kernel's pages were dropped.
        #expect(try sh("cat \"$MNT/p/dev/.env\"", in: reader).stdout == "A=two\n")
    }

    func venvPython() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path
        let result = try run("/bin/bash", [root + "/scripts/python-venv.sh"])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(result.stdout.split(separator: "\n").last.map(String.init))
    }
}
