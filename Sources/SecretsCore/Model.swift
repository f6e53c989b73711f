public import Foundation

/// An Infisical project: reached by its ID or its slug.
public struct Project: Sendable, Hashable {
    public let id: String
    public let slug: String
    public let name: String
    /// The project's environments, in the order Infisical lists them.
    public let environments: [Environment]

    public init(id: String, slug: String, name: String, environments: [Environment]) {
        self.id = id
        self.slug = slug
        self.name = name
        self.environments = environments
    }

    /// Whether `reference` names this project, by ID or by slug.
    public func isNamed(_ reference: String) -> Bool { reference == id || reference == slug }
}

public struct Environment: Sendable, Hashable {
    public let slug: String
    public let name: String

    public init(slug: String, name: String) {
        self.slug = slug
        self.name = name
    }
}

/// A folder path inside an environment, as Infisical's `secretPath`: `/` or
/// `/a/b`, each segment a valid folder name.
public struct SecretPath: Sendable, Hashable, CustomStringConvertible {
    public let segments: [String]

    public static let root = SecretPath(segments: [])

    public init(segments: [String]) { self.segments = segments }

    /// Parses the canonical form (`/`, `/a`, `/a/b`); nil for anything else.
    public init?(canonical: String) {
        guard canonical.hasPrefix("/") else { return nil }
        if canonical == "/" {
            self.segments = []
            return
        }
        let parts = canonical.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ NamingRules.isValidFolderName($0) }) else { return nil }
        self.segments = parts
    }

    public var description: String { "/" + segments.joined(separator: "/") }
    public var isRoot: Bool { segments.isEmpty }
    public var name: String? { segments.last }
    public var parent: SecretPath? { isRoot ? nil : SecretPath(segments: Array(segments.dropLast())) }
    public func appending(_ folder: String) -> SecretPath { SecretPath(segments: segments + [folder]) }

    /// Whether `self` is `other` or lies below it.
    public func isWithin(_ other: SecretPath) -> Bool { segments.starts(with: other.segments) }
}

/// Where secrets live: a folder of one environment of one project.
public struct SecretLocation: Sendable, Hashable, CustomStringConvertible {
    /// The project's ID (never its slug, so one folder has one location).
    public let projectID: String
    public let environment: String
    public let path: SecretPath

    public init(projectID: String, environment: String, path: SecretPath) {
        self.projectID = projectID
        self.environment = environment
        self.path = path
    }

    public var description: String { "\(projectID)/\(environment)\(path.isRoot ? "" : path.description)" }

    public func appending(_ folder: String) -> SecretLocation {
        SecretLocation(projectID: projectID, environment: environment, path: path.appending(folder))
    }

    public var parent: SecretLocation? {
        path.parent.map { SecretLocation(projectID: projectID, environment: environment, path: $0) }
    }

    /// Same project and environment: the scope inside which a rename can move things.
    public func sharesEnvironment(with other: SecretLocation) -> Bool {
        projectID == other.projectID && environment == other.environment
    }
}

/// Infisical's two kinds of secret: one shared by the project, or one
/// personal to a user that overrides the shared one of the same name.
public enum SecretType: String, Sendable, Hashable, Codable {
    case shared
    case personal
}

/// One secret as the backend stored it.
public struct Secret: Sendable, Hashable {
    public let name: String
    public let value: String
    public let version: Int
    public let type: SecretType
    public let createdAt: Date
    public let updatedAt: Date
    /// The backend's identifier of the secret, stable across updates and
    /// renames in place; "" when the backend gave none.
    public let id: String
    /// Infisical's `secretComment`; "" when there is none.
    public let comment: String
    /// The slugs of the secret's tags (Infisical's `tags[].slug`), in the
    /// backend's order; empty where the backend has no tags.
    public let tags: [String]
    /// What of the secret its backend holds but cannot open (a row of the
    /// local store that no longer decrypts), and why; nil when all of it
    /// opened. A damaged value or comment is "" here and must never be shown
    /// as the secret's: reading it is an I/O error. The secret is still
    /// listed, and can be deleted or given a new value or comment.
    public let damage: Damage?

    public struct Damage: Sendable, Hashable {
        public let value: Bool
        public let comment: Bool
        /// One line for the log, naming the secret, never a value.
        public let reason: String

        public init(value: Bool, comment: Bool, reason: String) {
            self.value = value
            self.comment = comment
            self.reason = reason
        }
    }

    public init(
        name: String, value: String, version: Int, type: SecretType = .shared, createdAt: Date, updatedAt: Date,
        id: String = "", comment: String = "", tags: [String] = [], damage: Damage? = nil
    ) {
        self.name = name
        self.value = value
        self.version = version
        self.type = type
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.id = id
        self.comment = comment
        self.tags = tags
        self.damage = damage
    }

    /// The value's length in bytes, which is the file's size.
    public var size: Int { value.utf8.count }

    // Byte for byte: a value changed from NFC to NFD is a change.
    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        lhs.name.isIdentical(to: rhs.name) && lhs.value.isIdentical(to: rhs.value) && lhs.version == rhs.version
            && lhs.type == rhs.type && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
            && lhs.id.isIdentical(to: rhs.id) && lhs.comment.isIdentical(to: rhs.comment)
            && lhs.tags.elementsEqual(rhs.tags) { $0.isIdentical(to: $1) } && lhs.damage == rhs.damage
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ExactName(name))
        hasher.combine(version)
        hasher.combine(ExactName(id))
    }
}

/// A folder's content from one list call: its secrets (with values) and the
/// names of its direct subfolders.
public struct FolderListing: Sendable, Hashable {
    public private(set) var secrets: [Secret]
    public var folders: [String]
    /// Where each name is in `secrets`, by its bytes: a lookup in a folder of
    /// 10,000 secrets (each `stat` of an `ls -l`) is one hash, not a scan.
    private var positions: [ExactName: Int]

    public init(secrets: [Secret], folders: [String]) {
        self.secrets = secrets
        self.folders = folders
        positions = Dictionary(secrets.enumerated().map { (ExactName($1.name), $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func secret(named name: String) -> Secret? { positions[ExactName(name)].map { secrets[$0] } }
    public var isEmpty: Bool { secrets.isEmpty && folders.isEmpty }

    /// Puts `secret` in place of the one of its name, or adds it.
    public mutating func store(_ secret: Secret) {
        let name = ExactName(secret.name)
        if let index = positions[name] {
            secrets[index] = secret
        } else {
            positions[name] = secrets.count
            secrets.append(secret)
        }
    }

    public mutating func removeSecret(named name: String) {
        guard let index = positions.removeValue(forKey: ExactName(name)) else { return }
        secrets.remove(at: index)
        for (key, position) in positions where position > index { positions[key] = position - 1 }
    }

    // The positions follow from the secrets.
    public static func == (lhs: FolderListing, rhs: FolderListing) -> Bool {
        lhs.secrets == rhs.secrets && lhs.folders == rhs.folders
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(secrets)
        hasher.combine(folders)
    }
}

extension String {
    /// Byte for byte, as Infisical and the kernel compare names and values.
    /// Swift's `==` takes canonically equivalent strings for one: NFC
    /// "café" and NFD "cafe\u{301}" are equal to it, and hash alike.
    public func isIdentical(to other: String) -> Bool {
        let (mine, theirs) = (utf8, other.utf8)
        guard mine.count == theirs.count else { return false }
        // Native strings are contiguous UTF-8: one memcmp, as fast as `==` on ASCII.
        let compared = mine.withContiguousStorageIfAvailable { a in
            theirs.withContiguousStorageIfAvailable { b in a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
        }
        return (compared ?? nil) ?? mine.elementsEqual(theirs)
    }
}

/// A name as a key: equal, hashed and ordered by its UTF-8 bytes, so two
/// secrets whose names differ only in Unicode normalization stay two.
public struct ExactName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (lhs: ExactName, rhs: ExactName) -> Bool { lhs.string.isIdentical(to: rhs.string) }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { for byte in string.utf8 { hasher.combine(byte) } }
    }

    public static func < (lhs: ExactName, rhs: ExactName) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    public var description: String { string }
}
