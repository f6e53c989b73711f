import Foundation
public import Logging
public import SecretCrypto
public import SecretsCore
import Synchronization

/// Secrets in an encrypted SQLite file, behaving like Infisical: the same
/// naming rules, value trimming, versions and errors. Values are sealed with
/// AES-256-GCM bound to their project, environment, folder and name, so a row
/// copied elsewhere does not decrypt. Every write is one `BEGIN IMMEDIATE`
/// transaction in WAL mode with `synchronous=FULL`: a crash never loses a
/// committed write, and several processes can share one file.
public final class LocalSecretStore: SecretBackend {
    private let database: Mutex<Database>
    private let key: SymmetricKey
    private let logger: Logger
    private let path: String
    /// The file the connection opened: a write is refused once `path` names
    /// another file or none (the store deleted, moved or replaced under a
    /// running mount), since it would land in a file no one will open again.
    private let identity: FileSecurity.Identity

    /// Opens the store at `path`, creating it when missing, and its folders
    /// (mode 0700) when `createMissingFolders`. Throws a `BackendError` when
    /// the file or a folder above it is not private (`FileSecurity`) or the
    /// file cannot be opened, and `StoreKeyMismatch` when `key` is not the
    /// key the store was made with.
    public init(path: String, key: SymmetricKey, logger: Logger = .disabled, createMissingFolders: Bool = true) throws {
        if createMissingFolders { try FileSecurity.createParentFolders(of: path) }
        try FileSecurity.checkFolders(above: path, what: "store file")
        let created = try FileSecurity.createPrivateFile(path, what: "store file")
        let connection: Database
        let identity: FileSecurity.Identity
        do {
            let before = FileSecurity.identity(of: path)
            connection = try Database(path: path)
            guard let opened = FileSecurity.identity(of: path), opened == before else {
                throw BackendError(.internalError, "local store: \(path) was replaced while it was being opened")
            }
            identity = opened
            try Self.configure(connection, path: path, key: key)
        } catch let error as SQLiteError {
            throw BackendError(
                error.isBusy ? .unavailable : error.isFull ? .noSpace : .internalError,
                "local store: cannot open \(path): \(error.message)")
        }
        self.database = Mutex(connection)
        self.key = key
        self.logger = logger
        self.path = path
        self.identity = identity
        logger.info("\(created ? "created" : "opened") local store \(path)")
    }

    public var status: StatusValue {
        .object([("backend", .string("local")), ("store", .string(path))])
    }

    private static func configure(_ connection: Database, path: String, key: SymmetricKey) throws {
        // The busy timeout first, so the statements below wait for other processes.
        try connection.execute("PRAGMA busy_timeout = 5000")
        try connection.execute("PRAGMA foreign_keys = ON")
        let mode = try connection.query("PRAGMA journal_mode = WAL") { $0.text(0) }.first
        guard mode?.lowercased() == "wal" else {
            throw BackendError(.internalError, "local store: \(path) cannot use WAL journal mode")
        }
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.transaction(immediate: true) {
            let version = try connection.query("PRAGMA user_version") { $0.integer(0) }.first ?? 0
            if version == 0 {
                try connection.execute(Schema.create)
                try connection.execute("PRAGMA user_version = \(Schema.version)")
            } else if version < Schema.version {
                try Schema.migrate(connection, from: version)
                try connection.execute("PRAGMA user_version = \(Schema.version)")
            } else if version > Schema.version {
                throw BackendError(
                    .internalError,
                    "local store: \(path) has schema version \(version); this infisicalfs knows up to \(Schema.version)"
                )
            }
            try checkKey(key, of: connection, path: path)
        }
    }

    /// Refuses a key that is not the store's own, before anything is
    /// written with it. The check value is written when the store is made;
    /// a store made before there was one (schema 1 or 2) gets it at its
    /// first opening, if the key opens at least one of the values sealed
    /// longest ago (the first key's, should two keys have written to it).
    /// A store without values takes any key.
    private static func checkKey(_ key: SymmetricKey, of db: Database, path: String) throws {
        let mismatch = StoreKeyMismatch(
            "the key does not open local store \(path): it was made with another key (give its own key in "
                + "\(LocalStoreKey.environmentVariable) or in \(path).key)")
        func opens(_ sealed: [UInt8], _ associatedData: [UInt8]) -> Bool {
            (try? AESGCM.open(AESGCM.SealedBox(combined: sealed), using: key, authenticating: associatedData)) != nil
        }
        let check = try db.query("SELECT value FROM settings WHERE name = ?", .text(Schema.keyCheckName)) {
            $0.blob(0)
        }.first
        if let check {
            guard opens(check, Schema.keyCheckAssociatedData) else { throw mismatch }
            return
        }
        let samples = try db.query(
            "SELECT project_id, environment, path, name, value FROM secrets ORDER BY updated_at, rowid LIMIT 64"
        ) { row -> (SecretLocation?, String, [UInt8]) in
            let folder = SecretPath(canonical: row.text(2))
            let location = folder.map { SecretLocation(projectID: row.text(0), environment: row.text(1), path: $0) }
            return (location, row.text(3), row.blob(4))
        }
        let opened = samples.contains { location, name, sealed in
            location.map { opens(sealed, associatedData(name, in: $0, .value)) } ?? false
        }
        guard samples.isEmpty || opened else { throw mismatch }
        let sealed = try AESGCM.seal(
            Schema.keyCheckPlaintext, using: key, authenticating: Schema.keyCheckAssociatedData
        ).combined
        try db.run("INSERT INTO settings (name, value) VALUES (?, ?)", .text(Schema.keyCheckName), .blob(sealed))
    }

    public var capabilities: BackendCapabilities { BackendCapabilities(managesProjects: true) }

    // MARK: Projects and environments

    public func listProjects() throws -> [Project] {
        try read { db in
            try db.query("SELECT id, slug, name FROM projects ORDER BY slug") { row in
                (row.text(0), row.text(1), row.text(2))
            }.map { try Self.project(id: $0.0, slug: $0.1, name: $0.2, in: db) }
        }
    }

    public func project(_ reference: String) throws -> Project {
        try read { db in try Self.findProject(reference, in: db) }
    }

    public func createProject(slug: String) throws -> Project {
        try Self.require(NamingRules.checkSlug(slug, of: "project"))
        let project = try write { db in
            if try db.exists("SELECT 1 FROM projects WHERE slug = ?", .text(slug)) {
                throw BackendError.alreadyExists("a project with slug '\(slug)' already exists")
            }
            let id = UUID().uuidString.lowercased()
            try db.run(
                "INSERT INTO projects (id, slug, name, created_at) VALUES (?, ?, ?, ?)", .text(id), .text(slug),
                .text(slug), .real(Date().timeIntervalSince1970))
            let defaults = [("dev", "Development"), ("staging", "Staging"), ("prod", "Production")]
            for (position, environment) in defaults.enumerated() {
                try db.run(
                    "INSERT INTO environments (project_id, slug, name, position) VALUES (?, ?, ?, ?)", .text(id),
                    .text(environment.0), .text(environment.1), .integer(Int64(position)))
            }
            return try Self.project(id: id, slug: slug, name: slug, in: db)
        }
        logger.info("created project \(slug) (\(project.id))")
        return project
    }

    public func deleteProject(id: String) throws {
        try write { db in
            guard try db.exists("SELECT 1 FROM projects WHERE id = ?", .text(id)) else {
                throw BackendError.notFound("no project with ID '\(id)'")
            }
            if try db.exists("SELECT 1 FROM secrets WHERE project_id = ? LIMIT 1", .text(id))
                || db.exists("SELECT 1 FROM folders WHERE project_id = ? LIMIT 1", .text(id))
            {
                throw BackendError(.notEmpty, "project '\(id)' still holds secrets or folders")
            }
            // Its environments go with it (ON DELETE CASCADE).
            try db.run("DELETE FROM projects WHERE id = ?", .text(id))
        }
        logger.info("deleted project \(id)")
    }

    public func createEnvironment(slug: String, in projectID: String) throws -> Project {
        try Self.require(NamingRules.checkSlug(slug, of: "environment"))
        let project = try write { db in
            let project = try Self.findProject(id: projectID, in: db)
            if project.environments.contains(where: { $0.slug == slug }) {
                throw BackendError.alreadyExists("project '\(project.slug)' already has an environment '\(slug)'")
            }
            try db.run(
                """
                INSERT INTO environments (project_id, slug, name, position)
                SELECT ?1, ?2, ?2, COALESCE(MAX(position), -1) + 1 FROM environments WHERE project_id = ?1
                """, .text(projectID), .text(slug))
            return try Self.findProject(id: projectID, in: db)
        }
        logger.info("created environment \(slug) in project \(project.slug)")
        return project
    }

    public func deleteEnvironment(slug: String, in projectID: String) throws {
        try write { db in
            let project = try Self.findProject(id: projectID, in: db)
            guard project.environments.contains(where: { $0.slug == slug }) else {
                throw BackendError.notFound("project '\(project.slug)' has no environment '\(slug)'")
            }
            let scope: [SQLValue] = [.text(projectID), .text(slug)]
            if try db.exists("SELECT 1 FROM secrets WHERE project_id = ? AND environment = ? LIMIT 1", scope)
                || db.exists("SELECT 1 FROM folders WHERE project_id = ? AND environment = ? LIMIT 1", scope)
            {
                throw BackendError(.notEmpty, "environment '\(slug)' of project '\(project.slug)' is not empty")
            }
            try db.run("DELETE FROM environments WHERE project_id = ? AND slug = ?", scope)
        }
        logger.info("deleted environment \(slug) of project \(projectID)")
    }

    // MARK: Reads

    public func listFolder(_ location: SecretLocation) throws -> FolderListing {
        try read { db in
            try requireFolder(location, in: db)
            var seen = Set<ExactName>()  // bytes: NFC and NFD names are two secrets
            // Shared before personal for each name ('shared' > 'personal'), and
            // only the first kept: the secret `getSecret` would return.
            let rows = try db.query(
                """
                SELECT \(SecretRow.columns) FROM secrets
                WHERE project_id = ? AND environment = ? AND path = ? ORDER BY name, type DESC
                """, Self.scope(location), transform: { try SecretRow($0) })
            // A row that does not decrypt is listed with its damage: its siblings still read.
            let secrets = rows.filter { seen.insert(ExactName($0.name)).inserted }.map { decrypt($0, in: location) }
            let prefix = location.path.isRoot ? "/" : location.path.description + "/"
            let prefixLength = Int64(prefix.utf8.count)
            let folders = try db.query(
                """
                SELECT substr(path, ?4 + 1) FROM folders
                WHERE project_id = ?1 AND environment = ?2 AND substr(path, 1, ?4) = ?3
                    AND instr(substr(path, ?4 + 1), '/') = 0
                ORDER BY path
                """, .text(location.projectID), .text(location.environment), .text(prefix), .integer(prefixLength)
            ) { $0.text(0) }
            return FolderListing(secrets: secrets, folders: folders)
        }
    }

    public func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        try read { db in
            guard let row = try Self.secretRow(name, in: location, db: db) else {
                throw Self.noSecret(name, in: location)
            }
            return decrypt(row, in: location)
        }
    }

    // MARK: Secret writes

    public func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try Self.require(NamingRules.checkSecretName(name))
        try SecretValue.requireWithinLimit(value, of: name)
        let stored = SecretValue.storedForm(value)
        let secret = try write { db in
            try requireFolder(location, in: db)
            if try Self.secretRow(name, in: location, db: db) != nil {
                throw BackendError.alreadyExists("secret '\(name)' already exists in \(location)")
            }
            let now = Date().timeIntervalSince1970
            let id = Schema.newSecretID()
            try insert(
                name, value: stored, type: .shared, version: 1, createdAt: now, updatedAt: now, id: id, comment: "",
                in: location, db)
            return Secret(
                name: name, value: stored, version: 1, type: .shared, createdAt: Self.date(now),
                updatedAt: Self.date(now), id: id)
        }
        logger.debug("created secret \(name) in \(location)")
        return secret
    }

    public func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        try SecretValue.requireWithinLimit(value, of: name)
        let stored = SecretValue.storedForm(value)
        let secret = try write { db in
            guard let row = try Self.secretRow(name, in: location, db: db) else {
                throw Self.noSecret(name, in: location)
            }
            let now = Date().timeIntervalSince1970
            try db.run(
                """
                UPDATE secrets SET value = ?, version = version + 1, updated_at = ?
                WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
                """,
                [.blob(try seal(stored, name: name, in: location)), .real(now)] + Self.scope(location)
                    + [.text(name), .text(row.type.rawValue)])
            return try storedSecret(name, type: row.type, in: location, db)
        }
        logger.debug("updated secret \(name) in \(location) to version \(secret.version)")
        return secret
    }

    /// Seals the new comment in place of the old; the value stays as it is,
    /// the version goes up by one (as Infisical counts any update). An empty
    /// comment is stored as none (NULL).
    public func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        try SecretValue.requireWithinLimit(comment, of: name, what: "comment")
        let secret = try write { db in
            guard let row = try Self.secretRow(name, in: location, db: db) else {
                throw Self.noSecret(name, in: location)
            }
            try db.run(
                """
                UPDATE secrets SET comment = ?, version = version + 1, updated_at = ?
                WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
                """,
                [try sealComment(comment, name: name, in: location), .real(Date().timeIntervalSince1970)]
                    + Self.scope(location) + [.text(name), .text(row.type.rawValue)])
            return try storedSecret(name, type: row.type, in: location, db)
        }
        logger.debug("set the comment of secret \(name) in \(location) (version \(secret.version))")
        return secret
    }

    public func deleteSecret(_ name: String, in location: SecretLocation) throws {
        try write { db in
            guard let row = try Self.secretRow(name, in: location, db: db) else {
                throw Self.noSecret(name, in: location)
            }
            try db.run(
                "DELETE FROM secrets WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?",
                Self.scope(location) + [.text(name), .text(row.type.rawValue)])
        }
        logger.debug("deleted secret \(name) in \(location)")
    }

    /// One transaction, unlike the protocol's create-then-delete default, so a
    /// crash cannot leave the secret under both names or neither. The outcome
    /// is Infisical's (see `SecretBackend.moveSecret`): a rename in place to a
    /// free name keeps the secret's creation time and ID, one version on; a
    /// move to a free name in another folder makes a new secret (version 1, a
    /// new ID), as Infisical's move route does; a replaced target keeps its own
    /// creation time and ID, one version on. The comment goes with the value
    /// every time.
    public func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        let moved = try write { db in
            guard let row = try Self.secretRow(name, in: source, db: db) else {
                throw Self.noSecret(name, in: source)
            }
            try requireFolder(target, in: db)
            guard source.sharesEnvironment(with: target) else {
                throw BackendError.invalid(
                    "cannot move secret '\(name)' from \(source) to another environment (\(target))")
            }
            try Self.require(NamingRules.checkSecretName(newName))
            let original = decrypt(row, in: source)
            let value = original.value
            if source == target, name == newName {
                return original
            }
            try Self.requireIntact(original, "secret '\(name)' cannot be moved")
            let now = Date().timeIntervalSince1970
            let existing = try db.query(
                """
                SELECT \(SecretRow.columns) FROM secrets
                WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
                """, Self.scope(target) + [.text(newName), .text(row.type.rawValue)], transform: { try SecretRow($0) }
            ).first
            try db.run(
                "DELETE FROM secrets WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?",
                Self.scope(source) + [.text(name), .text(row.type.rawValue)])
            if let existing {
                try db.run(
                    """
                    UPDATE secrets SET value = ?, comment = ?, version = ?, updated_at = ?
                    WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
                    """,
                    [
                        .blob(try seal(value, name: newName, in: target)),
                        try sealComment(original.comment, name: newName, in: target),
                        .integer(Int64(existing.version + 1)), .real(now),
                    ] + Self.scope(target) + [.text(newName), .text(row.type.rawValue)])
            } else if source == target {
                try insert(
                    newName, value: value, type: row.type, version: row.version + 1, createdAt: row.createdAt,
                    updatedAt: now, id: row.secretID, comment: original.comment, in: target, db)
            } else {
                try insert(
                    newName, value: value, type: row.type, version: 1, createdAt: now, updatedAt: now,
                    id: Schema.newSecretID(), comment: original.comment, in: target, db)
            }
            return try storedSecret(newName, type: row.type, in: target, db)
        }
        logger.debug("moved secret \(name) in \(source) to \(newName) in \(target)")
        return moved
    }

    // MARK: Folder writes

    public func createFolder(_ name: String, in parent: SecretLocation) throws {
        try Self.require(NamingRules.checkFolderName(name))
        let folder = parent.appending(name)
        try write { db in
            try requireFolder(parent, in: db)
            if try Self.folderRowExists(folder, in: db) {
                throw BackendError.alreadyExists("folder '\(name)' already exists in \(parent)")
            }
            try db.run(
                "INSERT INTO folders (project_id, environment, path) VALUES (?, ?, ?)", Self.scope(folder))
        }
        logger.debug("created folder \(folder)")
    }

    public func deleteFolder(_ name: String, in parent: SecretLocation) throws {
        let folder = parent.appending(name)
        try write { db in
            guard NamingRules.isValidFolderName(name), try Self.folderRowExists(folder, in: db) else {
                throw BackendError.notFound("no folder '\(name)' in \(parent)")
            }
            let subtree = folder.path.description + "/"
            if try db.exists(
                "SELECT 1 FROM secrets WHERE project_id = ? AND environment = ? AND path = ? LIMIT 1",
                Self.scope(folder))
                || db.exists(
                    """
                    SELECT 1 FROM folders WHERE project_id = ? AND environment = ? AND substr(path, 1, ?) = ? LIMIT 1
                    """, .text(folder.projectID), .text(folder.environment), .integer(Int64(subtree.utf8.count)),
                    .text(subtree))
            {
                throw BackendError(.notEmpty, "folder \(folder) still holds secrets or folders")
            }
            try db.run("DELETE FROM folders WHERE project_id = ? AND environment = ? AND path = ?", Self.scope(folder))
        }
        logger.debug("deleted folder \(folder)")
    }

    /// Moves the folder's whole subtree in one transaction, re-sealing each
    /// value and comment for its new path.
    public func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws {
        try Self.require(NamingRules.checkFolderName(newName))
        let source = parent.appending(name)
        let target = parent.appending(newName)
        try write { db in
            guard NamingRules.isValidFolderName(name), try Self.folderRowExists(source, in: db) else {
                throw BackendError.notFound("no folder '\(name)' in \(parent)")
            }
            guard name != newName else { return }
            if try Self.folderRowExists(target, in: db) {
                throw BackendError.alreadyExists("folder '\(newName)' already exists in \(parent)")
            }
            let oldPath = source.path.description
            let newPath = target.path.description
            let oldLength = Int64(oldPath.utf8.count)
            let inSubtree = "(path = ?3 OR substr(path, 1, ?4 + 1) = ?3 || '/')"
            let bindings: [SQLValue] = [
                .text(parent.projectID), .text(parent.environment), .text(oldPath), .integer(oldLength),
            ]
            let secrets = try db.query(
                """
                SELECT path, \(SecretRow.columns) FROM secrets
                WHERE project_id = ?1 AND environment = ?2 AND \(inSubtree)
                """, bindings
            ) { row in (row.text(0), try SecretRow(row, offset: 1)) }
            try db.run(
                """
                UPDATE folders SET path = ?5 || substr(path, ?4 + 1)
                WHERE project_id = ?1 AND environment = ?2 AND \(inSubtree)
                """, bindings + [.text(newPath)])
            for (path, row) in secrets {
                guard let oldFolder = SecretPath(canonical: path) else {
                    throw BackendError(.internalError, "local store: folder path '\(path)' is malformed")
                }
                let movedFolder = SecretPath(
                    segments: target.path.segments + oldFolder.segments.dropFirst(source.path.segments.count))
                let from = SecretLocation(projectID: parent.projectID, environment: parent.environment, path: oldFolder)
                let to = SecretLocation(projectID: parent.projectID, environment: parent.environment, path: movedFolder)
                let secret = decrypt(row, in: from)
                try Self.requireIntact(secret, "folder \(source) cannot be renamed")
                try db.run(
                    """
                    UPDATE secrets SET path = ?, value = ?, comment = ?
                    WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
                    """,
                    [
                        .text(movedFolder.description), .blob(try seal(secret.value, name: row.name, in: to)),
                        try sealComment(secret.comment, name: row.name, in: to),
                    ] + Self.scope(from) + [.text(row.name), .text(row.type.rawValue)])
            }
        }
        logger.debug("renamed folder \(source) to \(newName)")
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction, so it sees one consistent snapshot.
    private func read<Result: Sendable>(_ body: (Database) throws -> Result) throws -> Result {
        try inTransaction(immediate: false, body)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction, committed only
    /// while `path` still names the file the connection opened.
    private func write<Result: Sendable>(_ body: (Database) throws -> Result) throws -> Result {
        try inTransaction(immediate: true) { db in
            let result = try body(db)
            // As late as can be, so a store deleted during the write is noticed too.
            try requireStoreInPlace()
            return result
        }
    }

    /// SQLite in WAL mode keeps writing to a file that was deleted or
    /// replaced, and reports success: such writes would be gone at the next
    /// opening. One `lstat` per write finds out first.
    private func requireStoreInPlace() throws {
        let now = FileSecurity.identity(of: path)
        guard now != identity else { return }
        throw BackendError(
            .internalError,
            "local store: \(path) was \(now == nil ? "deleted or moved" : "replaced by another file") while in use; "
                + "writes are refused (they would be lost), reads show the store as it was opened; remount to go on")
    }

    private func inTransaction<Result: Sendable>(immediate: Bool, _ body: (Database) throws -> Result) throws
        -> Result
    {
        do {
            return try database.withLock { db in try db.transaction(immediate: immediate) { try body(db) } }
        } catch let error as SQLiteError {
            if error.isFull {
                // Nothing was written: the transaction rolled back. The caller logs it, once.
                throw BackendError(.noSpace, "local store: no space left on the file system holding \(path)")
            }
            let failure =
                error.isBusy
                ? BackendError(.unavailable, "local store: \(path) stayed locked by another process for 5 s")
                : BackendError(.internalError, "local store: \(error.message)")
            logger.error(failure.reason)
            throw failure
        }
    }

    // MARK: Lookups

    private static func findProject(_ reference: String, in db: Database) throws -> Project {
        // An ID match wins over a slug that happens to spell another project's ID.
        let rows = try db.query(
            "SELECT id, slug, name FROM projects WHERE id = ?1 OR slug = ?1 ORDER BY id = ?1 DESC LIMIT 1",
            .text(reference)
        ) { row in (row.text(0), row.text(1), row.text(2)) }
        guard let row = rows.first else { throw BackendError.notFound("no project '\(reference)'") }
        return try project(id: row.0, slug: row.1, name: row.2, in: db)
    }

    private static func findProject(id: String, in db: Database) throws -> Project {
        let rows = try db.query("SELECT id, slug, name FROM projects WHERE id = ?", .text(id)) { row in
            (row.text(0), row.text(1), row.text(2))
        }
        guard let row = rows.first else { throw BackendError.notFound("no project with ID '\(id)'") }
        return try project(id: row.0, slug: row.1, name: row.2, in: db)
    }

    private static func project(id: String, slug: String, name: String, in db: Database) throws -> Project {
        let environments = try db.query(
            "SELECT slug, name FROM environments WHERE project_id = ? ORDER BY position", .text(id)
        ) { Environment(slug: $0.text(0), name: $0.text(1)) }
        return Project(id: id, slug: slug, name: name, environments: environments)
    }

    /// `.notFound` unless the project, the environment and the folder exist.
    private func requireFolder(_ location: SecretLocation, in db: Database) throws {
        guard
            try db.exists(
                "SELECT 1 FROM environments WHERE project_id = ? AND slug = ?", .text(location.projectID),
                .text(location.environment))
        else {
            throw BackendError.notFound("no environment '\(location.environment)' in project '\(location.projectID)'")
        }
        let folderExists = try location.path.isRoot || Self.folderRowExists(location, in: db)
        guard folderExists else {
            throw BackendError.notFound("no folder \(location)")
        }
    }

    /// Whether a (non-root) folder has a row. Paths with a segment no folder
    /// could have are refused first, so a name holding "/" cannot reach
    /// another folder.
    private static func folderRowExists(_ location: SecretLocation, in db: Database) throws -> Bool {
        guard location.path.segments.allSatisfy(NamingRules.isValidFolderName) else { return false }
        return try db.exists(
            "SELECT 1 FROM folders WHERE project_id = ? AND environment = ? AND path = ?", scope(location))
    }

    /// The secret `getSecret` means: the shared one, else the personal one.
    private static func secretRow(_ name: String, in location: SecretLocation, db: Database) throws -> SecretRow? {
        try db.query(
            """
            SELECT \(SecretRow.columns) FROM secrets
            WHERE project_id = ? AND environment = ? AND path = ? AND name = ? ORDER BY type DESC LIMIT 1
            """, scope(location) + [.text(name)], transform: { try SecretRow($0) }
        ).first
    }

    private func insert(
        _ name: String, value: String, type: SecretType, version: Int, createdAt: Double, updatedAt: Double,
        id: String, comment: String, in location: SecretLocation, _ db: Database
    ) throws {
        try db.run(
            """
            INSERT INTO secrets (
                project_id, environment, path, name, type, value, version, created_at, updated_at, secret_id, comment)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            Self.scope(location) + [
                .text(name), .text(type.rawValue), .blob(try seal(value, name: name, in: location)),
                .integer(Int64(version)), .real(createdAt), .real(updatedAt), .text(id),
                try sealComment(comment, name: name, in: location),
            ])
    }

    /// The row of exactly this name and type, decrypted: what a write just stored.
    private func storedSecret(_ name: String, type: SecretType, in location: SecretLocation, _ db: Database) throws
        -> Secret
    {
        let rows = try db.query(
            """
            SELECT \(SecretRow.columns) FROM secrets
            WHERE project_id = ? AND environment = ? AND path = ? AND name = ? AND type = ?
            """, Self.scope(location) + [.text(name), .text(type.rawValue)], transform: { try SecretRow($0) })
        guard let row = rows.first else {
            throw BackendError(.internalError, "local store: secret \(name) vanished inside its own write")
        }
        return decrypt(row, in: location)
    }

    // MARK: Encryption

    /// Which column a sealed blob belongs in: part of its associated data, so
    /// a comment cannot be swapped with a value, even within one row.
    private enum Field {
        case value, comment
    }

    /// Binds a value (or comment) to where it lives, so a row moved or swapped
    /// in the file fails to decrypt instead of showing another secret's value.
    /// A value's is `projectID NUL environment NUL path NUL name` (as in
    /// version 1); a comment's is `comment NUL` and the same.
    private static func associatedData(_ name: String, in location: SecretLocation, _ field: Field) -> [UInt8] {
        let place = "\(location.projectID)\u{0}\(location.environment)\u{0}\(location.path)\u{0}\(name)"
        switch field {
        case .value: return Array(place.utf8)
        case .comment: return Array("comment\u{0}\(place)".utf8)
        }
    }

    private func seal(_ value: String, name: String, in location: SecretLocation, _ field: Field = .value) throws
        -> [UInt8]
    {
        do {
            return try AESGCM.seal(
                Array(value.utf8), using: key, authenticating: Self.associatedData(name, in: location, field)
            )
            .combined
        } catch {
            throw BackendError(.internalError, "local store: secret \(name) cannot be encrypted: \(error)")
        }
    }

    /// The comment column's value: NULL for no comment, else the sealed text.
    private func sealComment(_ comment: String, name: String, in location: SecretLocation) throws -> SQLValue {
        comment.isEmpty ? .null : .blob(try seal(comment, name: name, in: location, .comment))
    }

    private func unseal(_ sealed: [UInt8], of name: String, in location: SecretLocation, _ field: Field) throws
        -> String
    {
        let what = field == .value ? "secret \(name)" : "the comment of secret \(name)"
        let plaintext: [UInt8]
        do {
            plaintext = try AESGCM.open(
                AESGCM.SealedBox(combined: sealed), using: key,
                authenticating: Self.associatedData(name, in: location, field))
        } catch {
            throw BackendError(.internalError, "local store: \(what) cannot be decrypted (its row is damaged, or was sealed with another key)")
        }
        guard let text = String(validating: plaintext, as: UTF8.self) else {
            throw BackendError(.internalError, "local store: \(what) is not UTF-8 after decryption")
        }
        return text
    }

    /// The row as a secret. A value or comment that does not open (an
    /// edited or damaged file, or sealed with another key) fails only what
    /// needs it: the secret comes back empty with its `damage`, so its folder
    /// still lists, its siblings read, and it can be deleted or written over.
    private func decrypt(_ row: SecretRow, in location: SecretLocation) -> Secret {
        var failures: [String] = []
        func opened(_ sealed: [UInt8], _ field: Field) -> String? {
            do {
                return try unseal(sealed, of: row.name, in: location, field)
            } catch {
                failures.append((error as? BackendError)?.reason ?? "\(error)")
                return nil
            }
        }
        let value = opened(row.sealedValue, .value)
        let comment: String? = if let sealed = row.sealedComment { opened(sealed, .comment) } else { "" }
        let damage =
            failures.isEmpty
            ? nil : Secret.Damage(value: value == nil, comment: comment == nil, reason: failures.joined(separator: "; "))
        return Secret(
            name: row.name, value: value ?? "", version: row.version, type: row.type, createdAt: Self.date(row.createdAt),
            updatedAt: Self.date(row.updatedAt), id: row.secretID, comment: comment ?? "", damage: damage)
    }

    /// A move re-seals the value and comment for their new place, so both
    /// must open; a damaged secret stays where it is, as it is.
    private static func requireIntact(_ secret: Secret, _ refusal: String) throws {
        guard let damage = secret.damage else { return }
        throw BackendError(.internalError, "\(refusal): \(damage.reason)")
    }

    // MARK: Helpers

    private static func scope(_ location: SecretLocation) -> [SQLValue] {
        [.text(location.projectID), .text(location.environment), .text(location.path.description)]
    }

    private static func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    private static func require(_ verdict: NamingRules.Verdict) throws {
        switch verdict {
        case .valid: return
        case .invalid(let reason): throw BackendError(.invalidArgument, reason)
        case .tooLong(let reason): throw BackendError(.nameTooLong, reason)
        }
    }

    private static func noSecret(_ name: String, in location: SecretLocation) -> BackendError {
        BackendError.notFound("no secret '\(name)' in \(location)")
    }
}

/// One row of `secrets` before decryption.
private struct SecretRow {
    let name: String
    let type: SecretType
    let sealedValue: [UInt8]
    let version: Int
    let createdAt: Double
    let updatedAt: Double
    let secretID: String
    /// nil when the secret has no comment.
    let sealedComment: [UInt8]?

    /// The columns `init` reads, in its order.
    static let columns = "name, type, value, version, created_at, updated_at, secret_id, comment"

    /// Reads `columns` starting at column `offset`.
    init(_ row: Statement, offset: Int32 = 0) throws {
        name = row.text(offset)
        guard let type = SecretType(rawValue: row.text(offset + 1)) else {
            throw BackendError(.internalError, "local store: secret \(row.text(offset)) has an unknown type")
        }
        self.type = type
        sealedValue = row.blob(offset + 2)
        version = Int(row.integer(offset + 3))
        createdAt = row.real(offset + 4)
        updatedAt = row.real(offset + 5)
        secretID = row.text(offset + 6)
        sealedComment = row.isNull(offset + 7) ? nil : row.blob(offset + 7)
    }
}
