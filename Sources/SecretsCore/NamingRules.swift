/// Infisical's naming rules, shared by every backend so the local store and
/// Infisical accept and refuse the same names.
public enum NamingRules {
    /// The longest name a file system entry may have (NAME_MAX).
    public static let maximumNameBytes = 255
    /// The longest project or environment slug.
    public static let maximumSlugLength = 64

    public enum Verdict: Sendable, Equatable {
        case valid
        case invalid(String)
        case tooLong(String)
    }

    /// A secret name: any characters but `/` and `:`, not empty, no leading or
    /// trailing white space (Infisical trims names, so such a file could never
    /// be found again under the name it was created with).
    public static func checkSecretName(_ name: String) -> Verdict {
        if name.utf8.count > maximumNameBytes {
            return .tooLong("secret name is longer than \(maximumNameBytes) bytes")
        }
        if name.isEmpty { return .invalid("secret name is empty") }
        // Bytes, not Characters: "/" followed by a combining mark is one
        // Character that is not "/", yet the name holds a slash.
        if name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(UInt8(ascii: ":")) {
            return .invalid("secret name '\(name)' contains '/' or ':'")
        }
        if name.unicodeScalars.first.map(isJavaScriptWhitespace) == true
            || name.unicodeScalars.last.map(isJavaScriptWhitespace) == true
        {
            return .invalid("secret name '\(name)' starts or ends with white space")
        }
        if name == "." || name == ".." { return .invalid("'\(name)' is not a secret name") }
        return .valid
    }

    /// A folder name: letters, digits, `_` and `-` only (Infisical's rule).
    public static func checkFolderName(_ name: String) -> Verdict {
        if name.utf8.count > maximumNameBytes {
            return .tooLong("folder name is longer than \(maximumNameBytes) bytes")
        }
        return isValidFolderName(name)
            ? .valid : .invalid("folder name '\(name)' may hold only letters, digits, '_' and '-'")
    }

    public static func isValidFolderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maximumNameBytes
            && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// A project or environment slug: words of lowercase letters and digits
    /// joined by single `-` (what Infisical's slugify leaves unchanged, so
    /// `My_Proj`, `a--b`, `-a`, `a-` and `.git` are not slugs).
    public static func checkSlug(_ slug: String, of what: String) -> Verdict {
        // SPEC.md: anything but a valid slug is EINVAL, length included.
        if slug.utf8.count > maximumSlugLength {
            return .invalid("\(what) slug is longer than \(maximumSlugLength) characters")
        }
        guard isSlug(slug) else {
            return .invalid(
                "\(what) slug '\(slug)' may hold only lowercase letters and digits, in words joined by single '-'")
        }
        return .valid
    }

    /// Whether Infisical would take `text` as a slug (its slug look-up
    /// answers 422 for anything else). Project IDs pass too: UUIDs and
    /// older 24-digit hex IDs are of the same form.
    public static func isSlug(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumSlugLength, bytes.first != UInt8(ascii: "-"),
            bytes.last != UInt8(ascii: "-")
        else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            let isWordByte =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            guard isWordByte || (byte == UInt8(ascii: "-") && previous != UInt8(ascii: "-")) else { return false }
            previous = byte
        }
        return true
    }

    /// White space as JavaScript's `String.prototype.trim` sees it, which is
    /// what the Infisical server trims names and values with.
    public static func isJavaScriptWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000, 0xFEFF:
            return true
        default:
            return false
        }
    }
}
