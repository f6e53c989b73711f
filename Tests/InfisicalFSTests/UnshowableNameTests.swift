import TestSupport
import Testing

/// Names a server may send that cannot be file names: left out of every
/// listing, so one of them neither fails the listing (the kernel answers a
/// whole readdir with EIO for a name holding `/`) nor shadows `.` or `..`.
@Suite("Names that cannot be file names")
struct UnshowableNameTests {
    @Test func projectsAndEnvironmentsThatCannotBeFileNamesAreNotListed() throws {
        let h = Harness()
        h.backend.addProject(slug: "bad/slug")
        h.backend.addProject(slug: "..")
        h.backend.addProject(slug: "odd", environments: ["dev", "bad/env", ".", ".."])
        #expect(try h.list("") == [".crypto", ".status", "demo", "odd"])
        #expect(try h.list("odd") == ["dev"])
    }
}
