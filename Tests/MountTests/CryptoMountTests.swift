import Foundation
import Glibc
import Testing

/// `/.crypto` through real files on a real mount of each backend: the shell
/// forms, Python's system calls, the official SDK both ways, bad requests,
/// other users, and the examples of docs/crypto.md.
@Suite("/.crypto on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct CryptoMountTests {
    /// The SDK's vectors (infisical-api.md §10) as decrypt requests, with their plaintexts.
    static let vectors: [(request: String, plaintext: String)] = [
        (
            #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87z", "tag": "GAzPhdCdE2m3MSxXx8KRsQ=="}"#,
            "hello, world"
        ),
        (
            #"{"key": "GwvWt0cFngqrx1QvygDZDXAicZ3ygqfPj5paeuaew+k=", "ciphertext": "", "iv": "ZjtMN6fSukTtbJHw", "tag": "JXmiU+/MY2KZD2vKsIaLyg=="}"#,
            ""
        ),
        (
            #"{"key": "nNkttRVqJpsY6N8A7RnrPThrZX19qEJETiyCoaNocPQ=", "ciphertext": "PB5TPL5bRE0vcB5Xz1cgW37X7M4P", "iv": "X4JwguVyHpfPV/yg", "tag": "cs9AO5bun7aBzwOxT5+DCw=="}"#,
            "pässwörd 🔐\nline2"
        ),
    ]

    /// A request in single quotes for sh; requests hold no single quote.
    func quoted(_ text: String) -> String { "'\(text)'" }

    /// A mount and its backend; the backend (the test server) lives as long as this does.
    final class BackendMount {
        let backend: TestBackend
        let mount: Mount

        init(_ kind: BackendKind, _ scratch: Scratch, arguments: [String] = []) throws {
            backend = try TestBackend(kind, scratch: scratch)
            mount = try Mount(scratch: scratch, backend: backend, arguments: arguments)
        }

        func stop() { mount.stop() }
    }

    /// Runs a Python program with `MNT` as its first argument.
    func python(_ code: String, _ mount: Mount, _ arguments: [String] = [], python: String = "/usr/bin/env")
        throws -> CommandResult
    {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONIOENCODING"] = "utf-8"
        let program = python == "/usr/bin/env" ? ["python3", "-c", code] : ["-c", code]
        return try run(python, program + [mount.mountpoint] + arguments, environment: environment)
    }

    @Test(arguments: BackendKind.allCases)
    func theShellFormsWork(kind: BackendKind) throws {
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch)
        defer { mounted.stop() }
        let mount = mounted.mount
        let listing = try sh("ls -a \"$MNT\" | grep crypto; ls \"$MNT/.crypto\"", in: mount)
        #expect(listing.stdout == ".crypto\ndecrypt\nencrypt\nkey\n", "\(listing.stderr) \(mount.log)")
        #expect(try sh("stat -c '%a %s' \"$MNT/.crypto\" \"$MNT/.crypto/key\"", in: mount).stdout == "700 4096\n600 0\n")
        let key = try sh("cat \"$MNT/.crypto/key\"", in: mount).stdout
        #expect(key.utf8.count == 44 && !key.hasSuffix("\n"))

        for (request, plaintext) in Self.vectors {
            // echo > FILE; cat FILE
            let two = try sh("echo \(quoted(request)) > \"$MNT/.crypto/decrypt\" && cat \"$MNT/.crypto/decrypt\"", in: mount)
            #expect(two.stdout == plaintext, "\(two.stderr)")
            // one descriptor: exec 3<>, echo >&3, cat <&3
            let one = try run(
                "/bin/bash", ["-c", "exec 3<> \"$1/.crypto/decrypt\" && echo \"$2\" >&3 && cat <&3", "bash", mount.mountpoint, request])
            #expect(one.stdout == plaintext, "\(one.stderr)")
        }

        // encrypt, then decrypt what it made, through sed.
        let script = """
            key=$(cat "$MNT/.crypto/key")
            echo "{\\"key\\": \\"$key\\", \\"plaintext\\": \\"round trip\\"}" > "$MNT/.crypto/encrypt"
            sed "s|^{|{\\"key\\": \\"$key\\", |" "$MNT/.crypto/encrypt" > "$MNT/.crypto/decrypt"
            cat "$MNT/.crypto/decrypt"
            """
        #expect(try sh(script, in: mount).stdout == "round trip")
    }

    @Test(arguments: BackendKind.allCases)
    func writeSeekAndReadOnOneDescriptor(kind: BackendKind) throws {
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch)
        defer { mounted.stop() }
        let mount = mounted.mount
        let code = """
            import json, os, sys
            path = sys.argv[1] + "/.crypto/"
            fd = os.open(path + "decrypt", os.O_RDWR)
            os.write(fd, sys.argv[2].encode())
            os.lseek(fd, 0, os.SEEK_SET)
            print(os.read(fd, 4096).decode())
            # a request in pieces, then read at the descriptor's offset
            request = sys.argv[3].encode()
            for i in range(0, len(request), 10):
                os.write(fd, request[i:i + 10])
            print(os.read(fd, 4096).decode())
            os.close(fd)
            key = open(path + "key").read()
            fd = os.open(path + "encrypt", os.O_RDWR)
            os.write(fd, json.dumps({"key": key, "plaintext": "é" * 5000}).encode())
            os.lseek(fd, 0, os.SEEK_SET)
            box = json.loads(os.read(fd, 1 << 20))
            os.close(fd)
            box["key"] = key
            with open(path + "decrypt", "w") as f:
                json.dump(box, f)
            print(len(open(path + "decrypt", encoding="utf-8").read()))
            """
        let result = try python(code, mount, [Self.vectors[0].request, Self.vectors[2].request])
        #expect(result.stdout == "hello, world\n\(Self.vectors[2].plaintext)\n5000\n", "\(result.stderr)")
    }

    @Test(arguments: BackendKind.allCases)
    func theOfficialSDKAndTheMountUnderstandEachOther(kind: BackendKind) throws {
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch)
        defer { mounted.stop() }
        let mount = mounted.mount
        let code = """
            import json, sys
            from infisical_client import InfisicalClient, ClientSettings, EncryptSymmetricOptions, DecryptSymmetricOptions
            path = sys.argv[1] + "/.crypto/"
            client = InfisicalClient(ClientSettings())

            def ask(name, request, ascii=True):
                with open(path + name, "w", encoding="utf-8") as f:
                    f.write(json.dumps(request, ensure_ascii=ascii))
                with open(path + name, "rb") as f:
                    return f.read()

            checked = 0
            for plaintext in ["hello, world", "", "pässwörd 🔐\\nline2", "\\"quotes\\" and \\\\ and \\t", "x" * 100000]:
                for key in [client.createSymmetricKey(), open(path + "key").read()]:
                    # the mount encrypts, the SDK decrypts
                    box = json.loads(ask("encrypt", {"key": key, "plaintext": plaintext}, ascii=checked % 2 == 0))
                    assert set(box) == {"ciphertext", "iv", "tag"}, box
                    options = DecryptSymmetricOptions(key=key, ciphertext=box["ciphertext"], iv=box["iv"], tag=box["tag"])
                    assert client.decryptSymmetric(options) == plaintext, plaintext
                    # the SDK encrypts, the mount decrypts
                    sealed = client.encryptSymmetric(EncryptSymmetricOptions(key=key, plaintext=plaintext))
                    request = {"key": key, "ciphertext": sealed.ciphertext, "iv": sealed.iv, "tag": sealed.tag}
                    assert ask("decrypt", request) == plaintext.encode("utf-8"), plaintext
                    checked += 1
            print(checked)
            """
        let result = try python(code, mount, python: sdkPython)
        #expect(result.stdout == "10\n", "\(result.stderr)")
    }

    /// The errno of write and of close, then what the file reads, for one request.
    static let errnoProbe = """
        import errno, os, sys
        path = sys.argv[1] + "/.crypto/" + sys.argv[2]
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        def outcome(call):
            try:
                call()
                return "ok"
            except OSError as error:
                return errno.errorcode[error.errno]
        def write_all(data):
            while data:
                data = data[os.write(fd, data):]
        request = sys.argv[3].encode()
        if request == b"BIG":
            request = b'{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "plaintext": "' + b"a" * (1 << 20) + b'"}'
        wrote = outcome(lambda: write_all(request))
        closed = outcome(lambda: os.close(fd))
        print(wrote, closed, open(path, "rb").read().decode(), end="")
        """

    static let badRequests: [(file: String, request: String, expected: String)] = [
        ("encrypt", "not json", #"EINVAL EINVAL {"error": "the request is not a JSON object"}"#),
        ("encrypt", #"{"key": "abc"#, #"ok EINVAL {"error": "the request is not a complete JSON object"}"#),
        ("encrypt", "  \n", #"ok EINVAL {"error": "the request is empty"}"#),
        ("encrypt", #"{"plaintext": "x"}"#, #"EINVAL EINVAL {"error": "missing field 'key'"}"#),
        ("encrypt", #"{"key": "c2hvcnQ=", "plaintext": "x"}"#, #"EINVAL EINVAL {"error": "key must be 32 bytes (256 bits), got 5"}"#),
        ("encrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB_g=", "plaintext": "x"}"#, #"EINVAL EINVAL {"error": "key is not standard base64 with padding"}"#),
        ("encrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "plaintext": 1}"#, #"EINVAL EINVAL {"error": "field 'plaintext' must be a string"}"#),
        ("decrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87zAAAAAA==", "tag": "GAzPhdCdE2m3MSxXx8KRsQ=="}"#, #"EINVAL EINVAL {"error": "iv must be 12 bytes, got 16"}"#),
        ("decrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87z", "tag": "GAzPhdCdE2k="}"#, #"EINVAL EINVAL {"error": "tag must be 16 bytes, got 8"}"#),
        ("decrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87z", "tag": "HAzPhdCdE2m3MSxXx8KRsQ=="}"#, #"EINVAL EINVAL {"error": "decryption failed: wrong key, iv or tag, or the ciphertext was altered"}"#),
        ("decrypt", #"{"key": "GwvWt0cFngqrx1QvygDZDXAicZ3ygqfPj5paeuaew+k=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87z", "tag": "GAzPhdCdE2m3MSxXx8KRsQ=="}"#, #"EINVAL EINVAL {"error": "decryption failed: wrong key, iv or tag, or the ciphertext was altered"}"#),
        ("decrypt", #"{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gws", "iv": "GzrsCOMYrJdZm87z", "tag": "GAzPhdCdE2m3MSxXx8KRsQ=="}"#, #"EINVAL EINVAL {"error": "decryption failed: wrong key, iv or tag, or the ciphertext was altered"}"#),
    ]

    @Test(arguments: BackendKind.allCases)
    func eachBadRequestIsEINVALWithAReadableReason(kind: BackendKind) throws {
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch)
        defer { mounted.stop() }
        let mount = mounted.mount
        for (file, request, expected) in Self.badRequests {
            let result = try python(Self.errnoProbe, mount, [file, request])
            #expect(result.stdout == expected + "\n", "\(request): \(result.stderr)")
        }
        // Over 1 MiB: the write that crosses it is refused (the argument is too long for argv; "BIG" makes it).
        let big = try python(Self.errnoProbe, mount, ["encrypt", "BIG"])
        #expect(big.stdout == #"EINVAL EINVAL {"error": "the request is larger than 1048576 bytes"}"# + "\n", "\(big.stderr)")
        let key = try sh("echo x > \"$MNT/.crypto/key\"; rm \"$MNT/.crypto/key\"; mkdir \"$MNT/.crypto/d\"", in: mount)
        #expect(key.stderr.components(separatedBy: "Operation not permitted").count == 4, "\(key.stderr)")
        #expect(!mount.log.contains("iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB"))
    }

    @Test(.enabled(if: getuid() == 0), arguments: BackendKind.allCases)
    func anotherUserNeverSeesAResult(kind: BackendKind) throws {
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch, arguments: ["--allow-other", "--umask", "000"])
        defer { mounted.stop() }
        let mount = mounted.mount
        func asNobody(_ script: String) throws -> CommandResult {
            try sh("setpriv --reuid 65534 --regid 65534 --clear-groups sh -c '\(script)'", in: mount)
        }
        let (rootRequest, rootPlaintext) = Self.vectors[0]
        let (otherRequest, otherPlaintext) = Self.vectors[2]
        try #require(sh("echo \(quoted(rootRequest)) > \"$MNT/.crypto/decrypt\"", in: mount).status == 0)
        #expect(try asNobody("cat \"$MNT/.crypto/decrypt\" | wc -c").stdout == "0\n")
        #expect(try asNobody("cat \"$MNT/.crypto/key\" | wc -c").stdout == "44\n")
        let written = try sh(
            "setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'echo \"$1\" > \"$MNT/.crypto/decrypt\"' sh \(quoted(otherRequest))",
            in: mount)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try asNobody("cat \"$MNT/.crypto/decrypt\"").stdout == otherPlaintext)
        #expect(try sh("cat \"$MNT/.crypto/decrypt\"", in: mount).stdout == rootPlaintext)
        // A refusal is private too.
        try #require(sh("echo '{}' > \"$MNT/.crypto/encrypt\"", in: mount).stdout == "")
        #expect(try asNobody("cat \"$MNT/.crypto/encrypt\" | wc -c").stdout == "0\n")
        #expect(try sh("cat \"$MNT/.crypto/encrypt\"", in: mount).stdout == #"{"error": "missing field 'key'"}"# + "\n")
    }

    @Test func aReadOnlyMountHasNoCryptoFolder() throws {
        // Its files are read without an open, and every /.crypto file needs one.
        let scratch = try Scratch()
        let mounted = try BackendMount(.local, scratch, arguments: ["--read-only"])
        defer { mounted.stop() }
        let mount = mounted.mount
        #expect(try sh("ls -a \"$MNT\"", in: mount).stdout == ".\n..\n.status\n")
        #expect(try sh("cat \"$MNT/.crypto/key\"", in: mount).stderr.contains("No such file or directory"))
        #expect(try sh("echo '{}' > \"$MNT/.crypto/encrypt\"", in: mount).status != 0)
    }

    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/crypto.md").path

    @Test(arguments: BackendKind.allCases)
    func everyConsoleExampleOfTheDocGivesItsOutput(kind: BackendKind) throws {
        let document = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let examples = SemanticsDocTests.examples(in: document)
        try #require(examples.count >= 10, "docs/crypto.md has only \(examples.count) console commands")
        let scratch = try Scratch()
        let mounted = try BackendMount(kind, scratch)
        defer { mounted.stop() }
        let mount = mounted.mount
        for example in examples {
            let actual = try SemanticsDocTests.runExample(example.command, in: mount)
            if actual != example.expected {
                Issue.record(
                    """
                    docs/crypto.md line \(example.line) (\(kind.rawValue)): $ \(example.command)
                    --- expected
                    \(example.expected)--- actual
                    \(actual)---
                    """)
            }
        }
    }
}
