import Foundation
import Glibc
import Testing

/// `kill -9` of the daemon in the middle of reads and writes (the local
/// store): programs using the mount get ENOTCONN instead of hanging, the
/// mountpoint is a dead mount that `infisicalfs mount` names as such,
/// `infisicalfs unmount` removes it (even while a process still holds it),
/// the directory can be mounted again, the store passes SQLite's integrity
/// check with its modes kept, and every change whose system call returned 0
/// is there. DurabilityTests holds the single-writer case.
@Suite("Crashes of the daemon", .enabled(if: mountTestsEnabled), .serialized)
struct CrashTests {
    /// Waits (at most 5 s) until the mountpoint answers ENOTCONN, as a dead
    /// FUSE mount does once the kernel's cached attributes of its root expire.
    func waitForDeadMount(_ path: String) -> Double? {
        let started = Date()
        while seconds(since: started) < 5 {
            var status = stat()
            if stat(path, &status) != 0, errno == ENOTCONN { return seconds(since: started) }
            usleep(50_000)
        }
        return nil
    }

    /// `infisicalfs mount` refuses the dead mount by name; `infisicalfs unmount` removes it.
    func recover(_ mountpoint: String, store: String) throws -> Double {
        let again = try run(
            infisicalfsBinary, ["mount", mountpoint, "--backend", "local", "--local-store", store])
        #expect(again.status == 5, "\(again.stderr)")
        #expect(again.stderr.contains("dead mount"), "\(again.stderr)")
        let started = Date()
        let unmount = try run(infisicalfsBinary, ["unmount", mountpoint])
        let elapsed = seconds(since: started)
        #expect(unmount.status == 0, "\(unmount.stderr)")
        #expect(!isMounted(mountpoint))
        return elapsed
    }

    /// SQLite's own check of the store file, through Python's sqlite3.
    func integrity(_ store: String) throws -> String {
        let check = try runPython(
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])",
            [store])
        return check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + check.stderr
    }

    /// The store's files keep their modes: 0600, in a 0700 folder.
    func expectStoreModes(_ store: String) throws {
        let folder = URL(fileURLWithPath: store).deletingLastPathComponent().path
        let folderMode = try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int
        #expect(folderMode == 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let mode = try FileManager.default.attributesOfItem(atPath: folder + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
        }
    }

    @Test func killNineDuringReadsLeavesADeadMountThatUnmountRecovers() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let mount = try Mount(scratch: scratch, store: store)
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && for i in 0 1 2 3 4 5 6 7 8 9; do echo value-$i > \"$MNT/p/dev/K$i\"; done", in: mount).status == 0)

        let reader = """
            import errno, json, os, sys, time
            folder = sys.argv[1]
            reads, mismatches, errors, first_error, end = 0, 0, {}, None, time.monotonic() + 20
            while time.monotonic() < end:
                for i in range(10):
                    try:
                        with open(f"{folder}/K{i}") as f:
                            if f.read() != f"value-{i}":
                                mismatches += 1
                        reads += 1
                    except OSError as error:
                        name = errno.errorcode.get(error.errno, str(error.errno))
                        errors[name] = errors.get(name, 0) + 1
                        first_error = first_error or time.monotonic()
                if first_error and time.monotonic() - first_error > 0.5:
                    break
            print(json.dumps({"reads": reads, "mismatches": mismatches, "errors": errors}))
            """
        var readers: [(Process, String)] = []
        for index in 0..<3 {
            let output = scratch.path + "/reader-\(index).json"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python3[0])
            process.arguments = Array(python3.dropFirst()) + ["-c", reader, mount.mountpoint + "/p/dev"]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try process.run()
            readers.append((process, output))
        }
        usleep(1_000_000)
        kill(mount.pid, SIGKILL)
        let killed = Date()
        for (process, _) in readers { process.waitUntilExit() }
        let readersEnded = seconds(since: killed)
        var reads = 0
        for (_, output) in readers {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let report = try #require(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            reads += report["reads"] as? Int ?? 0
            #expect(report["mismatches"] as? Int == 0, "\(text)")
            // A dead mount answers ENOTCONN (ECONNABORTED for a request cut short); nothing hangs.
            let errors = Set((report["errors"] as? [String: Int] ?? [:]).keys)
            #expect(errors.isSubset(of: ["ENOTCONN", "ECONNABORTED"]) && !errors.isEmpty, "\(text)")
        }
        #expect(reads > 50)
        // Each reader stops 0.5 s after its first error.
        #expect(readersEnded < 3, "\(readersEnded)")

        let dead = try #require(waitForDeadMount(mount.mountpoint))
        let unmounted = try recover(mount.mountpoint, store: store)
        #expect(try integrity(store) == "ok")
        let remount = try Mount(scratch: scratch, store: store)
        defer { remount.stop() }
        #expect(try sh("cat \"$MNT\"/p/dev/K3", in: remount).stdout == "value-3")
        figure(
            "kill -9 during reads",
            "\(reads) reads before, readers out \(String(format: "%.2f", readersEnded)) s after the kill, ENOTCONN at the mountpoint after \(String(format: "%.2f", dead)) s, unmount \(String(format: "%.3f", unmounted)) s")
    }

    @Test func killNineDuringWritesKeepsEveryAcknowledgedChange() throws {
        let rounds = longTestsEnabled ? 10 : 1
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let writer = """
            import errno, json, os, random, sys
            folder, journal_path, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
            journal = open(journal_path, "w", buffering=1)
            rng = random.Random(w * 7919 + os.getpid())
            names = [f"W{w}_K{k}" for k in range(5)]
            present = set(os.listdir(folder)) & set(names)
            n = 0
            while True:
                n += 1
                op = rng.choice(["write", "write", "rename", "delete"])
                a, b = rng.sample(names, 2)
                if op != "write" and a not in present:
                    op = "write"
                value = f"w{w}-{n}-" + "x" * rng.randrange(0, 2000)
                journal.write(json.dumps(["begin", op, a, b, value]) + "\\n")
                try:
                    if op == "write":
                        fd = os.open(f"{folder}/{a}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                        try:
                            os.write(fd, value.encode())
                        finally:
                            os.close(fd)
                        present.add(a)
                    elif op == "rename":
                        os.rename(f"{folder}/{a}", f"{folder}/{b}")
                        present.discard(a)
                        present.add(b)
                    else:
                        os.unlink(f"{folder}/{a}")
                        present.discard(a)
                except OSError as error:
                    journal.write(json.dumps(["failed", errno.errorcode.get(error.errno, str(error.errno))]) + "\\n")
                    break
                journal.write(json.dumps(["done"]) + "\\n")
            """
        var acknowledged = 0
        var inFlightApplied = 0
        // What each writer's names held at the end of the previous round.
        var previousState: [Int: [String: String]] = [:]
        var unmountSeconds: [Double] = []
        for round in 0..<rounds {
            let mount = try Mount(scratch: scratch, store: store)
            if round == 0 { try #require(mkdir(mount.mountpoint + "/p", 0o700) == 0) }
            var writers: [(Process, String)] = []
            for w in 0..<3 {
                let journal = scratch.path + "/journal-\(round)-\(w).txt"
                let process = Process()
                process.executableURL = URL(fileURLWithPath: python3[0])
                process.arguments = Array(python3.dropFirst()) + ["-c", writer, mount.mountpoint + "/p/dev", journal, "\(w)"]
                try process.run()
                writers.append((process, journal))
            }
            usleep(useconds_t(1_000_000 + Int.random(in: 0..<1_000_000)))
            kill(mount.pid, SIGKILL)
            for (process, _) in writers { process.waitUntilExit() }
            try #require(waitForDeadMount(mount.mountpoint) != nil)
            unmountSeconds.append(try recover(mount.mountpoint, store: store))
            mount.stop()
            #expect(try integrity(store) == "ok")
            try expectStoreModes(store)

            let remount = try Mount(scratch: scratch, store: store)
            defer { remount.stop() }
            let folder = remount.mountpoint + "/p/dev"
            let listed = Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            for (w, (_, journal)) in writers.enumerated() {
                let names = (0..<5).map { "W\(w)_K\($0)" }
                // The state after every acknowledged change (from what the
                // previous round left), and the one change in flight at the
                // kill: its call never returned 0, so it may or may not be there.
                let lines = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n")
                var pending: [String]?
                var state = previousState[w] ?? [:]
                for line in lines {
                    guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String] else { continue }
                    switch entry[0] {
                    case "begin": pending = Array(entry.dropFirst())
                    case "done":
                        if let op = pending { Self.apply(op, to: &state) }
                        acknowledged += 1
                        pending = nil
                    default: break
                    }
                }
                var actual: [String: String] = [:]
                for name in names where listed.contains(name) {
                    actual[name] = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
                }
                var withPending = state
                if let op = pending { Self.apply(op, to: &withPending) }
                #expect(
                    actual == state || actual == withPending,
                    "writer \(w), round \(round): stored \(actual.mapValues { $0.prefix(12) }), acknowledged \(state.mapValues { $0.prefix(12) }), in flight \(pending?.prefix(3).joined(separator: " ") ?? "none")")
                if actual != state, actual == withPending { inFlightApplied += 1 }
                previousState[w] = actual
            }
        }
        #expect(acknowledged > 20, "too few changes before the kills to test anything")
        figure(
            "kill -9 during writes",
            "\(rounds) round(s), 3 writers, \(acknowledged) acknowledged changes all present, in-flight change present \(inFlightApplied) time(s), integrity ok, unmount \(unmountSeconds.map { String(format: "%.3f", $0) }.joined(separator: "/")) s")
    }

    /// Applies one journaled change (op, a, b, value) to a model of the names.
    private static func apply(_ op: [String], to state: inout [String: String]) {
        switch op[0] {
        case "write": state[op[1]] = op[3]
        case "rename":
            state[op[2]] = state[op[1]]
            state[op[1]] = nil
        default: state[op[1]] = nil
        }
    }

    @Test func unmountRemovesADeadMountThatAProcessStillHolds() throws {
        let scratch = try Scratch()
        let store = scratch.path + "/store/store.db"
        let mount = try Mount(scratch: scratch, store: store)
        defer { mount.stop() }
        try #require(sh("mkdir \"$MNT/p\" && echo held > \"$MNT/p/dev/A\"", in: mount).status == 0)
        // A process with a descriptor open in the mount and its working directory there.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 3< A; exec sleep 60"]
        holder.currentDirectoryURL = URL(fileURLWithPath: mount.mountpoint + "/p/dev")
        try holder.run()
        defer {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        usleep(300_000)
        kill(mount.pid, SIGKILL)
        try #require(waitForDeadMount(mount.mountpoint) != nil)
        let unmounted = try recover(mount.mountpoint, store: store)
        #expect(holder.isRunning)
        // The directory takes a new mount at once, the holder still there.
        let remount = try Mount(scratch: scratch, store: store)
        defer { remount.stop() }
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: remount).stdout == "held")
        figure("dead mount held open", "unmount (detached) in \(String(format: "%.3f", unmounted)) s, remounted while held")
    }
}
