import Foundation
import FuseKit
import InfisicalFS
import Logging
import SecretCrypto
import SecretsCore
import Synchronization
import Testing
import TestSupport

/// The SDK's own test vectors (infisical-api.md §10, infisical-python 2.3.5).
struct SDKVector: Sendable, CustomTestStringConvertible {
    let key: String
    let plaintext: String
    let iv: String
    let tag: String
    let ciphertext: String

    var testDescription: String { "plaintext of \(plaintext.utf8.count) bytes" }

    static let all = [
        SDKVector(
            key: "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", plaintext: "hello, world", iv: "GzrsCOMYrJdZm87z",
            tag: "GAzPhdCdE2m3MSxXx8KRsQ==", ciphertext: "LeRv9rWxS9Tl9Gwr"),
        SDKVector(
            key: "GwvWt0cFngqrx1QvygDZDXAicZ3ygqfPj5paeuaew+k=", plaintext: "", iv: "ZjtMN6fSukTtbJHw",
            tag: "JXmiU+/MY2KZD2vKsIaLyg==", ciphertext: ""),
        SDKVector(
            key: "nNkttRVqJpsY6N8A7RnrPThrZX19qEJETiyCoaNocPQ=", plaintext: "pässwörd 🔐\nline2",
            iv: "X4JwguVyHpfPV/yg", tag: "cs9AO5bun7aBzwOxT5+DCw==", ciphertext: "PB5TPL5bRE0vcB5Xz1cgW37X7M4P"),
    ]

    var decryptRequest: String {
        #"{"key": "\#(key)", "ciphertext": "\#(ciphertext)", "iv": "\#(iv)", "tag": "\#(tag)"}"#
    }
}

/// A clock the tests move by hand.
final class TestClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
}

/// One open file of /.crypto driven as FuseKit would: open, writes at the
/// descriptor's offset, reads, flush and release.
struct CryptoHandle {
    let fs: SecretsFileSystem
    let inode: InodeNumber
    let handle: FuseHandle
    let context: RequestContext
    let reply: OpenReply
    var offset: UInt64 = 0

    init(_ h: Harness, _ name: String, _ mode: OpenFlags.AccessMode, truncate: Bool = false, uid: UInt32 = 1000)
        throws(Errno)
    {
        fs = h.fs
        context = RequestContext(uid: uid, gid: uid, pid: 7)
        inode = try h.inode(".crypto/\(name)")
        reply = try fs.open(inode, flags: OpenFlags(accessMode: mode, truncate: truncate), context: context)
        handle = reply.handle
    }

    @discardableResult
    mutating func write(_ text: String) throws(Errno) -> Int {
        let written = try fs.write(inode, handle: handle, offset: offset, data: Array(text.utf8), context: context)
        offset += UInt64(written)
        return written
    }

    /// Reads to the end, as cat does, from the descriptor's offset.
    mutating func readAll() throws(Errno) -> String {
        var bytes: [UInt8] = []
        while true {
            let chunk = try fs.read(inode, handle: handle, offset: offset, size: 7)
            if chunk.isEmpty { break }
            bytes += chunk
            offset += UInt64(chunk.count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func flush() throws(Errno) { try fs.flush(inode, handle: handle, context: context) }
    func release() { fs.release(inode, handle: handle) }

    /// flush + release: close(2) of the only descriptor; returns close's error.
    func close() -> Errno? {
        defer { release() }
        return errno { try flush() }
    }
}

extension Harness {
    /// `echo request > .crypto/FILE`: the errno of the write, else of the close.
    func send(_ request: String, to name: String, uid: UInt32 = 1000) throws(Errno) -> Errno? {
        var file = try CryptoHandle(self, name, .writeOnly, truncate: true, uid: uid)
        if let refused = errno({ try file.write(request) }) {
            _ = file.close()
            return refused
        }
        return file.close()
    }

    /// `cat .crypto/FILE`.
    func result(of name: String, uid: UInt32 = 1000) throws(Errno) -> String {
        var file = try CryptoHandle(self, name, .readOnly, uid: uid)
        defer { file.release() }
        return try file.readAll()
    }

    func encrypt(_ plaintext: String, key: String) throws -> [String: String] {
        let request = try JSONSerialization.data(withJSONObject: ["key": key, "plaintext": plaintext])
        #expect(try send(String(decoding: request, as: UTF8.self), to: "encrypt") == nil)
        let text = try result(of: "encrypt")
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1)
        return try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
    }
}

func decryptRequest(key: String, _ box: [String: String]) -> String {
    #"{"key": "\#(key)", "ciphertext": "\#(box["ciphertext"]!)", "iv": "\#(box["iv"]!)", "tag": "\#(box["tag"]!)"}"#
}

@Suite("/.crypto in the core")
struct CryptoTests {
    @Test func theFolderIsListedAtTheRootAndNeverAskedOfTheBackend() throws {
        let h = Harness()
        #expect(try h.list("") == [".crypto", ".status", "demo"])
        #expect(try h.list(".crypto") == ["key", "encrypt", "decrypt"])
        let lookups = h.backend.calls.count
        let folder = try h.stat(".crypto")
        #expect(folder.type == .directory && folder.permissions == 0o700)
        for name in ["key", "encrypt", "decrypt"] {
            let file = try h.stat(".crypto/\(name)")
            #expect(file.type == .regular && file.permissions == 0o600 && file.size == 0)
        }
        #expect(h.backend.calls.count == lookups)
        #expect(errno { _ = try h.inode(".crypto/other") } == .noSuchFileOrDirectory)
        #expect(errno { _ = try h.inode(".crypto/key/x") } == .notDirectory)
    }

    @Test func aBackendThatFailsDoesNotHideTheFolder() throws {
        let h = Harness()
        h.backend.failNext("listProjects", with: BackendError(.unavailable, "down"))
        h.backend.failNext("project", with: BackendError(.unavailable, "down"))
        #expect(try h.inode(".crypto/key") != .root)
        #expect(try h.result(of: "key").count == 44)
    }

    @Test func modesFollowTheMountOptions() throws {
        let open = Harness { $0.umask = 0o000 }
        #expect(try open.stat(".crypto").permissions == 0o777)
        #expect(try open.stat(".crypto/encrypt").permissions == 0o666)
        let readOnly = Harness { $0.readOnly = true }
        #expect(try readOnly.stat(".crypto").permissions == 0o500)
        #expect(try readOnly.stat(".crypto/key").permissions == 0o400)
        #expect(try readOnly.result(of: "key").count == 44)
        #expect(errno { _ = try CryptoHandle(readOnly, "encrypt", .writeOnly) } == .readOnlyFileSystem)
    }

    @Test func everyFileIsDirectIO() throws {
        let h = Harness()
        for name in ["key", "encrypt", "decrypt"] {
            let file = try CryptoHandle(h, name, .readOnly)
            #expect(file.reply.directIO && !file.reply.keepCache)
            file.release()
        }
    }

    @Test func eachOpenOfKeyIsAFreshStandardBase64Key() throws {
        let h = Harness()
        var keys = Set<String>()
        for _ in 0..<20 {
            let key = try h.result(of: "key")
            #expect(key.utf8.count == 44 && key.hasSuffix("=") && !key.contains("\n"))
            #expect(try SymmetricKey(base64: key).bytes.count == 32)
            keys.insert(key)
        }
        #expect(keys.count == 20)
        // One open reads one key, however it is read.
        var file = try CryptoHandle(h, "key", .readOnly)
        let whole = try file.readAll()
        #expect(try String(decoding: h.fs.read(file.inode, handle: file.handle, offset: 4, size: 100), as: UTF8.self) == String(whole.dropFirst(4)))
        file.release()
    }

    @Test func keyRefusesWriting() throws {
        let h = Harness()
        #expect(errno { _ = try CryptoHandle(h, "key", .writeOnly) } == .notPermitted)
        #expect(errno { _ = try CryptoHandle(h, "key", .readWrite) } == .notPermitted)
        let reader = try CryptoHandle(h, "key", .readOnly)
        #expect(errno { _ = try h.fs.write(reader.inode, handle: reader.handle, offset: 0, data: [1], context: h.context) } == .badFileDescriptor)
        reader.release()
    }

    @Test func theTreeCannotBeChangedInsideOrOfTheFolder() throws {
        let h = Harness()
        let folder = try h.inode(".crypto")
        let key = try h.inode(".crypto/key")
        let c = h.context
        #expect(errno { _ = try h.fs.makeDirectory(parent: folder, name: "d", context: c) } == .notPermitted)
        #expect(errno { _ = try h.fs.makeDirectory(parent: .root, name: ".crypto", context: c) } == .notPermitted)
        #expect(errno { _ = try h.fs.create(parent: folder, name: "new", flags: OpenFlags(accessMode: .writeOnly), context: c) } == .notPermitted)
        #expect(errno { try h.fs.removeFile(parent: folder, name: "key", context: c) } == .notPermitted)
        #expect(errno { try h.fs.removeDirectory(parent: .root, name: ".crypto", context: c) } == .notPermitted)
        #expect(errno { try h.fs.rename(parent: folder, name: "key", newParent: folder, newName: "k", flags: RenameFlags(rawValue: 0), context: c) } == .notPermitted)
        #expect(errno { try h.fs.rename(parent: .root, name: ".crypto", newParent: .root, newName: "x", flags: RenameFlags(rawValue: 0), context: c) } == .notPermitted)
        try h.write("demo/dev/A", "v")
        let dev = try h.inode("demo/dev")
        #expect(errno { try h.fs.rename(parent: dev, name: "A", newParent: folder, newName: "A", flags: RenameFlags(rawValue: 0), context: c) } == .notPermitted)
        #expect(errno { try h.fs.rename(parent: try h.inode("demo"), name: "dev", newParent: .root, newName: ".crypto", flags: RenameFlags(rawValue: 0), context: c) } == .notPermitted)
        #expect(errno { _ = try h.fs.setAttributes(of: key, AttributeChanges(size: 0), handle: nil, context: c) } == .notPermitted)
        // chmod and touch are accepted and change nothing, as everywhere.
        let (attributes, _) = try h.fs.setAttributes(of: key, AttributeChanges(permissions: 0o644, modified: Date()), handle: nil, context: c)
        #expect(attributes.permissions == 0o600)
        #expect(try h.list(".crypto") == ["key", "encrypt", "decrypt"])
    }

    @Test func encryptThenDecryptRoundTrips() throws {
        let h = Harness()
        let key = try h.result(of: "key")
        for plaintext in ["hello, world", "", "pässwörd 🔐\nline2", String(repeating: "x", count: 100_000)] {
            let box = try h.encrypt(plaintext, key: key)
            #expect(Set(box.keys) == ["ciphertext", "iv", "tag"])
            #expect(try Base64.decode(box["iv"]!).count == 12)
            #expect(try Base64.decode(box["tag"]!).count == 16)
            #expect(try Base64.decode(box["ciphertext"]!).count == plaintext.utf8.count)
            #expect(try h.send(decryptRequest(key: key, box), to: "decrypt") == nil)
            #expect(try h.result(of: "decrypt") == plaintext)
        }
    }

    @Test func whatTheCoreEncryptsOpensWithAESGCMAndEveryIVIsNew() throws {
        let h = Harness()
        let key = try SymmetricKey(base64: SDKVector.all[0].key)
        var ivs = Set<String>()
        for _ in 0..<10 {
            let box = try h.encrypt("hello, world", key: key.base64)
            ivs.insert(box["iv"]!)
            let sealed = try AESGCM.SealedBox(
                iv: Base64.decode(box["iv"]!), ciphertext: Base64.decode(box["ciphertext"]!),
                tag: Base64.decode(box["tag"]!))
            #expect(try AESGCM.open(sealed, using: key) == Array("hello, world".utf8))
        }
        #expect(ivs.count == 10)
    }

    @Test(arguments: SDKVector.all)
    func theSDKVectorsDecrypt(vector: SDKVector) throws {
        let h = Harness()
        #expect(try h.send(vector.decryptRequest, to: "decrypt") == nil)
        #expect(try h.result(of: "decrypt") == vector.plaintext)
        // The SDK appends the tag before opening, so ciphertext‖tag with an empty tag decrypts too.
        let joined = try Base64.encode(Base64.decode(vector.ciphertext) + Base64.decode(vector.tag))
        let request = #"{"key": "\#(vector.key)", "ciphertext": "\#(joined)", "iv": "\#(vector.iv)", "tag": ""}"#
        #expect(try h.send(request, to: "decrypt") == nil)
        #expect(try h.result(of: "decrypt") == vector.plaintext)
    }

    static let v = SDKVector.all[0]
    static let badRequests: [(String, String, String)] = [
        ("encrypt", "not json", "the request is not a JSON object"),
        ("encrypt", "[1, 2]", "the request is not a JSON object"),
        ("encrypt", "{} x", "the request is not a JSON object"),
        ("encrypt", "{]", "the request is not a JSON object"),
        ("encrypt", #"{"key": tru}"#, "the request is not valid JSON"),
        ("encrypt", #"{"plaintext": "x"}"#, "missing field 'key'"),
        ("encrypt", #"{"key": "\#(v.key)"}"#, "missing field 'plaintext'"),
        ("encrypt", #"{"key": "\#(v.key)", "plaintext": 5}"#, "field 'plaintext' must be a string"),
        ("encrypt", #"{"key": null, "plaintext": "x"}"#, "field 'key' must be a string"),
        ("encrypt", #"{"key": "c2hvcnQ=", "plaintext": "x"}"#, "key must be 32 bytes (256 bits), got 5"),
        ("encrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB_g=", "plaintext": "x"}"#, "key is not standard base64 with padding"),
        ("encrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g", "plaintext": "x"}"#, "key is not standard base64 with padding"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "\#(v.ciphertext)", "iv": "\#(v.iv)"}"#, "missing field 'tag'"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "\#(v.ciphertext)", "iv": "AAAA", "tag": "\#(v.tag)"}"#, "iv must be 12 bytes, got 3"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "\#(v.ciphertext)", "iv": "\#(v.iv)", "tag": "AAAA"}"#, "tag must be 16 bytes, got 3"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "AAAA", "iv": "\#(v.iv)", "tag": ""}"#, "tag must be 16 bytes, got 0"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "LeRv9rWxS9Tl9Gw-", "iv": "\#(v.iv)", "tag": "\#(v.tag)"}"#, "ciphertext is not standard base64 with padding"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "\#(v.ciphertext)", "iv": "\#(v.iv)", "tag": "HAzPhdCdE2m3MSxXx8KRsQ=="}"#, "decryption failed: wrong key, iv or tag, or the ciphertext was altered"),
        ("decrypt", #"{"key": "\#(SDKVector.all[1].key)", "ciphertext": "\#(v.ciphertext)", "iv": "\#(v.iv)", "tag": "\#(v.tag)"}"#, "decryption failed: wrong key, iv or tag, or the ciphertext was altered"),
        ("decrypt", #"{"key": "\#(v.key)", "ciphertext": "MeRv9rWxS9Tl9Gwr", "iv": "\#(v.iv)", "tag": "\#(v.tag)"}"#, "decryption failed: wrong key, iv or tag, or the ciphertext was altered"),
    ]

    @Test(arguments: badRequests)
    func aBadRequestFailsItsWriteAndTheReasonIsReadable(file: String, request: String, reason: String) throws {
        let h = Harness()
        #expect(try h.send(request, to: file) == .invalidArgument)
        #expect(try h.result(of: file) == #"{"error": "\#(reason.replacingOccurrences(of: "\"", with: "\\\""))"}"# + "\n")
    }

    @Test func anIncompleteRequestFailsAtClose() throws {
        let h = Harness()
        var file = try CryptoHandle(h, "encrypt", .writeOnly)
        #expect(try file.write(#"{"key": "abc"#) == 12)
        #expect(file.close() == .invalidArgument)
        #expect(try h.result(of: "encrypt") == #"{"error": "the request is not a complete JSON object"}"# + "\n")
        // Only white space is an empty request.
        #expect(try h.send("\n", to: "encrypt") == .invalidArgument)
        #expect(try h.result(of: "encrypt") == #"{"error": "the request is empty"}"# + "\n")
        // Opening and closing without writing asks nothing and keeps the last result.
        let idle = try CryptoHandle(h, "encrypt", .writeOnly, truncate: true)
        #expect(idle.close() == nil)
        #expect(try h.result(of: "encrypt").contains("the request is empty"))
    }

    @Test func aRequestMayArriveInPieces() throws {
        let h = Harness()
        let request = SDKVector.all[2].decryptRequest + "\n"
        var file = try CryptoHandle(h, "decrypt", .readWrite)
        for piece in request.utf8.chunks(of: 5) {
            #expect(try file.write(String(decoding: piece, as: UTF8.self)) == piece.count)
        }
        #expect(try file.readAll() == SDKVector.all[2].plaintext)
        #expect(file.close() == nil)
    }

    @Test func aRequestOverOneMiBIsRefused() throws {
        let h = Harness()
        let key = SDKVector.all[0].key
        let fits = #"{"key": "\#(key)", "plaintext": ""#
        let padding = String(repeating: "a", count: (1 << 20) - fits.utf8.count - 2)
        #expect(try h.send(fits + padding + #""}"#, to: "encrypt") == nil)
        var file = try CryptoHandle(h, "encrypt", .writeOnly)
        try file.write(fits + padding)
        #expect(errno { try file.write(#"a"}"#) } == .invalidArgument)
        #expect(file.close() == .invalidArgument)
        #expect(try h.result(of: "encrypt") == #"{"error": "the request is larger than 1048576 bytes"}"# + "\n")
    }

    @Test func theFirstReadAfterAWriteStartsAtTheResultWhateverTheOffset() throws {
        let h = Harness()
        let vector = SDKVector.all[0]
        // exec 3<> decrypt; echo … >&3; cat <&3
        var file = try CryptoHandle(h, "decrypt", .readWrite)
        try file.write(vector.decryptRequest + "\n")
        #expect(try file.readAll() == vector.plaintext)
        // write + lseek(0) + read, then a later read at the base reads again from the start.
        try file.write(SDKVector.all[2].decryptRequest)
        file.offset = 0
        #expect(try file.readAll() == SDKVector.all[2].plaintext)
        file.offset = 0
        #expect(try file.readAll() == SDKVector.all[2].plaintext)
        // pread at an offset past the base reads from there.
        #expect(try h.fs.read(file.inode, handle: file.handle, offset: 7, size: 4) == Array(Array(SDKVector.all[2].plaintext.utf8)[7..<11]))
        #expect(file.close() == nil)
    }

    @Test func aWriteAfterAReadStartsANewRequestAndWhiteSpaceAfterARequestIsPartOfIt() throws {
        let h = Harness()
        var file = try CryptoHandle(h, "decrypt", .readWrite)
        try file.write(SDKVector.all[0].decryptRequest)
        try file.write("\n\n")  // printf '{…}'; echo
        #expect(try file.readAll() == "hello, world")
        #expect(errno { try file.write("x") } == .invalidArgument)
        #expect(try file.readAll() == #"{"error": "the request is not a JSON object"}"# + "\n")
        try file.write(SDKVector.all[1].decryptRequest)
        try file.write(SDKVector.all[2].decryptRequest)  // a second whole request replaces the first
        #expect(try file.readAll() == SDKVector.all[2].plaintext)
        #expect(file.close() == nil)
    }

    @Test func afterARefusalWritesAreRefusedUntilAReadOrAFlush() throws {
        let h = Harness()
        var file = try CryptoHandle(h, "decrypt", .readWrite)
        #expect(errno { try file.write("[") } == .invalidArgument)
        // The rest of a refused request (a writer retrying) keeps the first reason.
        #expect(errno { try file.write(SDKVector.all[0].decryptRequest) } == .invalidArgument)
        #expect(errno { try file.flush() } == .invalidArgument)
        try file.write(SDKVector.all[0].decryptRequest)
        #expect(errno { try file.write("x") } == .invalidArgument)
        #expect(errno { try file.write(SDKVector.all[0].decryptRequest) } == .invalidArgument)
        #expect(try file.readAll() == #"{"error": "the request is not a JSON object"}"# + "\n")
        try file.write(SDKVector.all[0].decryptRequest)
        #expect(try file.readAll() == "hello, world")
        #expect(file.close() == nil)
    }

    @Test func aReadEndsAnIncompleteRequest() throws {
        let h = Harness()
        var file = try CryptoHandle(h, "encrypt", .readWrite)
        try file.write(#"{"key": "#)
        #expect(try file.readAll() == #"{"error": "the request is not a complete JSON object"}"# + "\n")
        #expect(file.close() == .invalidArgument)
    }

    @Test func anOpenWithNothingToReadReadsNothing() throws {
        let h = Harness()
        #expect(try h.result(of: "encrypt") == "")
        #expect(try h.result(of: "decrypt") == "")
    }

    @Test func resultsAreKeptPerUserAndPerFile() throws {
        let h = Harness()
        #expect(try h.send(SDKVector.all[0].decryptRequest, to: "decrypt", uid: 1000) == nil)
        #expect(try h.send(SDKVector.all[2].decryptRequest, to: "decrypt", uid: 2000) == nil)
        #expect(try h.result(of: "decrypt", uid: 1000) == "hello, world")
        #expect(try h.result(of: "decrypt", uid: 2000) == SDKVector.all[2].plaintext)
        #expect(try h.result(of: "decrypt", uid: 3000) == "")
        #expect(try h.result(of: "encrypt", uid: 1000) == "")
        // Reading does not use the result up; a refusal replaces it.
        #expect(try h.result(of: "decrypt", uid: 1000) == "hello, world")
        #expect(try h.send("{", to: "decrypt", uid: 1000) == .invalidArgument)
        #expect(try h.result(of: "decrypt", uid: 1000).hasPrefix(#"{"error": "#))
        #expect(try h.result(of: "decrypt", uid: 2000) == SDKVector.all[2].plaintext)
    }

    @Test func resultsExpireAfterSixtySeconds() throws {
        let clock = TestClock()
        let h = Harness(clock: { clock.now })
        #expect(try h.send(SDKVector.all[0].decryptRequest, to: "decrypt") == nil)
        clock.advance(59)
        #expect(try h.result(of: "decrypt") == "hello, world")
        clock.advance(2)
        #expect(try h.result(of: "decrypt") == "")
        // An open that holds the result keeps reading it.
        #expect(try h.send(SDKVector.all[0].decryptRequest, to: "decrypt") == nil)
        var held = try CryptoHandle(h, "decrypt", .readOnly)
        clock.advance(120)
        #expect(try held.readAll() == "hello, world")
        held.release()
        #expect(try h.result(of: "decrypt") == "")
    }

    @Test func nothingSecretIsLogged() throws {
        let handler = InMemoryLogHandler()
        let backend = InMemoryBackend()
        _ = backend.addProject(slug: "demo")
        let fs = SecretsFileSystem(
            backend: backend, options: FileSystemOptions(uid: 0, gid: 0),
            logger: Logger(label: "test", handler: handler, minimumLevel: .debug))
        let context = RequestContext(uid: 0, gid: 0, pid: 1)
        let folder = try fs.lookup(parent: .root, name: ".crypto", context: context).attributes.inode
        let vector = SDKVector.all[0]
        for (name, request) in [("decrypt", vector.decryptRequest), ("decrypt", vector.decryptRequest.replacingOccurrences(of: "GAz", with: "HAz")), ("encrypt", #"{"key": "\#(vector.key)", "plaintext": "hello, world"}"#)] {
            let inode = try fs.lookup(parent: folder, name: name, context: context).attributes.inode
            let handle = try fs.open(inode, flags: OpenFlags(accessMode: .readWrite), context: context).handle
            _ = try? fs.write(inode, handle: handle, offset: 0, data: Array(request.utf8), context: context)
            _ = try fs.read(inode, handle: handle, offset: 0, size: 4096)
            try? fs.flush(inode, handle: handle, context: context)
            fs.release(inode, handle: handle)
        }
        let lines = handler.entries.map(\.message).joined(separator: "\n")
        #expect(lines.contains("/.crypto/decrypt: request refused"))
        for secret in [vector.key, vector.ciphertext, vector.tag, vector.iv, "hello, world"] {
            #expect(!lines.contains(secret))
        }
    }
}

extension String.UTF8View {
    func chunks(of size: Int) -> [[UInt8]] {
        let bytes = Array(self)
        return stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<Swift.min($0 + size, bytes.count)]) }
    }
}
