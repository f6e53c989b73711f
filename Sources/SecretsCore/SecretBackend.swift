/// Where secrets live: the Infisical API or the local store. Every method
/// blocks until the store has answered, and every implementation bounds how
/// long that can take. Errors are `BackendError`s.
///
/// Implementation requirements: calls come from many threads at once; values
/// are stored as Infisical stores them (see `SecretValue.storedForm`), and the
/// returned `Secret` is what the store now holds.
public protocol SecretBackend: Sendable {
    /// What this backend can do beyond Infisical's secrets and folders.
    var capabilities: BackendCapabilities { get }

    /// The backend's part of `/.status`, an object: what it is, its login,
    /// its calls. Never a value or a credential. Empty by default.
    var status: StatusValue { get }

    /// Projects the identity can reach.
    func listProjects() throws -> [Project]

    /// The project with this ID or slug.
    func project(_ reference: String) throws -> Project

    /// Secrets (values included) and subfolders of one folder, in one call.
    func listFolder(_ location: SecretLocation) throws -> FolderListing

    /// One secret: the shared one of that name, else the caller's personal one.
    func getSecret(_ name: String, in location: SecretLocation) throws -> Secret

    /// Fails with `.alreadyExists` when the name is taken.
    func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret

    /// Fails with `.notFound` when there is no such secret.
    func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret

    func deleteSecret(_ name: String, in location: SecretLocation) throws

    /// Replaces the comment of the secret `updateSecret` would change, leaving
    /// its value as it is; returns the secret as now stored (its version goes
    /// up by one, as with any Infisical update). The comment is stored as
    /// given, not trimmed (Infisical trims it only on create). Fails with
    /// `.notFound` when there is no such secret.
    func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret

    /// Moves a secret within one environment; replaces `newName` when it
    /// exists. The default creates (or updates) the target, then deletes the source.
    func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation) throws
        -> Secret

    /// Creates one folder in an existing parent.
    func createFolder(_ name: String, in parent: SecretLocation) throws

    /// Deletes an empty folder; `.notEmpty` otherwise.
    func deleteFolder(_ name: String, in parent: SecretLocation) throws

    /// Renames a folder in place; `.notSupported` where the backend cannot.
    func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws

    // Local store only (see `capabilities`): projects and environments.
    func createProject(slug: String) throws -> Project
    func deleteProject(id: String) throws
    func createEnvironment(slug: String, in projectID: String) throws -> Project
    func deleteEnvironment(slug: String, in projectID: String) throws
}

public struct BackendCapabilities: Sendable, Equatable {
    /// `mkdir`/`rmdir` at the root and in a project manage projects and environments.
    public var managesProjects: Bool
    /// `renameFolder` works (else it throws `.notSupported`).
    public var renamesFolders: Bool

    public init(managesProjects: Bool, renamesFolders: Bool = true) {
        self.managesProjects = managesProjects
        self.renamesFolders = renamesFolders
    }
}

extension SecretBackend {
    public func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        try copyThenDelete(name, from: source, to: newName, in: target)
    }

    /// A move from the basic calls: create (or update) the target with the
    /// source's value, then delete the source.
    public func copyThenDelete(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        let value = try getSecret(name, in: source).value
        let moved: Secret
        do {
            moved = try createSecret(newName, value: value, in: target)
        } catch let error as BackendError where error.kind == .alreadyExists {
            moved = try updateSecret(newName, value: value, in: target)
        }
        try deleteSecret(name, in: source)
        return moved
    }

    public func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws {
        throw BackendError(.notSupported, "this backend cannot rename folders")
    }

    public var status: StatusValue { .object([]) }

    public func createProject(slug: String) throws -> Project {
        throw BackendError(.notSupported, "projects are created in Infisical, not through the file system")
    }

    public func deleteProject(id: String) throws {
        throw BackendError(.notSupported, "projects are deleted in Infisical, not through the file system")
    }

    public func createEnvironment(slug: String, in projectID: String) throws -> Project {
        throw BackendError(.notSupported, "environments are created in Infisical, not through the file system")
    }

    public func deleteEnvironment(slug: String, in projectID: String) throws {
        throw BackendError(.notSupported, "environments are deleted in Infisical, not through the file system")
    }
}
