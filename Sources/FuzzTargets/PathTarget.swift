import Foundation
import FuseKit
import SecretsCore

extension FuzzTarget {
    /// `SecretPath(canonical:)`, the `NamingRules` checks and `SecretValue`'s
    /// trimming, each against a plain restatement of its rule (SPEC.md,
    /// infisical-api.md); a parsed path prints back to the same canonical string.
    static let pathParser = FuzzTarget(
        name: "path",
        summary: "SecretPath(canonical:), NamingRules (secret, folder, slug), SecretValue trimming"
    ) { input, findings in
        let text = String(decoding: input, as: UTF8.self)
        checkPath(text, &findings)
        checkNames(text, &findings)
        checkValue(text, bytes: input, &findings)
        checkRawName(input, &findings)
    }

    /// A name as the kernel hands it over, raw bytes up to a NUL: refused
    /// when not UTF-8, else kept byte for byte; and a name is its bytes, so
    /// its other normalization form is another name.
    private static func checkRawName(_ input: [UInt8], _ findings: inout Findings) {
        let bytes = Array(input.prefix { $0 != 0 })
        let isUTF8 = String(bytes: bytes, encoding: .utf8) != nil
        guard let name = FileName.decode(bytes) else {
            findings.check(!isUTF8, "FileName refused the UTF-8 name \(bytes)")
            return
        }
        findings.check(isUTF8, "FileName accepted the bytes \(bytes), which are not UTF-8")
        findings.check(Array(name.utf8) == bytes, "FileName changed the bytes \(bytes) into \(Array(name.utf8))")
        for other in [name.precomposedStringWithCanonicalMapping, name.decomposedStringWithCanonicalMapping] {
            let sameBytes = Array(other.utf8) == bytes
            findings.check(
                (ExactName(other) == ExactName(name)) == sameBytes && (ExactName(other).hashValue == ExactName(name).hashValue || !sameBytes),
                "ExactName disagrees with the bytes of \(quoted(name)) and \(quoted(other))")
            findings.check(
                other.isIdentical(to: name) == sameBytes, "isIdentical disagrees with the bytes of \(quoted(name))")
        }
    }

    private static func isFolderByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    private static func isFolderName(_ name: some Collection<UInt8>) -> Bool {
        !name.isEmpty && name.count <= 255 && name.allSatisfy(isFolderByte)
    }

    private static func checkPath(_ text: String, _ findings: inout Findings) {
        // The rule restated on bytes: "/", or "/" and folder names joined by "/".
        let bytes = Array(text.utf8)
        let expected =
            bytes == [UInt8(ascii: "/")]
            || (bytes.first == UInt8(ascii: "/")
                && bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
                    .allSatisfy(isFolderName))
        guard let path = SecretPath(canonical: text) else {
            findings.check(!expected, "SecretPath refused the canonical path \(quoted(text))")
            return
        }
        findings.check(expected, "SecretPath accepted \(quoted(text)), which is not canonical")
        findings.check(path.description == text, "\(quoted(text)) printed back as \(quoted(path.description))")
        findings.check(SecretPath(canonical: path.description) == path, "\(quoted(text)) does not parse back to itself")
        findings.check(path.isRoot == (text == "/"), "\(quoted(text)): isRoot is \(path.isRoot)")
        for segment in path.segments {
            findings.check(
                NamingRules.checkFolderName(segment) == .valid,
                "\(quoted(text)) holds the segment \(quoted(segment)), which checkFolderName refuses")
        }
        if let parent = path.parent, let name = path.name {
            findings.check(parent.appending(name) == path, "\(quoted(text)): parent + name is another path")
            findings.check(path.isWithin(parent) && !parent.isWithin(path), "\(quoted(text)): isWithin its parent is wrong")
        }
        findings.check(path.isWithin(.root), "\(quoted(text)) is not within the root")
    }

    private static func checkNames(_ text: String, _ findings: inout Findings) {
        let bytes = text.utf8.count
        let scalars = text.unicodeScalars

        // A secret name.
        let secret = NamingRules.checkSecretName(text)
        let secretValid =
            bytes <= 255 && !text.isEmpty && !text.utf8.contains(UInt8(ascii: "/"))
            && !text.utf8.contains(UInt8(ascii: ":")) && text != "." && text != ".."
            && !(scalars.first.map(NamingRules.isJavaScriptWhitespace) ?? false)
            && !(scalars.last.map(NamingRules.isJavaScriptWhitespace) ?? false)
        switch secret {
        case .valid:
            findings.check(secretValid, "checkSecretName accepted \(quoted(text))")
            // Infisical trims names: a name it accepts is one it keeps as it is.
            findings.check(SecretValue.storedForm(text) == text, "the secret name \(quoted(text)) changes when trimmed")
        case .tooLong:
            findings.check(bytes > 255, "checkSecretName called \(quoted(text)) (\(bytes) bytes) too long")
        case .invalid(let reason):
            findings.check(!secretValid, "checkSecretName refused \(quoted(text)): \(reason)")
            findings.check(bytes <= 255, "checkSecretName: \(bytes) bytes is invalid, not too long")
        }

        // A folder name.
        let folder = NamingRules.checkFolderName(text)
        let folderValid = isFolderName(text.utf8)
        switch folder {
        case .valid:
            findings.check(folderValid, "checkFolderName accepted \(quoted(text))")
            findings.check(
                SecretPath(canonical: "/" + text)?.segments == [text], "the folder \(quoted(text)) is no path segment")
            findings.check(secretValid, "the folder name \(quoted(text)) is not a valid secret name")
        case .tooLong:
            findings.check(bytes > 255, "checkFolderName called \(quoted(text)) (\(bytes) bytes) too long")
        case .invalid:
            findings.check(!folderValid, "checkFolderName refused \(quoted(text))")
        }
        findings.check(
            NamingRules.isValidFolderName(text) == folderValid, "isValidFolderName(\(quoted(text))) disagrees")

        // A project or environment slug: SPEC.md makes every refusal EINVAL.
        let slug = NamingRules.checkSlug(text, of: "project")
        // Words of lowercase letters and digits joined by single '-' (what Infisical's slugify keeps).
        let slugValid =
            bytes >= 1 && bytes <= 64
            && text.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false).allSatisfy { word in
                !word.isEmpty
                    && word.allSatisfy {
                        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    }
            }
        switch slug {
        case .valid:
            findings.check(slugValid, "checkSlug accepted \(quoted(text))")
            findings.check(folderValid, "the slug \(quoted(text)) is not a valid folder name")
        case .tooLong:
            findings.fail("checkSlug said too long (ENAMETOOLONG) for \(quoted(text)); SPEC.md wants EINVAL")
        case .invalid:
            findings.check(!slugValid, "checkSlug refused \(quoted(text))")
        }
    }

    private static func checkValue(_ text: String, bytes: [UInt8], _ findings: inout Findings) {
        // Infisical's trimming: idempotent, white space gone at both ends but
        // for one final newline, kept when the value ended with one.
        let stored = SecretValue.storedForm(text)
        findings.check(SecretValue.storedForm(stored) == stored, "storedForm is not idempotent on \(quoted(text))")
        findings.check(
            stored.unicodeScalars.last == "\n" ? text.unicodeScalars.last == "\n" : text.unicodeScalars.last != "\n",
            "storedForm(\(quoted(text))) = \(quoted(stored)): the final newline")
        let body = stored.unicodeScalars.last == "\n" ? String(stored.unicodeScalars.dropLast()) : stored
        findings.check(
            !(body.unicodeScalars.first.map(NamingRules.isJavaScriptWhitespace) ?? false)
                && !(body.unicodeScalars.last.map(NamingRules.isJavaScriptWhitespace) ?? false),
            "storedForm(\(quoted(text))) = \(quoted(stored)) keeps white space")
        findings.check(
            text.unicodeScalars.count >= body.unicodeScalars.count, "storedForm(\(quoted(text))) grew")

        // File content → value.
        let valid = String(validating: bytes, as: UTF8.self) != nil
        do {
            let exact = try SecretValue.fromFileContent(bytes, keepNewline: true)
            findings.check(Array(exact.utf8) == bytes, "keep_newline changed the content \(quoted(text))")
        } catch .notUTF8 {
            findings.check(!valid, "fromFileContent called valid UTF-8 invalid: \(quoted(text))")
        } catch {
            findings.check(bytes.count > SecretValue.maximumBytes, "fromFileContent: \(error) for \(bytes.count) bytes")
        }
        if let value = try? SecretValue.fromFileContent(bytes, keepNewline: false) {
            let newlines = bytes.filter { $0 == UInt8(ascii: "\n") }.count
            let expected = newlines == 1 && bytes.last == UInt8(ascii: "\n") ? Array(bytes.dropLast()) : bytes
            findings.check(Array(value.utf8) == expected, "the echo newline rule on \(quoted(text))")
        }
    }
}
