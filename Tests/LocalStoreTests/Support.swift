import Foundation
import LocalStore
import SecretCrypto
import SecretsCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh temporary directory for one test, with a store path inside a
/// not-yet-existing subfolder (so folder creation is exercised too).
struct Fixture {
    let directory: String
    let storePath: String
    let key: SymmetricKey

    init() throws {
        directory = FileManager.default.temporaryDirectory.path + "/localstore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        storePath = directory + "/state/store.db"
        key = SymmetricKey.random()
    }

    func open(key: SymmetricKey? = nil) throws -> LocalSecretStore {
        try LocalSecretStore(path: storePath, key: key ?? self.key)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func bytes(of path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }
}

/// A store with one project ("app") and its root location in "dev".
struct Seeded {
    let store: LocalSecretStore
    let project: Project
    var root: SecretLocation { SecretLocation(projectID: project.id, environment: "dev", path: .root) }

    init(_ fixture: Fixture) throws {
        store = try fixture.open()
        project = try store.createProject(slug: "app")
    }

    func location(_ canonical: String, environment: String = "dev") -> SecretLocation {
        SecretLocation(projectID: project.id, environment: environment, path: SecretPath(canonical: canonical)!)
    }
}

/// Expects `body` to throw a `BackendError` of `kind`.
func expectError<T>(
    _ kind: BackendError.Kind, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) {
    do {
        _ = try body()
        Issue.record("expected a \(kind) error, but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as BackendError {
        #expect(error.kind == kind, "reason: \(error.reason)", sourceLocation: sourceLocation)
        #expect(!error.reason.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a BackendError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Permission bits of a file.
func mode(of path: String) -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0o7777 }
    return info.st_mode & 0o777
}

/// Whether `needle` occurs anywhere in `haystack`.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
}

/// Runs `body(index)` on `count` separate threads and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
