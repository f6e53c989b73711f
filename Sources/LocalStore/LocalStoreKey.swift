public import Foundation
public import SecretCrypto
import SecretsCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the local store's key comes from.
public enum LocalStoreKey {
    /// The environment variable that holds the key (standard base64 of 32 bytes).
    public static let environmentVariable = "INFISICALFS_STORE_KEY"

    /// The key from `INFISICALFS_STORE_KEY` when set, else from the file
    /// `<storePath>.key` (one line of base64), which is created with a fresh
    /// random key and mode 0600 when missing (and its folders, mode 0700, when
    /// `createMissingFolders`). The key file must be this user's, in folders
    /// no one else may change (`FileSecurity`). Errors are `BackendError`s, and
    /// `StoreKeyMismatch` when `storePath` already holds a database but its
    /// key file is missing and `newKeyForExistingFile` is false: a fresh key
    /// could not open it, and a file made for it would stand in the way of
    /// the real key's being put back.
    public static func load(
        storePath: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        newKeyForExistingFile: Bool = true, createMissingFolders: Bool = true
    ) throws -> SymmetricKey {
        if let text = environment[environmentVariable] {
            do {
                return try SymmetricKey(base64: text)
            } catch {
                throw BackendError(.invalidArgument, "\(environmentVariable) must be standard base64 of 32 bytes")
            }
        }
        let keyPath = storePath + ".key"
        if createMissingFolders {
            try FileSecurity.createParentFolders(of: keyPath)
        } else {
            // A missing folder is reported as the store's, which the user named.
            try FileSecurity.checkFolders(above: storePath, what: "local store")
        }
        try FileSecurity.checkFolders(above: keyPath, what: "key file")
        if !FileSecurity.exists(keyPath) {
            if !newKeyForExistingFile, FileSecurity.exists(storePath) {
                // A store that is no store, or not private, is reported as such first.
                try FileSecurity.checkPrivate(storePath, what: "store file")
            }
            if !newKeyForExistingFile, FileSecurity.holdsDatabase(storePath) {
                throw StoreKeyMismatch(
                    "local store \(storePath) exists but its key file \(keyPath) is missing: put the store's key back "
                        + "there, or give it in \(environmentVariable)")
            }
            try createKeyFile(at: keyPath)
        }
        return try readKeyFile(at: keyPath)
    }

    private static func readKeyFile(at path: String) throws -> SymmetricKey {
        try FileSecurity.checkPrivate(path, what: "key file")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BackendError(.permissionDenied, "cannot read key file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try SymmetricKey(base64: text)
        } catch {
            throw BackendError(.invalidArgument, "key file \(path) must hold standard base64 of 32 bytes on one line")
        }
    }

    /// Writes a fresh key to a private temporary file, then links it into
    /// place: a concurrent process either wins the link or reads the winner's
    /// complete key, never a half-written file.
    private static func createKeyFile(at path: String) throws {
        let temporary = "\(path).\(UUID().uuidString.lowercased()).tmp"
        try FileSecurity.createPrivateFile(temporary, what: "key file")
        defer { _ = unlink(temporary) }
        let line = Array((SymmetricKey.random().base64 + "\n").utf8)
        guard let handle = FileHandle(forWritingAtPath: temporary) else {
            throw BackendError(.permissionDenied, "cannot write key file \(temporary)")
        }
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
            try handle.close()
        } catch {
            throw BackendError(.internalError, "cannot write key file \(temporary): \(error.localizedDescription)")
        }
        if link(temporary, path) != 0, errno != EEXIST {
            throw BackendError(.permissionDenied, "cannot create key file \(path): \(FileSecurity.reason(errno))")
        }
    }
}

/// The key given does not open an existing local store (it was sealed with
/// another key, or its key file is missing). Going on would seal new values
/// with a second key while the old ones stay unreadable, so a mount refuses
/// to start. The reason names the files, never a key.
public struct StoreKeyMismatch: Error, Sendable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
