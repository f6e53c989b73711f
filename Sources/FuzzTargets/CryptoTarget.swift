import Foundation
import FuseKit
import InfisicalFS
import Logging
import SecretCrypto
import SecretsCore
import TestSupport

extension FuzzTarget {
    /// The `/.crypto` request parser, driven as the kernel would: open
    /// `encrypt` or `decrypt` read-write, write the input in pieces of one
    /// size, flush, read the result from offset 0. Only EINVAL may refuse a
    /// request, a refusal reads as `{"error": …}` and never quotes the
    /// request, an encryption decrypts back (through the mount) to its
    /// plaintext, a decryption re-encrypts to the ciphertext and tag it was
    /// given, the writer's next open reads the same result and another
    /// user's open reads nothing.
    static let cryptoRequests = FuzzTarget(
        name: "crypto",
        summary: "/.crypto/encrypt and /.crypto/decrypt requests written in pieces, through SecretsFileSystem"
    ) { input, findings in
        let (mode, request) = selector(of: input)
        let file = mode & 1 == 0 ? "encrypt" : "decrypt"
        let piece = [1, 3, 7, 64, 4096, Int.max][Int(mode >> 1) % 6]
        let fs = SecretsFileSystem(
            backend: InMemoryBackend(), options: FileSystemOptions(uid: 1000, gid: 1000), logger: .disabled)
        let writer = CryptoExchange(fs: fs, uid: 1000)
        guard let result = writer.exchange(file, request, piece: piece, &findings) else { return }
        let shown = "\(file) \(quoted(String(decoding: request, as: UTF8.self)))"

        if result.refused {
            checkRefusal(result.output, request: request, shown, &findings)
        } else if file == "encrypt" {
            checkEncryption(result.output, request: request, piece: piece, fs: fs, shown, &findings)
        } else {
            checkDecryption(result.output, request: request, shown, &findings)
        }
        if let request = try? JSONDecoder().decode(EncryptFields.self, from: Data(request)), file == "encrypt",
            let key = try? Base64.decode(request.key), key.count == SymmetricKey.byteCount
        {
            findings.check(!result.refused, "\(shown): a valid request was refused: \(quoted(result.text))")
        }

        // The result stays the writer's: the next open reads it, another user's reads nothing.
        if !request.isEmpty {
            findings.check(
                writer.readAgain(file) == result.output, "\(shown): the writer's next open reads another result")
            findings.check(
                CryptoExchange(fs: fs, uid: 2000).readAgain(file) == [], "\(shown): another user reads the result")
        }
    }

    struct EncryptFields: Decodable {
        let key: String
        let plaintext: String
    }

    struct DecryptFields: Decodable {
        let key: String
        let ciphertext: String
        let iv: String
        let tag: String
    }

    private static func checkRefusal(_ output: [UInt8], request: [UInt8], _ shown: String, _ findings: inout Findings) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(output)) as? [String: Any],
            object.count == 1, let reason = object["error"] as? String
        else {
            return findings.fail("\(shown): the refusal reads as \(quoted(String(decoding: output, as: UTF8.self)))")
        }
        findings.check(!reason.isEmpty && !reason.contains("\n"), "\(shown): the reason \(quoted(reason))")
        // The reason is fixed text: it never quotes a value of the request
        // (values made only of the reasons' own words could match by chance).
        let reasonAlphabet = Set("abcdefghijklmnopqrstuvwxyz0123456789 '(),:-")
        if let fields = try? JSONSerialization.jsonObject(with: Data(request)) as? [String: Any] {
            for case let value as String in fields.values
            where value.count >= 6 && !value.allSatisfy(reasonAlphabet.contains) && reason.contains(value) {
                findings.fail("\(shown): the reason \(quoted(reason)) quotes the request")
            }
        }
    }

    private static func checkEncryption(
        _ output: [UInt8], request: [UInt8], piece: Int, fs: SecretsFileSystem, _ shown: String,
        _ findings: inout Findings
    ) {
        // Only a request that is exactly one object is checked against its fields:
        // bytes after a complete object start a new request.
        guard let fields = try? JSONDecoder().decode(EncryptFields.self, from: Data(request)) else { return }
        guard let answer = try? JSONSerialization.jsonObject(with: Data(output)) as? [String: String],
            Set(answer.keys) == ["ciphertext", "iv", "tag"],
            let ciphertext = try? Base64.decode(answer["ciphertext"]!), let iv = try? Base64.decode(answer["iv"]!),
            let tag = try? Base64.decode(answer["tag"]!)
        else {
            return findings.fail("\(shown): the answer reads as \(quoted(String(decoding: output, as: UTF8.self)))")
        }
        findings.check(iv.count == AESGCM.ivByteCount && tag.count == AESGCM.tagByteCount, "\(shown): iv or tag length")
        findings.check(ciphertext.count == fields.plaintext.utf8.count, "\(shown): the ciphertext's length")
        // Decrypted through the mount, it is the plaintext again.
        let decrypt = Array(
            #"{"key": "\#(fields.key)", "ciphertext": "\#(answer["ciphertext"]!)", "iv": "\#(answer["iv"]!)", "tag": "\#(answer["tag"]!)"}"#
                .utf8)
        var inner = Findings()
        guard let back = CryptoExchange(fs: fs, uid: 1000).exchange("decrypt", decrypt, piece: piece, &inner) else {
            return findings.fail("\(shown): decrypting the answer: \(inner.broken.joined(separator: "; "))")
        }
        findings.check(
            !back.refused && back.output == Array(fields.plaintext.utf8),
            "\(shown): the answer decrypts to \(quoted(back.text))")
    }

    private static func checkDecryption(_ output: [UInt8], request: [UInt8], _ shown: String, _ findings: inout Findings) {
        // As above: only a request that is exactly one object.
        guard let fields = try? JSONDecoder().decode(DecryptFields.self, from: Data(request)) else { return }
        guard let keyBytes = try? Base64.decode(fields.key), let key = try? SymmetricKey(bytes: keyBytes),
            let iv = try? Base64.decode(fields.iv), let ciphertext = try? Base64.decode(fields.ciphertext)
        else {
            return findings.fail("\(shown): decrypted a request whose key, iv or ciphertext is not valid")
        }
        // GCM with the same key and IV is deterministic: the plaintext seals back to what was given.
        guard let box = try? AESGCM.seal(output, using: key, iv: iv) else {
            return findings.fail("\(shown): the plaintext does not seal again")
        }
        let given = fields.tag.isEmpty ? ciphertext : ciphertext + ((try? Base64.decode(fields.tag)) ?? [])
        findings.check(box.ciphertext + box.tag == given, "\(shown): the plaintext does not seal back to the request")
    }
}

/// One user's exchange with a `/.crypto` file through the file system's
/// operations, as FuseKit calls them.
struct CryptoExchange {
    let fs: SecretsFileSystem
    let context: RequestContext

    init(fs: SecretsFileSystem, uid: UInt32) {
        self.fs = fs
        context = RequestContext(uid: uid, gid: uid, pid: 42)
    }

    struct Result {
        let refused: Bool
        let output: [UInt8]
        var text: String { String(decoding: output, as: UTF8.self) }
    }

    private func inode(_ file: String) throws(Errno) -> InodeNumber {
        let folder = try fs.lookup(parent: .root, name: ".crypto", context: context).attributes.inode
        return try fs.lookup(parent: folder, name: file, context: context).attributes.inode
    }

    /// Open read-write, write `request` in pieces, flush, read from 0,
    /// release. Nil (with a finding) when the file system failed otherwise
    /// than by refusing the request with EINVAL.
    func exchange(_ file: String, _ request: [UInt8], piece: Int, _ findings: inout Findings) -> Result? {
        let inode: InodeNumber
        let handle: FuseHandle
        do {
            inode = try self.inode(file)
            handle = try fs.open(inode, flags: OpenFlags(accessMode: .readWrite), context: context).handle
        } catch {
            findings.fail("opening /.crypto/\(file): \(error)")
            return nil
        }
        defer { fs.release(inode, handle: handle) }
        var refused = false
        var offset = 0
        while offset < request.count, !refused {
            let end = offset + min(piece, request.count - offset)
            do {
                let written = try fs.write(
                    inode, handle: handle, offset: UInt64(offset), data: Array(request[offset..<end]), context: context)
                if written != end - offset { findings.fail("a write of \(end - offset) bytes wrote \(written)") }
            } catch .invalidArgument {
                refused = true
            } catch {
                findings.fail("a write failed with \(error), not EINVAL")
                return nil
            }
            offset = end
        }
        do {
            try fs.flush(inode, handle: handle, context: context)
        } catch .invalidArgument {
            refused = true
        } catch {
            findings.fail("flush failed with \(error), not EINVAL")
            return nil
        }
        guard let output = readAll(inode, handle) else {
            findings.fail("reading the result failed")
            return nil
        }
        return Result(refused: refused, output: output)
    }

    /// The result a fresh read-only open of `file` reads.
    func readAgain(_ file: String) -> [UInt8]? {
        guard let inode = try? self.inode(file),
            let handle = try? fs.open(inode, flags: OpenFlags(accessMode: .readOnly), context: context).handle
        else { return nil }
        defer { fs.release(inode, handle: handle) }
        return readAll(inode, handle)
    }

    private func readAll(_ inode: InodeNumber, _ handle: FuseHandle) -> [UInt8]? {
        var output: [UInt8] = []
        for _ in 0..<1024 {
            guard let chunk = try? fs.read(inode, handle: handle, offset: UInt64(output.count), size: 4096) else {
                return nil
            }
            if chunk.isEmpty { return output }
            output += chunk
        }
        return output
    }
}
