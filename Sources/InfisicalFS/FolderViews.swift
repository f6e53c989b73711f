import Foundation
import SecretsCore

/// The read-only files in every folder that show the folder's secrets as
/// one config file, rendered from one listing (docs/SEMANTICS.md, "Views").
/// Reached by name only: listings leave them out, so tools that walk a tree
/// (`cp -r`, `mv`, `rsync`, `tar`, `rm -r`) see secrets and folders only.
enum FolderView: String, CaseIterable, Sendable, Hashable {
    case env = ".env"
    case json = ".json"
    case yaml = ".yaml"

    /// The file's bytes for `secrets`, in name order.
    func render(_ secrets: [Secret]) -> [UInt8] {
        let sorted = secrets.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        var out = ""
        switch self {
        case .env:
            for secret in sorted {
                guard let key = Self.envKey(secret.name) else {
                    out += "# left out: a secret whose name a .env file cannot hold\n"
                    continue
                }
                out += key + "=" + Self.envValue(secret.value) + "\n"
            }
        case .json:
            guard !sorted.isEmpty else { return Array("{}\n".utf8) }
            out = "{\n"
            for (index, secret) in sorted.enumerated() {
                out += "  " + Self.quoted(secret.name, yaml: false) + ": " + Self.quoted(secret.value, yaml: false)
                out += index == sorted.count - 1 ? "\n" : ",\n"
            }
            out += "}\n"
        case .yaml:
            guard !sorted.isEmpty else { return Array("{}\n".utf8) }
            for secret in sorted {
                out += Self.quoted(secret.name, yaml: true) + ": " + Self.quoted(secret.value, yaml: true) + "\n"
            }
        }
        return Array(out.utf8)
    }

    /// Characters every .env reader takes literally in an unquoted value
    /// (docker --env-file, python-dotenv, systemd, a shell's `.`).
    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "/", ":", "@", "%", "+", ",", "=", "-": true
        default: false
        }
    }

    /// Unquoted when plain; else single-quoted, with `\\` and `\'` as
    /// python-dotenv reads them (no `$` expansion, new lines kept).
    private static func envValue(_ value: String) -> String {
        if value.unicodeScalars.allSatisfy(isPlain) { return value }
        return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// The key as written, or nil when no .env reader could read it back.
    private static func envKey(_ name: String) -> String? {
        let special: Set<Unicode.Scalar> = ["=", "#", "'", "\"", "\\"]
        if name.unicodeScalars.allSatisfy({ !special.contains($0) && !$0.properties.isWhitespace }) { return name }
        if !name.contains("'"), !name.contains("\n") { return "'" + name + "'" }
        return nil
    }

    /// A JSON string; for YAML, a double-quoted scalar (JSON's escapes,
    /// plus the characters YAML reads as line breaks or forbids).
    private static func quoted(_ text: String, yaml: Bool) -> String {
        StatusValue.jsonQuoted(text, alsoEscaping: yaml ? Self.yamlEscapes : { _ in false })
    }

    private static func yamlEscapes(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x7F...0x9F, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF: true
        default: false
        }
    }
}
