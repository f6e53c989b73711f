import Foundation
import Glibc
import Testing

/// Mount tests run when INFISICALFS_MOUNT_TESTS=1 (the README's test command
/// and CI set it); they then need root or fusermount3, and /dev/fuse.
let mountTestsEnabled = ProcessInfo.processInfo.environment["INFISICALFS_MOUNT_TESTS"] == "1"

/// The `infisicalfs` binary built beside this test bundle.
let infisicalfsBinary: String = {
    if let explicit = ProcessInfo.processInfo.environment["INFISICALFS_BINARY"] { return explicit }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while directory.path != "/" {
        directory.deleteLastPathComponent()
        let candidate = directory.appendingPathComponent("infisicalfs").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return "infisicalfs"
}()

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a program to completion (bounded by `timeout`) and captures its output.
@discardableResult
func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 60
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: scratch.path + ".1", contents: nil)
    _ = FileManager.default.createFile(atPath: scratch.path + ".2", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: scratch.path + ".1")
        try? FileManager.default.removeItem(atPath: scratch.path + ".2")
    }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.path + ".1"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.path + ".2"))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.interrupt()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        Issue.record("\(executable) \(arguments) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOfFile: scratch.path + ".1", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: scratch.path + ".2", encoding: .utf8)) ?? "")
}

/// `sh -c script` with MNT set to the mountpoint.
@discardableResult
func sh(_ script: String, in mount: Mount) throws -> CommandResult {
    var environment = ProcessInfo.processInfo.environment
    environment["MNT"] = mount.mountpoint
    environment["LC_ALL"] = "C"
    let work = URL(fileURLWithPath: mount.mountpoint).deletingLastPathComponent().path
    return try run("/bin/sh", ["-c", "cd '\(work)' && " + script], environment: environment)
}

/// Whether `path` is in this process's mount table.
func isMounted(_ path: String) -> Bool {
    guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
    return table.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }
}

/// A scratch folder removed at the end of a test.
final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("infisicalfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func folder(_ name: String) throws -> String {
        let folder = path + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// One real mount of the local store by the `infisicalfs` binary in the
/// foreground, unmounted (and checked to be gone) by `stop()`.
final class Mount {
    let mountpoint: String
    let store: String
    let logPath: String
    private let process: Process

    /// Mounts `backend` (a local store at `store` when nil) with `arguments` added.
    init(
        scratch: Scratch, name: String = "mnt", backend: TestBackend? = nil, store: String? = nil,
        arguments: [String] = [], environment extra: [String: String] = [:]
    ) throws {
        mountpoint = try scratch.folder(name)
        self.store = backend?.store ?? store ?? scratch.path + "/store/store.db"
        if backend == nil || backend?.kind == .local {
            // A local store given by path must be in a folder that exists.
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: self.store).deletingLastPathComponent().path,
                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        logPath = scratch.path + "/\(name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: infisicalfsBinary)
        let backendArguments = backend?.mountArguments ?? ["--backend", "local", "--local-store", self.store]
        process.arguments = ["mount", mountpoint, "--foreground"] + backendArguments + arguments
        var environment = ProcessInfo.processInfo.environment
        for variable in environment.keys where variable.hasPrefix("INFISICAL_") { environment[variable] = nil }
        for (key, value) in backend?.mountEnvironment ?? [:] { environment[key] = value }
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while !isMounted(mountpoint) {
            guard process.isRunning, Date() < deadline else {
                throw MountFailure("mount did not come up: \(log)")
            }
            usleep(10_000)
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// SIGTERM: the daemon unmounts and exits 0.
    func stop() {
        guard process.isRunning else {
            if isMounted(mountpoint) { umount2(mountpoint, Int32(MNT_DETACH)) }
            return
        }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if isMounted(mountpoint) {
            umount2(mountpoint, Int32(MNT_DETACH))
            Issue.record("\(mountpoint) was still mounted after the daemon stopped")
        }
    }

    var terminationStatus: Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { stop() }
}

struct MountFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
