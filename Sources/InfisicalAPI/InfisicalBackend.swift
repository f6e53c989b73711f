public import Foundation
public import HTTPClient
public import Logging
public import SecretsCore
import Synchronization

/// Where and how to reach Infisical.
public struct InfisicalConfiguration: Sendable {
    /// The base URL, e.g. `https://app.infisical.com`; a trailing `/` is tolerated.
    public var siteURL: String
    public var credentials: Credentials
    /// Seconds one HTTP call may take, connection included. Calls made
    /// inside a file operation are also bounded by its `Deadline`.
    public var requestTimeout: Double = 10
    /// Ask Infisical to expand `${KEY}` and `${env.path.KEY}` references in
    /// the values it returns (`expandSecretReferences`), on every list and get.
    public var expandReferences = false
    /// Include the secrets of the folders imported into a folder
    /// (`include_imports`), on every list and get: a listing merges them
    /// in, a get finds an imported secret when the folder has none of that name.
    public var includeImports = false
    /// The clock the login's timing follows (token lifetimes, the wait
    /// after a failed login); tests move it.
    public var clock: @Sendable () -> Date = Date.init

    public static let defaultSiteURL = "https://app.infisical.com"

    public init(siteURL: String, credentials: Credentials) {
        self.siteURL = siteURL
        self.credentials = credentials
    }
}

/// The Infisical API as a `SecretBackend`: v3 raw secrets, v2 folders, v1
/// projects, with universal auth or a static access token.
public final class InfisicalBackend: SecretBackend {
    private let client: APIClient
    private let logger: Logger
    private let expandReferences: Bool
    private let includeImports: Bool

    public init(configuration: InfisicalConfiguration, transport: any HTTPTransport, logger: Logger) {
        self.client = APIClient(
            siteURL: configuration.siteURL, transport: transport, credentials: configuration.credentials,
            timeout: configuration.requestTimeout, logger: logger, now: configuration.clock)
        self.logger = logger
        self.expandReferences = configuration.expandReferences
        self.includeImports = configuration.includeImports
    }

    /// Seconds to wait after a refused login before the next (32 s or a
    /// little more, at random): longer than Infisical's lockout counter
    /// reset, so a process that is restarted after a refused login cannot
    /// add up to a lockout either.
    public static func waitAfterRefusedLogin() -> TimeInterval {
        LoginBackoff.refusedWait * (1 + Double.random(in: 0...LoginBackoff.jitter))
    }

    public let capabilities = BackendCapabilities(managesProjects: false, renamesFolders: true)

    public var status: StatusValue {
        .object([
            ("backend", .string("infisical")),
            ("site_url", .string(client.baseURL)),
            ("expand_references", .boolean(expandReferences)),
            ("include_imports", .boolean(includeImports)),
            ("auth", client.tokens.status),
            ("api", client.status),
        ])
    }

    /// Logs in (or checks the static token) and lists the reachable
    /// projects, so a mount fails before mounting when it cannot work.
    /// Returns the projects the identity can reach.
    @discardableResult
    public func authenticate() throws -> [Project] {
        let projects = try listProjects()
        logger.notice(
            "authenticated with \(client.tokens.credentials.methodName); \(projects.count) project(s) reachable"
                + (client.tokens.expiresAt.map { ", token valid until \($0)" } ?? ""))
        return projects
    }

    // MARK: Projects

    /// The identity's secret-manager projects: Infisical lists its other
    /// products' projects (KMS, certificates, SSH, …) in the same list, and
    /// its secret routes refuse them. Asked by type, and filtered by the
    /// answer's type too, for servers that ignore the query.
    public func listProjects() throws -> [Project] {
        let projects: [ProjectDTO]
        do {
            projects = try client.send(
                Endpoint(
                    method: "GET", route: "/api/v1/projects", path: "/api/v1/projects",
                    query: [("type", "secret-manager")]),
                as: ProjectsResponse.self
            ).projects
        } catch {
            // Servers from before the rename to "projects".
            guard error.kind == .notFound else { throw error }
            projects = try client.send(
                Endpoint(method: "GET", route: "/api/v1/workspace", path: "/api/v1/workspace"),
                as: WorkspacesResponse.self
            ).workspaces
        }
        return projects.filter(\.holdsSecrets).map(Self.project)
    }

    /// The project with this ID or slug. A name the slug route refuses
    /// (422: `.Trash-1000`, `.git`, `MyProj`) is missing, and so is a project
    /// of another product. (The file system asks nothing for a name that is
    /// not a slug; an ID given by the server is taken as it is.)
    public func project(_ reference: String) throws -> Project {
        let dto = try projectDTO(reference)
        guard dto.holdsSecrets else {
            throw BackendError.notFound("project '\(reference)' is a \(dto.type ?? "") project, not a secret manager")
        }
        return Self.project(dto)
    }

    /// By ID, else by slug; a name the slug route refuses (422) is missing.
    private func projectDTO(_ reference: String) throws(BackendError) -> ProjectDTO {
        let encoded = PercentEncoding.pathSegment(reference)
        do {
            return try client.send(
                Endpoint(method: "GET", route: "/api/v1/projects/{id}", path: "/api/v1/projects/\(encoded)"),
                as: ProjectResponse.self
            ).project
        } catch {
            // Not an ID: try it as a slug.
            guard [.notFound, .invalidArgument].contains(error.kind) else { throw error }
        }
        do {
            return try client.send(
                Endpoint(method: "GET", route: "/api/v1/projects/slug/{slug}", path: "/api/v1/projects/slug/\(encoded)"),
                as: ProjectDTO.self)
        } catch {
            guard error.kind == .invalidArgument else { throw error }
            throw BackendError.notFound("no project '\(reference)': \(error.reason)")
        }
    }

    private static func project(_ dto: ProjectDTO) -> Project {
        // An environment once, the first of a slug the answer repeats.
        var slugs = Set<String>()
        return Project(
            id: dto.id, slug: dto.slug ?? dto.id, name: dto.name ?? dto.slug ?? dto.id,
            environments: (dto.environments ?? []).filter { slugs.insert($0.slug).inserted }.map {
                Environment(slug: $0.slug, name: $0.name ?? $0.slug)
            })
    }

    // MARK: Secrets

    public func listFolder(_ location: SecretLocation) throws -> FolderListing {
        // The two calls go out at once: a listing costs one round trip, not two.
        let folderCall = BackgroundCall { () throws(BackendError) -> [FolderDTO] in try self.subfolders(of: location) }
        let answer = try client.send(
            Endpoint(
                method: "GET", route: "/api/v3/secrets/raw", path: "/api/v3/secrets/raw",
                query: Self.scope(location) + readOptions + [("recursive", "false")]),
            as: SecretsResponse.self)
        let folders = try folderCall.result()
        var byName = secretsByName(answer.secrets)
        if includeImports {
            byName = merging(imports: answer.imports ?? [], into: byName)
        }
        // A name once: the file system shows one entry per name.
        return FolderListing(
            secrets: byName.sorted { $0.key < $1.key }.map(\.value),
            folders: Set(folders.map { ExactName($0.name) }).sorted().map(\.string))
    }

    /// One secret per name: the shared secret wins over a personal one of
    /// the same name (getSecret's rule).
    private func secretsByName(_ secrets: [SecretDTO]) -> [ExactName: Secret] {
        var byName: [ExactName: Secret] = [:]
        for dto in secrets {
            let secret = Self.secret(dto)
            let name = ExactName(secret.name)
            if byName[name] == nil || secret.type == .shared { byName[name] = secret }
        }
        return byName
    }

    /// A listing with the imported folders' secrets merged in, in the order
    /// a get by name finds them (Infisical's server: the folder's own shared
    /// secret; else the imports, the last import first; else the caller's
    /// personal secret), so `ls` and `cat` agree on every name.
    private func merging(imports: [SecretImportDTO], into own: [ExactName: Secret]) -> [ExactName: Secret] {
        var merged: [ExactName: Secret] = [:]
        for imported in imports {
            // A later import overrides an earlier one.
            for secret in imported.secrets.map(Self.secret) { merged[ExactName(secret.name)] = secret }
        }
        for (name, secret) in own where secret.type == .shared || merged[name] == nil {
            merged[name] = secret
        }
        return merged
    }

    /// `include_imports` and `expandSecretReferences`, the same on every read
    /// (the SDKs send them inconsistently: see the API reference, §4.9).
    private var readOptions: [(String, String)] {
        [
            ("include_imports", includeImports ? "true" : "false"),
            ("expandSecretReferences", expandReferences ? "true" : "false"),
        ]
    }

    public func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        do {
            return try getSecret(name, in: location, type: .shared)
        } catch {
            // The SDK docs' rule: the shared secret, else the caller's personal one.
            guard error.kind == .notFound else { throw error }
            return try getSecret(name, in: location, type: .personal)
        }
    }

    private func getSecret(_ name: String, in location: SecretLocation, type: SecretType) throws(BackendError)
        -> Secret
    {
        Self.secret(try secretDTO(name, in: location, type: type))
    }

    private func secretDTO(_ name: String, in location: SecretLocation, type: SecretType) throws(BackendError)
        -> SecretDTO
    {
        try client.send(
            Endpoint(
                method: "GET", route: "/api/v3/secrets/raw/{secretName}",
                path: "/api/v3/secrets/raw/\(PercentEncoding.pathSegment(name))",
                query: Self.scope(location) + [("type", type.rawValue)] + readOptions),
            as: SecretResponse.self
        ).secret
    }

    public func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try SecretValue.requireWithinLimit(value, of: name)
        // The create answer holds the stored (trimmed) value.
        return Self.secret(
            try client.send(
                Self.secretEndpoint(
                    "POST", name, in: location,
                    ["secretValue": value, "secretComment": "", "skipMultilineEncoding": false]),
                as: SecretResponse.self
            ).secret)
    }

    public func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try SecretValue.requireWithinLimit(value, of: name)
        let answer = Self.secret(
            try client.send(
                Self.secretEndpoint("PATCH", name, in: location, ["secretValue": value]),
                as: SecretResponse.self
            ).secret)
        return try storedState(after: answer, sent: value, name: name, in: location)
    }

    /// The update answer echoes the value sent, not the stored one: read it back.
    private func storedState(after answer: Secret, sent value: String, name: String, in location: SecretLocation)
        throws(BackendError) -> Secret
    {
        do {
            return try getSecret(name, in: location, type: .shared)
        } catch {
            logger.notice("reading back \(name) after a write failed (\(error.reason)); assuming the server's trimming")
            // The answer's comment is "" whatever is stored (none was sent) and it has no tags.
            return Secret(
                name: answer.name, value: SecretValue.storedForm(value), version: answer.version, type: .shared,
                createdAt: answer.createdAt, updatedAt: answer.updatedAt, id: answer.id)
        }
    }

    /// A PATCH with only `secretComment` (§4.5: omitted fields are unchanged,
    /// so the value stays), then the secret read back: the answer's value is
    /// "" when none was sent. When the read-back fails, the comment is stored
    /// but the value is unknown here, so that failure is thrown.
    public func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        try SecretValue.requireWithinLimit(comment, of: name, what: "comment")
        try client.sendIgnoringBody(
            Self.secretEndpoint("PATCH", name, in: location, ["secretComment": comment]))
        do {
            return try getSecret(name, in: location, type: .shared)
        } catch {
            logger.notice("reading back \(name) after setting its comment failed (\(error.reason))")
            throw error
        }
    }

    public func deleteSecret(_ name: String, in location: SecretLocation) throws { try delete(name, in: location) }

    private func delete(_ name: String, in location: SecretLocation) throws(BackendError) {
        try client.sendIgnoringBody(
            Self.secretEndpoint("DELETE", name, in: location, [:]))
    }

    /// A rename within a folder is one call (`newSecretName`) when the new
    /// name is free; a move to another folder under the same name is one
    /// call to the move route where the server has it. Otherwise the target
    /// is created (or updated) with the source's value, comment and tags,
    /// and the source deleted. What each way keeps: docs/SEMANTICS.md.
    ///
    /// A move that fails leaves source and target as they were: a step that
    /// fails after the target was written is undone (`carryOver`). Once the
    /// move is made, a later step that fails (the read-back, setting tags
    /// again) does not fail it: the source is gone by then.
    public func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        guard source.sharesEnvironment(with: target) else {
            throw BackendError.invalid("\(source)/\(name) cannot move to another environment or project (\(target))")
        }
        if source == target, name == newName { return try getSecret(name, in: source, type: .shared) }
        // Every way needs it: the move is described by it when its read-back fails.
        let original = try secretDTO(name, in: source, type: .shared)
        if source == target, (try? getSecret(newName, in: target, type: .shared)) == nil,
            let renamed = try renameInPlace(original, in: source, to: newName)
        {
            return renamed
        }
        if source != target, name == newName,
            let moved = try moveThroughRoute(original, from: source, to: target)
        {
            return moved
        }
        return try carryOver(original, from: source, to: newName, in: target)
    }

    /// Whether the server has `POST /api/v4/secrets/move` (older ones answer
    /// 404 "Route … not found"; asked once).
    private let hasMoveRoute = Atomic<Bool>(true)

    /// One call to the move route (§6: the destination gets the value and
    /// comment, replacing a secret of that name; history and tags are not
    /// moved, so the tags are set again). Nil when the server has no such route.
    private func moveThroughRoute(_ original: SecretDTO, from source: SecretLocation, to target: SecretLocation)
        throws(BackendError) -> Secret?
    {
        guard hasMoveRoute.load(ordering: .relaxed) else { return nil }
        let name = original.secretKey
        guard let id = original.id ?? original._id else { return nil }
        do {
            try client.sendIgnoringBody(
                Endpoint(
                    method: "POST", route: "/api/v4/secrets/move", path: "/api/v4/secrets/move",
                    body: JSONBody([
                        "projectId": source.projectID, "sourceEnvironment": source.environment,
                        "sourceSecretPath": source.path.description, "destinationEnvironment": target.environment,
                        "destinationSecretPath": target.path.description, "secretIds": [id], "shouldOverwrite": true,
                    ])))
        } catch {
            guard StatusMapping.isMissingRoute(error) else { throw error }
            hasMoveRoute.store(false, ordering: .relaxed)
            logger.notice("this Infisical server has no move route; moves copy and delete")
            return nil
        }
        // The move is made: from here on nothing fails it (the source is gone).
        let tagIDs = (original.tags ?? []).compactMap(\.id)
        var tagsSet = true
        if !tagIDs.isEmpty {
            do {
                try client.sendIgnoringBody(
                    Self.secretEndpoint("PATCH", name, in: target, ["tagIds": tagIDs]))
            } catch {
                tagsSet = false
                logger.warning("moved \(name) to \(target), but its tags could not be set again: \(error.reason)")
            }
        }
        return readBack(name, in: target, after: "moving it from \(source)", carrying: original, withTags: tagsSet)
    }

    /// The secret a move made, as stored; when that read fails, as the move
    /// made it from `original` (ID and version unknown: "" and 0, until the
    /// next listing), so a move that happened is never reported as failed.
    private func readBack(
        _ name: String, in location: SecretLocation, after what: String, carrying original: SecretDTO,
        withTags: Bool = true, version: Int = 0, id: String? = nil
    ) -> Secret {
        do {
            return try getSecret(name, in: location, type: .shared)
        } catch {
            logger.notice("reading back \(location)/\(name) after \(what) failed (\(error.reason)); the move is made")
            let now = Date()
            let tags = withTags ? (original.tags ?? []).compactMap { $0.slug ?? $0.name ?? $0.id } : []
            return Secret(
                name: name, value: original.secretValue, version: version, type: .shared, createdAt: now,
                updatedAt: now, id: id ?? "", comment: original.secretComment ?? "", tags: tags)
        }
    }

    /// A move from the basic calls that keeps what a secret carries: the
    /// target is created with the source's value, comment and tags (or, when
    /// the name is taken, updated with them, as rename(2) replaces a file),
    /// then the source is deleted. When that delete fails, the target is put
    /// back as it was (deleted, or given its old value, comment and tags).
    private func carryOver(_ original: SecretDTO, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws(BackendError) -> Secret
    {
        let name = original.secretKey
        guard original.secretValueHidden != true else {
            // Copying would store Infisical's placeholder as the value.
            throw BackendError(.permissionDenied, "\(source)/\(name): its value is hidden from this identity")
        }
        let carried: [String: any Encodable & Sendable] = [
            "secretValue": original.secretValue, "secretComment": original.secretComment ?? "",
            "tagIds": (original.tags ?? []).compactMap(\.id),
        ]
        /// What the target held before, to put back; nil when the move creates it.
        var replaced: SecretDTO?
        do {
            try client.sendIgnoringBody(
                Self.secretEndpoint("POST", newName, in: target, carried.merging(["skipMultilineEncoding": false]) { $1 }))
        } catch {
            guard error.kind == .alreadyExists else { throw error }
            replaced = try secretDTO(newName, in: target, type: .shared)
            try client.sendIgnoringBody(
                Self.secretEndpoint("PATCH", newName, in: target, carried))
        }
        // Read before the delete: the answer describes the target as written.
        let written = readBack(
            newName, in: target, after: "writing it as the target of a move", carrying: original,
            version: replaced.map { ($0.version ?? 0) + 1 } ?? 1)
        do {
            try delete(name, in: source)
        } catch {
            // Deleted by someone else meanwhile, or a delete sent twice: the move is whole.
            if error.kind == .notFound { return written }
            if try !sourceRemains(name, in: source, after: error) { return written }
            throw undo(replaced, of: newName, in: target, movingFrom: "\(source)/\(name)", because: error)
        }
        return written
    }

    /// After the source's delete failed: whether the source is still there.
    /// A failure without a clear answer (no answer, 5xx) may come after the
    /// delete was made; then the move is whole and undoing it would lose the
    /// value. When that cannot be told, it fails with both states named and
    /// changes nothing more: two copies lose nothing.
    private func sourceRemains(_ name: String, in source: SecretLocation, after failure: BackendError)
        throws(BackendError) -> Bool
    {
        guard [.unavailable, .timedOut, .internalError].contains(failure.kind) else { return true }
        do {
            _ = try secretDTO(name, in: source, type: .shared)
            return true
        } catch {
            if error.kind == .notFound {
                logger.notice("deleting \(source)/\(name) after moving it answered \(failure.reason), yet it is gone: the move is made")
                return false
            }
            throw BackendError(
                failure.kind,
                "\(failure.reason); whether \(source)/\(name) was deleted is unknown (\(error.reason)): "
                    + "the move's target holds its value, the source may still be there")
        }
    }

    /// Puts a move's target back as it was, after the source could not be
    /// deleted: the error to throw, naming both states when the undo fails
    /// too (one line; never a value).
    private func undo(
        _ replaced: SecretDTO?, of newName: String, in target: SecretLocation, movingFrom source: String,
        because failure: BackendError
    ) -> BackendError {
        do throws(BackendError) {
            if let replaced {
                guard replaced.secretValueHidden != true else {
                    throw BackendError(.permissionDenied, "its old value is hidden from this identity")
                }
                try client.sendIgnoringBody(
                    Self.secretEndpoint(
                        "PATCH", newName, in: target,
                        [
                            "secretValue": replaced.secretValue, "secretComment": replaced.secretComment ?? "",
                            "tagIds": (replaced.tags ?? []).compactMap(\.id),
                        ]))
            } else {
                try delete(newName, in: target)
            }
        } catch {
            let reason = error.reason
            let state = replaced == nil ? "created by the move, holds the source's value" : "holds the source's value, not its old one"
            return BackendError(
                failure.kind,
                "\(failure.reason); undoing the move failed too (\(reason)): \(source) is still there, "
                    + "and \(target)/\(newName), \(state)")
        }
        let state = replaced == nil ? "removed again" : "given back its old value, comment and tags"
        return BackendError(failure.kind, "\(failure.reason); the move was undone: \(source) is still there, \(target)/\(newName) \(state)")
    }

    /// The one-call rename (`newSecretName`); nil when the new name was
    /// taken since it was checked: a rename replaces it, as rename(2) does,
    /// so the caller copies and deletes instead.
    private func renameInPlace(_ original: SecretDTO, in location: SecretLocation, to newName: String)
        throws(BackendError) -> Secret?
    {
        let name = original.secretKey
        do {
            try client.sendIgnoringBody(
                Self.secretEndpoint("PATCH", name, in: location, ["newSecretName": newName]))
        } catch {
            if error.kind == .alreadyExists { return nil }
            throw error
        }
        // The answer's value is "" (none was sent): the secret is read back.
        return readBack(
            newName, in: location, after: "renaming it from \(name)", carrying: original,
            version: (original.version ?? 0) + 1, id: original.id ?? original._id)
    }

    private static func scope(_ location: SecretLocation) -> [(String, String)] {
        [
            ("workspaceId", location.projectID), ("environment", location.environment),
            ("secretPath", location.path.description),
        ]
    }

    /// A call on one secret by name (`/api/v3/secrets/raw/{secretName}`),
    /// its body the location's scope and `fields`.
    private static func secretEndpoint(
        _ method: String, _ name: String, in location: SecretLocation, _ fields: [String: any Encodable & Sendable]
    ) -> Endpoint {
        Endpoint(
            method: method, route: "/api/v3/secrets/raw/{secretName}",
            path: "/api/v3/secrets/raw/\(PercentEncoding.pathSegment(name))", body: writeBody(location, fields))
    }

    private static func writeBody(_ location: SecretLocation, _ fields: [String: any Encodable & Sendable])
        -> JSONBody
    {
        var values: [String: (any Encodable & Sendable)?] = [
            "workspaceId": location.projectID, "environment": location.environment,
            "secretPath": location.path.description, "type": "shared",
        ]
        for (key, value) in fields { values[key] = value }
        return JSONBody(values)
    }

    private static func secret(_ dto: SecretDTO) -> Secret {
        let updated = dto.updatedAt ?? dto.createdAt ?? Date(timeIntervalSince1970: 0)
        return Secret(
            name: dto.secretKey, value: dto.secretValue, version: dto.version ?? 0,
            type: SecretType(rawValue: dto.type ?? "shared") ?? .shared, createdAt: dto.createdAt ?? updated,
            updatedAt: updated, id: dto.id ?? dto._id ?? "", comment: dto.secretComment ?? "",
            // A tag is known by its slug (what `tagSlugs` filters on); its name or ID when a server omits it.
            tags: (dto.tags ?? []).compactMap { $0.slug ?? $0.name ?? $0.id })
    }

    // MARK: Folders

    /// Infisical's folder create makes missing parents too (`mkdir -p`);
    /// the contract is `mkdir`: a missing parent is `.notFound`, checked first.
    public func createFolder(_ name: String, in parent: SecretLocation) throws {
        if let grandparent = parent.parent, let parentName = parent.path.name,
            !(try subfolders(of: grandparent)).contains(where: { $0.name == parentName })
        {
            throw BackendError.notFound("no folder \(parent)")
        }
        try client.sendIgnoringBody(
            Endpoint(
                method: "POST", route: "/api/v2/folders", path: "/api/v2/folders",
                body: JSONBody([
                    "projectId": parent.projectID, "environment": parent.environment, "name": name,
                    "path": parent.path.description,
                ])))
    }

    public func deleteFolder(_ name: String, in parent: SecretLocation) throws {
        // forceDelete false: the server refuses a non-empty folder instead of deleting its content.
        try client.sendIgnoringBody(
            Endpoint(
                method: "DELETE", route: "/api/v2/folders/{folderIdOrName}",
                path: "/api/v2/folders/\(PercentEncoding.pathSegment(name))",
                body: JSONBody([
                    "projectId": parent.projectID, "environment": parent.environment,
                    "path": parent.path.description, "forceDelete": false,
                ])))
    }

    /// The direct subfolders of a folder (an empty list for a missing path, as Infisical answers).
    private func subfolders(of location: SecretLocation) throws(BackendError) -> [FolderDTO] {
        try client.send(
            Endpoint(
                method: "GET", route: "/api/v2/folders", path: "/api/v2/folders",
                query: [
                    ("projectId", location.projectID), ("environment", location.environment),
                    ("path", location.path.description),
                ]),
            as: FoldersResponse.self
        ).folders
    }

    public func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws {
        let folders = try subfolders(of: parent)
        guard let folder = folders.first(where: { $0.name == name }) else {
            throw BackendError.notFound("no folder \(name) in \(parent)")
        }
        try client.sendIgnoringBody(
            Endpoint(
                method: "PATCH", route: "/api/v2/folders/{folderId}",
                path: "/api/v2/folders/\(PercentEncoding.pathSegment(folder.id))",
                body: JSONBody([
                    "projectId": parent.projectID, "environment": parent.environment, "name": newName,
                    "path": parent.path.description,
                ])))
    }
}

/// A blocking call run on another thread while the caller does something
/// else; `result()` waits for it (it ends by the caller's deadline, which
/// it carries over to its thread).
private final class BackgroundCall<Value: Sendable>: @unchecked Sendable {
    // The semaphore orders the write of `outcome` before its read.
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, BackendError>?

    init(_ body: @escaping @Sendable () throws(BackendError) -> Value) {
        let deadline = Deadline.end
        DispatchQueue.global().async {
            self.outcome = Deadline.at(deadline) { Result(catching: body) }
            self.done.signal()
        }
    }

    func result() throws(BackendError) -> Value {
        done.wait()
        return try outcome!.get()
    }
}
