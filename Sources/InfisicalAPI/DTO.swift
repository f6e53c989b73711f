import Foundation

// The JSON shapes of the Infisical API (../shared/reference/infisical-api.md).
// Fields the file system does not use are left out; optional where the
// reference says a server version or endpoint may omit them.

struct ProjectDTO: Decodable {
    let id: String
    let slug: String?
    let name: String?
    /// `secret-manager`, `kms`, `cert-manager`, … (absent on older servers,
    /// which have secret managers only).
    let type: String?
    let environments: [EnvironmentDTO]?

    /// Secret routes refuse projects of the other products with 400.
    var holdsSecrets: Bool { type == nil || type == "secret-manager" }
}

struct EnvironmentDTO: Decodable {
    let id: String?
    let name: String?
    let slug: String
}

struct ProjectsResponse: Decodable { let projects: [ProjectDTO] }
struct WorkspacesResponse: Decodable { let workspaces: [ProjectDTO] }
struct ProjectResponse: Decodable { let project: ProjectDTO }
struct WorkspaceResponse: Decodable { let workspace: ProjectDTO }

struct SecretDTO: Decodable {
    let id: String?
    /// The same as `id` (older servers' name for it).
    let _id: String?
    let secretKey: String
    let secretValue: String
    var version: Int?
    let type: String?
    let secretComment: String?
    /// Only in list and get answers (§4.1).
    let tags: [TagDTO]?
    let createdAt: Date?
    let updatedAt: Date?
    let secretValueHidden: Bool?
}

/// One of a secret's tags: `{id, slug, color, name}`.
struct TagDTO: Decodable {
    let id: String?
    let slug: String?
    let name: String?
}

/// A list answer: `imports` holds the imported folders' secrets, in import
/// order, with `include_imports=true` (`[]` or absent otherwise).
struct SecretsResponse: Decodable {
    let secrets: [SecretDTO]
    let imports: [SecretImportDTO]?
}

/// One imported folder in a list answer (its `secretPath` and
/// `environment` are not needed: the order of `imports` is what counts).
struct SecretImportDTO: Decodable { let secrets: [SecretDTO] }

struct SecretResponse: Decodable { let secret: SecretDTO }

struct FolderDTO: Decodable, Sendable {
    let id: String
    let name: String
}

struct FoldersResponse: Decodable { let folders: [FolderDTO] }

struct LoginResponse: Decodable {
    let accessToken: String
    let expiresIn: Double?
    let accessTokenMaxTTL: Double?
}

/// Any JSON object body, built from `Encodable` values.
struct JSONBody: Encodable {
    private let values: [String: AnyEncodable]

    init(_ values: [String: (any Encodable & Sendable)?]) {
        self.values = values.compactMapValues { $0.map(AnyEncodable.init) }
    }

    func encode(to encoder: any Encoder) throws { try values.encode(to: encoder) }
}

private struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

enum JSON {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)) {
                return date
            }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "date \(text)"))
        }
        return decoder
    }()

    static func encode(_ body: JSONBody) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }
}
