import Foundation
import FuseKit
import HTTPClient
import InfisicalAPI
import InfisicalFS
import Logging
import SecretsCore

extension FuzzTarget {
    /// The Infisical API's response decoders: an `InfisicalBackend` whose
    /// transport answers every request with the input's body and a status
    /// (or a transport error) chosen by its first byte, called for projects,
    /// listings, gets and writes; then the same backend under
    /// `SecretsFileSystem`, listed and looked up as `ls -R` would. Failures
    /// are `BackendError`s of the kind the status maps to; a listing's names
    /// are sorted and unique; every directory entry is a name the kernel
    /// accepts, once, and a listed name is never missing when looked up; no
    /// log line shows the access token.
    static let apiResponses = FuzzTarget(
        name: "api",
        summary: "InfisicalBackend decoding any body under any status, and SecretsFileSystem listing it"
    ) { input, findings in
        let (statusByte, rest) = selector(of: input)
        let (flags, body) = selector(of: rest)
        let answer = FuzzTransport.answers[Int(statusByte) % FuzzTransport.answers.count]
        var configuration = InfisicalConfiguration(
            siteURL: "http://infisical.test",
            credentials: flags & 1 == 0
                ? .accessToken(APIRun.token) : .universalAuth(clientID: "id", clientSecret: "secret"))
        configuration.expandReferences = flags & 2 != 0
        configuration.includeImports = flags & 4 != 0
        let log = InMemoryLogHandler()
        let backend = InfisicalBackend(
            configuration: configuration, transport: FuzzTransport(answer: answer, body: body),
            logger: Logger(label: "fuzz", handler: log, minimumLevel: .debug))
        var run = APIRun(answer: answer, body: body, logsIn: flags & 1 != 0, findings: findings)
        run.callBackend(backend)
        if flags & 8 == 0 { run.walk(backend) }
        run.checkLog(log.entries)
        findings = run.findings
    }
}

/// A transport that answers every request alike.
struct FuzzTransport: HTTPTransport {
    enum Answer: Sendable {
        case status(Int)
        case failure(HTTPError.Kind)
    }

    /// 2xx more often than the rest: most of the decoders only run on them.
    static let answers: [Answer] = [
        .status(200), .status(200), .status(200), .status(200), .status(201), .status(204), .status(400),
        .status(401), .status(403), .status(404), .status(413), .status(422), .status(429), .status(500),
        .status(503), .status(302), .failure(.timedOut), .failure(.tooLarge), .failure(.cannotConnect),
    ]

    let answer: Answer
    let body: [UInt8]

    func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        switch answer {
        case .status(let status): return HTTPResponse(status: status, body: body)
        case .failure(let kind): throw HTTPError(kind: kind, message: "fuzz")
        }
    }
}

struct APIRun {
    static let token = "tok-5e3f1c2a9b7d"
    let answer: FuzzTransport.Answer
    let body: [UInt8]
    /// The backend logs in (universal auth) rather than holding a token.
    let logsIn: Bool
    var findings: Findings
    let location = SecretLocation(projectID: "p1", environment: "dev", path: SecretPath(segments: ["app"]))

    /// The kinds a failure may have under this answer: the status's (StatusMapping,
    /// docs/SEMANTICS.md), an unreadable 2xx body's, or the deadline's.
    private var allowedKinds: Set<String> {
        var kinds: Set<String> = ["timedOut"]
        switch answer {
        case .status(let status) where (200..<300).contains(status): kinds.insert("internalError")
        case .status(400): kinds.formUnion(["alreadyExists", "notEmpty", "invalidArgument"])
        case .status(401): kinds.insert("unauthenticated")
        case .status(403): kinds.formUnion(["unauthenticated", "permissionDenied"])
        case .status(404): kinds.insert("notFound")
        case .status(413): kinds.insert("tooLarge")
        case .status(422): kinds.insert("invalidArgument")
        case .status(429): kinds.insert("rateLimited")
        case .status(let status) where status >= 500: kinds.insert("unavailable")
        case .status: kinds.insert("internalError")
        case .failure(.timedOut): break
        case .failure(.tooLarge), .failure(.other): kinds.insert("internalError")
        case .failure: kinds.insert("unavailable")
        }
        // A login the answer refused (any 4xx) backs off, and every call
        // fails as not logged in meanwhile, whatever the status was.
        if logsIn, case .status(400..<500) = answer { kinds.insert("unauthenticated") }
        return kinds
    }

    private var succeeds: Bool {
        if case .status(let status) = answer { return (200..<300).contains(status) }
        return false
    }

    /// Runs one backend call within a second, as a file operation would.
    /// `alsoAllowed`: kinds the call may give under any answer.
    private mutating func call<T>(_ what: String, alsoAllowed: Set<String> = [], _ body: () throws -> T) -> T? {
        do {
            return try Deadline.within(1) { try body() }
        } catch let error as BackendError {
            let kind = "\(error.kind)"
            findings.check(
                allowedKinds.union(alsoAllowed).contains(kind), "\(what) under \(answer) failed with \(kind): \(error.reason)")
            return nil
        } catch {
            findings.fail("\(what) threw \(type(of: error)), not a BackendError: \(error)")
            return nil
        }
    }

    mutating func callBackend(_ backend: InfisicalBackend) {
        let location = location
        if let projects = call("listProjects", { try backend.listProjects() }) {
            findings.check(succeeds, "listProjects succeeded under \(answer)")
            for project in projects {
                let slugs = project.environments.map(\.slug)
                findings.check(Set(slugs).count == slugs.count, "project \(quoted(project.id)) repeats an environment")
            }
        }
        // A name the slug route refuses (400, 422), or a project of another
        // product (a 2xx whose type is not secret-manager), is missing.
        if call("project", alsoAllowed: ["notFound"], { try backend.project("demo") }) != nil {
            findings.check(succeeds, "project succeeded under \(answer)")
        }
        if let listing = call("listFolder", { try backend.listFolder(location) }) {
            findings.check(succeeds, "listFolder succeeded under \(answer)")
            let names = listing.secrets.map(\.name)
            findings.check(names == names.sorted() && Set(names).count == names.count, "listFolder's secrets \(names)")
            findings.check(
                listing.folders == listing.folders.sorted() && Set(listing.folders).count == listing.folders.count,
                "listFolder's folders \(listing.folders)")
        }
        if let secret = call("getSecret", { try backend.getSecret("A", in: location) }) {
            findings.check(succeeds, "getSecret succeeded under \(answer)")
            findings.check(secret.size == secret.value.utf8.count, "a secret's size")
        }
        if call("createSecret", { try backend.createSecret("A", value: "v", in: location) }) != nil {
            findings.check(succeeds, "createSecret succeeded under \(answer)")
        }
        if call("updateSecret", { try backend.updateSecret("A", value: " v ", in: location) }) != nil {
            findings.check(succeeds, "updateSecret succeeded under \(answer)")
        }
        if call("deleteSecret", { try backend.deleteSecret("A", in: location) }) != nil {
            findings.check(succeeds, "deleteSecret succeeded under \(answer)")
        }
    }

    /// `ls` of the root, of up to two projects, two environments each, and
    /// a lookup of up to eight names of each environment.
    mutating func walk(_ backend: InfisicalBackend) {
        var options = FileSystemOptions(uid: 1000, gid: 1000)
        options.operationTimeout = 1
        let fs = SecretsFileSystem(backend: backend, options: options, logger: .disabled)
        let context = RequestContext(uid: 1000, gid: 1000, pid: 42)
        var folders: [(path: String, inode: InodeNumber, depth: Int)] = [("", .root, 0)]
        var listed: Set<InodeNumber> = []
        while let (path, inode, depth) = folders.first {
            folders.removeFirst()
            guard listed.insert(inode).inserted else { continue }
            guard let entries = try? fs.serve({ () throws(Errno) in try fs.openDirectory(inode, context: context).entries() })
            else { continue }
            let names = entries.map(\.name)
            findings.check(Array(names.prefix(2)) == [".", ".."], "ls \(path)/ starts with \(names.prefix(2))")
            let children = names.dropFirst(2)
            findings.check(Set(children).count == children.count, "ls \(path)/ repeats a name: \(children.map(quoted))")
            for name in children {
                let bytes = Array(name.utf8)
                findings.check(
                    !bytes.isEmpty && bytes.count <= 255 && !bytes.contains(0) && !bytes.contains(UInt8(ascii: "/"))
                        && name != "." && name != "..",
                    "ls \(path)/ shows \(quoted(name)), which no directory entry may be called")
            }
            // Not /.crypto and /.status: made by the core, not from the answer.
            for name in children.filter({ !$0.hasPrefix(".") }).prefix(depth == 2 ? 8 : 2) {
                let entry: Entry
                do {
                    entry = try fs.serve { () throws(Errno) in try fs.lookup(parent: inode, name: name, context: context) }
                } catch {
                    findings.check(error != .noSuchFileOrDirectory, "ls \(path)/ shows \(quoted(name)), stat says ENOENT")
                    continue
                }
                findings.check(!entry.isMissing, "ls \(path)/ shows \(quoted(name)), lookup says it is missing")
                if depth < 2, !entry.isMissing, entry.attributes.type == .directory {
                    folders.append((path + "/" + name, entry.attributes.inode, depth + 1))
                }
            }
        }
    }

    mutating func checkLog(_ entries: [InMemoryLogHandler.Entry]) {
        let tokenInBody = String(decoding: body, as: UTF8.self).contains(Self.token)
        for entry in entries {
            findings.check(
                !entry.message.unicodeScalars.contains { $0 == "\n" || $0 == "\r" }, "a log line with a line break")
            findings.check(tokenInBody || !entry.message.contains(Self.token), "a log line shows the access token")
        }
    }
}
