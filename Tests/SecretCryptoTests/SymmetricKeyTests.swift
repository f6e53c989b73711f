import SecretCrypto
import Testing

@Test("wrong key lengths are rejected", arguments: [0, 1, 16, 24, 31, 33, 64])
func wrongKeyLength(length: Int) {
    #expect(throws: CryptoError.invalidKeyLength) { try SymmetricKey(bytes: [UInt8](repeating: 0, count: length)) }
}

@Test("a 16-byte key in base64 is rejected as a wrong length")
func shortBase64Key() {
    #expect(throws: CryptoError.invalidKeyLength) { try SymmetricKey(base64: "AAAAAAAAAAAAAAAAAAAAAA==") }
}

@Test("base64 round trip")
func base64RoundTrip() throws {
    let key = SymmetricKey.random()
    #expect(key.bytes.count == SymmetricKey.byteCount)
    #expect(key.base64.count == 44)
    #expect(key.base64.hasSuffix("="))
    #expect(try SymmetricKey(base64: key.base64) == key)
}

@Test("a known key decodes to its bytes")
func knownKey() throws {
    let key = try SymmetricKey(bytes: Array(0..<32))
    #expect(key.base64 == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    #expect(try SymmetricKey(base64: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").bytes == Array(0..<32))
}

@Test(
    "malformed base64 is rejected",
    arguments: [
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g",  // unpadded
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB_g=",  // URL-safe '_'
        "-icjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=",  // URL-safe '-'
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g==",  // extra padding
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolY B/g=",  // space inside
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=\n",  // trailing newline
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolY*/g=",  // outside the alphabet
        "====",
        "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/h=",  // non-zero padding bits
    ])
func malformedBase64(text: String) {
    #expect(throws: CryptoError.invalidBase64) { try SymmetricKey(base64: text) }
}

@Test("an empty string decodes to no bytes, which is a wrong length")
func emptyBase64() {
    #expect(throws: CryptoError.invalidKeyLength) { try SymmetricKey(base64: "") }
}

@Test("random keys differ")
func randomKeysDiffer() {
    #expect(SymmetricKey.random() != SymmetricKey.random())
}

@Test("a key's description does not reveal it")
func redactedDescription() {
    let key = SymmetricKey.random()
    #expect(!"\(key)".contains(key.base64))
    #expect(!String(reflecting: key).contains(key.base64))
    #expect(!"\(key)".contains("\(key.bytes)"))
}

@Test("SecureRandom returns the requested count")
func secureRandomCount() {
    #expect(SecureRandom.bytes(count: 0).isEmpty)
    #expect(SecureRandom.bytes(count: 1).count == 1)
    #expect(SecureRandom.bytes(count: 1000).count == 1000)
    #expect(SecureRandom.bytes(count: 32) != SecureRandom.bytes(count: 32))
}
