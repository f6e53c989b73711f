/// Where secrets live: the Infisical API or the local store. Every method
/// blocks until the store has answered, and every implementation bounds how
/// long that can take. Errors are `BackendError`s.
///
/// Implementation requirements: calls come from many threads at once; values
/// are stored as Infisical stores them (see `SecretValue.storedForm`), and the
/// returned `Secret` is what the store now holds.
///
/// The promises below are the contract every implementation keeps (the
/// Infisical backend, the local store, `InMemoryBackend`, and
/// `CachingBackend` over each); `Tests/BackendContractTests` checks them all
/// against each. Common to the calls that take a location: a location whose
/// project, environment or folder does not exist is `.notFound`.
/// A value (or comment) of more than `SecretValue.maximumBytes` bytes of
/// UTF-8 is `.tooLarge`, on every backend (Infisical refuses request bodies
/// over 1 MiB, and JSON escaping can double a value's size).
public protocol SecretBackend: Sendable {
    /// What this backend can do beyond Infisical's secrets and folders.
    var capabilities: BackendCapabilities { get }

    /// The backend's part of `/.status`, an object: what it is, its login,
    /// its calls. Never a value or a credential. Empty by default.
    var status: StatusValue { get }

    /// Projects the identity can reach.
    func listProjects() throws -> [Project]

    /// The project with this ID or slug (the same project either way);
    /// `.notFound` when there is none.
    func project(_ reference: String) throws -> Project

    /// Secrets (values included) and subfolders of one folder, in one call:
    /// each list sorted by name, each name once (the secret `getSecret` would
    /// return). `.notFound` when the folder does not exist.
    func listFolder(_ location: SecretLocation) throws -> FolderListing

    /// One secret: the shared one of that name, else the caller's personal one.
    /// `.notFound` when there is neither, or no such folder.
    func getSecret(_ name: String, in location: SecretLocation) throws -> Secret

    /// Stores `SecretValue.storedForm(value)` as a new secret at version 1,
    /// with no comment. Fails with `.alreadyExists` when the name is taken,
    /// with `.invalidArgument` for a name Infisical refuses (`NamingRules`:
    /// holding `:` or `/`, …), `.tooLarge` for a value over the limit.
    func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret

    /// Stores `SecretValue.storedForm(value)` as the secret's new value, one
    /// version on; its ID and comment stay. Fails with `.notFound` when there
    /// is no such secret.
    func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret

    /// Fails with `.notFound` when there is no such secret.
    func deleteSecret(_ name: String, in location: SecretLocation) throws

    /// Replaces the comment of the secret `updateSecret` would change, leaving
    /// its value as it is; returns the secret as now stored (its version goes
    /// up by one, as with any Infisical update). The comment is stored as
    /// given, not trimmed (Infisical trims it only on create). Fails with
    /// `.notFound` when there is no such secret.
    func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret

    /// Moves a secret within one environment and returns the secret now at
    /// `newName`; the source is gone. The source's value, comment and tags go
    /// with it; its ID and version follow what Infisical does:
    /// - in the same folder, to a free name (Infisical's rename,
    ///   `newSecretName`): the same secret, its ID kept, one version on;
    /// - onto a name that exists (in any folder): that secret, its own ID
    ///   kept, one version on (Infisical's move with overwrite, or an update);
    /// - to a free name in another folder: a new secret, a new ID, version 1
    ///   (Infisical's move route, or a create; the history stays behind);
    /// - onto itself (same folder, same name): nothing changes.
    ///
    /// Fails, changing nothing, with `.notFound` when the source or the target
    /// folder does not exist, `.invalidArgument` for a refused new name or a
    /// target in another environment. The default throws `.notSupported`:
    /// a move keeps more than the basic calls can, so each backend makes its own.
    func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation) throws
        -> Secret

    /// Creates one folder in an existing parent: `.notFound` when the parent
    /// does not exist (never made on the way), `.alreadyExists` when the name
    /// is taken, `.invalidArgument` for a name Infisical refuses.
    func createFolder(_ name: String, in parent: SecretLocation) throws

    /// Deletes an empty folder; `.notEmpty` while it holds a secret or a
    /// folder (never deleted with its content), `.notFound` when there is none.
    func deleteFolder(_ name: String, in parent: SecretLocation) throws

    /// Renames a folder in place, with everything in it; `.notFound` when
    /// there is none, `.alreadyExists` when the new name is taken;
    /// `.notSupported` where the backend cannot (`capabilities.renamesFolders`).
    func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws

    // Projects and environments: where `capabilities.managesProjects`, all
    // four work; elsewhere all four throw `.notSupported`.

    /// A project with Infisical's default environments (dev, staging, prod);
    /// `.alreadyExists` when the slug is taken, `.invalidArgument` for a bad slug.
    func createProject(slug: String) throws -> Project
    /// `.notEmpty` while any of its environments holds a secret or a folder;
    /// `.notFound` when there is no such project.
    func deleteProject(id: String) throws
    /// `.alreadyExists` when the project has it; `.notFound` without the project.
    func createEnvironment(slug: String, in projectID: String) throws -> Project
    /// `.notEmpty` while it holds a secret or a folder; `.notFound` when missing.
    func deleteEnvironment(slug: String, in projectID: String) throws
}

public struct BackendCapabilities: Sendable, Equatable {
    /// `mkdir`/`rmdir` at the root and in a project manage projects and
    /// environments: true only where `createProject`, `deleteProject`,
    /// `createEnvironment` and `deleteEnvironment` all work.
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
        throw BackendError(.notSupported, "this backend cannot move secrets")
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
