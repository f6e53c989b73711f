import FuseKit
import InfisicalFS
import SecretsCore
import TestSupport
import Testing

/// Names at the root that cannot be a project's slug or ID (what shells and
/// file managers probe for) are missing without asking the backend; the
/// root lists only slugs, so `ls` and a lookup always agree.
@Suite("Project names at the root")
struct ProjectNameTests {
    @Test func namesThatAreNotSlugsAreMissingWithoutABackendCall() throws {
        let h = Harness()
        for name in [".Trash-1000", ".git", "MyProj", "my_proj", "a--b", "-a", "a-", "autorun.inf"] {
            let before = h.backend.calls.count
            let entry = try h.fs.lookup(parent: .root, name: name, context: h.context)
            #expect(entry.isMissing, "\(name)")
            #expect(h.backend.calls.count == before, "\(name) asked the backend: \(h.backend.calls.suffix(2))")
        }
        #expect(try h.inode("demo") != .root)
    }

    @Test func theRootListsOnlySlugsSoEveryListedNameLooksUp() throws {
        let h = Harness()
        h.backend.addProject(slug: " padded")
        h.backend.addProject(slug: "Upper")
        let names = try h.list("")
        #expect(names.contains("demo"))
        #expect(!names.contains(" padded") && !names.contains("Upper"))
        for name in names where !name.hasPrefix(".") {
            #expect(!(try h.fs.lookup(parent: .root, name: name, context: h.context)).isMissing, "\(name)")
        }
    }
}
