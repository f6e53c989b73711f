public import Foundation
public import Logging
public import SecretCrypto
public import SecretsCore
import Synchronization

/// `-o offline_cache=PATH`: the last good copies of the project list and of
/// each folder listing read from Infisical, in one SQLite file encrypted like
/// the local store (AES-256-GCM, the key in `PATH.key` or
/// `INFISICALFS_STORE_KEY`; docs/STORE-FORMAT.md, "The offline cache").
///
/// Each copy is filed under a digest of the identity it was read with and of
/// its place, so neither names nor values are readable in the file, and one
/// identity's copies never answer another's. A copy replaces the one kept
/// only when it was saved no earlier: two mounts sharing the file never put
/// older data over newer.
public final class OfflineCache: OfflineCopies {
    private let database: Mutex<Database>
    private let key: SymmetricKey
    private let partition: String
    private let path: String
    private let logger: Logger

    static let formatVersion = 1

    /// Opens (or creates, mode 0600) the file at `path`. `partition` names
    /// the identity the copies belong to (site URL and identity), never a secret.
    public init(path: String, key: SymmetricKey, partition: String, logger: Logger = .disabled) throws {
        try FileSecurity.createParentFolders(of: path)
        try FileSecurity.createPrivateFile(path, what: "offline cache")
        let connection: Database
        do {
            connection = try Database(path: path)
            try connection.execute("PRAGMA busy_timeout = 2000")
            _ = try connection.query("PRAGMA journal_mode = WAL") { $0.text(0) }
            try connection.execute("PRAGMA synchronous = NORMAL")
            try connection.transaction(immediate: true) {
                if try connection.exists("SELECT 1 FROM sqlite_master WHERE name = 'secrets'") {
                    throw BackendError(.invalidArgument, "\(path) is a local store, not an offline cache")
                }
                let version = try connection.query("PRAGMA user_version") { $0.integer(0) }.first ?? 0
                if version == 0 {
                    try connection.execute(
                        "CREATE TABLE IF NOT EXISTS copies (scope TEXT PRIMARY KEY, saved_at REAL NOT NULL, sealed BLOB NOT NULL)")
                    try connection.execute("PRAGMA user_version = \(Self.formatVersion)")
                } else if version != Self.formatVersion {
                    throw BackendError(.internalError, "offline cache \(path) has format \(version), not \(Self.formatVersion)")
                }
            }
        } catch let error as SQLiteError {
            throw BackendError(.internalError, "offline cache: cannot open \(path): \(error.message)")
        }
        self.database = Mutex(connection)
        self.key = key
        self.partition = partition
        self.path = path
        self.logger = logger
    }

    // MARK: OfflineCopies

    public func saveListing(_ listing: FolderListing, of location: SecretLocation, savedAt: Date) {
        save(ListingCopy(listing), scope: scope("folder", location.description), savedAt: savedAt, what: "folder \(location)")
    }

    public func listing(of location: SecretLocation) -> (listing: FolderListing, savedAt: Date)? {
        load(ListingCopy.self, scope: scope("folder", location.description), what: "folder \(location)")
            .map { ($0.copy.listing, $0.savedAt) }
    }

    public func saveProjects(_ projects: [Project], savedAt: Date) {
        save(projects.map(ProjectCopy.init), scope: scope("projects", ""), savedAt: savedAt, what: "project list")
    }

    public func projects() -> (projects: [Project], savedAt: Date)? {
        load([ProjectCopy].self, scope: scope("projects", ""), what: "project list").map {
            ($0.copy.map(\.project), $0.savedAt)
        }
    }

    public var status: StatusValue {
        let count = (try? database.withLock { db in try db.query("SELECT count(*) FROM copies") { $0.integer(0) } })?.first
        return .object([("path", .string(path)), ("copies", count.map { .integer(Int($0)) } ?? .null)])
    }

    // MARK: Mechanics

    /// The row key: a digest of the identity, the kind and the place.
    private func scope(_ kind: String, _ place: String) -> String {
        Hex.encode(SHA256.hash("\(partition)\u{0}\(kind)\u{0}\(place)"))
    }

    private func associatedData(_ scope: String) -> [UInt8] { Array("infisicalfs offline copy 1\u{0}\(scope)".utf8) }

    private func save<Copy: Encodable>(_ copy: Copy, scope: String, savedAt: Date, what: String) {
        do {
            let sealed = try AESGCM.seal(
                Array(try JSONEncoder().encode(copy)), using: key, authenticating: associatedData(scope)
            ).combined
            _ = try database.withLock { db in
                // Newer wins, in one statement: safe against another mount sharing the file.
                try db.run(
                    """
                    INSERT INTO copies (scope, saved_at, sealed) VALUES (?, ?, ?)
                    ON CONFLICT (scope) DO UPDATE SET saved_at = excluded.saved_at, sealed = excluded.sealed
                    WHERE excluded.saved_at >= copies.saved_at
                    """, .text(scope), .real(savedAt.timeIntervalSince1970), .blob(sealed))
            }
        } catch {
            logger.warning("offline cache: cannot keep the \(what): \(error)")
        }
    }

    private func load<Copy: Decodable>(_ type: Copy.Type, scope: String, what: String) -> (copy: Copy, savedAt: Date)? {
        do {
            let rows = try database.withLock { db in
                try db.query("SELECT saved_at, sealed FROM copies WHERE scope = ?", .text(scope)) { ($0.real(0), $0.blob(1)) }
            }
            guard let (savedAt, sealed) = rows.first else { return nil }
            let plaintext = try AESGCM.open(
                AESGCM.SealedBox(combined: sealed), using: key, authenticating: associatedData(scope))
            return (try JSONDecoder().decode(Copy.self, from: Data(plaintext)), Date(timeIntervalSince1970: savedAt))
        } catch {
            logger.warning("offline cache: the kept \(what) cannot be read (wrong key?): \(error)")
            return nil
        }
    }
}

/// A folder listing as kept in the file (JSON, then sealed).
private struct ListingCopy: Codable {
    struct SecretCopy: Codable {
        var name, value, type, id, comment: String
        var version: Int
        var createdAt, updatedAt: Double
        var tags: [String]
    }

    var secrets: [SecretCopy]
    var folders: [String]

    init(_ listing: FolderListing) {
        secrets = listing.secrets.map {
            SecretCopy(
                name: $0.name, value: $0.value, type: $0.type.rawValue, id: $0.id, comment: $0.comment,
                version: $0.version, createdAt: $0.createdAt.timeIntervalSince1970,
                updatedAt: $0.updatedAt.timeIntervalSince1970, tags: $0.tags)
        }
        folders = listing.folders
    }

    var listing: FolderListing {
        FolderListing(
            secrets: secrets.map {
                Secret(
                    name: $0.name, value: $0.value, version: $0.version, type: SecretType(rawValue: $0.type) ?? .shared,
                    createdAt: Date(timeIntervalSince1970: $0.createdAt),
                    updatedAt: Date(timeIntervalSince1970: $0.updatedAt), id: $0.id, comment: $0.comment, tags: $0.tags)
            }, folders: folders)
    }
}

private struct ProjectCopy: Codable {
    var id, slug, name: String
    var environments: [[String]]

    init(_ project: Project) {
        id = project.id
        slug = project.slug
        name = project.name
        environments = project.environments.map { [$0.slug, $0.name] }
    }

    var project: Project {
        Project(
            id: id, slug: slug, name: name,
            environments: environments.compactMap { $0.count == 2 ? Environment(slug: $0[0], name: $0[1]) : nil })
    }
}
