import Foundation
import SecretCrypto

/// A file of the `/.crypto` control folder (SPEC.md, docs/crypto.md).
enum CryptoFile: String, CaseIterable, Sendable {
    case key
    case encrypt
    case decrypt

    var logPath: String { "/.crypto/\(rawValue)" }
}

/// The documented limits of `/.crypto` (docs/crypto.md).
enum CryptoLimits {
    /// Largest request accepted; a write that crosses it is refused.
    static let maximumRequestBytes = 1 << 20
    /// Seconds a result stays readable by its writer's next open of the file.
    static let resultLifetime: TimeInterval = 60
}

/// Why a request was refused. The reason is fixed text: it never quotes the
/// request, so it can be logged and shown without leaking key or plaintext.
struct CryptoRefusal: Error, Sendable, Equatable {
    let reason: String

    /// The one-line JSON a read returns after the refusal.
    var output: [UInt8] { Array("{\"error\": \(jsonString(reason))}\n".utf8) }
}

/// Finds where a JSON object written in pieces ends, without parsing it:
/// enough to tell a request still arriving from one that is complete or
/// that can never become an object. The parser judges the rest.
struct JSONObjectScanner: Sendable {
    enum Verdict: Equatable {
        /// Nothing but white space so far.
        case empty
        case incomplete
        /// One object, then only white space.
        case complete
        /// Cannot be (the start of) one JSON object.
        case invalid
    }

    private enum Phase {
        case leading, body, trailing, invalid
    }

    private var phase = Phase.leading
    private var open: [UInt8] = []
    private var inString = false
    private var escaped = false

    var verdict: Verdict {
        switch phase {
        case .leading: .empty
        case .body: .incomplete
        case .trailing: .complete
        case .invalid: .invalid
        }
    }

    @discardableResult
    mutating func feed(_ bytes: some Sequence<UInt8>) -> Verdict {
        for byte in bytes {
            switch phase {
            case .invalid:
                return .invalid
            case .leading:
                if isJSONWhitespace(byte) { continue }
                guard byte == UInt8(ascii: "{") else {
                    phase = .invalid
                    return .invalid
                }
                open = [byte]
                phase = .body
            case .trailing:
                if !isJSONWhitespace(byte) {
                    phase = .invalid
                    return .invalid
                }
            case .body:
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""):
                    inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    open.append(byte)
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    let expected = byte == UInt8(ascii: "}") ? UInt8(ascii: "{") : UInt8(ascii: "[")
                    guard open.last == expected else {
                        phase = .invalid
                        return .invalid
                    }
                    open.removeLast()
                    if open.isEmpty { phase = .trailing }
                default:
                    break
                }
            }
        }
        return verdict
    }
}

func isJSONWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}

/// A JSON string literal; reasons are plain text, but escaping keeps the
/// output valid whatever they say.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// Answers one request to `encrypt` or `decrypt` exactly as the SDKs'
/// `encryptSymmetric` / `decryptSymmetric` would (infisical-api.md §9.3).
enum CryptoRequest {
    private struct EncryptRequest: Decodable {
        let key: String
        let plaintext: String
    }

    private struct DecryptRequest: Decodable {
        let key: String
        let ciphertext: String
        let iv: String
        let tag: String
    }

    static func answer(_ request: [UInt8], for file: CryptoFile) -> Result<[UInt8], CryptoRefusal> {
        do throws(CryptoRefusal) {
            switch file {
            case .encrypt: return .success(try encrypt(try decode(EncryptRequest.self, request)))
            case .decrypt: return .success(try decrypt(try decode(DecryptRequest.self, request)))
            case .key: throw CryptoRefusal(reason: "the key file takes no requests")
            }
        } catch {
            return .failure(error)
        }
    }

    private static func encrypt(_ request: EncryptRequest) throws(CryptoRefusal) -> [UInt8] {
        let key = try symmetricKey(request.key)
        let box: AESGCM.SealedBox
        do {
            box = try AESGCM.seal(Array(request.plaintext.utf8), using: key)
        } catch {
            throw CryptoRefusal(reason: "encryption failed")
        }
        let line =
            "{\"ciphertext\": \"\(Base64.encode(box.ciphertext))\", \"iv\": \"\(Base64.encode(box.iv))\", "
            + "\"tag\": \"\(Base64.encode(box.tag))\"}\n"
        return Array(line.utf8)
    }

    private static func decrypt(_ request: DecryptRequest) throws(CryptoRefusal) -> [UInt8] {
        let key = try symmetricKey(request.key)
        var ciphertext = try bytes(of: "ciphertext", request.ciphertext)
        let iv = try bytes(of: "iv", request.iv)
        guard iv.count == AESGCM.ivByteCount else {
            throw CryptoRefusal(reason: "iv must be \(AESGCM.ivByteCount) bytes, got \(iv.count)")
        }
        let tag: [UInt8]
        if request.tag.isEmpty {
            // The SDKs append the tag to the ciphertext before opening, so a
            // ciphertext that already ends with its tag and an empty tag decrypt too.
            guard ciphertext.count >= AESGCM.tagByteCount else {
                throw CryptoRefusal(reason: "tag must be \(AESGCM.tagByteCount) bytes, got 0")
            }
            tag = Array(ciphertext.suffix(AESGCM.tagByteCount))
            ciphertext.removeLast(AESGCM.tagByteCount)
        } else {
            tag = try bytes(of: "tag", request.tag)
            guard tag.count == AESGCM.tagByteCount else {
                throw CryptoRefusal(reason: "tag must be \(AESGCM.tagByteCount) bytes, got \(tag.count)")
            }
        }
        do {
            return try AESGCM.open(AESGCM.SealedBox(iv: iv, ciphertext: ciphertext, tag: tag), using: key)
        } catch .authenticationFailed {
            throw CryptoRefusal(reason: "decryption failed: wrong key, iv or tag, or the ciphertext was altered")
        } catch {
            throw CryptoRefusal(reason: "decryption failed")
        }
    }

    private static func symmetricKey(_ text: String) throws(CryptoRefusal) -> SymmetricKey {
        let key = try bytes(of: "key", text)
        do {
            return try SymmetricKey(bytes: key)
        } catch {
            throw CryptoRefusal(reason: "key must be \(SymmetricKey.byteCount) bytes (256 bits), got \(key.count)")
        }
    }

    private static func bytes(of field: String, _ text: String) throws(CryptoRefusal) -> [UInt8] {
        do {
            return try Base64.decode(text)
        } catch {
            throw CryptoRefusal(reason: "\(field) is not standard base64 with padding")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ request: [UInt8]) throws(CryptoRefusal) -> T {
        var scanner = JSONObjectScanner()
        switch scanner.feed(request) {
        case .empty: throw CryptoRefusal(reason: "the request is empty")
        case .incomplete: throw CryptoRefusal(reason: "the request is not a complete JSON object")
        case .invalid: throw CryptoRefusal(reason: "the request is not a JSON object")
        case .complete: break
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(request))
        } catch let DecodingError.keyNotFound(key, _) {
            throw CryptoRefusal(reason: "missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            // The parser's own descriptions may quote the request, so only the field is named.
            guard let field = context.codingPath.first?.stringValue else {
                throw CryptoRefusal(reason: "the request is not a JSON object")
            }
            throw CryptoRefusal(reason: "field '\(field)' must be a string")
        } catch {
            throw CryptoRefusal(reason: "the request is not valid JSON")
        }
    }
}
