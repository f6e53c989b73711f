import Foundation
import Glibc
import Testing

/// Faults of the Infisical server, one test each: what the user gets (an
/// errno, or the cached value standing in), how long it takes (bounded by
/// --timeout), and that no value is lost or half-written: after the fault the
/// server holds the old value or the new one, whole. Each test mounts with
/// `--timeout 1` (or 2 or 3) so that deadlines stay short; the figures go to
/// docs/reliability.md.
@Suite("Faults of the Infisical server", .enabled(if: mountTestsEnabled), .serialized)
struct FaultTests {
    @Test func serverErrorsAreEIOAndAFailedWriteLeavesTheOldValue() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "1"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "old-value")

        // A write while updates get 500: close(2) fails with EIO, the old value stays whole.
        try server.fault(["method": "PATCH", "route": secretRoute, "status": 500, "count": 0])
        let write = try probe("write", dev + "/A", "new-value")
        #expect(write.result == "EIO", "\(write)")
        #expect(write.seconds < 1 + 2)
        #expect(try server.stored("A") == StoredSecret(value: "old-value", version: 1))

        // A creation while creates get 503: EIO, and no trace of it anywhere.
        try server.fault(["method": "POST", "route": secretRoute, "status": 503, "count": 0])
        let create = try probe("write", dev + "/NEW", "x")
        #expect(create.result == "EIO", "\(create)")
        #expect(try server.stored("NEW") == nil)
        #expect(try probe("listdir", dev).value == "A")

        // Reads while every GET gets 500: the expired entry stands in, a folder never read is EIO.
        usleep(1_200_000)
        try server.fault(["method": "GET", "route": "*", "status": 500, "count": 0])
        let stale = try probe("read", dev + "/A")
        #expect(stale.result == "ok" && stale.value == "old-value", "\(stale)")
        #expect(stale.seconds < 1 + 2)
        let cold = try probe("read", mount.mountpoint + "/p/prod/NEVER_READ")
        #expect(cold.result == "EIO", "\(cold)")
        #expect(cold.seconds < 1 + 2)
        #expect(mount.log.contains("serving cached"))

        // The fault clears: the next write goes through, whole.
        try server.clearFaults()
        let recovered = try probe("write", dev + "/A", "new-value")
        #expect(recovered.result == "ok", "\(recovered) \(mount.log)")
        #expect(try server.stored("A") == StoredSecret(value: "new-value", version: 2))
        #expect(try probe("read", dev + "/A").value == "new-value")
        figure("5xx", "write \(write), create \(create), stale read \(stale), cold read \(cold)")
    }

    @Test func aServerThatNeverAnswersFailsEachOperationWithinItsDeadline() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "1"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "old-value")
        usleep(1_200_000)
        // Every request is read and never answered (the server sleeps ten
        // minutes and then refuses it, so nothing is ever carried out).
        try server.fault(["route": "*", "delaySeconds": 600, "status": 503, "count": 0])

        // Two operations of 1 s each: the open's lookup (the expired entry
        // then stands in) and the close that sends the value.
        let write = try probe("write", dev + "/A", "new-value")
        #expect(write.result == "EIO", "\(write)")
        #expect(write.seconds > 0.9 && write.seconds < 2 * 1 + 1.5, "\(write)")
        let stale = try probe("read", dev + "/A")
        #expect(stale.result == "ok" && stale.value == "old-value", "\(stale)")
        #expect(stale.seconds < 1 + 2)
        let cold = try probe("read", mount.mountpoint + "/p/prod/NEVER_READ")
        #expect(cold.result == "EIO", "\(cold)")
        #expect(cold.seconds < 2 * 1 + 2)
        #expect(mount.log.contains("no answer in time") || mount.log.contains("deadline"), "\(mount.log)")

        try server.clearFaults()
        #expect(try server.stored("A") == StoredSecret(value: "old-value", version: 1))
        let recovered = try probe("write", dev + "/A", "new-value")
        #expect(recovered.result == "ok", "\(recovered)")
        #expect(try server.stored("A") == StoredSecret(value: "new-value", version: 2))
        figure("hung server", "write \(write), stale read \(stale), cold read \(cold)")
    }

    @Test func aMountAgainstAServerThatNeverAnswersFailsWithinItsTimeout() throws {
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        var environment = ProcessInfo.processInfo.environment
        for variable in environment.keys where variable.hasPrefix("INFISICAL_") { environment[variable] = nil }
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"] = "client"
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = "secret"

        // A port that completes TCP handshakes (the kernel's backlog) and is never accepted from.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                guard bind(listener, generic, length) == 0, listen(listener, 16) == 0,
                    getsockname(listener, generic, &length) == 0
                else { throw MountFailure("listener: errno \(errno)") }
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let timeouts = longTestsEnabled ? ["1", "10"] : ["1"]
        for timeout in timeouts {
            let started = Date()
            let result = try run(
                infisicalfsBinary,
                ["mount", mountpoint, "--site-url", "http://127.0.0.1:\(port)", "--timeout", timeout],
                environment: environment)
            let elapsed = seconds(since: started)
            #expect(result.status == 8, "\(result.stderr)")
            #expect(result.stderr.contains("no answer in time"), "\(result.stderr)")
            #expect(elapsed < Double(timeout)! + 3, "\(elapsed)")
            #expect(elapsed < 15)
            #expect(!isMounted(mountpoint))
            figure("never accepted at mount", "--timeout \(timeout): exit 8 after \(String(format: "%.2f", elapsed)) s")
        }

        // A server that reads the login and never answers it.
        let server = try RestartableServer(scratch: scratch)
        try server.fault([
            "route": "/api/v1/auth/universal-auth/login", "delaySeconds": 600, "status": 503, "count": 0,
        ])
        var withCredentials = environment
        for (key, value) in server.credentials { withCredentials[key] = value }
        let started = Date()
        let result = try run(
            infisicalfsBinary, ["mount", mountpoint, "--site-url", server.siteURL, "--timeout", "1"],
            environment: withCredentials)
        let elapsed = seconds(since: started)
        #expect(result.status == 8, "\(result.stderr)")
        #expect(elapsed < 1 + 3)
        #expect(!isMounted(mountpoint))
        figure("hung login at mount", "--timeout 1: exit 8 after \(String(format: "%.2f", elapsed)) s")
    }

    @Test func slowAnswersNearTheDeadline() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        try server.seedSecret("P", "prod-value", environment: "prod")
        try server.seedSecret("S", "staging-value", environment: "staging")
        let mount = try server.mount(scratch, arguments: ["--timeout", "2", "--cache-ttl", "60"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "old-value")

        // Each answer takes 1.3 s of the 2 s each operation may take: all succeed.
        try server.fault(["method": "GET", "route": "*", "delaySeconds": 1.3, "count": 0])
        let slowRead = try probe("read", mount.mountpoint + "/p/prod/P")
        #expect(slowRead.result == "ok" && slowRead.value == "prod-value", "\(slowRead)")
        #expect(slowRead.seconds > 1.2 && slowRead.seconds < 2 * 2 + 2, "\(slowRead)")
        try server.clearFaults()
        try server.fault(["method": "PATCH", "route": secretRoute, "delaySeconds": 1.3, "count": 0])
        let slowWrite = try probe("write", dev + "/A", "second")
        #expect(slowWrite.result == "ok", "\(slowWrite)")
        #expect(slowWrite.seconds > 1.2 && slowWrite.seconds < 2 + 1.5, "\(slowWrite)")
        #expect(try server.stored("A") == StoredSecret(value: "second", version: 2))
        try server.clearFaults()

        // Answers 0.6 s past the deadline: EIO at the deadline.
        try server.fault(["method": "GET", "route": "*", "delaySeconds": 2.6, "count": 0])
        let lateRead = try probe("read", mount.mountpoint + "/p/staging/S")
        #expect(lateRead.result == "EIO", "\(lateRead)")
        #expect(lateRead.seconds > 1.9 && lateRead.seconds < 2 * 2 + 2, "\(lateRead)")
        try server.clearFaults()
        // An update answered too late fails at the deadline, though the server
        // carries it out later: a client cannot know; it is stored whole.
        try server.fault(["method": "PATCH", "route": secretRoute, "delaySeconds": 2.6, "count": 0])
        let lateWrite = try probe("write", dev + "/A", "third")
        #expect(lateWrite.result == "EIO", "\(lateWrite)")
        #expect(lateWrite.seconds > 1.9 && lateWrite.seconds < 2 + 1.5, "\(lateWrite)")
        usleep(1_200_000)
        #expect(try server.stored("A") == StoredSecret(value: "third", version: 3))
        try server.clearFaults()
        figure("slow answers", "1.3 s of 2: read \(slowRead), write \(slowWrite); 2.6 s: read \(lateRead), write \(lateWrite)")
    }

    @Test func rateLimitsAreWaitedOutWithinTheDeadlineElseEAGAIN() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        try server.seedSecret("P", "prod-value", environment: "prod")
        let mount = try server.mount(scratch, arguments: ["--timeout", "3", "--cache-ttl", "1"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"

        // One 429 with Retry-After: 1, within the 3 s deadline: waited out.
        try server.fault(["method": "GET", "route": "*", "status": 429, "headers": ["retry-after": "1"]])
        let read = try probe("read", dev + "/A")
        #expect(read.result == "ok" && read.value == "old-value", "\(read)")
        #expect(read.seconds > 0.9 && read.seconds < 3 + 2, "\(read)")
        try server.fault(["method": "PATCH", "route": secretRoute, "status": 429, "headers": ["retry-after": "1"]])
        let write = try probe("write", dev + "/A", "new-value")
        #expect(write.result == "ok", "\(write)")
        #expect(write.seconds > 0.9 && write.seconds < 3 + 2, "\(write)")
        // Refused once, carried out once.
        #expect(try server.stored("A") == StoredSecret(value: "new-value", version: 2))

        // Retry-After: 30, past the deadline: EAGAIN at once, nothing changed.
        try server.fault(["method": "GET", "route": "*", "status": 429, "headers": ["retry-after": "30"], "count": 0])
        try server.fault(["method": "PATCH", "route": secretRoute, "status": 429, "headers": ["retry-after": "30"], "count": 0])
        let cold = try probe("read", mount.mountpoint + "/p/prod/P")
        #expect(cold.result == "EAGAIN", "\(cold)")
        #expect(cold.seconds < 1)
        let refused = try probe("write", dev + "/A", "refused-value")
        #expect(refused.result == "EAGAIN", "\(refused)")
        #expect(refused.seconds < 1)
        #expect(try server.stored("A") == StoredSecret(value: "new-value", version: 2))
        // A rate limit is an answer, not an outage: no expired entry stands in.
        usleep(1_200_000)
        #expect(try probe("read", dev + "/A").result == "EAGAIN")
        try server.clearFaults()
        #expect(try probe("read", dev + "/A").value == "new-value")
        figure("429", "Retry-After 1: read \(read), write \(write); Retry-After 30: read \(cold), write \(refused)")
    }

    @Test func aResetConnectionIsEIOAndNothingIsHalfWritten() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        try server.seedSecret("P", "prod-value", environment: "prod")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "1"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "old-value")

        // Reset before the request is carried out: EIO, nothing stored.
        try server.fault(["method": "PATCH", "route": secretRoute, "action": "reset", "count": 0])
        let write = try probe("write", dev + "/A", "new-value")
        #expect(write.result == "EIO", "\(write)")
        #expect(write.seconds < 1)
        try server.fault(["method": "POST", "route": secretRoute, "action": "reset", "count": 0])
        #expect(try probe("write", dev + "/NEW", "x").result == "EIO")
        #expect(try server.stored("A") == StoredSecret(value: "old-value", version: 1))
        #expect(try server.stored("NEW") == nil)
        #expect(try probe("listdir", dev).value == "A")
        try server.clearFaults()

        // Reads: a folder never read is EIO, an expired entry stands in.
        usleep(1_200_000)
        try server.fault(["method": "GET", "route": "*", "action": "reset", "count": 0])
        let cold = try probe("read", mount.mountpoint + "/p/prod/P")
        #expect(cold.result == "EIO", "\(cold)")
        #expect(cold.seconds < 1)
        let stale = try probe("read", dev + "/A")
        #expect(stale.result == "ok" && stale.value == "old-value", "\(stale)")
        try server.clearFaults()

        // Reset after the request was carried out: only the answer is lost.
        // close(2) fails, yet the server holds the new value, whole. (libcurl
        // sends a request again, once, when a kept-alive connection dies before
        // any answer: the update may be carried out twice, same value.)
        try server.fault(["method": "PATCH", "route": secretRoute, "action": "reset", "processFirst": true, "count": 0])
        let lost = try probe("write", dev + "/A", "applied-value")
        #expect(lost.result == "EIO", "\(lost)")
        let stored = try server.stored("A")
        #expect(stored?.value == "applied-value" && [2, 3].contains(stored?.version ?? 0), "\(String(describing: stored))")
        // The same for a delete: rm fails (EIO, or ENOENT when libcurl's second
        // try found it gone), and the secret is gone.
        try server.fault(["method": "DELETE", "route": secretRoute, "action": "reset", "processFirst": true, "count": 0])
        let removed = try probe("unlink", dev + "/A")
        #expect(["EIO", "ENOENT"].contains(removed.result), "\(removed)")
        #expect(try server.stored("A") == nil)
        try server.clearFaults()
        figure("reset", "write \(write), cold read \(cold), stale read \(stale), answer lost: write \(lost) stored \(String(describing: stored)), rm \(removed)")
    }

    @Test func anEmptyOrCutAnswerIsEIONeverAPartialValue() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        let long = String(repeating: "0123456789", count: 400)
        try server.seedSecret("A", "old-value")
        try server.seedSecret("LONG", long, environment: "prod")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "1"])
        defer { mount.stop() }
        let longPath = mount.mountpoint + "/p/prod/LONG"

        // No answer at all (the connection is closed): EIO.
        try server.fault(["method": "GET", "route": "*", "action": "close", "count": 0])
        let empty = try probe("read", longPath)
        #expect(empty.result == "EIO" && empty.value.isEmpty, "\(empty)")
        try server.clearFaults()
        // Half an answer: EIO, and not a byte of it is read.
        try server.fault(["method": "GET", "route": "*", "action": "truncate", "count": 0])
        let cut = try probe("read", longPath)
        #expect(cut.result == "EIO" && cut.value.isEmpty, "\(cut)")
        try server.clearFaults()
        #expect(try probe("read", longPath).value == long)
        // Expired, and the refetch is cut: the whole cached value stands in.
        usleep(1_200_000)
        try server.fault(["method": "GET", "route": "*", "action": "truncate", "count": 0])
        let stale = try probe("read", longPath)
        #expect(stale.result == "ok" && stale.value == long, "\(stale)")
        try server.clearFaults()

        // An update whose answer is cut: close fails, the server holds the new value whole.
        try server.fault(["method": "PATCH", "route": secretRoute, "action": "truncate", "count": 0])
        let write = try probe("write", mount.mountpoint + "/p/dev/A", "new-value")
        #expect(write.result == "EIO", "\(write)")
        #expect(try server.stored("A") == StoredSecret(value: "new-value", version: 2))
        try server.clearFaults()
        figure("empty/cut answers", "empty \(empty), cut \(cut), stale \(stale), cut update \(write)")
    }

    @Test func tokensThatExpireMidRunAreRenewedOrReplacedAndNoCallFails() throws {
        let scratch = try Scratch()
        // Tokens live 2 s and may be renewed up to 5 s after the login.
        let server = try RestartableServer(scratch: scratch, accessTokenTTL: 2, accessTokenMaxTTL: 5)
        let mount = try server.mount(scratch, arguments: ["--timeout", "2", "--cache-ttl", "0"])
        defer { mount.stop() }
        let loop = """
            import os, sys, time
            path, seconds = sys.argv[1], float(sys.argv[2])
            n, failures, end = 0, [], time.monotonic() + seconds
            while time.monotonic() < end:
                n += 1
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    try:
                        os.write(fd, f"v{n}".encode())
                    finally:
                        os.close(fd)
                    with open(path) as f:
                        got = f.read()
                    if got != f"v{n}":
                        failures.append(f"{n}: read {got!r}")
                except OSError as error:
                    failures.append(f"{n}: {error}")
                time.sleep(0.05)
            print(n, len(failures), failures[:5])
            """
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        writer.arguments = ["python3", "-c", loop, mount.mountpoint + "/p/dev/K", "8"]
        let output = scratch.path + "/token-loop.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        writer.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try writer.run()
        // By then the first token could not be renewed past its 5 s (about 3 s
        // in: a login again); now every token is expired by force (403 TokenError).
        usleep(5_000_000)
        try server.control("POST", "/__test__/tokens/expire", [:])
        writer.waitUntilExit()
        let report = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let fields = report.split(separator: " ", maxSplits: 2)
        let operations = Int(fields.first ?? "") ?? 0
        #expect(operations > 20, "\(report)")
        #expect(fields.count > 1 && fields[1] == "0", "failures: \(report) \(mount.log)")
        let counts = try server.requestCounts()
        #expect((counts["POST /api/v1/auth/token/renew"] ?? 0) >= 1, "\(counts)")
        #expect((counts["POST /api/v1/auth/universal-auth/login"] ?? 0) >= 3, "\(counts)")
        #expect(try server.stored("K")?.value == "v\(operations)")
        // Both ways a token ends: its maximum lifetime (a login planned
        // instead of a renewal that would be refused), and refused by force.
        #expect(mount.log.contains("reaches its max TTL"), "\(mount.log)")
        #expect(!mount.log.contains("token renewal refused"), "\(mount.log)")
        #expect(mount.log.contains("token refused; logging in again"), "\(mount.log)")
        figure(
            "token expiry", "\(operations) write+read rounds in 8 s (all tokens expired by force at 5 s), 0 failures; logins \(counts["POST /api/v1/auth/universal-auth/login"] ?? 0), renewals \(counts["POST /api/v1/auth/token/renew"] ?? 0)")
    }

    @Test func aStoppedServerRefusesAtOnceAndCachedValuesAreServed() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "old-value")
        try server.seedSecret("P", "prod-value", environment: "prod")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "1"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "old-value")
        let data = try server.seed()
        server.stop()
        usleep(1_200_000)

        let stale = try probe("read", dev + "/A")
        #expect(stale.result == "ok" && stale.value == "old-value", "\(stale)")
        #expect(stale.seconds < 1)
        let cold = try probe("read", mount.mountpoint + "/p/prod/P")
        #expect(cold.result == "EIO", "\(cold)")
        #expect(cold.seconds < 1)
        let write = try probe("write", dev + "/A", "new-value")
        #expect(write.result == "EIO", "\(write)")
        #expect(write.seconds < 1)
        #expect(try probe("write", dev + "/NEW", "x").result == "EIO")
        #expect(try probe("listdir", dev).value == "A")
        #expect(mount.log.contains("cannot connect"))

        // Back on the same port with the same data: nothing was changed, and
        // the next write goes through (the old token is unknown: a new login).
        try server.start(seed: data)
        #expect(try server.stored("A") == StoredSecret(value: "old-value", version: 1))
        #expect(try server.stored("NEW") == nil)
        let recovered = try probe("write", dev + "/A", "new-value")
        #expect(recovered.result == "ok", "\(recovered) \(mount.log)")
        #expect(try server.stored("A")?.value == "new-value")
        #expect(try server.requestCounts()["POST /api/v1/auth/universal-auth/login"] == 1)
        figure("connection refused", "stale read \(stale), cold read \(cold), write \(write), after restart \(recovered)")
    }

    @Test func aServerRestartedWithNewDataIsSeenWithinTheCacheLifetime() throws {
        let scratch = try Scratch()
        let server = try RestartableServer(scratch: scratch)
        try server.seedSecret("A", "one")
        try server.seedSecret("B", "doomed")
        let mount = try server.mount(scratch, arguments: ["--timeout", "1", "--cache-ttl", "2"])
        defer { mount.stop() }
        let dev = mount.mountpoint + "/p/dev"
        #expect(try probe("read", dev + "/A").value == "one")
        #expect(try probe("listdir", dev).value == "A,B")

        try server.restart { seed in
            var secrets = (seed["secrets"] as? [[String: Any]] ?? []).filter { $0["secretKey"] as? String != "B" }
            for index in secrets.indices where secrets[index]["secretKey"] as? String == "A" {
                secrets[index]["secretValue"] = "two"
            }
            var added = secrets.first ?? [:]
            added["secretKey"] = "C"
            added["secretValue"] = "new"
            seed["secrets"] = secrets + [added]
        }
        let restarted = Date()
        var fresh = try probe("read", dev + "/A")
        while fresh.value != "two", seconds(since: restarted) < 2 + 3 {
            usleep(200_000)
            fresh = try probe("read", dev + "/A")
        }
        let lag = seconds(since: restarted)
        #expect(fresh.value == "two", "\(fresh) \(mount.log)")
        #expect(lag < 2 + 1.5)
        #expect(try probe("listdir", dev).value == "A,C")
        #expect(try probe("read", dev + "/B").result == "ENOENT")
        #expect(try probe("read", dev + "/C").value == "new")
        #expect(try server.requestCounts()["POST /api/v1/auth/universal-auth/login"] == 1)
        figure("restart with new data", "the new value shown \(String(format: "%.2f", lag)) s after the restart (cache_ttl 2)")
    }

    @Test(.enabled(if: getuid() == 0)) func anUnresolvableHostFailsTheMountBeforeMounting() throws {
        // In a network namespace of its own (only `lo`), so that no lookup
        // leaves the machine; `.invalid` never resolves anywhere anyway.
        let scratch = try Scratch()
        let mountpoint = try scratch.folder("mnt")
        var environment = ProcessInfo.processInfo.environment
        for variable in environment.keys where variable.hasPrefix("INFISICAL_") { environment[variable] = nil }
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"] = "client"
        environment["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = "secret"
        let started = Date()
        let result = try run(
            "/usr/bin/unshare",
            [
                "--net", "/bin/sh", "-c", #"ip link set lo up 2>/dev/null; exec "$@""#, "sh", infisicalfsBinary,
                "mount", mountpoint, "--site-url", "http://infisicalfs-test.invalid", "--timeout", "1",
            ], environment: environment)
        let elapsed = seconds(since: started)
        #expect(result.status == 8, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("infisicalfs:") }
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("Could not resolve host: infisicalfs-test.invalid"), "\(result.stderr)")
        #expect(elapsed < 15)
        #expect(!isMounted(mountpoint))
        figure("DNS failure at mount", "exit 8 after \(String(format: "%.2f", elapsed)) s: \(lines.first ?? "")")
    }
}
