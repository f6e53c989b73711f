import Foundation
import Glibc
import Testing

/// The systemd side: the daemon's own READY=1 / STOPPING=1 on $NOTIFY_SOCKET,
/// read here from a test socket, and the unit files, checked statically.
@Suite("systemd readiness and units", .serialized)
struct SystemdTests {
    static let helpers = MountHelperTests.helpers

    @Test(.enabled(if: mountTestsEnabled), arguments: [false, true])
    func readyAndStoppingGoToTheNotifySocket(abstract: Bool) throws {
        let scratch = try Scratch()
        let socket = try NotifySocket(path: abstract ? "@infisicalfs-test-\(UUID().uuidString)" : scratch.path + "/notify")
        let mount = try Mount(scratch: scratch, environment: ["NOTIFY_SOCKET": socket.path])
        defer { mount.stop() }
        let ready = try #require(socket.receive(), "no notification; log: \(mount.log)")
        let readyLines = ready.split(separator: "\n")
        #expect(readyLines.contains("READY=1"))
        #expect(readyLines.contains { $0.hasPrefix("STATUS=serving \(mount.mountpoint)") })
        #expect(isMounted(mount.mountpoint), "READY=1 came before the mount")
        #expect(socket.receive(timeout: 0.2) == nil, "one message while serving")
        kill(mount.pid, SIGTERM)
        #expect(mount.terminationStatus == 0)
        let stopping = try #require(socket.receive())
        #expect(stopping.split(separator: "\n").contains("STOPPING=1"))
        #expect(!isMounted(mount.mountpoint))
    }

    @Test(.enabled(if: mountTestsEnabled))
    func aMountThatCannotStartSaysWhyAndNeverReady() throws {
        let scratch = try Scratch()
        let socket = try NotifySocket(path: scratch.path + "/notify")
        let mountpoint = try scratch.folder("mnt")
        let store = scratch.path + "/s.db"
        _ = FileManager.default.createFile(atPath: store, contents: Data("x".utf8), attributes: [.posixPermissions: 0o644])
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socket.path
        let result = try run(
            infisicalfsBinary, ["mount", mountpoint, "--foreground", "--backend", "local", "--local-store", store],
            environment: environment)
        #expect(result.status == 6)
        let message = try #require(socket.receive())
        #expect(message.hasPrefix("STATUS=failed: cannot open local store"))
        #expect(!message.contains("READY=1"))
        #expect(!isMounted(mountpoint))
    }

    /// The unit's ExecStart= and ExecStopPost= lines, with systemd's
    /// specifiers filled in, run as systemd would run them.
    @Test(.enabled(if: mountTestsEnabled))
    func theUnitsCommandLinesMountNotifyAndCleanUp() throws {
        let scratch = try Scratch()
        let root = scratch.path + "/root"
        #expect(try run("/bin/sh", [Self.helpers + "/install.sh", "--prefix", root, "--binary", infisicalfsBinary]).status == 0)
        let unit = try UnitFile(path: root + "/etc/systemd/system/infisicalfs@.service")
        let mountpoint = try scratch.folder("mnt")
        let instance = String(mountpoint.dropFirst()).replacingOccurrences(of: "-", with: "\\x2d")
            .replacingOccurrences(of: "/", with: "-")
        func command(_ key: String) throws -> [String] {
            let line = try #require(unit.value("Service", key))
            let expanded = line.replacingOccurrences(of: "%f", with: mountpoint)
                .replacingOccurrences(of: "%i", with: instance)
                .replacingOccurrences(of: "${INFISICALFS_OPTIONS}", with: "backend=local,local_store=\(scratch.path)/s.db,ro")
            let words = expanded.split(separator: " ").map(String.init)
            return words.first?.hasPrefix("-") == true ? [String(words[0].dropFirst())] + words.dropFirst() : words
        }
        let start = try command("ExecStart")
        #expect(start.contains("credentials_file=/etc/infisicalfs/\(instance).env,backend=local,local_store=\(scratch.path)/s.db,ro"))
        let socket = try NotifySocket(path: scratch.path + "/notify")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: start[0])
        daemon.arguments = Array(start.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socket.path
        daemon.environment = environment
        daemon.standardOutput = FileHandle.nullDevice
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer {
            if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
            if isMounted(mountpoint) { umount2(mountpoint, Int32(MNT_DETACH)) }
        }
        let ready = try #require(socket.receive(timeout: 15))
        #expect(ready.contains("READY=1"))
        var info = stat()
        #expect(stat(mountpoint, &info) == 0 && info.st_mode & 0o777 == 0o500, "ro from the options file")
        // systemctl stop: KillSignal=SIGTERM, then ExecStopPost= (ignored failure: nothing left to unmount).
        #expect(try #require(unit.value("Service", "KillSignal")) == "SIGTERM")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(try #require(socket.receive()).contains("STOPPING=1"))
        let stopPost = try command("ExecStopPost")
        #expect(unit.value("Service", "ExecStopPost")?.hasPrefix("-") == true)
        #expect(try run(stopPost[0], Array(stopPost.dropFirst())).status == 5, "not mounted")
        #expect(!isMounted(mountpoint))
    }

    @Test func theServiceTemplateHasTheExpectedKeys() throws {
        let unit = try UnitFile(path: Self.helpers + "/infisicalfs@.service")
        #expect(unit.value("Unit", "Description")?.contains("%f") == true)
        #expect(unit.values("Unit", "After").contains("network-online.target"))
        #expect(unit.values("Unit", "Wants").contains("network-online.target"))
        #expect(unit.value("Service", "Type") == "notify")
        #expect(unit.value("Service", "NotifyAccess") == "main")
        let start = try #require(unit.value("Service", "ExecStart")).split(separator: " ").map(String.init)
        #expect(Array(start.prefix(3)) == ["/usr/local/bin/infisicalfs", "mount", "%f"])
        #expect(start.contains("--foreground"))
        #expect(start.last?.hasPrefix("credentials_file=/etc/infisicalfs/%i.env,") == true)
        #expect(unit.value("Service", "KillSignal") == "SIGTERM")
        #expect(unit.value("Service", "Restart") == "on-failure")
        #expect(unit.value("Service", "ExecStopPost") == "-/usr/local/bin/infisicalfs unmount %f")
        #expect(unit.value("Service", "DeviceAllow") == "/dev/fuse rw")
        #expect(unit.value("Service", "CapabilityBoundingSet")?.contains("CAP_SYS_ADMIN") == true)
        // Options that give the service its own mount namespace would hide the mount from everyone else.
        for key in [
            "PrivateTmp", "PrivateDevices", "ProtectSystem", "ProtectHome", "ProtectKernelTunables",
            "ProtectKernelModules", "ProtectControlGroups", "ReadOnlyPaths", "InaccessiblePaths", "PrivateMounts",
            "TemporaryFileSystem", "BindPaths", "MountFlags",
        ] {
            #expect(unit.value("Service", key) == nil, "\(key) would hide the mount")
        }
        #expect(unit.value("Install", "WantedBy") == "multi-user.target")
    }

    @Test func theMountUnitExampleMatchesItsName() throws {
        let unit = try UnitFile(path: Self.helpers + "/mnt-secrets.mount")
        #expect(unit.value("Mount", "Where") == "/mnt/secrets", "a mount unit is named after its mountpoint")
        #expect(unit.value("Mount", "Type") == "fuse.infisicalfs")
        let options = try #require(unit.value("Mount", "Options")).split(separator: ",")
        #expect(options.contains("_netdev") && options.contains("credentials_file=/etc/infisicalfs/mnt-secrets.env"))
        #expect(unit.values("Unit", "After").contains("network-online.target"))
    }

    /// systemd's own parser, where systemd-analyze is installed (it needs no running systemd).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func systemdAnalyzeVerifyFindsNothingToSay() throws {
        let scratch = try Scratch()
        let root = scratch.path + "/root"
        #expect(try run("/bin/sh", [Self.helpers + "/install.sh", "--prefix", root, "--binary", infisicalfsBinary]).status == 0)
        let units = root + "/etc/systemd/system"
        try FileManager.default.copyItem(atPath: Self.helpers + "/mnt-secrets.mount", toPath: units + "/mnt-secrets.mount")
        for unit in ["infisicalfs@mnt-secrets.service", "mnt-secrets.mount"] {
            let result = try run("/usr/bin/systemd-analyze", ["verify", units + "/" + unit], timeout: 120)
            #expect(result.status == 0, "\(unit): \(result.stderr)")
            let remarks = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains(units) || $0.contains(unit) }
            #expect(remarks.isEmpty, "\(unit): \(remarks)")
        }
    }
}

/// An AF_UNIX datagram socket standing in for systemd's notification socket.
final class NotifySocket {
    /// As NOTIFY_SOCKET names it: a path, or @name for the abstract namespace.
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw MountFailure("socket: \(errno)") }
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw MountFailure("path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw MountFailure("bind \(path): \(errno)")
        }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: TimeInterval = 10) -> String? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit {
        close(descriptor)
        if !path.hasPrefix("@") { unlink(path) }
    }
}

/// A systemd unit file read as INI: `[Section]` headers, `Key=Value` lines,
/// `#`/`;` comments; a key may repeat. Anything else is a parse error.
struct UnitFile {
    private var entries: [(section: String, key: String, value: String)] = []

    init(path: String) throws {
        var section: String?
        for (number, raw) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let section, let equals = line.firstIndex(of: "="), !line.hasSuffix("\\") else {
                throw MountFailure("\(path):\(number + 1): not KEY=VALUE in a section: \(line)")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw MountFailure("\(path):\(number + 1): bad key '\(key)'")
            }
            entries.append((section, key, line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    /// Every value given to `key`, split on spaces (After=a b counts as two).
    func values(_ section: String, _ key: String) -> [String] {
        entries.filter { $0.section == section && $0.key == key }.flatMap { $0.value.split(separator: " ").map(String.init) }
    }

    /// The last value given to `key`, whole.
    func value(_ section: String, _ key: String) -> String? {
        entries.last { $0.section == section && $0.key == key }?.value
    }
}
