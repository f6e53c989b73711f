import COpenSSL

/// AES-256-GCM through OpenSSL's EVP interface, compatible with Infisical's
/// `encryptSymmetric`/`decryptSymmetric` (12-byte IV, 16-byte tag, no AAD there).
public enum AESGCM {
    public static let ivByteCount = 12
    public static let tagByteCount = 16

    public struct SealedBox: Sendable, Equatable {
        public let iv: [UInt8]
        public let ciphertext: [UInt8]
        public let tag: [UInt8]

        public init(iv: [UInt8], ciphertext: [UInt8], tag: [UInt8]) throws(CryptoError) {
            guard iv.count == AESGCM.ivByteCount else { throw .invalidIVLength }
            guard tag.count == AESGCM.tagByteCount else { throw .invalidTagLength }
            self.iv = iv
            self.ciphertext = ciphertext
            self.tag = tag
        }

        /// `iv ‖ ciphertext ‖ tag`: one blob for storage.
        public var combined: [UInt8] { iv + ciphertext + tag }

        /// Splits `iv ‖ ciphertext ‖ tag`; a blob too short to hold an IV and
        /// a tag is missing (part of) its tag.
        public init(combined: [UInt8]) throws(CryptoError) {
            guard combined.count >= AESGCM.ivByteCount + AESGCM.tagByteCount else { throw .invalidTagLength }
            let tagStart = combined.count - AESGCM.tagByteCount
            try self.init(
                iv: Array(combined[..<AESGCM.ivByteCount]),
                ciphertext: Array(combined[AESGCM.ivByteCount..<tagStart]),
                tag: Array(combined[tagStart...]))
        }
    }

    /// Encrypts `plaintext`; a random IV is drawn when `iv` is nil. Passing an
    /// IV is for test vectors: reusing one with the same key breaks GCM.
    public static func seal(
        _ plaintext: [UInt8], using key: SymmetricKey, iv: [UInt8]? = nil, authenticating aad: [UInt8] = []
    ) throws(CryptoError) -> SealedBox {
        let iv = iv ?? SecureRandom.bytes(count: ivByteCount)
        guard iv.count == ivByteCount else { throw .invalidIVLength }
        guard plaintext.count < Int(Int32.max), aad.count < Int(Int32.max) else {
            throw .failure("input longer than OpenSSL accepts")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw openSSLFailure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        try check(EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil), "EncryptInit")
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(ivByteCount), nil), "SET_IVLEN")
        try check(
            key.bytes.withUnsafeBufferPointer { keyBuffer in
                iv.withUnsafeBufferPointer { ivBuffer in
                    EVP_EncryptInit_ex(context, nil, nil, keyBuffer.baseAddress, ivBuffer.baseAddress)
                }
            }, "EncryptInit key")
        try addAAD(aad, to: context, encrypting: true)

        // GCM is a stream mode: output length equals input length. One spare
        // byte keeps the buffer's base address non-nil for empty input.
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 1)
        var written: Int32 = 0
        if !plaintext.isEmpty {
            try check(
                ciphertext.withUnsafeMutableBufferPointer { out in
                    plaintext.withUnsafeBufferPointer { input in
                        EVP_EncryptUpdate(
                            context, out.baseAddress, &written, input.baseAddress, Int32(input.count))
                    }
                }, "EncryptUpdate")
        }
        var finalWritten: Int32 = 0
        let offset = Int(written)
        try check(
            ciphertext.withUnsafeMutableBufferPointer { out in
                EVP_EncryptFinal_ex(context, out.baseAddress! + offset, &finalWritten)
            }, "EncryptFinal")
        ciphertext.removeLast(ciphertext.count - (offset + Int(finalWritten)))

        var tag = [UInt8](repeating: 0, count: tagByteCount)
        try check(
            tag.withUnsafeMutableBytes { buffer in
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), buffer.baseAddress)
            }, "GET_TAG")
        return try SealedBox(iv: iv, ciphertext: ciphertext, tag: tag)
    }

    /// Decrypts and verifies `box`; `.authenticationFailed` when anything
    /// (key, IV, ciphertext, tag, AAD) differs from what was sealed.
    public static func open(_ box: SealedBox, using key: SymmetricKey, authenticating aad: [UInt8] = [])
        throws(CryptoError) -> [UInt8]
    {
        guard box.iv.count == ivByteCount else { throw .invalidIVLength }
        guard box.tag.count == tagByteCount else { throw .invalidTagLength }
        guard box.ciphertext.count < Int(Int32.max), aad.count < Int(Int32.max) else {
            throw .failure("input longer than OpenSSL accepts")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw openSSLFailure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        try check(EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil), "DecryptInit")
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(ivByteCount), nil), "SET_IVLEN")
        try check(
            key.bytes.withUnsafeBufferPointer { keyBuffer in
                box.iv.withUnsafeBufferPointer { ivBuffer in
                    EVP_DecryptInit_ex(context, nil, nil, keyBuffer.baseAddress, ivBuffer.baseAddress)
                }
            }, "DecryptInit key")
        try addAAD(aad, to: context, encrypting: false)

        var plaintext = [UInt8](repeating: 0, count: box.ciphertext.count + 1)
        var written: Int32 = 0
        if !box.ciphertext.isEmpty {
            try check(
                plaintext.withUnsafeMutableBufferPointer { out in
                    box.ciphertext.withUnsafeBufferPointer { input in
                        EVP_DecryptUpdate(
                            context, out.baseAddress, &written, input.baseAddress, Int32(input.count))
                    }
                }, "DecryptUpdate")
        }
        // SET_TAG takes a `void *`, hence the mutable copy.
        var tag = box.tag
        try check(
            tag.withUnsafeMutableBytes { buffer in
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), buffer.baseAddress)
            }, "SET_TAG")
        var finalWritten: Int32 = 0
        let offset = Int(written)
        let verified = plaintext.withUnsafeMutableBufferPointer { out in
            EVP_DecryptFinal_ex(context, out.baseAddress! + offset, &finalWritten)
        }
        guard verified > 0 else {
            // Wipe what was decrypted before the tag check failed; it is unauthenticated.
            for index in plaintext.indices { plaintext[index] = 0 }
            ERR_clear_error()
            throw .authenticationFailed
        }
        plaintext.removeLast(plaintext.count - (offset + Int(finalWritten)))
        return plaintext
    }

    private static func check(_ status: Int32, _ step: String) throws(CryptoError) {
        guard status == 1 else { throw openSSLFailure(step) }
    }

    /// Feeds additional authenticated data (no output buffer) when there is any.
    private static func addAAD(_ aad: [UInt8], to context: OpaquePointer, encrypting: Bool) throws(CryptoError) {
        guard !aad.isEmpty else { return }
        var ignored: Int32 = 0
        let status = aad.withUnsafeBufferPointer { input in
            encrypting
                ? EVP_EncryptUpdate(context, nil, &ignored, input.baseAddress, Int32(input.count))
                : EVP_DecryptUpdate(context, nil, &ignored, input.baseAddress, Int32(input.count))
        }
        try check(status, "AAD update")
    }

    /// OpenSSL's reason for the latest failure, with the error queue drained so
    /// a stale entry cannot be blamed on a later call.
    private static func openSSLFailure(_ step: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return .failure("OpenSSL \(step) failed") }
        var buffer = [CChar](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        let reason = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return .failure("OpenSSL \(step) failed: \(reason)")
    }
}
