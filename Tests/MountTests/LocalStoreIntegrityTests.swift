import Foundation
import Glibc
import Testing

/// The local store when its file, its key or its disk is not what the mount
/// expects: another key, files others could change, a full file system, the
/// store deleted or replaced under a running mount (docs/STORE-FORMAT.md,
/// docs/reliability.md).
@Suite("The local store's integrity", .enabled(if: mountTestsEnabled), .serialized)
struct LocalStoreIntegrityTests {
    /// The environment of a test run without Infisical's variables, plus `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for variable in environment.keys where variable.hasPrefix("INFISICAL") { environment[variable] = nil }
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    func randomKey() -> String {
        Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// `infisicalfs mount` (detaching, as a user runs it) of the store at
    /// `store`; a mount that came up is taken down again at once, so a
    /// refusal that fails to happen leaves nothing behind.
    func mount(_ mountpoint: String, store: String, _ extra: [String: String] = [:]) throws
        -> (result: CommandResult, mounted: Bool)
    {
        let result = try run(
            infisicalfsBinary, ["mount", mountpoint, "--backend", "local", "--local-store", store],
            environment: environment(extra))
        let mounted = isMounted(mountpoint)
        if mounted { try run(infisicalfsBinary, ["unmount", mountpoint]) }
        return (result, mounted)
    }

    // MARK: The key

    @Test func aKeyThatDoesNotOpenTheStoreFailsTheMountWithExitCode9() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let own = randomKey()
        do {
            let first = try Mount(scratch: scratch, store: store, environment: ["INFISICALFS_STORE_KEY": own])
            defer { first.stop() }
            try #require(sh("mkdir \"$MNT/p\" && printf kept > \"$MNT/p/dev/S\"", in: first).status == 0)
        }
        let mountpoint = try scratch.folder("again")
        let other = randomKey()
        let (refused, refusedMounted) = try mount(mountpoint, store: store, ["INFISICALFS_STORE_KEY": other])
        #expect(refused.status == 9, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("infisicalfs: ") && refused.stderr.contains("another key"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(!refused.stderr.contains(own) && !refused.stderr.contains(other))
        #expect(!refusedMounted)
        // Nothing was sealed with the other key: the store's own key mounts it as it was.
        let again = try Mount(scratch: scratch, name: "third", store: store, environment: ["INFISICALFS_STORE_KEY": own])
        defer { again.stop() }
        #expect(try String(contentsOfFile: again.mountpoint + "/p/dev/S", encoding: .utf8) == "kept")
    }

    @Test func aReplacedOrMissingKeyFileFailsTheMountAndNoKeyIsMadeForIt() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let keyFile = store + ".key"
        do {
            let first = try Mount(scratch: scratch, store: store)
            defer { first.stop() }
            try #require(sh("mkdir \"$MNT/p\" && printf kept > \"$MNT/p/dev/S\"", in: first).status == 0)
        }
        let original = try String(contentsOfFile: keyFile, encoding: .utf8)
        let mountpoint = try scratch.folder("again")

        try (randomKey() + "\n").write(toFile: keyFile, atomically: false, encoding: .utf8)
        let (replaced, replacedMounted) = try mount(mountpoint, store: store)
        #expect(replaced.status == 9, "\(replaced.stderr)")
        #expect(replaced.stderr.contains("another key"), "\(replaced.stderr)")

        #expect(unlink(keyFile) == 0)
        let (missing, missingMounted) = try mount(mountpoint, store: store)
        #expect(missing.status == 9, "\(missing.stderr)")
        #expect(missing.stderr.contains("key file \(keyFile) is missing"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: keyFile), "a fresh key file was made for an existing store")
        #expect(!replacedMounted && !missingMounted)

        #expect(FileManager.default.createFile(
            atPath: keyFile, contents: Data(original.utf8), attributes: [.posixPermissions: 0o600]))
        let restored = try Mount(scratch: scratch, name: "third", store: store)
        defer { restored.stop() }
        #expect(try String(contentsOfFile: restored.mountpoint + "/p/dev/S", encoding: .utf8) == "kept")
    }

    @Test func aStoreAnotherUserOwnsOrCouldSwapIsRefused() throws {
        let scratch = try Scratch()
        let folder = try scratch.folder("store")
        let store = folder + "/store.db"
        let key = ["INFISICALFS_STORE_KEY": randomKey()]
        do {
            let first = try Mount(scratch: scratch, store: store, environment: key)
            first.stop()
        }
        let mountpoint = try scratch.folder("again")
        #expect(chown(store, 65534, 65534) == 0)
        let (owned, ownedMounted) = try mount(mountpoint, store: store, key)
        #expect(owned.status == 6, "\(owned.stderr)")
        #expect(owned.stderr.contains("owned by uid 65534"), "\(owned.stderr)")
        #expect(chown(store, 0, 0) == 0)

        #expect(chmod(folder, 0o777) == 0)
        let (writable, writableMounted) = try mount(mountpoint, store: store, key)
        #expect(writable.status == 6, "\(writable.stderr)")
        #expect(writable.stderr.contains("may be written by others"), "\(writable.stderr)")
        #expect(!ownedMounted && !writableMounted)
        #expect(chmod(folder, 0o700) == 0)
        let (fine, fineMounted) = try mount(mountpoint, store: store, key)
        #expect(fine.status == 0 && fineMounted, "\(fine.stderr)")
    }

    // MARK: The store's folder

    @Test func aMissingFolderOfAGivenStoreFailsTheMountAndIsNotMade() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        let store = scratch.path + "/typo/store.db"
        let (result, mounted) = try mount(mountpoint, store: store)
        #expect(result.status == 6 && !mounted, "\(result.stderr)")
        #expect(
            result.stderr.contains("folder \(scratch.path)/typo of local store \(store) does not exist"),
            "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/typo"))
    }

    @Test func theDefaultStoreFolderIsMadeWhenMissing() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        let data = scratch.path + "/home/.local/share"
        let result = try run(
            infisicalfsBinary, ["mount", mountpoint, "--backend", "local"],
            environment: environment(["XDG_DATA_HOME": data]))
        #expect(result.status == 0, "\(result.stderr)")
        defer { _ = try? run(infisicalfsBinary, ["unmount", mountpoint]) }
        var info = stat()
        #expect(stat(data + "/infisicalfs", &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(FileManager.default.fileExists(atPath: data + "/infisicalfs/store.db"))
        #expect(FileManager.default.fileExists(atPath: data + "/infisicalfs/store.db.key"))
    }

    // MARK: A damaged row

    /// Changes one byte of the sealed value (or comment) of every secret
    /// named `name`, as a disk fault or an edit of the file would.
    func damage(_ name: String, _ column: String = "value", in store: String) throws {
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for rowid, sealed in db.execute(f"SELECT rowid, {sys.argv[3]} FROM secrets WHERE name = ?", (sys.argv[2],)).fetchall():
                harmed = bytearray(sealed)
                harmed[14] ^= 0x01
                db.execute(f"UPDATE secrets SET {sys.argv[3]} = ? WHERE rowid = ?", (bytes(harmed), rowid))
            db.commit()
            """
        let result = try run("/usr/bin/env", ["python3", "-c", script, store, name, column])
        try #require(result.status == 0, "\(result.stderr)")
    }

    @Test func aDamagedSecretIsEIOAloneAndCanBeRemovedOrWrittenOver() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        do {
            let first = try Mount(scratch: scratch, store: store)
            defer { first.stop() }
            let seed = """
                D="$MNT/p/dev"; mkdir "$MNT/p" && mkdir "$D/f" && printf alpha > "$D/A" && printf bravo-value > "$D/BAD" \
                  && printf charlie > "$D/C" && setfattr -n user.infisical.comment -v 'about c' "$D/C" && printf x > "$D/f/X"
                """
            try #require(sh(seed, in: first).status == 0)
        }
        try damage("BAD", in: store)
        let mount = try Mount(scratch: scratch, name: "again", store: store)
        defer { mount.stop() }

        let listed = try sh(
            """
            D="$MNT/p/dev"
            ls "$D"; cat "$D/A" "$D/C"; echo; getfattr --absolute-names --only-values -n user.infisical.comment "$D/C"; echo
            ls -l "$D" | awk 'NR > 1 {print $1, $5, $NF}'
            printf new | cp /dev/stdin "$D/NEW" && cat "$D/NEW"; echo
            """, in: mount)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout == """
            A
            BAD
            C
            f
            alphacharlie
            about c
            -rw------- 5 A
            -rw------- 0 BAD
            -rw------- 7 C
            drwx------ 4096 f
            new

            """, "\(listed.stdout)")

        let refused = try sh(
            """
            D="$MNT/p/dev"
            cat "$D/BAD"
            printf more >> "$D/BAD"
            truncate -s 1 "$D/BAD"
            cat "$D/.env"
            mv "$D/BAD" "$D/MOVED"
            mv "$D/BAD" "$D/f/BAD"
            """, in: mount)
        let lines = refused.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 6 && lines.allSatisfy { $0.hasSuffix("Input/output error") }, "\(refused.stderr)")
        // One log line for each open that needed the value (the read, the
        // append, truncate's), naming the secret, never its value.
        let opens = mount.log.split(separator: "\n").filter {
            $0.contains("open /") && $0.contains("/BAD: local store: secret BAD cannot be decrypted")
        }
        #expect(opens.count == 3, "\(mount.log)")
        #expect(!mount.log.contains("bravo"))

        // Written over (O_TRUNC: nothing to read first), it is whole again; removed, it is gone.
        let repaired = try sh(
            """
            D="$MNT/p/dev"
            printf fresh | cp /dev/stdin "$D/BAD" && cat "$D/BAD"; echo
            grep -c . "$D/.env"
            rm "$D/BAD" && ls "$D"
            """, in: mount)
        #expect(repaired.stdout == "fresh\n4\nA\nC\nNEW\nf\n", "\(repaired.stdout) \(repaired.stderr)")
    }

    @Test func aDamagedCommentIsEIOForTheCommentOnly() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        do {
            let first = try Mount(scratch: scratch, store: store)
            defer { first.stop() }
            let seed = "mkdir \"$MNT/p\" && printf value > \"$MNT/p/dev/S\" && setfattr -n user.infisical.comment -v old \"$MNT/p/dev/S\""
            try #require(sh(seed, in: first).status == 0)
        }
        try damage("S", "comment", in: store)
        let mount = try Mount(scratch: scratch, name: "again", store: store)
        defer { mount.stop() }
        let result = try sh(
            """
            F="$MNT/p/dev/S"
            cat "$F"; echo
            getfattr --absolute-names --only-values -n user.infisical.comment "$F"
            setfattr -n user.infisical.comment -v new "$F" && getfattr --absolute-names --only-values -n user.infisical.comment "$F"
            """, in: mount)
        #expect(result.stdout == "value\nnew", "\(result.stdout)")
        #expect(result.stderr.hasSuffix("Input/output error\n") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    // MARK: A full disk

    @Test func aFullDiskIsENOSPCAndKeepsTheOldValue() throws {
        let scratch = try Scratch()
        let disk = try scratch.folder("disk")
        try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", disk]).status == 0)
        defer { _ = try? run("/bin/umount", ["-l", disk]) }
        let mount = try Mount(scratch: scratch, store: disk + "/store.db")
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" \"$MNT/p/dev/kept\" && printf old > \"$MNT/p/dev/A\"", in: mount).status == 0)

        // Filled to the last byte: dd stops at ENOSPC.
        _ = try run("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=4k", "status=none"])
        _ = try run("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=1", "oflag=append", "conv=notrunc", "status=none"])
        let full = try sh(
            """
            D="$MNT/p/dev"
            printf new | cp /dev/stdin "$D/A"
            printf new | cp /dev/stdin "$D/NEW"
            mkdir "$D/folder"
            rm "$D/A"
            rmdir "$D/kept"
            cat "$D/A"
            """, in: mount)
        let lines = full.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(full.stderr)")
        #expect(lines.allSatisfy { $0.hasSuffix("No space left on device") }, "\(full.stderr)")
        #expect(full.stdout == "old", "reads go on while the disk is full")
        #expect(mount.log.contains("no space left on the file system holding \(disk)/store.db"), "\(mount.log)")

        unlink(disk + "/filler")
        let freed = try sh(
            """
            D="$MNT/p/dev"
            cat "$D/A"; echo
            ls "$D"
            printf new | cp /dev/stdin "$D/A" && cat "$D/A"
            """, in: mount)
        #expect(freed.stdout == "old\nA\nkept\nnew", "\(freed.stdout) \(freed.stderr)")
    }

    // MARK: The store deleted or replaced under a running mount

    @Test func writesToADeletedStoreAreEIOAndNothingIsSilentlyLost() throws {
        let scratch = try Scratch()
        let folder = scratch.path + "/store"
        let mount = try Mount(scratch: scratch, store: folder + "/store.db")
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && printf old > \"$MNT/p/dev/A\"", in: mount).status == 0)
        try FileManager.default.removeItem(atPath: folder)

        let result = try sh(
            """
            D="$MNT/p/dev"
            printf new | cp /dev/stdin "$D/A"
            printf new | cp /dev/stdin "$D/NEW"
            mkdir "$D/folder"
            cat "$D/A"
            """, in: mount)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stderr)")
        #expect(lines.allSatisfy { $0.hasSuffix("Input/output error") }, "\(result.stderr)")
        #expect(result.stdout == "old", "reads serve what the open store holds")
        let noticed = mount.log.split(separator: "\n").filter { $0.contains("was deleted or moved while in use") }
        #expect(noticed.count == 3, "one line per refused write: \(mount.log)")
        mount.stop()
        // Nothing was written anywhere a later mount would find.
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func writesToAReplacedStoreAreEIO() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let mount = try Mount(scratch: scratch, store: store)
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && printf old > \"$MNT/p/dev/A\"", in: mount).status == 0)
        // A copy put in its place (as a restore from a backup would).
        try #require(run("/bin/sh", ["-c", "cp -p '\(store)' '\(store).new' && mv '\(store).new' '\(store)'"]).status == 0)
        let result = try sh("printf new | cp /dev/stdin \"$MNT/p/dev/A\"; cat \"$MNT/p/dev/A\"", in: mount)
        #expect(result.stderr.hasSuffix("Input/output error\n"), "\(result.stderr)")
        #expect(result.stdout == "old")
        #expect(mount.log.contains("was replaced by another file while in use"), "\(mount.log)")
    }
}
