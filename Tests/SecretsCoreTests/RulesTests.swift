import SecretsCore
import Testing

@Suite("Infisical's naming and value rules")
struct RulesTests {
    @Test(arguments: [
        ("  a b \n\n", "a b\n"), (" x ", "x"), ("x\n", "x\n"), ("x \n", "x\n"), ("\n", "\n"), ("", ""),
        ("a\nb", "a\nb"), ("\u{00A0}nbsp\u{3000}", "nbsp"), ("\t tabbed\r\n", "tabbed\n"),
    ])
    func storedFormTrimsLikeTheServer(input: String, stored: String) {
        #expect(SecretValue.storedForm(input) == stored)
    }

    @Test func fileContentDropsOnlyTheEchoNewline() throws {
        #expect(try SecretValue.fromFileContent(Array("v\n".utf8), keepNewline: false) == "v")
        #expect(try SecretValue.fromFileContent(Array("v\n\n".utf8), keepNewline: false) == "v\n\n")
        #expect(try SecretValue.fromFileContent(Array("a\nb\n".utf8), keepNewline: false) == "a\nb\n")
        #expect(try SecretValue.fromFileContent(Array("v\n".utf8), keepNewline: true) == "v\n")
        #expect(throws: SecretValue.ContentError.notUTF8) { try SecretValue.fromFileContent([0xff], keepNewline: false) }
        #expect(throws: SecretValue.ContentError.tooLarge) {
            try SecretValue.fromFileContent([UInt8](repeating: 65, count: SecretValue.maximumBytes + 1), keepNewline: false)
        }
    }

    @Test func secretNames() {
        #expect(NamingRules.checkSecretName("DB_PASSWORD") == .valid)
        #expect(NamingRules.checkSecretName("with space.and-dots") == .valid)
        #expect(NamingRules.checkSecretName("ünïcode🔐") == .valid)
        // "/" or ":" and a combining mark make one Character, but the name holds the byte (found by fuzzing).
        for bad in ["", "a:b", "a/b", " lead", "trail ", ".", "..", "a/\u{301}b", "a:\u{5bd}", "\u{fffd}/\u{5bd}"] {
            guard case .invalid = NamingRules.checkSecretName(bad) else {
                Issue.record("'\(bad)' should be invalid")
                continue
            }
        }
        guard case .tooLong = NamingRules.checkSecretName(String(repeating: "é", count: 128)) else {
            Issue.record("256 bytes should be too long")
            return
        }
    }

    @Test func folderNamesAndSlugs() {
        #expect(NamingRules.checkFolderName("db_main-2") == .valid)
        for bad in ["a.b", "a b", "", "ü"] {
            #expect(NamingRules.checkFolderName(bad) != .valid, "\(bad)")
        }
        #expect(NamingRules.checkSlug("my-project-1", of: "project") == .valid)
        for bad in ["My", "a_b", "-lead", "", "a.b", "trail-", "a--b", ".git", ".Trash-1000", "MyProj"] {
            #expect(NamingRules.checkSlug(bad, of: "project") != .valid, "\(bad)")
            #expect(!NamingRules.isSlug(bad), "\(bad)")
        }
        // Project IDs are slugs in form: a UUID and an older 24-digit hex ID.
        for id in ["3f1c2b1e-9a4d-4c1e-8f2a-0b1c2d3e4f5a", "65f1c2b1e9a4d4c1e8f2a0b1", "my-project-1", "a"] {
            #expect(NamingRules.isSlug(id), "\(id)")
        }
        #expect(!NamingRules.isSlug(String(repeating: "a", count: 65)))
    }

    @Test func secretPaths() {
        #expect(SecretPath(canonical: "/")?.isRoot == true)
        #expect(SecretPath(canonical: "/a/b")?.segments == ["a", "b"])
        #expect(SecretPath(canonical: "a/b") == nil)
        #expect(SecretPath(canonical: "/a//b") == nil)
        #expect(SecretPath(canonical: "/a/b/") == nil)
        #expect(SecretPath(segments: ["a", "b"]).description == "/a/b")
        #expect(SecretPath(segments: ["a", "b"]).isWithin(SecretPath(segments: ["a"])))
        #expect(!SecretPath(segments: ["ab"]).isWithin(SecretPath(segments: ["a"])))
    }
}
