import Foundation
public import FuseKit
import Logging
import SecretsCore
import Synchronization

/// A secret's metadata as extended attributes (`getfattr -d`):
/// `user.infisical.{version,type,comment,tags,updated_at,id}`, and
/// `user.infisical.{stale,age}` while a cached copy stands in for an
/// unreachable backend. Only `comment` can be set.
extension SecretsFileSystem {
    static let attributePrefix = "user.infisical."

    enum SecretAttribute: String, CaseIterable {
        case version, type, comment, tags
        case updatedAt = "updated_at"
        case id, stale, age

        var name: String { SecretsFileSystem.attributePrefix + rawValue }
    }

    public func getExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno) -> [UInt8] {
        // Every write(2) asks for security.capability first: answered at once.
        guard name.hasPrefix(Self.attributePrefix), let attribute = SecretAttribute(rawValue: String(name.dropFirst(Self.attributePrefix.count))) else {
            throw .noData
        }
        let (values, damage) = try secretAttributes(of: inode)
        if attribute == .comment, let damage {
            let path = try node(inode).logPath
            logger.warning("getfattr \(name) \(path): \(damage.reason) (\(Errno.ioError))")
            throw .ioError
        }
        guard let value = values[attribute] else { throw .noData }
        return Array(value.utf8)
    }

    public func listExtendedAttributes(_ inode: InodeNumber) throws(Errno) -> [String] {
        let (values, damage) = try secretAttributes(of: inode)
        return SecretAttribute.allCases.filter { values[$0] != nil || ($0 == .comment && damage != nil) }.map(\.name)
    }

    public func setExtendedAttribute(
        _ inode: InodeNumber, name: String, value: [UInt8], flags: ExtendedAttributeFlags
    ) throws(Errno) {
        guard name.hasPrefix(Self.attributePrefix) else { throw .notSupported }
        guard let attribute = SecretAttribute(rawValue: String(name.dropFirst(Self.attributePrefix.count))) else {
            throw .notSupported
        }
        if try setOnFileNotStoredYet(inode, attribute: attribute, value: value) { return }
        guard attribute == .comment else { throw .notPermitted }
        guard let comment = String(validating: value, as: UTF8.self) else { throw .illegalByteSequence }
        // A comment that no longer opens is there, and may be replaced.
        let (values, damage) = try secretAttributes(of: inode)
        let exists = values[.comment] != nil || damage != nil
        if flags.contains(.create), exists { throw .fileExists }
        if flags.contains(.replace), !exists { throw .noData }
        try setComment(comment, of: inode)
    }

    public func removeExtendedAttribute(_ inode: InodeNumber, name: String) throws(Errno) {
        guard name.hasPrefix(Self.attributePrefix),
            let attribute = SecretAttribute(rawValue: String(name.dropFirst(Self.attributePrefix.count)))
        else { throw .noData }
        guard attribute == .comment else { throw .notPermitted }
        let (values, damage) = try secretAttributes(of: inode)
        guard values[.comment] != nil || damage != nil else { throw .noData }
        try setComment("", of: inode)
    }

    /// The attributes a secret has now; none for anything that is not a
    /// stored secret (folders, scratch files, views, a file not stored yet).
    /// A comment the backend holds but cannot open is left out and its
    /// damage returned: reading it is EIO, replacing or removing it works.
    private func secretAttributes(of inode: InodeNumber) throws(Errno)
        -> (values: [SecretAttribute: String], damagedComment: Secret.Damage?)
    {
        guard case .secret(let location, let name) = try node(inode), !isPending(.secret(location, name: name)) else {
            return ([:], nil)
        }
        let secret = try fetch(name, in: location)
        var values: [SecretAttribute: String] = [
            .version: String(secret.version), .type: secret.type.rawValue, .tags: secret.tags.joined(separator: ","),
            .updatedAt: secret.updatedAt.formatted(.iso8601),
        ]
        if !secret.comment.isEmpty { values[.comment] = secret.comment }
        if !secret.id.isEmpty { values[.id] = secret.id }
        if let age = (backend as? CachingBackend)?.cacheAge(of: name, in: location), age.servedStale {
            values[.stale] = "1"
            values[.age] = String(Int(saturatingSeconds: Date().timeIntervalSince(age.fetchedAt)))
        }
        return (values, secret.damage?.comment == true ? secret.damage : nil)
    }

    /// A file created through this mount and not stored yet (a copy being
    /// made, `cp -a` or `mv` to another environment copying attributes): the
    /// backend assigns version, ID and times when it stores the file, so
    /// those are accepted and ignored; a comment is set right after the create.
    private func setOnFileNotStoredYet(_ inode: InodeNumber, attribute: SecretAttribute, value: [UInt8]) throws(Errno)
        -> Bool
    {
        guard case .secret(let location, let name) = try node(inode), isPending(.secret(location, name: name)) else {
            return false
        }
        guard attribute == .comment else { return true }
        guard let comment = String(validating: value, as: UTF8.self) else { throw .illegalByteSequence }
        state.withLock { state in
            for (handle, file) in state.openFiles where file.isNew && file.inode == inode {
                state.openFiles[handle]?.pendingComment = comment
            }
        }
        return true
    }

    private func setComment(_ comment: String, of inode: InodeNumber) throws(Errno) {
        try refuseIfReadOnly()
        guard case .secret(let location, let name) = try node(inode) else { throw .notSupported }
        _ = try call("setfattr comment /\(location)/\(name)") { try backend.setComment(comment, of: name, in: location) }
    }
}
