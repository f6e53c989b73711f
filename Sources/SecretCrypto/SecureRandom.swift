import COpenSSL

/// Bytes from OpenSSL's CSPRNG.
public enum SecureRandom {
    /// `count` random bytes. Traps only when the CSPRNG itself fails: carrying
    /// on with predictable keys or IVs would be worse than stopping.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max), "SecureRandom.bytes: count out of range")
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard status == 1 else { fatalError("OpenSSL RAND_bytes failed: the CSPRNG is unusable") }
        return bytes
    }
}
