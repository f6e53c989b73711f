import CFuse
import Foundation

/// The C callbacks. Each one decodes its arguments, calls the file system
/// through the session's user data, and replies once; none holds state.
extension Dispatcher {
    static let operationsTable: fuse_lowlevel_ops = {
        var ops = fuse_lowlevel_ops()

        ops.`init` = { userdata, conn in
            guard let conn, let userdata else { return }
            let dispatcher = Unmanaged<Dispatcher>.fromOpaque(userdata).takeUnretainedValue()
            // No-open is mount-wide: after the first ENOSYS to an OPEN the
            // kernel opens files without asking and never sends RELEASE.
            if conn.pointee.capable & UInt32(FUSE_CAP_NO_OPEN_SUPPORT) != 0 { dispatcher.kernelSupportsNoOpen() }
            // O_TRUNC arrives with open() instead of as a separate setattr, so
            // truncation and the new content commit together.
            if conn.pointee.capable & UInt32(FUSE_CAP_ATOMIC_O_TRUNC) != 0 {
                conn.pointee.want |= UInt32(FUSE_CAP_ATOMIC_O_TRUNC)
            }
            // The file system says at each open whether cached pages are still
            // right (keep_cache); automatic invalidation would add a GETATTR
            // round trip to every open.
            conn.pointee.want &= ~UInt32(FUSE_CAP_AUTO_INVAL_DATA)
            // Lookups and listings in one directory may run at once: a slow
            // backend call for one name must not hold up the others.
            if conn.pointee.capable & UInt32(FUSE_CAP_PARALLEL_DIROPS) != 0 {
                conn.pointee.want |= UInt32(FUSE_CAP_PARALLEL_DIROPS)
            }
        }

        ops.lookup = { request, parent, name in
            respond(request) { () throws(Errno) -> Reply in
                let entry = try from(request).operations.lookup(
                    parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .noSuchFileOrDirectory),
                    context: context(request))
                // A negative entry not to be kept is just ENOENT.
                if entry.isMissing, entry.entryTimeout <= 0 { throw .noSuchFileOrDirectory }
                return .entry(entry)
            }
        }

        ops.forget = { request, inode, lookups in
            from(request).operations.forget(InodeNumber(rawValue: inode), lookups: lookups)
            fuse_reply_none(request)
        }

        ops.forget_multi = { request, count, forgets in
            let operations = from(request).operations
            for index in 0..<count {
                let item = forgets![index]
                operations.forget(InodeNumber(rawValue: item.ino), lookups: item.nlookup)
            }
            fuse_reply_none(request)
        }

        ops.getattr = { request, inode, info in
            respond(request) { () throws(Errno) -> Reply in
                let (attributes, timeout) = try from(request).operations.attributes(
                    of: InodeNumber(rawValue: inode), handle: info.map { FuseHandle(rawValue: $0.pointee.fh) },
                    context: context(request))
                return .attributes(attributes, timeout)
            }
        }

        ops.setattr = { request, inode, status, toSet, info in
            respond(request) { () throws(Errno) -> Reply in
                let changes = attributeChanges(status!.pointee, toSet: toSet)
                let (attributes, timeout) = try from(request).operations.setAttributes(
                    of: InodeNumber(rawValue: inode), changes,
                    handle: info.map { FuseHandle(rawValue: $0.pointee.fh) }, context: context(request))
                return .attributes(attributes, timeout)
            }
        }

        ops.mkdir = { request, parent, name, _ in
            respond(request) { () throws(Errno) -> Reply in
                .entry(
                    try from(request).operations.makeDirectory(
                        parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .illegalByteSequence),
                        context: context(request)))
            }
        }

        ops.unlink = { request, parent, name in
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.removeFile(
                    parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .noSuchFileOrDirectory),
                    context: context(request))
                return .ok
            }
        }

        ops.rmdir = { request, parent, name in
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.removeDirectory(
                    parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .noSuchFileOrDirectory),
                    context: context(request))
                return .ok
            }
        }

        ops.rename = { request, parent, name, newParent, newName, flags in
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.rename(
                    parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .noSuchFileOrDirectory),
                    newParent: InodeNumber(rawValue: newParent),
                    newName: try decoded(newName, ifNotUTF8: .illegalByteSequence),
                    flags: RenameFlags(rawValue: flags), context: context(request))
                return .ok
            }
        }

        // No symbolic links, hard links, devices or FIFOs: EPERM is POSIX's
        // word for a file system that does not make that kind of file
        // (libfuse's default, ENOSYS, reads as "Function not implemented").
        ops.symlink = { request, _, _, _ in send(.error(.notPermitted), to: request) }
        ops.link = { request, _, _, _ in send(.error(.notPermitted), to: request) }
        ops.mknod = { request, _, _, _, _ in send(.error(.notPermitted), to: request) }

        ops.open = { request, inode, info in
            // ENOSYS tells the kernel to stop sending OPEN (and RELEASE) for good.
            if from(request).skipsOpen { return send(.error(.notImplemented), to: request) }
            respond(request) { () throws(Errno) -> Reply in
                .open(
                    try from(request).operations.open(
                        InodeNumber(rawValue: inode), flags: OpenFlags(rawValue: info!.pointee.flags),
                        context: context(request)))
            }
        }

        ops.create = { request, parent, name, _, info in
            respond(request) { () throws(Errno) -> Reply in
                let (entry, open) = try from(request).operations.create(
                    parent: InodeNumber(rawValue: parent), name: try decoded(name, ifNotUTF8: .illegalByteSequence),
                    flags: OpenFlags(rawValue: info!.pointee.flags), context: context(request))
                return .created(entry, open)
            }
        }

        ops.read = { request, inode, size, offset, info in
            respond(request) { () throws(Errno) -> Reply in
                let dispatcher = from(request)
                let handle = dispatcher.skipsOpen ? nil : FuseHandle(rawValue: info!.pointee.fh)
                return .data(
                    try dispatcher.operations.read(
                        InodeNumber(rawValue: inode), handle: handle, offset: UInt64(max(0, offset)), size: size))
            }
        }

        ops.write = { request, inode, buffer, size, offset, info in
            respond(request) { () throws(Errno) -> Reply in
                let data = [UInt8](UnsafeRawBufferPointer(start: buffer, count: size))
                return .written(
                    try from(request).operations.write(
                        InodeNumber(rawValue: inode), handle: FuseHandle(rawValue: info!.pointee.fh),
                        offset: UInt64(max(0, offset)), data: data, context: context(request)))
            }
        }

        ops.flush = { request, inode, info in
            // Files opened without OPEN have nothing to flush; ENOSYS stops
            // FLUSH for the whole mount, so close() costs no round trip.
            if from(request).skipsOpen { return send(.error(.notImplemented), to: request) }
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.flush(
                    InodeNumber(rawValue: inode), handle: FuseHandle(rawValue: info!.pointee.fh),
                    context: context(request))
                return .ok
            }
        }

        ops.fsync = { request, inode, dataOnly, info in
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.fsync(
                    InodeNumber(rawValue: inode), handle: FuseHandle(rawValue: info!.pointee.fh),
                    dataOnly: dataOnly != 0)
                return .ok
            }
        }

        ops.release = { request, inode, info in
            from(request).operations.release(
                InodeNumber(rawValue: inode), handle: FuseHandle(rawValue: info!.pointee.fh))
            fuse_reply_err(request, 0)
        }

        ops.opendir = { request, inode, info in
            respond(request) { () throws(Errno) -> Reply in
                let dispatcher = from(request)
                let listing = try dispatcher.operations.openDirectory(
                    InodeNumber(rawValue: inode), context: context(request))
                return .openDirectory(dispatcher.storeDirectory(listing), listing)
            }
        }

        ops.readdir = { request, _, size, offset, info in
            respond(request) { () throws(Errno) -> Reply in
                let entries = try from(request).directory(info!.pointee.fh)
                return .data(packDirectory(entries, from: Int(offset), size: size, request: request))
            }
        }

        ops.releasedir = { request, _, info in
            from(request).dropDirectory(info!.pointee.fh)
            fuse_reply_err(request, 0)
        }

        ops.statfs = { request, _ in
            send(.statistics(from(request).operations.statistics()), to: request)
        }

        ops.getxattr = { request, inode, name, size in
            respond(request) { () throws(Errno) -> Reply in
                let value = try from(request).operations.getExtendedAttribute(
                    InodeNumber(rawValue: inode), name: try decoded(name, ifNotUTF8: .noData))
                return try extendedAttributeReply(value, bufferSize: size)
            }
        }

        ops.listxattr = { request, inode, size in
            respond(request) { () throws(Errno) -> Reply in
                let names = try from(request).operations.listExtendedAttributes(InodeNumber(rawValue: inode))
                return try extendedAttributeReply(packAttributeNames(names), bufferSize: size)
            }
        }

        ops.setxattr = { request, inode, name, value, size, flags in
            respond(request) { () throws(Errno) -> Reply in
                let bytes = [UInt8](UnsafeRawBufferPointer(start: value, count: size))
                try from(request).operations.setExtendedAttribute(
                    InodeNumber(rawValue: inode), name: try decoded(name, ifNotUTF8: .notSupported), value: bytes,
                    flags: ExtendedAttributeFlags(rawValue: flags))
                return .ok
            }
        }

        ops.removexattr = { request, inode, name in
            respond(request) { () throws(Errno) -> Reply in
                try from(request).operations.removeExtendedAttribute(
                    InodeNumber(rawValue: inode), name: try decoded(name, ifNotUTF8: .noData))
                return .ok
            }
        }

        return ops
    }()

    /// A name from the kernel, whose bytes must be UTF-8: decoding with
    /// replacement would turn `\xff` and `\xfe` alike into U+FFFD, and two
    /// files into one. Otherwise `errno`: ENOENT where the name is looked
    /// for (no such name can exist), EILSEQ where it would be made.
    static func decoded(_ name: UnsafePointer<CChar>?, ifNotUTF8 errno: Errno) throws(Errno) -> String {
        guard let name else { throw errno }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self), count: strlen(name))
        guard let text = FileName.decode(bytes) else { throw errno }
        return text
    }

    static func attributeChanges(_ status: stat, toSet: Int32) -> AttributeChanges {
        var changes = AttributeChanges()
        let now = Date()
        if toSet & FUSE_SET_ATTR_SIZE != 0 { changes.size = UInt64(max(0, status.st_size)) }
        if toSet & FUSE_SET_ATTR_MODE != 0 { changes.permissions = UInt16(status.st_mode & 0o7777) }
        if toSet & FUSE_SET_ATTR_UID != 0 { changes.uid = status.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { changes.gid = status.st_gid }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 {
            changes.accessed = now
        } else if toSet & FUSE_SET_ATTR_ATIME != 0 {
            changes.accessed = date(status.st_atim)
        }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
            changes.modified = now
        } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
            changes.modified = date(status.st_mtim)
        }
        return changes
    }

    private static func date(_ time: timespec) -> Date {
        Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9)
    }
}
