import Foundation
import Testing

/// Real editors and tools saving a secret on a real mount: the value is
/// right, the backend saw exactly one update, and no scratch file (swap,
/// backup, temporary file) became a secret.
@Suite("Editors and tools on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct EditorMountTests {
    /// Each save, as a shell command run in the mount's parent with F the file.
    static let saves: [(String, String)] = [
        ("vim, default settings", "HOME=\"$PWD\" vim -u DEFAULTS -i NONE -N -es -c '%s/old/new/' -c wq \"$F\""),
        ("vim, backupcopy=no", "HOME=\"$PWD\" vim -u DEFAULTS -i NONE -N -es -c 'set backupcopy=no backup' -c '%s/old/new/' -c wq \"$F\""),
        // ^D ^D ^D deletes "old", then "new", ^O Enter writes, ^X quits (nano adds a newline, dropped as echo's).
        ("nano", """
            (sleep 0.5; printf '\\004\\004\\004new'; sleep 0.3; printf '\\017'; sleep 0.3; printf '\\r'; sleep 0.3; printf '\\030'; sleep 0.3) \
            | TERM=xterm script -qfc "nano --ignorercfiles \\"$F\\"" /dev/null >/dev/null
            """),
        ("sed -i", "sed -i 's/old/new/' \"$F\""),
        ("cp", "printf new > src && cp src \"$F\""),
        ("mv of a temporary file", "printf new > \"$F.tmp\" && mv \"$F.tmp\" \"$F\""),
        ("an editor moving the original aside", "mv \"$F\" \"$F~\" && printf new > \"$F\" && rm \"$F~\""),
    ]

    static let cases: [(String, BackendKind)] = saves.flatMap { save in BackendKind.allCases.map { (save.0, $0) } }

    @Test(arguments: cases)
    func aSaveIsOneUpdateAndLeavesNoStrayFile(save: String, kind: BackendKind) throws {
        let command = try #require(Self.saves.first { $0.0 == save }?.1)
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("printf old > \"$MNT/p/dev/A\"", in: mount).status == 0)
        try backend.server?.control("DELETE", "/__test__/requests")
        let result = try sh("F=\"$MNT/p/dev/A\"; \(command)", in: mount)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "new")
        #expect(try sh("ls -A \"$MNT/p/dev\"", in: mount).stdout == "A\n")
        if let server = backend.server {
            let counts = try server.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
            let changes = counts.filter { !$0.key.hasPrefix("GET ") }
            #expect(changes == ["PATCH /api/v3/secrets/raw/{secretName}": 1], "\(counts)")
        }
        // A fresh mount (no memory of this one) sees the value and nothing else.
        mount.stop()
        let again = try Mount(scratch: scratch, name: "again", backend: backend)
        defer { again.stop() }
        #expect(try sh("ls -A \"$MNT/p/dev\"; cat \"$MNT/p/dev/A\"", in: again).stdout == "A\nnew")
    }

    @Test func installReplacesTheSecretWithDeleteAndCreate() throws {
        // install(1) unlinks the target first: two calls, the right value.
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("printf old > \"$MNT/p/dev/A\"", in: mount).status == 0)
        try backend.server!.control("DELETE", "/__test__/requests")
        #expect(try sh("printf new > src && install -m 600 src \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\"", in: mount).stdout == "new")
        let counts = try backend.server!.control("GET", "/__test__/requests") as? [String: Int] ?? [:]
        #expect(counts["PATCH /api/v3/secrets/raw/{secretName}"] == nil, "\(counts)")
        #expect(counts["DELETE /api/v3/secrets/raw/{secretName}"] == 1, "\(counts)")
        #expect(counts["POST /api/v3/secrets/raw/{secretName}"] == 1, "\(counts)")
    }
}
