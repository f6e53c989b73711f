public import Foundation
public import SecretsCore
import Synchronization

/// A backend in memory that follows Infisical's rules (names, trimming,
/// versions), with failure injection, for tests of the layers above.
public final class InMemoryBackend: SecretBackend {
    public struct Call: Sendable, Equatable {
        public let operation: String
        public let target: String
    }

    private struct State: Sendable {
        var projects: [Project] = []
        /// Folder paths per environment ("projectID/env" → set of canonical paths, root included).
        var folders: [String: Set<String>] = [:]
        var secrets: [SecretLocation: [String: Secret]] = [:]
        var failures: [String: BackendError] = [:]
        var calls: [Call] = []
    }

    private let state = Mutex(State())
    private let latency = Mutex<TimeInterval>(0)
    public let capabilities: BackendCapabilities

    public init(managesProjects: Bool = true) {
        capabilities = BackendCapabilities(managesProjects: managesProjects, renamesFolders: false)
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
            let prefix = location.path.description
            let children = state.folders[Self.environmentKey(location), default: []].compactMap { path -> String? in
                guard let folder = SecretPath(canonical: path), folder.parent == location.path else { return nil }
                _ = prefix
                return folder.name
            }
            let secrets = state.secrets[location, default: [:]].values.sorted { $0.name < $1.name }
            return FolderListing(secrets: secrets, folders: children.sorted())
        }
    }

    public func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        try record("getSecret", "\(location)/\(name)") { state in
            try Self.requireFolder(location, in: state)
            guard let secret = state.secrets[location]?[name] else {
                throw BackendError.notFound("Secret with name '\(name)' not found")
            }
            return secret
        }
    }

    public func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try record("createSecret", "\(location)/\(name)") { state in
            try Self.requireValidName(name)
            try Self.requireFolder(location, in: state)
            guard state.secrets[location]?[name] == nil else { throw BackendError.alreadyExists("Secret already exists") }
            let now = Date()
            let secret = Secret(
                name: name, value: SecretValue.storedForm(value), version: 1, createdAt: now, updatedAt: now,
                id: UUID().uuidString.lowercased())
            state.secrets[location, default: [:]][name] = secret
            return secret
        }
    }

    public func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try record("updateSecret", "\(location)/\(name)") { state in
            guard let old = state.secrets[location]?[name] else {
                throw BackendError.notFound("Secret with name \(name) not found")
            }
            let secret = Secret(
                name: name, value: SecretValue.storedForm(value), version: old.version + 1,
                createdAt: old.createdAt, updatedAt: Date(), id: old.id, comment: old.comment, tags: old.tags)
            state.secrets[location]![name] = secret
            return secret
        }
    }

    public func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        try record("setComment", "\(location)/\(name)") { state in
            guard let old = state.secrets[location]?[name] else {
                throw BackendError.notFound("Secret with name \(name) not found")
            }
            let secret = Secret(
                name: name, value: old.value, version: old.version + 1, createdAt: old.createdAt, updatedAt: Date(),
                id: old.id, comment: comment, tags: old.tags)
            state.secrets[location]![name] = secret
            return secret
        }
    }

    /// Gives a secret tags (by slug), as Infisical's web app would; not a backend call.
    public func setTags(_ tags: [String], of name: String, in location: SecretLocation) {
        state.withLock { state in
            guard let old = state.secrets[location]?[name] else { return }
            state.secrets[location]![name] = Secret(
                name: name, value: old.value, version: old.version, type: old.type, createdAt: old.createdAt,
                updatedAt: old.updatedAt, id: old.id, comment: old.comment, tags: tags)
        }
    }

    public func deleteSecret(_ name: String, in location: SecretLocation) throws {
        try record("deleteSecret", "\(location)/\(name)") { state in
            guard state.secrets[location]?.removeValue(forKey: name) != nil else {
                throw BackendError.notFound("Secret not found")
            }
        }
    }

    public func createFolder(_ name: String, in parent: SecretLocation) throws {
        try record("createFolder", "\(parent)/\(name)") { state in
            guard NamingRules.isValidFolderName(name) else { throw BackendError.invalid("bad folder name \(name)") }
            try Self.requireFolder(parent, in: state)
            let path = parent.path.appending(name).description
            guard state.folders[Self.environmentKey(parent)]!.insert(path).inserted else {
                throw BackendError.alreadyExists("Folder with name '\(name)' already exists")
            }
        }
    }

    public func deleteFolder(_ name: String, in parent: SecretLocation) throws {
        try record("deleteFolder", "\(parent)/\(name)") { state in
            let location = parent.appending(name)
            try Self.requireFolder(location, in: state)
            // Infisical deletes recursively; so does this fake, so callers must check emptiness.
            let key = Self.environmentKey(parent)
            state.folders[key] = state.folders[key]!.filter { !(SecretPath(canonical: $0)!.isWithin(location.path)) }
            state.secrets = state.secrets.filter {
                !($0.key.sharesEnvironment(with: location) && $0.key.path.isWithin(location.path))
            }
        }
    }

    public func createProject(slug: String) throws -> Project {
        guard capabilities.managesProjects else { throw BackendError(.notSupported, "no projects here") }
        guard NamingRules.checkSlug(slug, of: "project") == .valid else { throw BackendError.invalid("bad slug") }
        guard (try? project(slug)) == nil else { throw BackendError.alreadyExists("project \(slug) exists") }
        return addProject(slug: slug)
    }

    public func createEnvironment(slug: String, in projectID: String) throws -> Project {
        try record("createEnvironment", "\(projectID)/\(slug)") { state in
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
        switch NamingRules.checkSecretName(name) {
        case .valid: return
        case .invalid(let reason): throw BackendError.invalid(reason)
        case .tooLong(let reason): throw BackendError(.nameTooLong, reason)
        }
    }
}
