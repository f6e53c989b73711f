import CFuse
import Glibc

/// A POSIX error number as the kernel receives it in a FUSE reply.
/// Only FuseKit knows the C constants; everything above names them in Swift.
public struct Errno: Error, Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// EPERM
    public static let notPermitted = Errno(rawValue: EPERM)
    /// ENOENT
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// EIO
    public static let ioError = Errno(rawValue: EIO)
    /// EBADF
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// EAGAIN
    public static let tryAgain = Errno(rawValue: EAGAIN)
    /// EACCES
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// EEXIST
    public static let fileExists = Errno(rawValue: EEXIST)
    /// EXDEV
    public static let crossDevice = Errno(rawValue: EXDEV)
    /// ENOTDIR
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    /// EISDIR
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// EINVAL
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// EFBIG
    public static let fileTooLarge = Errno(rawValue: EFBIG)
    /// ENOSPC
    public static let noSpace = Errno(rawValue: ENOSPC)
    /// EROFS
    public static let readOnlyFileSystem = Errno(rawValue: EROFS)
    /// ENAMETOOLONG
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// ENOSYS
    public static let notImplemented = Errno(rawValue: ENOSYS)
    /// ENOTEMPTY
    public static let directoryNotEmpty = Errno(rawValue: ENOTEMPTY)
    /// ETIMEDOUT
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// EILSEQ
    public static let illegalByteSequence = Errno(rawValue: EILSEQ)
    /// EOPNOTSUPP, which is also ENOTSUP on Linux
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// ENODATA
    public static let noData = Errno(rawValue: ENODATA)
    /// ERANGE
    public static let outOfRange = Errno(rawValue: ERANGE)
    /// ENOTCONN
    public static let notConnected = Errno(rawValue: ENOTCONN)
    /// EBUSY
    public static let busy = Errno(rawValue: EBUSY)

    /// The C library's text for this error, e.g. "No such file or directory".
    public var description: String { String(cString: strerror(rawValue)) }
}
