import Foundation
import Glibc
import Testing

/// The long versions of the reliability suites (faults at the default
/// timeout, many crash rounds, minutes of stress): INFISICALFS_LONG_TESTS=1.
let longTestsEnabled = ProcessInfo.processInfo.environment["INFISICALFS_LONG_TESTS"] == "1"

/// The route of one secret, as the test server's faults name it.
let secretRoute = "/api/v3/secrets/raw/{secretName}"

/// An Infisical test server that a test can stop (its port then refuses
/// connections) and start again on the same port, with the data it had or
/// new data: a restart, as far as a client can tell (connections cut, old
/// tokens unknown). One machine identity, member of project `p`.
final class RestartableServer {
    let port: Int
    let clientID = "fault-client"
    let clientSecret = "fault-secret-\(UUID().uuidString)"
    let identityID = "fault-identity"
    private var process: LoopbackServerProcess?
    private let scratch: Scratch

    /// `accessTokenTTL` and `accessTokenMaxTTL` in seconds (the server's default: 30 days).
    init(scratch: Scratch, accessTokenTTL: Int? = nil, accessTokenMaxTTL: Int? = nil) throws {
        self.scratch = scratch
        let process = try LoopbackServerProcess(script: InfisicalTestServer.script, arguments: [])
        self.process = process
        port = process.port
        var identity: [String: Any] = ["identityId": identityID, "clientId": clientID, "clientSecret": clientSecret]
        if let accessTokenTTL { identity["accessTokenTTL"] = accessTokenTTL }
        if let accessTokenMaxTTL { identity["accessTokenMaxTTL"] = accessTokenMaxTTL }
        try control("POST", "/__test__/identities", identity)
        try control("POST", "/__test__/projects", ["slug": "p", "members": [identityID]])
    }

    var siteURL: String { "http://127.0.0.1:\(port)" }

    /// The credentials a mount needs, as environment variables.
    var credentials: [String: String] {
        ["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": clientID, "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": clientSecret]
    }

    /// A mount of this server in the foreground.
    func mount(_ scratch: Scratch, name: String = "mnt", arguments: [String] = []) throws -> Mount {
        try Mount(
            scratch: scratch, name: name, arguments: ["--backend", "infisical", "--site-url", siteURL] + arguments,
            environment: credentials)
    }

    /// Kills the server (SIGKILL, as a crash): its port refuses connections.
    func stop() { process = nil }

    /// Starts a server on the same port holding `seed` (the `--seed` form).
    func start(seed: [String: Any]) throws {
        let path = scratch.path + "/seed-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: seed).write(to: URL(fileURLWithPath: path))
        // argparse keeps the last --port.
        let started = try LoopbackServerProcess(
            script: InfisicalTestServer.script, arguments: ["--port", "\(port)", "--seed", path])
        guard started.port == port else { throw MountFailure("restarted on port \(started.port), not \(port)") }
        process = started
    }

    /// The data the server holds now, in `--seed` form.
    func seed() throws -> [String: Any] {
        try control("GET", "/__test__/seed") as? [String: Any] ?? [:]
    }

    /// Stops the server and starts it again on the same port with the data it
    /// had, changed by `change`.
    func restart(_ change: (inout [String: Any]) -> Void = { _ in }) throws {
        var data = try seed()
        change(&data)
        stop()
        try start(seed: data)
    }

    /// A test-only control call (`/__test__/…`); returns the JSON answer.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: [String: Any] = [:]) throws -> Any {
        let (status, answer) = try loopbackHTTP(port: port, method: method, path: path, body: body)
        guard status == 200 else { throw MountFailure("control \(method) \(path): \(status) \(answer)") }
        return (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) ?? [:]
    }

    /// Seeds a secret exactly as given (no trimming).
    func seedSecret(_ key: String, _ value: String, environment: String = "dev", path: String = "/") throws {
        try control("POST", "/__test__/secrets", [
            "projectSlug": "p", "environment": environment, "secretPath": path, "secretKey": key,
            "secretValue": value,
        ])
    }

    /// Puts a fault on the server (`count` 0: until cleared).
    func fault(_ fields: [String: Any]) throws { try control("POST", "/__test__/faults", fields) }

    func clearFaults() throws { try control("DELETE", "/__test__/faults") }

    /// API requests by "METHOD /route/template" since the start or the last reset.
    func requestCounts() throws -> [String: Int] {
        try control("GET", "/__test__/requests") as? [String: Int] ?? [:]
    }

    /// A shared secret as the server stores it, or nil.
    func stored(_ key: String, environment: String = "dev", path: String = "/") throws -> StoredSecret? {
        let state = try control("GET", "/__test__/state") as? [String: Any] ?? [:]
        let folders = state["folders"] as? [[String: Any]] ?? []
        let projects = state["projects"] as? [[String: Any]] ?? []
        guard let project = projects.first(where: { $0["slug"] as? String == "p" }),
            let environments = project["environments"] as? [[String: Any]],
            let environmentID = environments.first(where: { $0["slug"] as? String == environment })?["id"] as? String,
            let folder = folders.first(where: { $0["envId"] as? String == environmentID && $0["path"] as? String == path })
        else { return nil }
        let secrets = state["secrets"] as? [[String: Any]] ?? []
        guard
            let secret = secrets.first(where: {
                $0["folderId"] as? String == folder["id"] as? String && $0["key"] as? String == key
                    && $0["type"] as? String == "shared"
            })
        else { return nil }
        return StoredSecret(value: secret["value"] as? String ?? "", version: secret["version"] as? Int ?? 0)
    }
}

struct StoredSecret: Equatable, CustomStringConvertible {
    let value: String
    let version: Int
    var description: String { "\(value.debugDescription) v\(version)" }
}

/// What one file operation gave: "ok" or the errno's name, what it read, and
/// how long the operation took (measured in the process making it).
struct Outcome: CustomStringConvertible {
    let result: String
    let value: String
    let seconds: Double
    var description: String { "\(result) \(value.prefix(60).debugDescription) in \(String(format: "%.3f", seconds)) s" }
}

/// Makes one operation through the mount with system calls (Python's os
/// module: a failed close(2) is reported, as a shell redirection's is not):
/// `read` (open, read all, close), `write` VALUE (O_CREAT|O_TRUNC, write,
/// close), `create` VALUE (O_EXCL), `unlink`, `rename` TARGET, `listdir`
/// (names joined by ","), `stat`.
func probe(_ operation: String, _ path: String, _ argument: String = "") throws -> Outcome {
    let code = """
        import errno, json, os, sys, time
        op, path, arg = sys.argv[1], sys.argv[2], sys.argv[3]
        value, result = "", "ok"
        start = time.monotonic()
        try:
            if op == "read":
                fd = os.open(path, os.O_RDONLY)
                try:
                    chunks = []
                    while True:
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            break
                        chunks.append(chunk)
                finally:
                    os.close(fd)
                value = b"".join(chunks).decode("utf-8", "replace")
            elif op in ("write", "create"):
                flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if op == "create" else os.O_TRUNC)
                fd = os.open(path, flags, 0o600)
                try:
                    os.write(fd, arg.encode())
                finally:
                    os.close(fd)
            elif op == "unlink":
                os.unlink(path)
            elif op == "rename":
                os.rename(path, arg)
            elif op == "listdir":
                value = ",".join(sorted(os.listdir(path)))
            elif op == "stat":
                os.stat(path)
        except OSError as error:
            result = errno.errorcode.get(error.errno, str(error.errno))
        print(json.dumps({"result": result, "value": value, "seconds": time.monotonic() - start}))
        """
    let output = try runPython(code, [operation, path, argument], timeout: 120)
    guard let object = try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
        throw MountFailure("probe \(operation) \(path): \(output.stdout) \(output.stderr)")
    }
    return Outcome(
        result: object["result"] as? String ?? "?", value: object["value"] as? String ?? "",
        seconds: object["seconds"] as? Double ?? .infinity)
}

/// One HTTP/1.1 exchange with a server on 127.0.0.1 (a JSON body, the
/// connection closed after the answer, 10 s at most): the status and body.
/// A control call costs a millisecond this way, not a Python start.
func loopbackHTTP(port: Int, method: String, path: String, body: [String: Any]) throws -> (Int, String) {
    let payload = try JSONSerialization.data(withJSONObject: body)
    let connection = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard connection >= 0 else { throw MountFailure("socket: errno \(errno)") }
    defer { close(connection) }
    var limit = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw MountFailure("connect to port \(port): errno \(errno)") }
    let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
    let request = Array(head.utf8) + Array(payload)
    var sent = 0
    while sent < request.count {
        let count = request[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard count > 0 else { throw MountFailure("send to port \(port): errno \(errno)") }
        sent += count
    }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        if count == 0 { break }
        guard count > 0 else { throw MountFailure("no answer from port \(port): errno \(errno)") }
        answer += buffer[..<count]
    }
    let text = String(decoding: answer, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "")
    else { throw MountFailure("a malformed answer from port \(port): \(text.prefix(200))") }
    return (status, String(text[split.upperBound...]))
}

/// Debian's python3 where it is (a version manager's shim can cost 0.1 s per start), else the one on PATH.
let python3: [String] =
    FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? ["/usr/bin/python3"] : ["/usr/bin/env", "python3"]

/// Runs `python3 -c code arguments...`.
func runPython(_ code: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
    try run(python3[0], Array(python3.dropFirst()) + ["-c", code] + arguments, timeout: timeout)
}

/// One line of figures for docs/reliability.md, found in the test output by its prefix.
func figure(_ test: String, _ text: String) {
    print("reliability-figure: \(test): \(text)")
}

/// Seconds since `start`.
func seconds(since start: Date) -> Double { Date().timeIntervalSince(start) }
