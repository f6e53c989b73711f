import Foundation
import SecretCrypto
import Testing

/// Vectors from infisical-api.md §10, produced by infisical-python 2.3.5.
private struct Vector: Sendable, CustomTestStringConvertible {
    let key: String
    let plaintext: String
    let iv: String
    let tag: String
    let ciphertext: String

    var testDescription: String { "plaintext of \(plaintext.utf8.count) bytes" }

    static let all: [Vector] = [
        Vector(
            key: "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", plaintext: "hello, world",
            iv: "GzrsCOMYrJdZm87z", tag: "GAzPhdCdE2m3MSxXx8KRsQ==", ciphertext: "LeRv9rWxS9Tl9Gwr"),
        Vector(
            key: "GwvWt0cFngqrx1QvygDZDXAicZ3ygqfPj5paeuaew+k=", plaintext: "",
            iv: "ZjtMN6fSukTtbJHw", tag: "JXmiU+/MY2KZD2vKsIaLyg==", ciphertext: ""),
        Vector(
            key: "nNkttRVqJpsY6N8A7RnrPThrZX19qEJETiyCoaNocPQ=", plaintext: "pässwörd 🔐\nline2",
            iv: "X4JwguVyHpfPV/yg", tag: "cs9AO5bun7aBzwOxT5+DCw==", ciphertext: "PB5TPL5bRE0vcB5Xz1cgW37X7M4P"),
    ]
}

private func decoded(_ base64: String) -> [UInt8] { [UInt8](Data(base64Encoded: base64)!) }

@Test("SDK vectors decrypt", arguments: Vector.all)
private func sdkVectorDecrypts(_ vector: Vector) throws {
    let key = try SymmetricKey(base64: vector.key)
    let box = try AESGCM.SealedBox(
        iv: decoded(vector.iv), ciphertext: decoded(vector.ciphertext), tag: decoded(vector.tag))
    let plaintext = try AESGCM.open(box, using: key)
    #expect(String(decoding: plaintext, as: UTF8.self) == vector.plaintext)
}

@Test("SDK vectors re-encrypt to the same ciphertext and tag", arguments: Vector.all)
private func sdkVectorReencrypts(_ vector: Vector) throws {
    let key = try SymmetricKey(base64: vector.key)
    let box = try AESGCM.seal(Array(vector.plaintext.utf8), using: key, iv: decoded(vector.iv))
    #expect(box.ciphertext == decoded(vector.ciphertext))
    #expect(box.tag == decoded(vector.tag))
    #expect(box.iv == decoded(vector.iv))
}

@Test("the third vector's plaintext is 21 UTF-8 bytes")
func thirdVectorLength() {
    #expect(Vector.all[2].plaintext.utf8.count == 21)
}

@Test("round trips", arguments: [0, 1, 15, 16, 17, 64 * 1024])
func roundTrip(length: Int) throws {
    let key = SymmetricKey.random()
    let plaintext = SecureRandom.bytes(count: length)
    let box = try AESGCM.seal(plaintext, using: key)
    #expect(box.iv.count == AESGCM.ivByteCount)
    #expect(box.tag.count == AESGCM.tagByteCount)
    #expect(box.ciphertext.count == length)
    #expect(try AESGCM.open(box, using: key) == plaintext)
    let reopened = try AESGCM.SealedBox(combined: box.combined)
    #expect(reopened == box)
    #expect(try AESGCM.open(reopened, using: key) == plaintext)
}

@Test("round trip with AAD")
func roundTripWithAAD() throws {
    let key = SymmetricKey.random()
    let aad = Array("project\u{0}dev\u{0}/\u{0}NAME".utf8)
    let box = try AESGCM.seal(Array("value".utf8), using: key, authenticating: aad)
    #expect(try AESGCM.open(box, using: key, authenticating: aad) == Array("value".utf8))
    #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, using: key) }
}

@Test("empty plaintext with AAD")
func emptyPlaintextWithAAD() throws {
    let key = SymmetricKey.random()
    let box = try AESGCM.seal([], using: key, authenticating: [1, 2, 3])
    #expect(box.ciphertext.isEmpty)
    #expect(box.combined.count == AESGCM.ivByteCount + AESGCM.tagByteCount)
    #expect(try AESGCM.open(box, using: key, authenticating: [1, 2, 3]) == [])
}

@Test("random IVs differ between seals")
func randomIVs() throws {
    let key = SymmetricKey.random()
    let first = try AESGCM.seal([1, 2, 3], using: key)
    let second = try AESGCM.seal([1, 2, 3], using: key)
    #expect(first.iv != second.iv)
    #expect(first.ciphertext != second.ciphertext)
}

@Test("a flipped bit in the tag is rejected", arguments: 0..<AESGCM.tagByteCount)
func flippedTagBit(index: Int) throws {
    let key = SymmetricKey.random()
    let box = try AESGCM.seal(Array("secret value".utf8), using: key)
    var tag = box.tag
    tag[index] ^= 0x01
    let tampered = try AESGCM.SealedBox(iv: box.iv, ciphertext: box.ciphertext, tag: tag)
    #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(tampered, using: key) }
}

@Test("a flipped bit in the ciphertext is rejected")
func flippedCiphertextBit() throws {
    let key = SymmetricKey.random()
    let box = try AESGCM.seal(Array("secret value".utf8), using: key)
    for index in box.ciphertext.indices {
        var ciphertext = box.ciphertext
        ciphertext[index] ^= 0x80
        let tampered = try AESGCM.SealedBox(iv: box.iv, ciphertext: ciphertext, tag: box.tag)
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(tampered, using: key) }
    }
}

@Test("a flipped bit in the IV is rejected")
func flippedIVBit() throws {
    let key = SymmetricKey.random()
    let box = try AESGCM.seal(Array("secret value".utf8), using: key)
    var iv = box.iv
    iv[0] ^= 0x01
    let tampered = try AESGCM.SealedBox(iv: iv, ciphertext: box.ciphertext, tag: box.tag)
    #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(tampered, using: key) }
}

@Test("a flipped bit in the AAD is rejected")
func flippedAADBit() throws {
    let key = SymmetricKey.random()
    let aad = Array("p\u{0}dev\u{0}/\u{0}A".utf8)
    let box = try AESGCM.seal(Array("secret value".utf8), using: key, authenticating: aad)
    for index in aad.indices {
        var tampered = aad
        tampered[index] ^= 0x01
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(box, using: key, authenticating: tampered)
        }
    }
}

@Test("the wrong key is rejected")
func wrongKey() throws {
    let box = try AESGCM.seal(Array("secret value".utf8), using: SymmetricKey.random())
    #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, using: SymmetricKey.random()) }
}

@Test("the SDK's ct‖tag form with the tag split off opens")
func combinedWithSDKFields() throws {
    let vector = Vector.all[0]
    let combined = decoded(vector.iv) + decoded(vector.ciphertext) + decoded(vector.tag)
    let box = try AESGCM.SealedBox(combined: combined)
    #expect(try AESGCM.open(box, using: SymmetricKey(base64: vector.key)) == Array(vector.plaintext.utf8))
}

@Test("wrong IV lengths are rejected", arguments: [0, 8, 11, 13, 16])
func wrongIVLength(length: Int) throws {
    let key = SymmetricKey.random()
    let iv = [UInt8](repeating: 7, count: length)
    #expect(throws: CryptoError.invalidIVLength) { try AESGCM.seal([1], using: key, iv: iv) }
    #expect(throws: CryptoError.invalidIVLength) {
        try AESGCM.SealedBox(iv: iv, ciphertext: [1], tag: [UInt8](repeating: 0, count: 16))
    }
}

@Test("wrong tag lengths are rejected", arguments: [0, 4, 12, 15, 17])
func wrongTagLength(length: Int) {
    #expect(throws: CryptoError.invalidTagLength) {
        try AESGCM.SealedBox(
            iv: [UInt8](repeating: 0, count: 12), ciphertext: [1], tag: [UInt8](repeating: 0, count: length))
    }
}

@Test("a combined blob too short for IV and tag is rejected", arguments: [0, 12, 27])
func shortCombined(length: Int) {
    #expect(throws: CryptoError.invalidTagLength) {
        try AESGCM.SealedBox(combined: [UInt8](repeating: 0, count: length))
    }
}

@Test("combined is iv ‖ ciphertext ‖ tag")
func combinedLayout() throws {
    let box = try AESGCM.SealedBox(
        iv: [UInt8](repeating: 1, count: 12), ciphertext: [2, 2, 2], tag: [UInt8](repeating: 3, count: 16))
    #expect(box.combined == [UInt8](repeating: 1, count: 12) + [2, 2, 2] + [UInt8](repeating: 3, count: 16))
}
