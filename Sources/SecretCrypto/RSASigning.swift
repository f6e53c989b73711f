import COpenSSL
import Foundation

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256") through libcrypto, with a
/// private key given as PEM text (PKCS#8 `PRIVATE KEY`, as in a Google
/// service-account key file, or PKCS#1 `RSA PRIVATE KEY`). The key is parsed
/// for each signature and freed at once; it never reaches a log line.
public enum RSASHA256 {
    /// The signature of `message`.
    public static func sign(_ message: [UInt8], privateKeyPEM: String) throws(CryptoError) -> [UInt8] {
        let der = try derBytes(fromPEM: privateKeyPEM)
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
        }
        guard let key else {
            ERR_clear_error()
            throw .failure("the private key is not a PEM RSA key")
        }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA else { throw .failure("the private key is not an RSA key") }
        guard let context = EVP_MD_CTX_new() else { throw .failure("OpenSSL EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else {
            ERR_clear_error()
            throw .failure("OpenSSL DigestSignInit failed")
        }
        let input = message.isEmpty ? [0] : message
        var length = 0
        let sized = input.withUnsafeBufferPointer { buffer in
            EVP_DigestSign(context, nil, &length, buffer.baseAddress, message.count)
        }
        guard sized == 1, length > 0 else {
            ERR_clear_error()
            throw .failure("OpenSSL DigestSign failed")
        }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = input.withUnsafeBufferPointer { buffer in
            signature.withUnsafeMutableBufferPointer { out in
                EVP_DigestSign(context, out.baseAddress, &length, buffer.baseAddress, message.count)
            }
        }
        guard signed == 1 else {
            ERR_clear_error()
            throw .failure("OpenSSL DigestSign failed")
        }
        return Array(signature.prefix(length))
    }

    /// The DER bytes between the first `-----BEGIN ...-----` and its `-----END`.
    static func derBytes(fromPEM pem: String) throws(CryptoError) -> [UInt8] {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }),
            !lines[begin].contains("ENCRYPTED"),
            let end = lines[(begin + 1)...].firstIndex(where: { $0.hasPrefix("-----END ") })
        else { throw .failure("the private key is not PEM text") }
        let body = lines[(begin + 1)..<end].joined()
        guard let data = Data(base64Encoded: body), !data.isEmpty else {
            throw .failure("the private key's PEM body is not base64")
        }
        return [UInt8](data)
    }
}
