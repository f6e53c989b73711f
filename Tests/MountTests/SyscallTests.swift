import Foundation
import Glibc
import Testing

/// The write contract at the level of syscalls: what close() and fsync() return.
@Suite("Syscalls on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct SyscallTests {
    /// open + write + close; returns close's errno (0 on success).
    func writeAndClose(_ path: String, _ bytes: [UInt8], flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC) -> Int32 {
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { return errno }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let saved = errno
            close(fd)
            return saved
        }
        return close(fd) == 0 ? 0 : errno
    }

    func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test(arguments: BackendKind.allCases)
    func closeReturnsTheCommitErrorAndTheOldValueStays(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        let path = mount.mountpoint + "/p/dev/TOKEN"
        #expect(writeAndClose(path, Array("good\n".utf8)) == 0)
        #expect(writeAndClose(path, [0xc3, 0x28]) == EILSEQ)
        #expect(contents(path) == "good")
        // A new file whose first commit fails does not appear.
        #expect(writeAndClose(mount.mountpoint + "/p/dev/NEW", [0xff]) == EILSEQ)
        #expect(!FileManager.default.fileExists(atPath: mount.mountpoint + "/p/dev/NEW"))
    }

    @Test(arguments: BackendKind.allCases)
    func fsyncCommitsAndReportsErrors(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        let path = mount.mountpoint + "/p/dev/F"
        let fd = open(path, O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        _ = "abc".withCString { write(fd, $0, 3) }
        #expect(fsync(fd) == 0)
        #expect(try sh("cat \"$MNT/p/dev/F\"", in: mount).stdout == "abc")
        _ = [UInt8(0xff)].withUnsafeBytes { write(fd, $0.baseAddress, 1) }
        #expect(fsync(fd) == -1 && errno == EILSEQ)
        #expect(try sh("cat \"$MNT/p/dev/F\"", in: mount).stdout == "abc")
    }

    @Test(arguments: BackendKind.allCases)
    func readYourOwnWritesOnOneDescriptorAndWriteAtOffsets(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("printf 'hello world' > \"$MNT/p/dev/G\"", in: mount).status == 0)
        let fd = open(mount.mountpoint + "/p/dev/G", O_RDWR)
        try #require(fd >= 0)
        _ = "WORLD".withCString { pwrite(fd, $0, 5, 6) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = pread(fd, &buffer, 64, 0)
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "hello WORLD")
        #expect(close(fd) == 0)
        #expect(contents(mount.mountpoint + "/p/dev/G") == "hello WORLD")
    }

    @Test(arguments: BackendKind.allCases)
    func renameFlagsAndDirectoryErrors(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        try #require(sh("echo a > \"$MNT/p/dev/A\" && echo b > \"$MNT/p/dev/B\" && mkdir \"$MNT/p/dev/d\"", in: mount).status == 0)
        let dev = mount.mountpoint + "/p/dev"
        #expect(rename(dev + "/A", mount.mountpoint + "/p/prod/A") == -1 && errno == EXDEV)
        #expect(rename(dev + "/A", dev + "/d") == -1 && errno == EISDIR)
        #expect(unlink(dev + "/d") == -1 && (errno == EISDIR || errno == EPERM))
        #expect(rmdir(dev + "/A") == -1 && errno == ENOTDIR)
        #expect(rename(dev + "/A", dev + "/B") == 0)
        #expect(contents(dev + "/B") == "a")
        #expect(access(dev + "/A", F_OK) == -1 && errno == ENOENT)
    }
}
