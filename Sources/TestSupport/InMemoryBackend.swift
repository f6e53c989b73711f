public import Foundation
public import SecretsCore
import Synchronization

/// A backend in memory that keeps the promises of `SecretBackend` as the
/// Infisical backend and the local store do (names, trimming, versions, moves,
/// size limits, folders that are never deleted with their content), with
/// failure injection, for tests of the layers above. `BackendContractTests`
/// holds it to the same suite as the others.
public final class InMemoryBackend: SecretBackend {
    public struct Call: Sendable, Equatable {
        public let operation: String
        public let target: String
    }

    private struct State: Sendable {
        var projects: [Project] = []
        /// Folder paths per environment ("projectID/env" → set of canonical paths, root included).
        var folders: [String: Set<String>] = [:]
        var secrets: [SecretLocation: [ExactName: Secret]] = [:]  // names by bytes, as Infisical keeps them
        var failures: [String: BackendError] = [:]
        var calls: [Call] = []
    }

    private let state = Mutex(State())
    private let latency = Mutex<TimeInterval>(0)
    public let capabilities: BackendCapabilities

    /// - Parameters:
    ///   - managesProjects: projects and environments can be created and
    ///     deleted, as in the local store; without it those calls throw
    ///     `.notSupported`, as with Infisical.
    ///   - renamesFolders: `renameFolder` works; without it it throws `.notSupported`.
    public init(managesProjects: Bool = true, renamesFolders: Bool = true) {
        capabilities = BackendCapabilities(managesProjects: managesProjects, renamesFolders: renamesFolders)
    }

    /// Every call so far, oldest first.
    public var calls: [Call] { state.withLock { $0.calls } }

    /// Makes every later call take `seconds` longer, like a slow server.
    public func setLatency(_ seconds: TimeInterval) {
        latency.withLock { $0 = seconds }
    }

    /// Makes every later call of `operation` (e.g. "updateSecret") fail with `error`; nil clears it.
    public func failNext(_ operation: String, with error: BackendError?) {
        state.withLock { $0.failures[operation] = error }
    }

    @discardableResult
    public func addProject(slug: String, id: String? = nil, environments: [String] = ["dev", "staging", "prod"])
        -> Project
    {
        let project = Project(
            id: id ?? UUID().uuidString.lowercased(), slug: slug, name: slug,
            environments: environments.map { Environment(slug: $0, name: $0) })
        state.withLock { state in
            state.projects.append(project)
            for environment in environments { state.folders["\(project.id)/\(environment)"] = ["/"] }
        }
        return project
    }

    // MARK: SecretBackend

    public func listProjects() throws -> [Project] {
        try record("listProjects", "/") { $0.projects.sorted { $0.slug < $1.slug } }
    }

    public func project(_ reference: String) throws -> Project {
        try record("project", reference) { state in
            guard let project = state.projects.first(where: { $0.isNamed(reference) }) else {
                throw BackendError.notFound("project \(reference) not found")
            }
            return project
        }
    }

    public func listFolder(_ location: SecretLocation) throws -> FolderListing {
        try record("listFolder", location.description) { state in
            try Self.requireFolder(location, in: state)
            let children = state.folders[Self.environmentKey(location), default: []].compactMap { path -> String? in
                guard let folder = SecretPath(canonical: path), folder.parent == location.path else { return nil }
                return folder.name
            }
            let secrets = state.secrets[location, default: [:]].sorted { $0.key < $1.key }.map(\.value)
            return FolderListing(secrets: secrets, folders: children.sorted())
        }
    }

    public func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        try record("getSecret", "\(location)/\(name)") { state in
            try Self.requireFolder(location, in: state)
            guard let secret = state.secrets[location]?[ExactName(name)] else {
                throw BackendError.notFound("Secret with name '\(name)' not found")
            }
            return secret
        }
    }

    public func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try record("createSecret", "\(location)/\(name)") { state in
            try Self.requireValidName(name)
            try SecretValue.requireWithinLimit(value, of: name)
            try Self.requireFolder(location, in: state)
            guard state.secrets[location]?[ExactName(name)] == nil else { throw BackendError.alreadyExists("Secret already exists") }
            let now = Date()
            let secret = Secret(
                name: name, value: SecretValue.storedForm(value), version: 1, createdAt: now, updatedAt: now,
                id: UUID().uuidString.lowercased())
            state.secrets[location, default: [:]][ExactName(name)] = secret
            return secret
        }
    }

    public func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try record("updateSecret", "\(location)/\(name)") { state in
            try SecretValue.requireWithinLimit(value, of: name)
            guard let old = state.secrets[location]?[ExactName(name)] else {
                throw BackendError.notFound("Secret with name \(name) not found")
            }
            let secret = Secret(
                name: name, value: SecretValue.storedForm(value), version: old.version + 1,
                createdAt: old.createdAt, updatedAt: Date(), id: old.id, comment: old.comment, tags: old.tags)
            state.secrets[location]![ExactName(name)] = secret
            return secret
        }
    }

    public func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        try record("setComment", "\(location)/\(name)") { state in
            try SecretValue.requireWithinLimit(comment, of: name, what: "comment")
            guard let old = state.secrets[location]?[ExactName(name)] else {
                throw BackendError.notFound("Secret with name \(name) not found")
            }
            let secret = Secret(
                name: name, value: old.value, version: old.version + 1, createdAt: old.createdAt, updatedAt: Date(),
                id: old.id, comment: comment, tags: old.tags)
            state.secrets[location]![ExactName(name)] = secret
            return secret
        }
    }

    /// Gives a secret tags (by slug), as Infisical's web app would; not a backend call.
    public func setTags(_ tags: [String], of name: String, in location: SecretLocation) {
        state.withLock { state in
            guard let old = state.secrets[location]?[ExactName(name)] else { return }
            state.secrets[location]![ExactName(name)] = Secret(
                name: name, value: old.value, version: old.version, type: old.type, createdAt: old.createdAt,
                updatedAt: old.updatedAt, id: old.id, comment: old.comment, tags: tags)
        }
    }

    public func deleteSecret(_ name: String, in location: SecretLocation) throws {
        try record("deleteSecret", "\(location)/\(name)") { state in
            guard state.secrets[location]?.removeValue(forKey: ExactName(name)) != nil else {
                throw BackendError.notFound("Secret not found")
            }
        }
    }

    /// One step, with the outcome the Infisical backend gets from Infisical
    /// (see `SecretBackend.moveSecret`): a rename in place to a free name
    /// keeps the secret (its ID) one version on; a move to a free name in
    /// another folder makes a new secret at version 1; onto an existing name,
    /// the target keeps its ID, one version on. The value, comment and tags
    /// go with it every time.
    public func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        try record("moveSecret", "\(source)/\(name) -> \(target)/\(newName)") { state in
            guard let original = state.secrets[source]?[ExactName(name)] else {
                throw BackendError.notFound("Secret with name \(name) not found")
            }
            try Self.requireFolder(target, in: state)
            guard source.sharesEnvironment(with: target) else {
                throw BackendError.invalid("cannot move secret '\(name)' from \(source) to another environment")
            }
            try Self.requireValidName(newName)
            if source == target, name.isIdentical(to: newName) { return original }
            let now = Date()
            let moved: Secret
            if let existing = state.secrets[target]?[ExactName(newName)] {
                moved = Secret(
                    name: newName, value: original.value, version: existing.version + 1, type: existing.type,
                    createdAt: existing.createdAt, updatedAt: now, id: existing.id, comment: original.comment,
                    tags: original.tags)
            } else if source == target {
                moved = Secret(
                    name: newName, value: original.value, version: original.version + 1, type: original.type,
                    createdAt: original.createdAt, updatedAt: now, id: original.id, comment: original.comment,
                    tags: original.tags)
            } else {
                moved = Secret(
                    name: newName, value: original.value, version: 1, type: original.type, createdAt: now,
                    updatedAt: now, id: UUID().uuidString.lowercased(), comment: original.comment, tags: original.tags)
            }
            state.secrets[source]![ExactName(name)] = nil
            state.secrets[target, default: [:]][ExactName(newName)] = moved
            return moved
        }
    }

    public func createFolder(_ name: String, in parent: SecretLocation) throws {
        try record("createFolder", "\(parent)/\(name)") { state in
            try Self.require(NamingRules.checkFolderName(name))
            try Self.requireFolder(parent, in: state)
            let path = parent.path.appending(name).description
            guard state.folders[Self.environmentKey(parent)]!.insert(path).inserted else {
                throw BackendError.alreadyExists("Folder with name '\(name)' already exists")
            }
        }
    }

    /// Only an empty folder: `.notEmpty` while it holds a secret or a folder
    /// (Infisical's `forceDelete: false`), never its content with it.
    public func deleteFolder(_ name: String, in parent: SecretLocation) throws {
        try record("deleteFolder", "\(parent)/\(name)") { state in
            let location = parent.appending(name)
            guard NamingRules.isValidFolderName(name) else {
                throw BackendError.notFound("Folder with path '\(location.path)' not found")
            }
            try Self.requireFolder(location, in: state)
            let key = Self.environmentKey(parent)
            let hasFolders = state.folders[key]!.contains { SecretPath(canonical: $0)?.parent == location.path }
            guard !hasFolders, state.secrets[location, default: [:]].isEmpty else {
                throw BackendError(.notEmpty, "Cannot delete folder \"\(name)\" because it contains resources")
            }
            state.folders[key]!.remove(location.path.description)
            state.secrets[location] = nil
        }
    }

    /// Renames in place; its subfolders and secrets go with it, unchanged.
    public func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws {
        try record("renameFolder", "\(parent)/\(name) -> \(newName)") { state in
            guard capabilities.renamesFolders else {
                throw BackendError(.notSupported, "this backend cannot rename folders")
            }
            let source = parent.appending(name)
            let target = parent.appending(newName)
            guard NamingRules.isValidFolderName(name) else {
                throw BackendError.notFound("Folder with path '\(source.path)' not found")
            }
            try Self.requireFolder(source, in: state)
            try Self.require(NamingRules.checkFolderName(newName))
            guard name != newName else { return }
            let key = Self.environmentKey(parent)
            guard !state.folders[key]!.contains(target.path.description) else {
                throw BackendError.alreadyExists("Folder with specified name already exists")
            }
            func moved(_ path: SecretPath) -> SecretPath {
                SecretPath(segments: target.path.segments + path.segments.dropFirst(source.path.segments.count))
            }
            state.folders[key] = Set(
                state.folders[key]!.map { path in
                    guard let folder = SecretPath(canonical: path), folder.isWithin(source.path) else { return path }
                    return moved(folder).description
                })
            for location in state.secrets.keys
            where location.sharesEnvironment(with: source) && location.path.isWithin(source.path) {
                let secrets = state.secrets.removeValue(forKey: location)
                state.secrets[
                    SecretLocation(projectID: location.projectID, environment: location.environment,
                                   path: moved(location.path))] = secrets
            }
        }
    }

    // MARK: Projects and environments (only with `managesProjects`)

    /// A project with Infisical's default environments (dev, staging, prod).
    public func createProject(slug: String) throws -> Project {
        try record("createProject", slug) { state in
            try requireManagesProjects()
            try Self.require(NamingRules.checkSlug(slug, of: "project"))
            guard !state.projects.contains(where: { $0.slug == slug }) else {
                throw BackendError.alreadyExists("a project with slug '\(slug)' already exists")
            }
            let project = Project(
                id: UUID().uuidString.lowercased(), slug: slug, name: slug,
                environments: [("dev", "Development"), ("staging", "Staging"), ("prod", "Production")].map {
                    Environment(slug: $0.0, name: $0.1)
                })
            state.projects.append(project)
            for environment in project.environments { state.folders["\(project.id)/\(environment.slug)"] = ["/"] }
            return project
        }
    }

    /// `.notEmpty` while any of its environments holds a secret or a folder.
    public func deleteProject(id: String) throws {
        try record("deleteProject", id) { state in
            try requireManagesProjects()
            guard let index = state.projects.firstIndex(where: { $0.id == id }) else {
                throw BackendError.notFound("no project with ID '\(id)'")
            }
            let environments = state.projects[index].environments.map(\.slug)
            guard environments.allSatisfy({ Self.isEmpty(environment: $0, of: id, in: state) }) else {
                throw BackendError(.notEmpty, "project '\(id)' still holds secrets or folders")
            }
            state.projects.remove(at: index)
            for environment in environments { state.folders["\(id)/\(environment)"] = nil }
        }
    }

    public func createEnvironment(slug: String, in projectID: String) throws -> Project {
        try record("createEnvironment", "\(projectID)/\(slug)") { state in
            try requireManagesProjects()
            try Self.require(NamingRules.checkSlug(slug, of: "environment"))
            guard let index = state.projects.firstIndex(where: { $0.id == projectID }) else {
                throw BackendError.notFound("project \(projectID) not found")
            }
            let old = state.projects[index]
            guard !old.environments.contains(where: { $0.slug == slug }) else {
                throw BackendError.alreadyExists("environment \(slug) exists")
            }
            let project = Project(
                id: old.id, slug: old.slug, name: old.name,
                environments: old.environments + [Environment(slug: slug, name: slug)])
            state.projects[index] = project
            state.folders["\(projectID)/\(slug)"] = ["/"]
            return project
        }
    }

    /// `.notEmpty` while the environment holds a secret or a folder.
    public func deleteEnvironment(slug: String, in projectID: String) throws {
        try record("deleteEnvironment", "\(projectID)/\(slug)") { state in
            try requireManagesProjects()
            guard let index = state.projects.firstIndex(where: { $0.id == projectID }) else {
                throw BackendError.notFound("project \(projectID) not found")
            }
            let old = state.projects[index]
            guard old.environments.contains(where: { $0.slug == slug }) else {
                throw BackendError.notFound("project '\(old.slug)' has no environment '\(slug)'")
            }
            guard Self.isEmpty(environment: slug, of: projectID, in: state) else {
                throw BackendError(.notEmpty, "environment '\(slug)' of project '\(old.slug)' is not empty")
            }
            state.projects[index] = Project(
                id: old.id, slug: old.slug, name: old.name, environments: old.environments.filter { $0.slug != slug })
            state.folders["\(projectID)/\(slug)"] = nil
        }
    }

    private func requireManagesProjects() throws {
        guard capabilities.managesProjects else {
            throw BackendError(.notSupported, "this backend does not manage projects and environments")
        }
    }

    private static func isEmpty(environment: String, of projectID: String, in state: State) -> Bool {
        state.folders["\(projectID)/\(environment)", default: []].allSatisfy { $0 == "/" }
            && !state.secrets.contains { location, secrets in
                location.projectID == projectID && location.environment == environment && !secrets.isEmpty
            }
    }

    // MARK: Mechanics

    private func record<T>(_ operation: String, _ target: String, _ body: (inout State) throws -> T) throws -> T {
        let delay = latency.withLock { $0 }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return try state.withLock { state in
            state.calls.append(Call(operation: operation, target: target))
            if let failure = state.failures[operation] { throw failure }
            return try body(&state)
        }
    }

    private static func environmentKey(_ location: SecretLocation) -> String {
        "\(location.projectID)/\(location.environment)"
    }

    private static func requireFolder(_ location: SecretLocation, in state: State) throws {
        guard state.folders[environmentKey(location)]?.contains(location.path.description) == true else {
            throw BackendError.notFound("Folder with path '\(location.path)' not found")
        }
    }

    private static func requireValidName(_ name: String) throws {
        try require(NamingRules.checkSecretName(name))
    }

    private static func require(_ verdict: NamingRules.Verdict) throws {
        switch verdict {
        case .valid: return
        case .invalid(let reason): throw BackendError.invalid(reason)
        case .tooLong(let reason): throw BackendError(.nameTooLong, reason)
        }
    }
}
