import Dispatch
import Foundation
import SecretsCore
import Synchronization
import TestSupport
import Testing

// The promises of `SecretBackend` (its doc comments), each checked against
// every backend of `BackendFactory.all`: what one backend does, all do.

@Suite("Backend contract: projects")
struct ProjectContractTests {
    @Test(arguments: BackendFactory.all)
    func aProjectIsFoundByIDAndBySlug(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let listed = try s.backend.listProjects()
        #expect(listed.contains { $0.id == s.project.id && $0.slug == s.project.slug })
        let byID = try s.backend.project(s.project.id)
        let bySlug = try s.backend.project(s.project.slug)
        for found in [byID, bySlug] {
            #expect(found.id == s.project.id)
            #expect(found.slug == s.project.slug)
            #expect(found.environments.map(\.slug) == ["dev", "staging", "prod"])
        }
        expectError(.notFound) { try s.backend.project("no-such-project-\(UUID().uuidString.prefix(8).lowercased())") }
    }

    /// `managesProjects` only where all four calls work; elsewhere all four
    /// are `.notSupported` and change nothing.
    @Test(arguments: BackendFactory.all)
    func projectsAreManagedExactlyWhereTheCapabilitySaysSo(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let backend = s.backend
        guard backend.capabilities.managesProjects else {
            expectError(.notSupported, "createProject") { try backend.createProject(slug: "contract-new") }
            expectError(.notSupported, "createEnvironment") { try backend.createEnvironment(slug: "qa", in: s.project.id) }
            expectError(.notSupported, "deleteEnvironment") { try backend.deleteEnvironment(slug: "prod", in: s.project.id) }
            expectError(.notSupported, "deleteProject") { try backend.deleteProject(id: s.project.id) }
            #expect(try backend.project(s.project.id).environments.map(\.slug) == ["dev", "staging", "prod"])
            return
        }
        let slug = "contract-made-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try backend.listProjects()  // a cache holds the list from here on
        expectError(.notFound, "a project not made yet") { try backend.project(slug) }
        let made = try backend.createProject(slug: slug)
        #expect(made.slug == slug)
        #expect(made.environments.map(\.slug) == ["dev", "staging", "prod"])
        #expect(try backend.project(slug).id == made.id)
        #expect(try backend.listProjects().contains { $0.id == made.id })
        expectError(.alreadyExists, "the same slug again") { try backend.createProject(slug: slug) }
        expectError(.invalidArgument, "a bad slug") { try backend.createProject(slug: "Bad_Slug") }

        let withQA = try backend.createEnvironment(slug: "qa", in: made.id)
        #expect(withQA.environments.map(\.slug) == ["dev", "staging", "prod", "qa"])
        #expect(try backend.project(made.id).environments.map(\.slug) == ["dev", "staging", "prod", "qa"])
        expectError(.alreadyExists, "qa again") { try backend.createEnvironment(slug: "qa", in: made.id) }
        expectError(.notFound, "an environment of no project") { try backend.createEnvironment(slug: "qa", in: "no-such-id") }

        let qa = SecretLocation(projectID: made.id, environment: "qa", path: .root)
        _ = try backend.createSecret("S", value: "v", in: qa)
        expectError(.notEmpty, "an environment holding a secret") { try backend.deleteEnvironment(slug: "qa", in: made.id) }
        expectError(.notEmpty, "a project holding a secret") { try backend.deleteProject(id: made.id) }
        try backend.deleteSecret("S", in: qa)
        try backend.createFolder("f", in: qa)
        expectError(.notEmpty, "an environment holding a folder") { try backend.deleteEnvironment(slug: "qa", in: made.id) }
        try backend.deleteFolder("f", in: qa)

        try backend.deleteEnvironment(slug: "qa", in: made.id)
        #expect(try backend.project(made.id).environments.map(\.slug) == ["dev", "staging", "prod"])
        expectError(.notFound, "qa once deleted") { try backend.deleteEnvironment(slug: "qa", in: made.id) }
        try backend.deleteProject(id: made.id)
        expectError(.notFound, "the deleted project by slug") { try backend.project(slug) }
        expectError(.notFound, "the deleted project by ID") { try backend.project(made.id) }
        #expect(try !backend.listProjects().contains { $0.id == made.id })
        expectError(.notFound, "the deleted project again") { try backend.deleteProject(id: made.id) }
    }

    @Test func theInMemoryBackendWithoutProjectsRefusesAllFourCalls() throws {
        let backend = InMemoryBackend(managesProjects: false)
        let project = backend.addProject(slug: "contract")
        #expect(!backend.capabilities.managesProjects)
        expectError(.notSupported) { try backend.createProject(slug: "other") }
        expectError(.notSupported) { try backend.createEnvironment(slug: "qa", in: project.id) }
        expectError(.notSupported) { try backend.deleteEnvironment(slug: "prod", in: project.id) }
        expectError(.notSupported) { try backend.deleteProject(id: project.id) }
        #expect(try backend.listProjects().map(\.slug) == ["contract"])
    }
}

@Suite("Backend contract: reading")
struct ReadContractTests {
    @Test(arguments: BackendFactory.all)
    func aListingHoldsEverySecretWithItsValueAndEveryFolderSortedByName(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let values = ["b": "two", "A": "  one  ", "_c": "three\n\n", "a.b": ""]
        for (name, value) in values { _ = try s.backend.createSecret(name, value: value, in: s.root) }
        for name in ["zeta", "alpha", "M"] { try s.backend.createFolder(name, in: s.root) }
        let listing = try s.backend.listFolder(s.root)
        #expect(listing.secrets.map(\.name) == ["A", "_c", "a.b", "b"])
        #expect(listing.folders == ["M", "alpha", "zeta"])
        for secret in listing.secrets {
            #expect(secret.value == SecretValue.storedForm(values[secret.name]!))
            expectSame(try s.backend.getSecret(secret.name, in: s.root), secret)
        }
        let empty = try s.backend.listFolder(s.location("/alpha"))
        #expect(empty.secrets.isEmpty && empty.folders.isEmpty)
    }

    @Test(arguments: BackendFactory.all)
    func aMissingSecretFolderOrEnvironmentIsNotFound(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        _ = try s.backend.createSecret("A", value: "v", in: s.root)
        expectError(.notFound, "get of a missing secret") { try s.backend.getSecret("MISSING", in: s.root) }
        expectError(.notFound, "get in a missing folder") { try s.backend.getSecret("A", in: s.location("/nope")) }
        expectError(.notFound, "list of a missing folder") { try s.backend.listFolder(s.location("/nope")) }
        expectError(.notFound, "get in a missing environment") {
            try s.backend.getSecret("A", in: s.location(environment: "nope"))
        }
        expectError(.notFound, "list of a missing environment") { try s.backend.listFolder(s.location(environment: "nope")) }
        expectError(.notFound, "get in another environment") { try s.backend.getSecret("A", in: s.location(environment: "prod")) }
    }
}

@Suite("Backend contract: secret writes")
struct SecretWriteContractTests {
    @Test(arguments: BackendFactory.all)
    func aCreatedSecretHoldsInfisicalsStoredFormAtVersionOne(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let cases: [(sent: String, stored: String)] = [
            ("plain", "plain"), ("  padded  ", "padded"), ("x\n\n", "x\n"), (" multi\nline \n", "multi\nline\n"),
            ("tab\t", "tab"), ("", ""), ("\u{00A0}nbsp\u{2003}", "nbsp"),
        ]
        for (index, (sent, stored)) in cases.enumerated() {
            #expect(SecretValue.storedForm(sent) == stored)
            let name = "V\(index)"
            let created = try s.backend.createSecret(name, value: sent, in: s.root)
            #expect(created.name == name)
            #expect(created.value == stored, "sent \(sent.debugDescription)")
            #expect(created.version == 1)
            #expect(created.comment == "")
            expectSame(try s.backend.getSecret(name, in: s.root), created)
        }
        let inFolder = s.location("/db")
        try s.backend.createFolder("db", in: s.root)
        let deep = try s.backend.createSecret("PASSWORD", value: "pw", in: inFolder)
        expectSame(try s.backend.getSecret("PASSWORD", in: inFolder), deep)
        expectError(.notFound, "the same name at the root") { try s.backend.getSecret("PASSWORD", in: s.root) }
    }

    /// A name is its bytes, as Infisical compares names: NFC and NFD
    /// spellings of one word are two secrets, each with its own value.
    @Test(arguments: BackendFactory.all)
    func namesThatDifferOnlyInNormalizationAreTwoSecrets(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let nfc = "caf\u{E9}"
        let nfd = "cafe\u{301}"
        _ = try s.backend.listFolder(s.root)  // a cache holds the listing from here on
        _ = try s.backend.createSecret(nfc, value: "composed", in: s.root)
        _ = try s.backend.createSecret(nfd, value: "decomposed", in: s.root)
        #expect(try s.backend.getSecret(nfc, in: s.root).value == "composed")
        #expect(try s.backend.getSecret(nfd, in: s.root).value == "decomposed")
        let listed = try s.backend.listFolder(s.root).secrets.map { Array($0.name.utf8) }
        #expect(listed.contains(Array(nfc.utf8)) && listed.contains(Array(nfd.utf8)) && listed.count == 2)
        _ = try s.backend.updateSecret(nfd, value: "changed", in: s.root)
        #expect(try s.backend.getSecret(nfc, in: s.root).value == "composed")
        try s.backend.deleteSecret(nfc, in: s.root)
        #expect(try s.backend.getSecret(nfd, in: s.root).value == "changed")
        expectError(.notFound) { try s.backend.getSecret(nfc, in: s.root) }
    }

    @Test(arguments: BackendFactory.all)
    func creatingATakenNameIsAlreadyExistsAndChangesNothing(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let first = try s.backend.createSecret("A", value: "first", in: s.root)
        expectError(.alreadyExists) { try s.backend.createSecret("A", value: "second", in: s.root) }
        expectSame(try s.backend.getSecret("A", in: s.root), first)
    }

    @Test(arguments: BackendFactory.all)
    func creatingInAMissingFolderIsNotFound(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        expectError(.notFound) { try s.backend.createSecret("A", value: "v", in: s.location("/nope")) }
        #expect(try s.backend.listFolder(s.root).folders == [])
    }

    @Test(arguments: BackendFactory.all)
    func namesHoldingAColonOrASlashAreRefused(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        for name in ["A:B", "A/B", ":A", "A/"] {
            expectError(.invalidArgument, name.debugDescription) { try s.backend.createSecret(name, value: "v", in: s.root) }
        }
        #expect(try s.backend.listFolder(s.root).isEmpty)
    }

    @Test(arguments: BackendFactory.all)
    func anUpdateStoresTheNewValueOneVersionOn(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let created = try s.backend.createSecret("A", value: "one", in: s.root)
        _ = try s.backend.listFolder(s.root)
        let updated = try s.backend.updateSecret("A", value: "  two  ", in: s.root)
        #expect(updated.value == "two")
        #expect(updated.version == 2)
        #expect(updated.id == created.id)
        expectSame(try s.backend.getSecret("A", in: s.root), updated)
        let again = try s.backend.updateSecret("A", value: "three\n\n", in: s.root)
        #expect(again.value == "three\n" && again.version == 3)
        expectSame(try s.backend.getSecret("A", in: s.root), again)
        expectError(.notFound, "a missing secret") { try s.backend.updateSecret("MISSING", value: "v", in: s.root) }
        expectError(.notFound, "in a missing folder") { try s.backend.updateSecret("A", value: "v", in: s.location("/nope")) }
        expectError(.notFound, "the update of a missing secret created it") { try s.backend.getSecret("MISSING", in: s.root) }
    }

    @Test(arguments: BackendFactory.all)
    func aDeletedSecretIsGoneAndASecondDeleteIsNotFound(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        _ = try s.backend.createSecret("A", value: "a", in: s.root)
        let kept = try s.backend.createSecret("B", value: "b", in: s.root)
        _ = try s.backend.listFolder(s.root)  // a cache holds the listing from here on
        try s.backend.deleteSecret("A", in: s.root)
        expectError(.notFound, "get after delete") { try s.backend.getSecret("A", in: s.root) }
        #expect(try s.backend.listFolder(s.root).secrets.map(\.name) == ["B"])
        expectSame(try s.backend.getSecret("B", in: s.root), kept)
        expectError(.notFound, "a second delete") { try s.backend.deleteSecret("A", in: s.root) }
        expectError(.notFound, "in a missing folder") { try s.backend.deleteSecret("B", in: s.location("/nope")) }
    }

    @Test(arguments: BackendFactory.all)
    func aCommentIsStoredAsGivenOneVersionOnWithTheValueUnchanged(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let created = try s.backend.createSecret("A", value: "one", in: s.root)
        _ = try s.backend.updateSecret("A", value: "two", in: s.root)
        _ = try s.backend.listFolder(s.root)
        let commented = try s.backend.setComment("  about A  ", of: "A", in: s.root)
        #expect(commented.comment == "  about A  ")
        #expect(commented.value == "two")
        #expect(commented.version == 3)
        #expect(commented.id == created.id)
        expectSame(try s.backend.getSecret("A", in: s.root), commented)
        #expect(try s.backend.listFolder(s.root).secret(named: "A")?.comment == "  about A  ")
        let cleared = try s.backend.setComment("", of: "A", in: s.root)
        #expect(cleared.comment == "" && cleared.value == "two" && cleared.version == 4)
        expectSame(try s.backend.getSecret("A", in: s.root), cleared)
        expectError(.notFound, "a missing secret") { try s.backend.setComment("c", of: "MISSING", in: s.root) }
    }

    /// Threads creating distinct names at once all succeed, each at version 1.
    @Test(arguments: BackendFactory.all)
    func concurrentCreatesOfDistinctNamesAllSucceed(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let (backend, root) = (s.backend, s.root)
        let threads = 4
        let perThread = 6
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                let name = "T\(thread)_\(index)"
                do {
                    let secret = try backend.createSecret(name, value: "value \(thread) \(index)", in: root)
                    if secret.version != 1 || secret.value != "value \(thread) \(index)" {
                        failures.withLock { $0.append("\(name): stored \(secret.value) at version \(secret.version)") }
                    }
                } catch {
                    failures.withLock { $0.append("\(name): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let expected = (0..<threads).flatMap { thread in (0..<perThread).map { "T\(thread)_\($0)" } }.sorted()
        let listing = try backend.listFolder(root)
        #expect(listing.secrets.map(\.name) == expected)
        for secret in listing.secrets {
            let parts = secret.name.dropFirst().split(separator: "_")
            #expect(secret.value == "value \(parts[0]) \(parts[1])")
        }
    }
}

@Suite("Backend contract: size limits")
struct SizeContractTests {
    static let limit = SecretValue.maximumBytes

    /// A value of `SecretValue.maximumBytes` bytes is stored; one byte more
    /// is `.tooLarge` on every backend, for a create and an update alike.
    @Test(arguments: BackendFactory.all)
    func aValueOverTheLimitIsTooLarge(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        let atLimit = String(repeating: "v", count: Self.limit)
        let created = try s.backend.createSecret("BIG", value: atLimit, in: s.root)
        #expect(created.size == Self.limit)
        #expect(try s.backend.getSecret("BIG", in: s.root).value == atLimit)

        let over = String(repeating: "w", count: Self.limit + 1)
        expectError(.tooLarge, "create, one byte over") { try s.backend.createSecret("HUGE", value: over, in: s.root) }
        expectError(.notFound, "the refused create stored nothing") { try s.backend.getSecret("HUGE", in: s.root) }
        expectError(.tooLarge, "update, one byte over") { try s.backend.updateSecret("BIG", value: over, in: s.root) }
        // Bytes of UTF-8, not characters: half as many two-byte characters, plus one.
        let wide = String(repeating: "é", count: Self.limit / 2 + 1)
        expectError(.tooLarge, "create, two-byte characters") { try s.backend.createSecret("WIDE", value: wide, in: s.root) }
        let stored = try s.backend.getSecret("BIG", in: s.root)
        #expect(stored.version == 1 && stored.value == atLimit, "the refused update changed the secret")
    }

    @Test(arguments: BackendFactory.all)
    func aCommentOverTheLimitIsTooLarge(_ factory: BackendFactory) throws {
        let s = try factory.make()
        defer { s.close() }
        _ = try s.backend.createSecret("A", value: "v", in: s.root)
        let over = String(repeating: "c", count: Self.limit + 1)
        expectError(.tooLarge) { try s.backend.setComment(over, of: "A", in: s.root) }
        let stored = try s.backend.getSecret("A", in: s.root)
        #expect(stored.version == 1 && stored.comment == "", "the refused comment changed the secret")
    }
}
