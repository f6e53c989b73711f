import Foundation

/// A 256-bit AES key. Its description is redacted so a key never reaches a log
/// line through string interpolation.
public struct SymmetricKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let byteCount = 32

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidKeyLength }
        self.bytes = bytes
    }

    /// Standard base64 with padding, as Infisical's SDKs write keys.
    public init(base64: String) throws(CryptoError) {
        try self.init(bytes: try Base64.decode(base64))
    }

    public var base64: String { Base64.encode(bytes) }

    public static func random() -> SymmetricKey {
        // Cannot throw: the length is right by construction.
        SymmetricKey(unchecked: SecureRandom.bytes(count: byteCount))
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { "SymmetricKey(redacted)" }
    public var debugDescription: String { description }
}

/// Standard base64 only: Infisical rejects the URL-safe alphabet and unpadded
/// input, so accepting them here would let a key work locally but not there.
public enum Base64 {
    public static func decode(_ text: String) throws(CryptoError) -> [UInt8] {
        guard text.utf8.count % 4 == 0, !text.contains("-"), !text.contains("_"),
            let data = Data(base64Encoded: text)
        else { throw .invalidBase64 }
        let bytes = [UInt8](data)
        // Foundation tolerates oddities such as "====" or non-zero padding
        // bits; only the canonical spelling of the bytes is accepted.
        guard encode(bytes) == text else { throw .invalidBase64 }
        return bytes
    }

    public static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
