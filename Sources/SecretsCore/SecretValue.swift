/// How file content becomes a secret value, and how Infisical stores a value.
public enum SecretValue {
    /// The largest value the file system accepts, in bytes. Infisical refuses
    /// request bodies over 1 MiB, and JSON escaping can double a value's size.
    public static let maximumBytes = 512 * 1024

    /// Every backend's limit (the `SecretBackend` contract): a value or
    /// comment of more than `maximumBytes` bytes of UTF-8 is `.tooLarge`.
    public static func requireWithinLimit(_ text: String, of name: String, what: String = "value") throws(BackendError) {
        guard text.utf8.count <= maximumBytes else {
            throw BackendError(.tooLarge, "\(what) of secret '\(name)' is larger than \(maximumBytes) bytes")
        }
    }

    public enum ContentError: Error, Sendable, Equatable {
        case notUTF8
        case tooLarge
    }

    /// The value a file's bytes stand for. A single-line value loses its one
    /// trailing newline (what `echo` adds); a multi-line value such as a PEM
    /// key keeps it; with `keepNewline` the bytes are taken exactly.
    public static func fromFileContent(_ bytes: [UInt8], keepNewline: Bool) throws(ContentError) -> String {
        guard bytes.count <= maximumBytes else { throw .tooLarge }
        var content = bytes[...]
        if !keepNewline, content.last == UInt8(ascii: "\n"), !content.dropLast().contains(UInt8(ascii: "\n")) {
            content = content.dropLast()
        }
        guard let value = String(validating: content, as: UTF8.self) else { throw .notUTF8 }
        return value
    }

    /// What Infisical stores for `value`: when it ends in a newline, trimmed
    /// at both ends and given back one final newline; otherwise trimmed.
    public static func storedForm(_ value: String) -> String {
        let scalars = value.unicodeScalars
        let trimmed = scalars.drop(while: NamingRules.isJavaScriptWhitespace)
            .reversed().drop(while: NamingRules.isJavaScriptWhitespace).reversed()
        var result = String(String.UnicodeScalarView(trimmed))
        if scalars.last == "\n" { result.append("\n") }
        return result
    }
}
