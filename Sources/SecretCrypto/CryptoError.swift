/// Why a cryptographic call failed. Carries no key or plaintext material.
public enum CryptoError: Error, Sendable, Equatable {
    case invalidKeyLength
    case invalidIVLength
    case invalidTagLength
    /// The tag did not match: wrong key, wrong IV, wrong AAD or tampered data.
    case authenticationFailed
    case invalidBase64
    /// OpenSSL itself failed; the string is OpenSSL's reason, for the log.
    case failure(String)
}
