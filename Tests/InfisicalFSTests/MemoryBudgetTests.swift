import Foundation
import FuseKit
import InfisicalFS
import SecretsCore
import Testing
import TestSupport

/// One memory budget (64 MiB) for everything a mount holds for programs:
/// unsaved writes, `/.crypto` requests, scratch files. Past it, a write that
/// grows a buffer is ENOSPC, nothing is stored, and the buffers come back
/// to the budget when their opens are released.
@Suite("The mount's memory budget")
struct MemoryBudgetTests {
    let h = Harness()
    let chunk = [UInt8](repeating: 0x61, count: 256 << 10)

    /// An open for writing on a new file of `dev`, and its inode.
    func create(_ name: String) throws -> (InodeNumber, FuseHandle) {
        let (entry, reply) = try h.fs.create(
            parent: try h.inode("demo/dev"), name: name, flags: OpenFlags(accessMode: .writeOnly, truncate: true),
            context: h.context)
        return (entry.attributes.inode, reply.handle)
    }

    /// Opens new files and writes `size` bytes to each until a write is
    /// refused: then less than `size` bytes of the budget are left. The
    /// opens, and the refusal.
    func fillUp(_ size: Int, from first: Int = 0) throws -> ([(InodeNumber, FuseHandle)], Errno) {
        var opens: [(InodeNumber, FuseHandle)] = []
        for index in first..<(first + 1000) {
            let file = try create("F\(index)")
            opens.append(file)
            do {
                _ = try h.fs.write(file.0, handle: file.1, offset: 0, data: [UInt8](repeating: 0x61, count: size), context: h.context)
            } catch {
                return (opens, error)
            }
        }
        Issue.record("never refused")
        return (opens, .ioError)
    }

    @Test func unsavedWritesStopAtTheBudgetAndKeepTheOldValue() throws {
        try #require(h.write("demo/dev/OLD", "old value") == nil)
        let (opens, refusal) = try fillUp(256 << 10)
        #expect(refusal == .noSpace)
        // 64 MiB, allocated: about 256 opens of 256 KiB, never more.
        #expect((240...256).contains(opens.count - 1), "\(opens.count - 1) opens of 256 KiB held")
        // Past it: ENOSPC for the write that grows a buffer, and for every later write and the close.
        let old = try h.inode("demo/dev/OLD")
        let handle = try h.fs.open(old, flags: OpenFlags(accessMode: .writeOnly, truncate: true), context: h.context).handle
        #expect(throws: Errno.noSpace) { _ = try h.fs.write(old, handle: handle, offset: 0, data: chunk, context: h.context) }
        #expect(throws: Errno.noSpace) { _ = try h.fs.write(old, handle: handle, offset: 0, data: [1], context: h.context) }
        #expect(throws: Errno.noSpace) { try h.fs.flush(old, handle: handle, context: h.context) }
        h.fs.release(old, handle: handle)
        #expect(try h.read("demo/dev/OLD") == "old value")
        #expect(!h.backend.calls.contains { $0.operation == "updateSecret" })
        // A write within what a buffer holds never grows it: accepted at the limit.
        _ = try h.fs.write(opens[0].0, handle: opens[0].1, offset: 0, data: chunk, context: h.context)
        // Released: the budget is free again.
        for file in opens { h.fs.release(file.0, handle: file.1) }
        #expect(try h.write("demo/dev/OLD", chunk + chunk) == nil)
    }

    @Test func cryptoRequestsAndScratchFilesShareTheBudget() throws {
        // 63.5 MiB of scratch files (editors' copies): a /.crypto request of 1 MiB cannot be held.
        for name in ["a", "b", "c", "d"] {
            try #require(h.write("demo/dev/\(name).tmp", [UInt8](repeating: 0x61, count: (15 << 20) + (896 << 10))) == nil)
        }
        let encrypt = try h.inode(".crypto/encrypt")
        let handle = try h.fs.open(encrypt, flags: OpenFlags(accessMode: .readWrite), context: h.context).handle
        var refused: Errno?
        var written = Array(#"{"key": "AAAA", "plaintext": ""#.utf8)
        _ = try h.fs.write(encrypt, handle: handle, offset: 0, data: written, context: h.context)
        for _ in 0..<3 where refused == nil {
            do {
                _ = try h.fs.write(encrypt, handle: handle, offset: UInt64(written.count), data: chunk, context: h.context)
                written += chunk
            } catch {
                refused = error
            }
        }
        #expect(refused == .noSpace)
        // The request is refused with its reason; the rest of it too, and the close.
        #expect(throws: Errno.noSpace) { _ = try h.fs.write(encrypt, handle: handle, offset: 0, data: chunk, context: h.context) }
        let reason = String(decoding: try h.fs.read(encrypt, handle: handle, offset: 0, size: 4096), as: UTF8.self)
        #expect(reason.contains("64 MiB"), "\(reason)")
        h.fs.release(encrypt, handle: handle)
        // And a scratch file cannot grow past what is left either.
        #expect(throws: Errno.noSpace) { try h.write("demo/dev/e.tmp", [UInt8](repeating: 0x61, count: 5 << 20)) }
        try h.unlink("demo/dev/a.tmp")
        #expect(try h.write("demo/dev/e.tmp", [UInt8](repeating: 0x61, count: 5 << 20)) == nil)
    }

    @Test func growingAnOpenFileByTruncatePastTheBudgetIsRefused() throws {
        // Full to less than 128 KiB.
        let (large, _) = try fillUp(256 << 10)
        let (small, refusal) = try fillUp(128 << 10, from: large.count)
        #expect(refusal == .noSpace)
        // Growing a 256 KiB open to 512 KiB needs 256 KiB more; shrinking it always works.
        let file = large[0]
        #expect(throws: Errno.noSpace) {
            _ = try h.fs.setAttributes(of: file.0, AttributeChanges(size: 512 << 10), handle: file.1, context: h.context)
        }
        _ = try h.fs.setAttributes(of: file.0, AttributeChanges(size: 100 << 10), handle: file.1, context: h.context)
        for file in large + small { h.fs.release(file.0, handle: file.1) }
    }
}
