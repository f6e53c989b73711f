import Foundation
import SecretCrypto
import Testing

@Suite("SHA-256, HMAC-SHA256, RS256")
struct SigningTests {
    @Test func sha256KnownVectors() {
        // FIPS 180-2 examples.
        #expect(Hex.encode(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacKnownVectors() {
        // RFC 4231 test case 2, and the common "quick brown fox" example.
        #expect(
            Hex.encode(HMACSHA256.authenticationCode(for: "what do ya want for nothing?", key: Array("Jefe".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(
            Hex.encode(
                HMACSHA256.authenticationCode(
                    for: "The quick brown fox jumps over the lazy dog", key: Array("key".utf8)))
                == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
        #expect(HMACSHA256.authenticationCode(for: [], key: []).count == 32)
    }

    @Test func rs256SignaturesVerifyWithOpenSSLAndAreDeterministic() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rs256-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", folder + "/k.pem"])
        try openssl(["pkey", "-in", folder + "/k.pem", "-pubout", "-out", folder + "/k.pub"])
        let pem = try String(contentsOfFile: folder + "/k.pem", encoding: .utf8)
        let message = Array("header.payload".utf8)
        let signature = try RSASHA256.sign(message, privateKeyPEM: pem)
        #expect(signature.count == 256)
        #expect(try RSASHA256.sign(message, privateKeyPEM: pem) == signature)  // PKCS#1 v1.5 is deterministic
        _ = FileManager.default.createFile(atPath: folder + "/msg", contents: Data(message))
        _ = FileManager.default.createFile(atPath: folder + "/sig", contents: Data(signature))
        try openssl(["dgst", "-sha256", "-verify", folder + "/k.pub", "-signature", folder + "/sig", folder + "/msg"])
        _ = FileManager.default.createFile(atPath: folder + "/msg", contents: Data("header.payloaD".utf8))
        #expect(throws: (any Error).self) {
            try openssl(["dgst", "-sha256", "-verify", folder + "/k.pub", "-signature", folder + "/sig", folder + "/msg"])
        }
        // PKCS#1 ("RSA PRIVATE KEY") works too; garbage is a clear error.
        try openssl(["rsa", "-in", folder + "/k.pem", "-traditional", "-out", folder + "/k1.pem"])
        let pkcs1 = try String(contentsOfFile: folder + "/k1.pem", encoding: .utf8)
        #expect(try RSASHA256.sign(message, privateKeyPEM: pkcs1) == signature)
        #expect(throws: CryptoError.self) { try RSASHA256.sign(message, privateKeyPEM: "not a key") }
        #expect(throws: CryptoError.self) {
            try RSASHA256.sign(message, privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        }
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        struct Failed: Error {}
        guard process.terminationStatus == 0 else { throw Failed() }
    }
}
