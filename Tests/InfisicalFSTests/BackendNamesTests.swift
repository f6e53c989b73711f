import Foundation
import FuseKit
import InfisicalFS
import Logging
import SecretsCore
import Testing

/// A backend that answers names no directory entry may have, and names
/// twice, as a server could (found by fuzzing the API's answers).
private final class OddNamesBackend: SecretBackend {
    let capabilities = BackendCapabilities(managesProjects: false)
    private let demo = Project(
        id: "p1", slug: "demo", name: "Demo",
        environments: ["dev", "dev", "x/y", "", ".."].map { Environment(slug: $0, name: $0) })

    func listProjects() throws -> [Project] {
        [demo, demo] + ["a/b", "", ".crypto", ".status", "n\0ul"].map { Project(id: $0, slug: $0, name: $0, environments: []) }
    }

    func project(_ reference: String) throws -> Project {
        guard demo.isNamed(reference) else { throw BackendError.notFound("no project \(reference)") }
        return demo
    }

    func listFolder(_ location: SecretLocation) throws -> FolderListing {
        let names = ["ok", "ok", "", "a/\u{301}", "x\0y", ".", String(repeating: "n", count: 256), "db"]
        return FolderListing(
            secrets: names.map { Secret(name: $0, value: "v", version: 1, createdAt: Date(), updatedAt: Date()) },
            folders: ["db", "db", "..", "a/b", ""])
    }

    func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        Secret(name: name, value: "v", version: 1, createdAt: Date(), updatedAt: Date())
    }

    func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        throw BackendError(.notSupported, "read only")
    }

    func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        throw BackendError(.notSupported, "read only")
    }

    func deleteSecret(_ name: String, in location: SecretLocation) throws {}

    func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        throw BackendError(.notSupported, "read only")
    }

    func createFolder(_ name: String, in parent: SecretLocation) throws {}
    func deleteFolder(_ name: String, in parent: SecretLocation) throws {}
}

@Suite("Names from the backend")
struct BackendNamesTests {
    let fs = SecretsFileSystem(
        backend: OddNamesBackend(), options: FileSystemOptions(uid: 1000, gid: 1000), logger: .disabled)
    let context = RequestContext(uid: 1000, gid: 1000, pid: 1)

    func list(_ inode: InodeNumber) throws -> [String] {
        try fs.openDirectory(inode, context: context).entries().map(\.name).filter { $0 != "." && $0 != ".." }
    }

    func lookup(_ parent: InodeNumber, _ name: String) throws -> InodeNumber {
        try fs.lookup(parent: parent, name: name, context: context).attributes.inode
    }

    /// The kernel fails a whole READDIR for one empty name or one with "/"
    /// or NUL; a name twice would show twice.
    @Test func listingsShowEachNameOnceAndOnlyNamesTheKernelTakes() throws {
        #expect(try list(.root) == [".crypto", ".status", "demo"])
        let project = try lookup(.root, "demo")
        #expect(try list(project) == ["dev"])
        let dev = try lookup(project, "dev")
        #expect(try list(dev) == ["db", "ok"])
    }
}
