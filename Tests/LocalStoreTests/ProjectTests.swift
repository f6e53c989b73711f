import Foundation
import LocalStore
import SecretsCore
import Testing

@Suite("projects and environments")
struct ProjectTests {
    @Test func capabilitiesManageProjects() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        #expect(try fixture.open().capabilities.managesProjects)
    }

    @Test func createProjectMakesDefaultEnvironments() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let project = try store.createProject(slug: "web-app")
        #expect(project.slug == "web-app")
        #expect(project.name == "web-app")
        #expect(project.id == project.id.lowercased())
        #expect(UUID(uuidString: project.id) != nil)
        #expect(
            project.environments == [
                Environment(slug: "dev", name: "Development"), Environment(slug: "staging", name: "Staging"),
                Environment(slug: "prod", name: "Production"),
            ])
        #expect(try store.project(project.id) == project)
        #expect(try store.project("web-app") == project)
        expectError(.notFound) { try store.project("nope") }
    }

    @Test func listProjectsSortedBySlug() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        #expect(try store.listProjects().isEmpty)
        for slug in ["zeta", "alpha", "mid-1"] { _ = try store.createProject(slug: slug) }
        #expect(try store.listProjects().map(\.slug) == ["alpha", "mid-1", "zeta"])
    }

    @Test(arguments: ["", "Upper", "-lead", "has space", "under_score", "dot.ted", "ünï"])
    func createProjectRejectsInvalidSlugs(slug: String) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        expectError(.invalidArgument) { try store.createProject(slug: slug) }
        #expect(try store.listProjects().isEmpty)
    }

    @Test func createProjectRejectsLongAndTakenSlugs() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        expectError(.invalidArgument) { try store.createProject(slug: String(repeating: "a", count: 65)) }
        _ = try store.createProject(slug: String(repeating: "a", count: 64))
        _ = try store.createProject(slug: "taken")
        expectError(.alreadyExists) { try store.createProject(slug: "taken") }
    }

    @Test func deleteProjectRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) { try store.deleteProject(id: "missing") }
        expectError(.notFound) { try store.deleteProject(id: "app") }  // a slug is not an ID

        _ = try store.createSecret("A", value: "1", in: seeded.location("/", environment: "prod"))
        expectError(.notEmpty) { try store.deleteProject(id: seeded.project.id) }
        try store.deleteSecret("A", in: seeded.location("/", environment: "prod"))

        try store.createFolder("f", in: seeded.location("/", environment: "staging"))
        expectError(.notEmpty) { try store.deleteProject(id: seeded.project.id) }
        try store.deleteFolder("f", in: seeded.location("/", environment: "staging"))

        try store.deleteProject(id: seeded.project.id)
        expectError(.notFound) { try store.project(seeded.project.id) }
        #expect(try store.listProjects().isEmpty)
        expectError(.notFound) { try store.listFolder(seeded.root) }
        // The slug is free again.
        _ = try store.createProject(slug: "app")
    }

    @Test func createEnvironmentAppendsLast() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let updated = try seeded.store.createEnvironment(slug: "qa", in: seeded.project.id)
        #expect(updated.environments.map(\.slug) == ["dev", "staging", "prod", "qa"])
        #expect(updated.environments.last == Environment(slug: "qa", name: "qa"))
        #expect(try seeded.store.project(seeded.project.id) == updated)
        #expect(try seeded.store.listFolder(seeded.location("/", environment: "qa")).isEmpty)
    }

    @Test func createEnvironmentRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.alreadyExists) { try store.createEnvironment(slug: "dev", in: seeded.project.id) }
        expectError(.invalidArgument) { try store.createEnvironment(slug: "QA", in: seeded.project.id) }
        expectError(.invalidArgument) {
            try store.createEnvironment(slug: String(repeating: "e", count: 65), in: seeded.project.id)
        }
        expectError(.notFound) { try store.createEnvironment(slug: "qa", in: "no-such-project") }
    }

    @Test func deleteEnvironmentRules() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let seeded = try Seeded(fixture)
        let store = seeded.store
        expectError(.notFound) { try store.deleteEnvironment(slug: "qa", in: seeded.project.id) }
        expectError(.notFound) { try store.deleteEnvironment(slug: "dev", in: "no-such-project") }

        _ = try store.createSecret("S", value: "v", in: seeded.root)
        expectError(.notEmpty) { try store.deleteEnvironment(slug: "dev", in: seeded.project.id) }
        try store.deleteSecret("S", in: seeded.root)
        try store.createFolder("f", in: seeded.root)
        expectError(.notEmpty) { try store.deleteEnvironment(slug: "dev", in: seeded.project.id) }
        try store.deleteFolder("f", in: seeded.root)

        try store.deleteEnvironment(slug: "dev", in: seeded.project.id)
        #expect(try store.project(seeded.project.id).environments.map(\.slug) == ["staging", "prod"])
        expectError(.notFound) { try store.listFolder(seeded.root) }
        // Positions keep growing: a new environment still lands last.
        let updated = try store.createEnvironment(slug: "dev", in: seeded.project.id)
        #expect(updated.environments.map(\.slug) == ["staging", "prod", "dev"])
    }
}
