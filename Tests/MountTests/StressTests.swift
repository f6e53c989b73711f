import Foundation
import Glibc
import Testing

/// Many processes and threads mixing reads, writes, creates, renames and
/// deletes on one mount for a bounded time, twice, on each backend. Each
/// worker owns some names (their final state must equal its model of its own
/// operations, and every read of them the model's value) and all share a few
/// (a read must give a value someone wrote; ENOENT and EBUSY are the races
/// SEMANTICS.md describes). Any other errno fails the test; so does a daemon
/// whose RSS grows by 20 MiB or more from the first run to the second.
///
/// Seconds per run: 5, or INFISICALFS_STRESS_SECONDS, or 120 with
/// INFISICALFS_LONG_TESTS=1.
@Suite("Stress", .enabled(if: mountTestsEnabled), .serialized)
struct StressTests {
    static let runSeconds: Double = {
        if let given = ProcessInfo.processInfo.environment["INFISICALFS_STRESS_SECONDS"], let value = Double(given) {
            return value
        }
        return longTestsEnabled ? 120 : 5
    }()
    static let processes = 4
    static let threadsPerProcess = 2
    static let privateNames = 4
    static let sharedNames = 3

    /// One worker process: `threads` workers, numbered from `first`.
    static let worker = #"""
        import errno, json, os, random, sys, threading, time

        folder, first, threads, seconds, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        PRIVATE, SHARED = int(sys.argv[6]), int(sys.argv[7])
        EXPECTED_SHARED = {errno.ENOENT, errno.EBUSY}
        lock = threading.Lock()
        report = {"ops": {}, "expected": {}, "unexpected": {}, "mismatches": [], "shared_written": [],
                  "shared_read": [], "final": {}}

        def bump(table, key):
            with lock:
                report[table][key] = report[table].get(key, 0) + 1

        def write(path, value):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)

        def read(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                chunks = []
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        return b"".join(chunks).decode()
                    chunks.append(chunk)
            finally:
                os.close(fd)

        def name_of(error):
            return errno.errorcode.get(error.errno, str(error.errno))

        def worker(w):
            rng = random.Random(seed * 1000 + w)
            mine = [f"W{w}_K{k}" for k in range(PRIVATE)]
            shared = [f"SHARED_{k}" for k in range(SHARED)]
            model, n, written, seen = {}, 0, [], []
            for name in mine:   # what an earlier run left
                try:
                    model[name] = read(f"{folder}/{name}")
                except FileNotFoundError:
                    pass
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                n += 1
                op = rng.choice(["write", "write", "read", "read", "rename", "delete"])
                if rng.random() < 0.3:
                    a, b = rng.sample(shared, 2)
                    bump("ops", "shared " + op)
                    try:
                        if op == "write":
                            value = f"s{seed}-w{w}-{n}"
                            written.append(value)
                            write(f"{folder}/{a}", value)
                        elif op == "read":
                            seen.append(read(f"{folder}/{a}"))
                        elif op == "rename":
                            os.rename(f"{folder}/{a}", f"{folder}/{b}")
                        else:
                            os.unlink(f"{folder}/{a}")
                    except OSError as error:
                        table = "expected" if error.errno in EXPECTED_SHARED else "unexpected"
                        bump(table, f"shared {op} {name_of(error)}")
                    continue
                a, b = rng.sample(mine, 2)
                bump("ops", "private " + op)
                try:
                    if op == "write":
                        value = f"s{seed}-w{w}-{n}"
                        write(f"{folder}/{a}", value)
                        model[a] = value
                    elif op == "read":
                        if a in model:
                            got = read(f"{folder}/{a}")
                            if got != model[a]:
                                with lock:
                                    report["mismatches"].append(f"read {a}: {got!r}, model {model[a]!r}")
                        else:
                            try:
                                got = read(f"{folder}/{a}")
                                with lock:
                                    report["mismatches"].append(f"read {a}: {got!r}, model: deleted")
                            except FileNotFoundError:
                                pass
                    elif op == "rename" and a in model:
                        os.rename(f"{folder}/{a}", f"{folder}/{b}")
                        model[b] = model.pop(a)
                    elif op == "delete" and a in model:
                        os.unlink(f"{folder}/{a}")
                        del model[a]
                except OSError as error:
                    bump("unexpected", f"private {op} {name_of(error)}")
            with lock:
                report["shared_written"] += written
                report["shared_read"] += seen
                for name in mine:
                    report["final"][name] = model.get(name)

        pool = [threading.Thread(target=worker, args=(first + t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        print(json.dumps(report))
        """#

    struct RunReport {
        var operations: [String: Int] = [:]
        var expected: [String: Int] = [:]
        var unexpected: [String: Int] = [:]
        var mismatches: [String] = []
        var sharedWritten: Set<String> = []
        var sharedRead: [String] = []
        var final: [String: String?] = [:]

        var total: Int { operations.values.reduce(0, +) }

        mutating func add(_ json: [String: Any]) {
            for (table, key) in [(\RunReport.operations, "ops"), (\.expected, "expected"), (\.unexpected, "unexpected")] {
                for (name, count) in json[key] as? [String: Int] ?? [:] { self[keyPath: table][name, default: 0] += count }
            }
            mismatches += json["mismatches"] as? [String] ?? []
            sharedWritten.formUnion(json["shared_written"] as? [String] ?? [])
            sharedRead += json["shared_read"] as? [String] ?? []
            for (name, value) in json["final"] as? [String: Any] ?? [:] { final[name] = value as? String }
        }
    }

    /// Runs the workers once against `folder`.
    func stress(_ folder: String, seed: Int, scratch: Scratch) throws -> RunReport {
        var workers: [(Process, String)] = []
        for index in 0..<Self.processes {
            let output = scratch.path + "/stress-\(seed)-\(index).json"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python3[0])
            process.arguments =
                Array(python3.dropFirst()) + [
                    "-c", Self.worker, folder, "\(index * Self.threadsPerProcess)", "\(Self.threadsPerProcess)",
                    "\(Self.runSeconds)", "\(seed)", "\(Self.privateNames)", "\(Self.sharedNames)",
                ]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try process.run()
            workers.append((process, output))
        }
        let deadline = Date().addingTimeInterval(Self.runSeconds + 120)
        var report = RunReport()
        for (process, output) in workers {
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                Issue.record("a stress worker did not finish within \(Self.runSeconds + 120) s")
            }
            process.waitUntilExit()
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                Issue.record("a stress worker reported nothing: \(text.prefix(300))")
                continue
            }
            report.add(json)
        }
        return report
    }

    /// The daemon's resident set, in KiB.
    func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    @Test(arguments: BackendKind.allCases)
    func mixedOperationsFromManyProcessesEndAsTheModelSays(kind: BackendKind) throws {
        let scratch = try Scratch()
        let backend = try TestBackend(kind, scratch: scratch)
        let mount = try Mount(scratch: scratch, backend: backend)
        defer { mount.stop() }
        try backend.makeProject("p", in: mount)
        let folder = mount.mountpoint + "/p/dev"
        #expect(FileManager.default.fileExists(atPath: folder))

        let before = residentKiB(mount.pid)
        var reports: [RunReport] = []
        var resident: [Int] = []
        for seed in 1...2 {
            let started = Date()
            let report = try stress(folder, seed: seed, scratch: scratch)
            let elapsed = seconds(since: started)
            resident.append(residentKiB(mount.pid))
            reports.append(report)
            #expect(report.unexpected.isEmpty, "run \(seed): \(report.unexpected) \(mount.log.suffix(3000))")
            #expect(report.mismatches.isEmpty, "run \(seed): \(report.mismatches.prefix(10))")
            #expect(report.total > 100, "run \(seed): only \(report.total) operations")
            #expect(mount.isRunning)
            let expected = report.expected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            figure(
                "stress \(kind.rawValue) run \(seed)",
                "\(report.total) ops in \(String(format: "%.1f", elapsed)) s (\(Int(Double(report.total) / elapsed)) ops/s), unexpected \(report.unexpected.count), expected: \(expected.joined(separator: ", ")); RSS \(resident.last!) KiB")
        }
        #expect(resident[1] - resident[0] < 20 * 1024, "RSS \(before) → \(resident[0]) → \(resident[1]) KiB")
        figure("stress \(kind.rawValue) RSS", "\(before) KiB at mount, \(resident[0]) after run 1, \(resident[1]) after run 2")

        // What is stored, seen through a second mount that caches nothing.
        let check = try Mount(scratch: scratch, name: "check", backend: backend, arguments: ["--cache-ttl", "0"])
        defer { check.stop() }
        let stored = check.mountpoint + "/p/dev"
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: stored))
        let final = reports[1].final
        for (name, value) in final {
            let got = names.contains(name) ? try? String(contentsOfFile: stored + "/" + name, encoding: .utf8) : nil
            #expect(got == value, "\(name): stored \(String(describing: got)), model \(String(describing: value))")
        }
        let written = reports[0].sharedWritten.union(reports[1].sharedWritten)
        for name in names where name.hasPrefix("SHARED_") {
            let value = try String(contentsOfFile: stored + "/" + name, encoding: .utf8)
            #expect(written.contains(value), "\(name) holds \(value.debugDescription), which nobody wrote")
        }
        let strays = names.filter { !$0.hasPrefix("SHARED_") && final[$0] == nil }
        #expect(strays.isEmpty, "names nobody made: \(strays)")
        // A shared read gives a value someone wrote, or nothing (a file being
        // created, as on a disk). Anything else is a torn read
        // (`aReaderNeverSeesAMixOfTwoVersions` looks for them on their own).
        let reads = reports.flatMap(\.sharedRead)
        let torn = reads.filter { !$0.isEmpty && !written.contains($0) }
        figure("stress \(kind.rawValue) shared reads", "\(reads.count), empty \(reads.filter(\.isEmpty).count), torn \(torn.count)")
        #expect(torn.isEmpty, "shared reads of values nobody wrote: \(torn.prefix(5).map(\.debugDescription))")
    }

    /// One writer alternates a short and a long value; readers, in the same
    /// mount and in a second mount of the same store, must read one of the
    /// two, or nothing while a creation is under way: never bytes of one
    /// version cut to the other's length or padded with NULs.
    @Test
    func aReaderNeverSeesAMixOfTwoVersions() throws {
        let scratch = try Scratch()
        let writer = try Mount(scratch: scratch, name: "writer")
        defer { writer.stop() }
        let reader = try Mount(scratch: scratch, name: "reader", store: writer.store, arguments: ["--cache-ttl", "0"])
        defer { reader.stop() }
        try #require(mkdir(writer.mountpoint + "/p", 0o700) == 0)
        let race = """
            import os, sys, threading, time
            wpath, rpaths, end = sys.argv[1], sys.argv[2:], time.monotonic() + 3
            values, counts, examples = {b"short", b"a-much-longer-value-here"}, {"reads": 0, "torn": 0}, set()
            lock = threading.Lock()
            def write():
                n = 0
                while time.monotonic() < end:
                    fd = os.open(wpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.write(fd, b"short" if n % 2 else b"a-much-longer-value-here")
                    os.close(fd)
                    n += 1
            def read(path):
                while time.monotonic() < end:
                    try:
                        with open(path, "rb") as f:
                            data = f.read()
                    except FileNotFoundError:
                        continue
                    with lock:
                        counts["reads"] += 1
                        if data and data not in values:
                            counts["torn"] += 1
                            examples.add(data)
            threads = [threading.Thread(target=write)] + [threading.Thread(target=read, args=(p,)) for p in rpaths * 2]
            for t in threads: t.start()
            for t in threads: t.join()
            print(counts["reads"], counts["torn"], sorted(examples)[:4])
            """
        let result = try runPython(
            race, [writer.mountpoint + "/p/dev/RACE", writer.mountpoint + "/p/dev/RACE", reader.mountpoint + "/p/dev/RACE"])
        let fields = result.stdout.split(separator: " ", maxSplits: 2)
        #expect((Int(fields.first ?? "") ?? 0) > 100, "\(result.stdout) \(result.stderr)")
        #expect(fields.count > 1 && fields[1] == "0", "torn reads: \(result.stdout)")
    }
}
