import Foundation
import Testing

/// A secret's metadata through getfattr and setfattr on a real mount.
@Suite("Extended attributes on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct ExtendedAttributeMountTests {
    func attributes(_ path: String, in mount: Mount) throws -> [String: String] {
        let result = try sh("getfattr -d --absolute-names -m - \"\(path)\"", in: mount)
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: equals)...])
            if value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            values[String(line[..<equals])] = value
        }
        return values
    }

    @Test(arguments: BackendKind.allCases)
    func getfattrShowsTheMetadataAndSetfattrSetsTheComment(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "0"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("printf one > \"$MNT/p/dev/A\" && printf two > \"$MNT/p/dev/A\"", in: mount).status == 0)
        let file = mount.mountpoint + "/p/dev/A"
        var values = try attributes(file, in: mount)
        #expect(values["user.infisical.version"] == "2", "\(values)")
        #expect(values["user.infisical.type"] == "shared")
        #expect(values["user.infisical.updated_at"]?.hasPrefix("20") == true)
        #expect((values["user.infisical.id"] ?? "").count >= 8)
        #expect(values["user.infisical.comment"] == nil)
        #expect(values["user.infisical.stale"] == nil && values["user.infisical.age"] == nil)
        #expect(try sh("setfattr -n user.infisical.comment -v 'rotated by ops' \"$MNT/p/dev/A\"", in: mount).status == 0)
        values = try attributes(file, in: mount)
        #expect(values["user.infisical.comment"] == "rotated by ops")
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "two", "the value is untouched")
        // Read-only attributes, unknown names, other namespaces.
        #expect(try sh("setfattr -n user.infisical.version -v 9 \"$MNT/p/dev/A\"", in: mount).stderr.contains("Operation not permitted"))
        #expect(try sh("getfattr -n user.infisical.nope \"$MNT/p/dev/A\"", in: mount).stderr.contains("No such attribute"))
        #expect(try sh("setfattr -n user.other -v x \"$MNT/p/dev/A\"", in: mount).stderr.contains("Operation not supported"))
        // Kept by the backend: a fresh mount reads it back.
        mount.stop()
        let again = try Mount(scratch: scratch, name: "again", backend: backend)
        defer { again.stop() }
        #expect(try attributes(again.mountpoint + "/p/dev/A", in: again)["user.infisical.comment"] == "rotated by ops")
        #expect(try sh("setfattr -x user.infisical.comment \"$MNT/p/dev/A\"", in: again).status == 0)
        #expect(try attributes(again.mountpoint + "/p/dev/A", in: again)["user.infisical.comment"] == nil)
    }

    @Test func aStaleValueSaysSoAndHowOld() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.infisical, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--cache-ttl", "1"])
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("printf warm > \"$MNT/p/dev/A\" && cat \"$MNT/p/dev/A\" >/dev/null", in: mount).status == 0)
        usleep(2_200_000)
        try backend.server!.control("POST", "/__test__/faults", ["route": "*", "status": 503, "count": 0])
        defer { _ = try? backend.server!.control("DELETE", "/__test__/faults") }
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "warm")
        let values = try attributes(mount.mountpoint + "/p/dev/A", in: mount)
        #expect(values["user.infisical.stale"] == "1", "\(values)")
        #expect(Int(values["user.infisical.age"] ?? "") ?? 0 >= 2)
        #expect(try sh("setfattr -n user.infisical.comment -v x \"$MNT/p/dev/A\"", in: mount).status != 0, "a write needs the backend")
    }

    @Test func aReadOnlyMountRefusesTheComment() throws {
        let scratch = try Scratch()
        let backend = try TestBackend(.local, scratch: scratch)
        let writer = try Mount(scratch: scratch, name: "writer", backend: backend)
        try backend.makeProject("p", in: writer)
        try #require(sh("printf v > \"$MNT/p/dev/A\"", in: writer).status == 0)
        writer.stop()
        let mount = try Mount(scratch: scratch, backend: backend, arguments: ["--read-only"])
        defer { mount.stop() }
        #expect(try attributes(mount.mountpoint + "/p/dev/A", in: mount)["user.infisical.version"] == "1")
        #expect(try sh("setfattr -n user.infisical.comment -v x \"$MNT/p/dev/A\"", in: mount).stderr.contains("Read-only file system"))
    }
}
