import Foundation
@testable import FuseKit
import Testing

/// FuseKit's side of extended attributes, without a mount: the size protocol
/// of getxattr/listxattr, the packing of names, and the defaults a file
/// system that does not implement them gets. (Real xattr calls go through
/// the mount tests.)
@Suite("FuseKit: extended attributes")
struct ExtendedAttributeProtocolTests {
    @Test func aZeroSizeQueryGetsTheLength() throws {
        let reply = try Dispatcher.extendedAttributeReply([1, 2, 3], bufferSize: 0)
        guard case .extendedAttributeSize(let length) = reply else {
            Issue.record("not a size answer")
            return
        }
        #expect(length == 3)
        guard case .extendedAttributeSize(0) = try Dispatcher.extendedAttributeReply([], bufferSize: 0) else {
            Issue.record("not a size answer for an empty value")
            return
        }
    }

    @Test func aBufferTooSmallIsERANGE() {
        #expect(throws: Errno.outOfRange) { try Dispatcher.extendedAttributeReply([1, 2, 3], bufferSize: 2) }
    }

    @Test(arguments: [3, 4, 65536])
    func aBufferLargeEnoughGetsTheBytes(size: Int) throws {
        guard case .data(let bytes) = try Dispatcher.extendedAttributeReply([1, 2, 3], bufferSize: size) else {
            Issue.record("not a data answer")
            return
        }
        #expect(bytes == [1, 2, 3])
    }

    @Test func namesArePackedNULTerminated() {
        #expect(Dispatcher.packAttributeNames([]) == [])
        #expect(Dispatcher.packAttributeNames(["user.a", "user.bc"]) == Array("user.a\0user.bc\0".utf8))
        // A name with a NUL in it could not be asked for again: it is left out.
        #expect(Dispatcher.packAttributeNames(["user.a\0b", "user.c"]) == Array("user.c\0".utf8))
    }

    @Test func theFlagsAreXATTR_CREATEAndXATTR_REPLACE() {
        #expect(ExtendedAttributeFlags.create.rawValue == 1)
        #expect(ExtendedAttributeFlags.replace.rawValue == 2)
        #expect(ExtendedAttributeFlags(rawValue: 0).isEmpty)
    }

    @Test func withoutAnImplementationEveryOperationIsENOTSUP() {
        let bare = BareFileSystem()
        let inode = InodeNumber.root
        #expect(throws: Errno.notSupported) { try bare.getExtendedAttribute(inode, name: "user.x") }
        #expect(throws: Errno.notSupported) {
            try bare.setExtendedAttribute(inode, name: "user.x", value: [1], flags: .create)
        }
        #expect(throws: Errno.notSupported) { try bare.listExtendedAttributes(inode) }
        #expect(throws: Errno.notSupported) { try bare.removeExtendedAttribute(inode, name: "user.x") }
        // Not ENOSYS: that would turn the operation off for the whole mount.
        #expect(Errno.notSupported != Errno.notImplemented)
    }
}

/// A file system with only the required operations, none of them used.
private final class BareFileSystem: FileSystemOperations {
    func lookup(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry {
        throw .notImplemented
    }
    func forget(_ inode: InodeNumber, lookups: UInt64) {}
    func attributes(of inode: InodeNumber, handle: FuseHandle?, context: RequestContext) throws(Errno)
        -> (FileAttributes, timeout: Double)
    { throw .notImplemented }
    func setAttributes(
        of inode: InodeNumber, _ changes: AttributeChanges, handle: FuseHandle?, context: RequestContext
    ) throws(Errno) -> (FileAttributes, timeout: Double) { throw .notImplemented }
    func makeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) -> Entry {
        throw .notImplemented
    }
    func removeDirectory(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) {
        throw .notImplemented
    }
    func removeFile(parent: InodeNumber, name: String, context: RequestContext) throws(Errno) {
        throw .notImplemented
    }
    func rename(
        parent: InodeNumber, name: String, newParent: InodeNumber, newName: String, flags: RenameFlags,
        context: RequestContext
    ) throws(Errno) { throw .notImplemented }
    func open(_ inode: InodeNumber, flags: OpenFlags, context: RequestContext) throws(Errno) -> OpenReply {
        throw .notImplemented
    }
    func create(parent: InodeNumber, name: String, flags: OpenFlags, context: RequestContext) throws(Errno)
        -> (Entry, OpenReply)
    { throw .notImplemented }
    func read(_ inode: InodeNumber, handle: FuseHandle?, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        throw .notImplemented
    }
    func write(_ inode: InodeNumber, handle: FuseHandle, offset: UInt64, data: [UInt8], context: RequestContext)
        throws(Errno) -> Int
    { throw .notImplemented }
    func flush(_ inode: InodeNumber, handle: FuseHandle, context: RequestContext) throws(Errno) {
        throw .notImplemented
    }
    func fsync(_ inode: InodeNumber, handle: FuseHandle, dataOnly: Bool) throws(Errno) { throw .notImplemented }
    func release(_ inode: InodeNumber, handle: FuseHandle) {}
    func openDirectory(_ inode: InodeNumber, context: RequestContext) throws(Errno) -> DirectoryListing {
        throw .notImplemented
    }
    func statistics() -> FileSystemStatistics { FileSystemStatistics() }
}
