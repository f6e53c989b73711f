import Foundation
import Glibc
import Testing

/// A name is its bytes, as in Infisical and the kernel: bytes that are not
/// UTF-8 are refused, never changed into another name; names that differ
/// only in Unicode normalization are two files. And an open file keeps its
/// inode until it is released, whatever happens to its name.
@Suite("Names are bytes; open files keep their inode", .enabled(if: mountTestsEnabled), .serialized)
struct NameIdentityTests {
    /// Runs Python with the folder as argv[1]; the script prints one JSON object.
    func python(_ code: String, in folder: String, also second: String? = nil) throws -> [String: Any] {
        let result = try runPython(
            "import errno, json, os, sys\nd = os.fsencode(sys.argv[1])\n" + code, [folder] + (second.map { [$0] } ?? []))
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw MountFailure("python: \(result.stdout) \(result.stderr)")
        }
        return object
    }

    /// A mount of a fresh backend with project `p`; keep the backend (its server) alive as long as the mount.
    func mounted(_ kind: BackendKind, _ scratch: Scratch) throws -> (TestBackend, Mount) {
        let backend = try TestBackend(kind, scratch: scratch)
        if kind == .infisical { try backend.makeProject("p", in: nil) }
        let mount = try Mount(scratch: scratch, backend: backend)
        if kind == .local { try backend.makeProject("p", in: mount) }
        return (backend, mount)
    }

    @Test(arguments: BackendKind.allCases)
    func namesThatAreNotUTF8AreRefusedNeverFolded(kind: BackendKind) throws {
        let scratch = try Scratch()
        let (backend, mount) = try mounted(kind, scratch)
        defer { withExtendedLifetime(backend) { mount.stop() } }
        let outcome = try python(
            """
            def attempt(f):
                try:
                    f()
                    return "ok"
                except OSError as e:
                    return errno.errorcode[e.errno]
            def write(name, value):
                fd = os.open(d + b"/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.write(fd, value)
                finally:
                    os.close(fd)
            out = {
                "create_ff": attempt(lambda: write(b"\\xff", b"a")),
                "create_fe": attempt(lambda: write(b"\\xfe", b"b")),
                "latin1": attempt(lambda: write(b"caf\\xe9", b"c")),
                "mkdir": attempt(lambda: os.mkdir(d + b"/dir\\xe9")),
                "stat": attempt(lambda: os.stat(d + b"/\\xff")),
                "unlink": attempt(lambda: os.unlink(d + b"/\\xff")),
            }
            write(b"GOOD", b"g")
            out["rename"] = attempt(lambda: os.rename(d + b"/GOOD", d + b"/\\xff"))
            out["listing"] = sorted(n.hex() for n in os.listdir(d))
            print(json.dumps(out))
            """, in: mount.mountpoint + "/p/dev")
        for key in ["create_ff", "create_fe", "latin1", "mkdir", "rename"] {
            #expect(outcome[key] as? String == "EILSEQ", "\(key): \(outcome)")
        }
        #expect(outcome["stat"] as? String == "ENOENT")
        #expect(outcome["unlink"] as? String == "ENOENT")
        // Nothing stored under another name: no U+FFFD, the good file unmoved.
        #expect(outcome["listing"] as? [String] == ["474f4f44"], "\(outcome)")
        #expect(try probe("read", mount.mountpoint + "/p/dev/GOOD").value == "g")
        // cp of two Latin-1 named files reports failure and keeps nothing.
        let source = try scratch.folder("latin1")
        _ = try runPython(
            "import os, sys\nfor n in (b'a\\xe9', b'a\\xe8'):\n    open(os.fsencode(sys.argv[1]) + b'/' + n, 'wb').write(b'x')",
            [source])
        let copied = try sh("cp \"\(source)\"/* \"$MNT/p/dev/\"", in: mount)
        #expect(copied.status != 0)
        #expect(try probe("listdir", mount.mountpoint + "/p/dev").value == "GOOD")
    }

    @Test(arguments: BackendKind.allCases)
    func namesThatDifferOnlyInNormalizationAreTwoFiles(kind: BackendKind) throws {
        let scratch = try Scratch()
        let (backend, mount) = try mounted(kind, scratch)
        defer { mount.stop() }
        let folder = mount.mountpoint + "/p/dev"
        let nfc = "caf\u{E9}"
        let nfd = "cafe\u{301}"
        #expect(try probe("write", folder + "/" + nfc, "composed").result == "ok")
        #expect(try probe("write", folder + "/" + nfd, "decomposed").result == "ok")
        let names = try python("print(json.dumps({'names': sorted(n.hex() for n in os.listdir(d))}))", in: folder)
        #expect(names["names"] as? [String] == ["63616665cc81", "636166c3a9"], "\(names)")
        #expect(try probe("read", folder + "/" + nfc).value == "composed")
        #expect(try probe("read", folder + "/" + nfd).value == "decomposed")
        // A write to one leaves the other as it was; so does a removal.
        #expect(try probe("write", folder + "/" + nfc, "composed 2").result == "ok")
        #expect(try probe("read", folder + "/" + nfd).value == "decomposed")
        #expect(try probe("unlink", folder + "/" + nfd).result == "ok")
        #expect(try probe("read", folder + "/" + nfc).value == "composed 2")
        #expect(try probe("stat", folder + "/" + nfd).result == "ENOENT")
        if kind == .infisical {
            // Both made on the server too, by another client: both listed.
            for (name, value) in [(nfc, "server nfc"), (nfd, "server nfd")] {
                try backend.server!.control(
                    "POST", "/__test__/secrets", ["projectSlug": "p", "secretPath": "/", "secretKey": name, "secretValue": value])
            }
            let fresh = try Mount(scratch: scratch, name: "fresh", backend: backend)
            defer { fresh.stop() }
            #expect(try probe("read", fresh.mountpoint + "/p/dev/" + nfc).value == "server nfc")
            #expect(try probe("read", fresh.mountpoint + "/p/dev/" + nfd).value == "server nfd")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anOpenFileKeepsItsInodeWhenItsNameGoesOrChanges(kind: BackendKind) throws {
        let scratch = try Scratch()
        let (backend, mount) = try mounted(kind, scratch)
        defer { withExtendedLifetime(backend) { mount.stop() } }
        let outcome = try python(
            """
            def write(name, value):
                fd = os.open(d + b"/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.write(fd, value)
                os.close(fd)
            out = {}
            # exec 3<F; rm F; cat <&3
            write(b"F", b"first")
            fd = os.open(d + b"/F", os.O_RDONLY)
            os.unlink(d + b"/F")
            st = os.fstat(fd)
            out["unlinked"] = [st.st_size, st.st_nlink, os.read(fd, 100).decode()]
            os.close(fd)
            # the atomic replace: mv F.tmp F under an open descriptor
            write(b"G", b"old value")
            fd = os.open(d + b"/G", os.O_RDONLY)
            write(b"G.tmp", b"the new, longer value")
            os.rename(d + b"/G.tmp", d + b"/G")
            st = os.fstat(fd)
            out["replaced"] = [st.st_size, os.read(fd, 100).decode()]
            os.close(fd)
            # another writer changes the value: the descriptor reads its snapshot, whole;
            # fstat (which reaches the daemon without the descriptor) shows the name's value
            write(b"H", b"short")
            fd = os.open(d + b"/H", os.O_RDONLY)
            write(b"H", b"a much longer value")
            out["rewritten"] = [os.fstat(fd).st_size, os.read(fd, 100).decode()]
            os.close(fd)
            # ftruncate of a writer whose name is gone: no error, nothing stored
            fd = os.open(d + b"/I", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, b"temporary")
            os.fsync(fd)
            os.unlink(d + b"/I")
            try:
                os.ftruncate(fd, 4)
                out["ftruncate"] = os.fstat(fd).st_size
            except OSError as e:
                out["ftruncate"] = errno.errorcode[e.errno]
            os.close(fd)
            out["listing"] = sorted(os.fsdecode(n) for n in os.listdir(d))
            print(json.dumps(out))
            """, in: mount.mountpoint + "/p/dev")
        #expect(outcome["unlinked"] as? [AnyHashable] == [5, 0, "first"], "\(outcome)")
        #expect(outcome["replaced"] as? [AnyHashable] == [9, "old value"], "\(outcome)")
        #expect(outcome["rewritten"] as? [AnyHashable] == [19, "short"], "\(outcome)")
        #expect(outcome["ftruncate"] as? Int == 4, "\(outcome)")
        #expect(outcome["listing"] as? [String] == ["G", "H"], "\(outcome)")
        #expect(try probe("read", mount.mountpoint + "/p/dev/G").value == "the new, longer value")
    }

    /// What whole-value files mean for mmap, two appenders at once, and
    /// O_EXCL across two mounts: each as SEMANTICS.md says.
    @Test func mmapConcurrentAppendsAndExclusiveCreatesAcrossMounts() throws {
        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        try #require(try sh("mkdir \"$MNT/p\" && printf hello > \"$MNT/p/dev/F\"", in: mount).status == 0)
        let outcome = try python(
            """
            import mmap
            out = {}
            for name, flags in (("shared", mmap.MAP_SHARED), ("private", mmap.MAP_PRIVATE)):
                fd = os.open(d + b"/F", os.O_RDONLY)
                try:
                    out[name] = mmap.mmap(fd, 5, flags=flags, prot=mmap.PROT_READ)[:5].decode()
                except OSError as e:
                    out[name] = errno.errorcode[e.errno]
                os.close(fd)
            # two appenders: each appends to the value as its open saw it; the last close wins
            a = os.open(d + b"/F", os.O_WRONLY | os.O_APPEND)
            b = os.open(d + b"/F", os.O_WRONLY | os.O_APPEND)
            os.write(a, b" from a")
            os.write(b, b" from b")
            os.close(a)
            os.close(b)
            out["appended"] = open(d + b"/F").read()
            print(json.dumps(out))
            """, in: mount.mountpoint + "/p/dev")
        #expect(outcome["shared"] as? String == "ENODEV", "\(outcome)")
        #expect(outcome["private"] as? String == "hello", "\(outcome)")
        #expect(outcome["appended"] as? String == "hello from b", "\(outcome)")

        // O_EXCL is exclusive within a mount, not across two: both creates
        // succeed and the last close's value stands.
        let other = try Mount(scratch: scratch, name: "other", store: mount.store)
        defer { other.stop() }
        let exclusive = try python(
            """
            e = os.fsencode(sys.argv[2])
            x = os.open(d + b"/X", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            y = os.open(e + b"/X", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(x, b"first")
            os.write(y, b"second")
            os.close(x)
            os.close(y)
            print(json.dumps({"closed": True}))
            """, in: mount.mountpoint + "/p/dev", also: other.mountpoint + "/p/dev")
        #expect(exclusive["closed"] as? Bool == true)
        #expect(try probe("read", other.mountpoint + "/p/dev/X").value == "second")

        // On a read-only mount (no opens, pages kept) a shared mapping works.
        let readOnly = try Mount(scratch: scratch, name: "ro", store: mount.store, arguments: ["--read-only"])
        defer { readOnly.stop() }
        let mapped = try python(
            """
            import mmap
            fd = os.open(d + b"/F", os.O_RDONLY)
            print(json.dumps({"shared": mmap.mmap(fd, 5, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)[:5].decode()}))
            """, in: readOnly.mountpoint + "/p/dev")
        #expect(mapped["shared"] as? String == "hello")
    }
}
