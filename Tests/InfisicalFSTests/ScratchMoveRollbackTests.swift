import Foundation
import FuseKit
import InfisicalFS
import SecretsCore
import Testing
import TestSupport

/// `mv F F~; mv F~ G` moves F to G through a scratch file: G is written with
/// the file's content, then F deleted. When that delete fails, the rename
/// fails having changed nothing: G as it was, F stored, the scratch file kept.
@Suite("A move through a scratch file that fails")
struct ScratchMoveRollbackTests {
    let h = Harness()

    func stored(_ name: String) -> String? { try? h.backend.getSecret(name, in: h.dev).value }

    @Test func aReplacedTargetGetsItsOldValueBack() throws {
        try #require(h.write("demo/dev/F", "moved") == nil)
        try #require(h.write("demo/dev/G", "old g") == nil)
        try h.rename("demo/dev/F", "demo/dev/F~")
        h.backend.failNext("deleteSecret", with: BackendError(.unavailable, "injected"))
        #expect(throws: Errno.ioError) { try h.rename("demo/dev/F~", "demo/dev/G") }
        h.backend.failNext("deleteSecret", with: nil)
        #expect(stored("G") == "old g")
        #expect(stored("F") == "moved")
        #expect(try h.read("demo/dev/G") == "old g")
        #expect(try h.read("demo/dev/F~") == "moved")
        // Once the backend works, the same rename moves F to G.
        try h.rename("demo/dev/F~", "demo/dev/G")
        #expect(stored("G") == "moved" && stored("F") == nil)
        #expect(try h.list("demo/dev") == ["G"])
    }

    @Test func whenTheUndoFailsTooNothingIsLost() throws {
        try #require(h.write("demo/dev/F", "moved") == nil)
        try h.rename("demo/dev/F", "demo/dev/F~")
        // Every delete fails: F's, then the undo's of the G this rename created.
        h.backend.failNext("deleteSecret", with: BackendError(.permissionDenied, "injected"))
        #expect(throws: Errno.permissionDenied) { try h.rename("demo/dev/F~", "demo/dev/G") }
        h.backend.failNext("deleteSecret", with: nil)
        // Two copies: F stored (hidden here behind F~, which keeps the content), G holding it too.
        #expect(stored("F") == "moved" && stored("G") == "moved")
        #expect(try h.read("demo/dev/F~") == "moved")
    }
}
