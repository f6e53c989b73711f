public import Logging

/// What the command line asked for.
public enum Command: Sendable, Equatable {
    case mount(MountRequest)
    case unmount(mountpoint: String)
    case version
    case help
}

public enum BackendChoice: String, Sendable, Equatable {
    case infisical
    case local
}

/// Everything `infisicalfs mount` was told, before anything is opened.
public struct MountRequest: Sendable, Equatable {
    public var mountpoint: String
    /// nil: chosen from the environment (see `resolvedBackend`).
    public var backend: BackendChoice?
    public var siteURL: String?
    public var localStore: String?
    public var cacheTTL = 300
    /// Seconds within which every file operation answers (`-o timeout=`).
    public var timeout: Double = 10
    /// Seconds after it expired that a cached entry may still be served
    /// while Infisical cannot be reached (`-o max_stale=`).
    public var maxStale = 86_400
    public var readOnly = false
    public var allowOther = false
    public var uid: UInt32?
    public var gid: UInt32?
    public var umask: UInt16 = 0o077
    public var projects: [String] = []
    public var foreground = false
    public var credentialsFile: String?
    public var keepNewline = false
    /// Values with Infisical's `${…}` references expanded (`-o expand_references`).
    public var expandReferences = false
    /// Imported folders' secrets shown in the folders that import them (`-o include_imports`).
    public var includeImports = false
    /// `-o offline_cache=PATH`: keep the last good copies of what was read,
    /// encrypted, to serve after a restart while Infisical is unreachable.
    public var offlineCache: String?
    public var logLevel: LogLevel = .info
    /// Internal: started by a detaching `mount`; report readiness on stdout.
    public var readyPipe = false
    /// The mount(8) helper form's SOURCE (`infisicalfs SOURCE MOUNTPOINT -o …`):
    /// a label, except `local:PATH`, which selects the local store at PATH.
    public var source: String?
    /// mount(8)'s `-f` in the helper form: check the arguments, mount nothing.
    public var fake = false

    public init(mountpoint: String) { self.mountpoint = mountpoint }

    // The range of each numeric option (docs/CLI.md), checked at parse time:
    // no arithmetic on a value the user gave can then overflow or trap.

    /// `cache_ttl`: up to a year.
    public static let cacheTTLRange = 0...31_536_000
    /// `max_stale`: up to ten years (the default is a day).
    public static let maxStaleRange = 0...315_360_000
    /// `timeout`, in seconds.
    public static let timeoutRange = 0.5...300.0
    /// `uid` and `gid`: every ID but 4294967295, which is (uid_t)-1: "no
    /// user" to the kernel, an owner nobody is (everyone locked out).
    public static let idRange: ClosedRange<UInt32> = 0...4_294_967_294
    /// `umask`, octal 000 to 777.
    public static let umaskRange: ClosedRange<UInt16> = 0...0o777

    /// The SDKs' credential variables; any of them selects the Infisical backend.
    public static let credentialVariables = [
        "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "INFISICAL_ACCESS_TOKEN",
        "INFISICAL_GCP_AUTH_IDENTITY_ID", "INFISICAL_GCP_IAM_AUTH_IDENTITY_ID",
        "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH", "INFISICAL_AWS_IAM_AUTH_IDENTITY_ID",
        "INFISICAL_AZURE_AUTH_IDENTITY_ID", "INFISICAL_KUBERNETES_IDENTITY_ID", "INFISICAL_OIDC_AUTH_IDENTITY_ID",
        "INFISICAL_JWT_AUTH_IDENTITY_ID", "INFISICAL_AUTH_METHOD",
    ]

    /// infisical when a credential variable or a credentials file is given
    /// (a site URL alone is not a credential), else local.
    public func resolvedBackend(environment: [String: String]) -> BackendChoice {
        if let backend { return backend }
        let hasCredential = Self.credentialVariables.contains { !(environment[$0] ?? "").isEmpty }
        return hasCredential || credentialsFile != nil ? .infisical : .local
    }

    /// The same request with its paths made absolute against `directory`,
    /// so a daemon can leave the directory it was started in.
    public func withAbsolutePaths(from directory: String) -> MountRequest {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : directory + "/" + path }
        var request = self
        request.mountpoint = absolute(mountpoint)
        request.localStore = localStore.map(absolute)
        request.credentialsFile = credentialsFile.map(absolute)
        request.offlineCache = offlineCache.map(absolute)
        return request
    }

    /// Whether the mount refuses every change: `--read-only`, or implied by
    /// `expandReferences` or `includeImports`, whose files show values that
    /// are not this folder's stored ones (an expansion written back would
    /// replace its references; an imported secret lives in another folder).
    public var mountsReadOnly: Bool { readOnly || impliesReadOnly }

    /// The options that make a mount read-only by themselves, as the user spelled them.
    var impliesReadOnly: Bool { expandReferences || includeImports }

    /// Checks what parsing alone cannot: the combination of the options with
    /// the backend the environment selects.
    public func validate(environment: [String: String]) throws(CommandFailure) {
        guard resolvedBackend(environment: environment) == .local else { return }
        let why = backend == nil ? " (the local store is used because no Infisical credentials are given)" : ""
        let asked = [
            (expandReferences, "--expand-references (-o expand_references)"),
            (includeImports, "--include-imports (-o include_imports)"),
        ].filter(\.0).map(\.1)
        if !asked.isEmpty {
            throw .usage(
                asked.joined(separator: " and ") + (asked.count == 1 ? " needs" : " need")
                    + " the Infisical backend: the local store has no secret references or imports" + why)
        }
        if offlineCache != nil {
            throw .usage("--offline-cache (-o offline_cache) needs the Infisical backend: the local store is on disk already" + why)
        }
    }

    /// `$XDG_DATA_HOME/infisicalfs/store.db`, else under `~/.local/share`.
    public func resolvedLocalStore(environment: [String: String]) -> String {
        if let localStore { return localStore }
        let dataHome =
            environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? "/root") + "/.local/share")
        return dataHome + "/infisicalfs/store.db"
    }
}

/// Parses `infisicalfs …` arguments (without the program name).
public enum ArgumentParser {
    public static func parse(_ arguments: [String]) throws(CommandFailure) -> Command {
        guard let first = arguments.first else { throw .usage("missing command") }
        switch first {
        case "--version", "-V", "version": return .version
        case "--help", "-h", "help": return .help
        case "unmount", "umount":
            guard arguments.count == 2 else { throw .usage("unmount takes exactly one MOUNTPOINT") }
            return .unmount(mountpoint: arguments[1])
        case "mount":
            return .mount(try parseMount(Array(arguments.dropFirst())))
        default:
            // The mount(8) helper form: `infisicalfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]`,
            // as /sbin/mount.fuse.infisicalfs and mount.fuse3 run it.
            if !first.hasPrefix("-"), arguments.count >= 2, !arguments[1].hasPrefix("-") {
                return .mount(try parseMount(Array(arguments.dropFirst()), source: first))
            }
            throw .usage("unknown command '\(first)'")
        }
    }

    /// mount(8) hands its helpers `-s` (sloppy), `-f` (fake), `-n` (no mtab) and
    /// `-v` (verbose), alone or together; `-t TYPE` and `-N NAMESPACE` take a value.
    private static func helperFlags(_ argument: String) -> Set<Character>? {
        guard argument.count > 1, argument.hasPrefix("-"), !argument.hasPrefix("--") else { return nil }
        let letters = Set(argument.dropFirst())
        return letters.isSubset(of: ["s", "f", "n", "v"]) ? letters : nil
    }

    /// `infisicalfs mount …` (source nil) or the helper form (source given).
    static func parseMount(_ arguments: [String], source: String? = nil) throws(CommandFailure) -> MountRequest {
        let helperForm = source != nil
        var mountpoint: String?
        var request = MountRequest(mountpoint: "")
        if let source { try applySource(source, to: &request) }
        // Sloppy (`-s`) relaxes every `-o` list, wherever it stands.
        let sloppy = helperForm && arguments.contains { helperFlags($0)?.contains("s") == true }
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "-o" {
                guard let list = remaining.popFirst() else { throw .usage("-o needs a value") }
                try applyOptionList(list, to: &request, sloppy: sloppy)
            } else if argument.hasPrefix("-o"), argument.count > 2 {
                try applyOptionList(String(argument.dropFirst(2)), to: &request, sloppy: sloppy)
            } else if helperForm, let letters = helperFlags(argument) {
                if letters.contains("f") { request.fake = true }
            } else if helperForm, argument == "-t" {
                // mount(8) names the type (fuse.infisicalfs); the helper was chosen by it already.
                guard remaining.popFirst() != nil else { throw .usage("-t needs a value") }
            } else if helperForm, argument == "-N" || argument.hasPrefix("--namespace") {
                throw .usage("mounting in another namespace (-N) is not supported")
            } else if argument.hasPrefix("-") {
                let (name, inlineValue) = split(argument)
                guard let option = Option(flag: name) else { throw .usage("unknown option '\(name)'") }
                var value = inlineValue
                if option.takesValue, value == nil {
                    guard let next = remaining.popFirst() else { throw .usage("\(name) needs a value") }
                    value = next
                } else if !option.takesValue, inlineValue != nil {
                    throw .usage("\(name) takes no value")
                }
                try option.apply(value, to: &request, spelledAs: name)
            } else if mountpoint == nil {
                mountpoint = argument
            } else {
                throw .usage("unexpected argument '\(argument)'")
            }
        }
        guard let mountpoint, !mountpoint.isEmpty else { throw .usage("mount needs a MOUNTPOINT") }
        request.mountpoint = mountpoint
        return request
    }

    /// The helper form's SOURCE: `local:PATH` selects the local store at PATH;
    /// anything else (`infisical`, `none`, a name) is a label and changes nothing.
    static func applySource(_ source: String, to request: inout MountRequest) throws(CommandFailure) {
        request.source = source
        guard source.hasPrefix("local:") else { return }
        let path = String(source.dropFirst("local:".count))
        guard !path.isEmpty else { throw .usage("source local: needs a path, e.g. local:/var/lib/infisicalfs/store.db") }
        request.backend = .local
        request.localStore = path
    }

    /// The fstab form: `name=value` and bare flags, comma separated. Generic
    /// mount(8) options that concern the system, not this file system, are
    /// accepted and ignored; with `sloppy` (mount's `-s`) so is any unknown option.
    static func applyOptionList(
        _ list: String, to request: inout MountRequest, sloppy: Bool = false
    ) throws(CommandFailure) {
        // Split on bytes, as mount(8) does: a "," or "=" followed by a
        // combining mark is one Character, and must still separate.
        for item in list.utf8.split(separator: UInt8(ascii: ",")).map({ String(decoding: $0, as: UTF8.self) })
        where !item.isEmpty {
            let (name, value) = split(item)
            if ignoredMountOptions.contains(name) || name.hasPrefix("x-") || name == "comment" { continue }
            guard let option = Option(fstabName: name) else {
                if sloppy { continue }
                throw .usage("unknown -o option '\(name.debugDescription.dropFirst().dropLast())'")
            }
            if option.takesValue, value == nil { throw .usage("-o \(name) needs a value") }
            if !option.takesValue, value != nil { throw .usage("-o \(name) takes no value") }
            try option.apply(value, to: &request, spelledAs: "-o \(name)")
        }
    }

    static let ignoredMountOptions: Set<String> = [
        "rw", "defaults", "_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "exec", "noexec",
        "suid", "nosuid", "dev", "nodev", "atime", "noatime", "relatime", "async", "sync",
        "diratime", "nodiratime", "strictatime", "nostrictatime", "lazytime", "nolazytime", "silent", "loud",
        "owner", "group",
        // Set by mount(8) or mount.fuse3 for FUSE helpers; the mount table's names are fixed.
        "helper", "fsname", "subtype",
    ]

    private static func split(_ text: String) -> (String, String?) {
        let bytes = Array(text.utf8)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return (text, nil) }
        return (
            String(decoding: bytes[..<equals], as: UTF8.self), String(decoding: bytes[(equals + 1)...], as: UTF8.self)
        )
    }
}

/// One mount option, in both its flag and its fstab spelling.
enum Option: CaseIterable {
    case backend, siteURL, localStore, cacheTTL, timeout, maxStale, readOnly, allowOther, uid, gid, umask, project, foreground
    case credentialsFile, keepNewline, expandReferences, includeImports, offlineCache, logLevel, readyPipe

    init?(flag: String) {
        guard let option = Self.allCases.first(where: { $0.flags.contains(flag) }) else { return nil }
        self = option
    }

    init?(fstabName: String) {
        guard let option = Self.allCases.first(where: { $0.fstabName == fstabName }) else { return nil }
        self = option
    }

    var flags: [String] {
        switch self {
        case .backend: ["--backend"]
        case .siteURL: ["--site-url"]
        case .localStore: ["--local-store"]
        case .cacheTTL: ["--cache-ttl"]
        case .timeout: ["--timeout"]
        case .maxStale: ["--max-stale"]
        case .readOnly: ["--read-only", "-r"]
        case .allowOther: ["--allow-other"]
        case .uid: ["--uid"]
        case .gid: ["--gid"]
        case .umask: ["--umask"]
        case .project: ["--project"]
        case .foreground: ["--foreground", "-f"]
        case .credentialsFile: ["--credentials-file"]
        case .keepNewline: ["--keep-newline"]
        case .expandReferences: ["--expand-references"]
        case .includeImports: ["--include-imports"]
        case .offlineCache: ["--offline-cache"]
        case .logLevel: ["--log-level"]
        case .readyPipe: ["--ready-pipe"]
        }
    }

    var fstabName: String? {
        switch self {
        case .backend: "backend"
        case .siteURL: "site_url"
        case .localStore: "local_store"
        case .cacheTTL: "cache_ttl"
        case .timeout: "timeout"
        case .maxStale: "max_stale"
        case .readOnly: "ro"
        case .allowOther: "allow_other"
        case .uid: "uid"
        case .gid: "gid"
        case .umask: "umask"
        case .project: "project"
        case .foreground: nil
        case .credentialsFile: "credentials_file"
        case .keepNewline: "keep_newline"
        case .expandReferences: "expand_references"
        case .includeImports: "include_imports"
        case .offlineCache: "offline_cache"
        case .logLevel: "log_level"
        case .readyPipe: nil
        }
    }

    var takesValue: Bool {
        switch self {
        case .readOnly, .allowOther, .foreground, .keepNewline, .expandReferences, .includeImports, .readyPipe: false
        default: true
        }
    }

    /// Why the largest ID is refused: it is no owner at all.
    private static let noID = " (4294967295 is (uid_t)-1, which chown(2) reads as \"no change\")"

    func apply(_ value: String?, to request: inout MountRequest, spelledAs name: String) throws(CommandFailure) {
        let value = value ?? ""
        switch self {
        case .backend:
            guard let choice = BackendChoice(rawValue: value) else {
                throw .usage("\(name) must be 'infisical' or 'local', not '\(value)'")
            }
            request.backend = choice
        case .siteURL:
            guard value.hasPrefix("http://") || value.hasPrefix("https://") else {
                throw .usage("\(name) must be an http:// or https:// URL")
            }
            request.siteURL = value
        case .localStore:
            guard !value.isEmpty else { throw .usage("\(name) needs a path") }
            request.localStore = value
        case .cacheTTL:
            guard let seconds = Int(value), MountRequest.cacheTTLRange.contains(seconds) else {
                throw .usage(
                    "\(name) must be a whole number of seconds from 0 to \(MountRequest.cacheTTLRange.upperBound)"
                        + " (a year; 0 disables the cache)")
            }
            request.cacheTTL = seconds
        case .timeout:
            guard let seconds = Double(value), MountRequest.timeoutRange.contains(seconds) else {
                throw .usage("\(name) must be a number of seconds from 0.5 to 300")
            }
            request.timeout = seconds
        case .maxStale:
            guard let seconds = Int(value), MountRequest.maxStaleRange.contains(seconds) else {
                throw .usage(
                    "\(name) must be a whole number of seconds from 0 to \(MountRequest.maxStaleRange.upperBound)"
                        + " (ten years; 0 never serves an expired value)")
            }
            request.maxStale = seconds
        case .readOnly: request.readOnly = true
        case .allowOther: request.allowOther = true
        case .uid:
            guard let uid = UInt32(value), MountRequest.idRange.contains(uid) else {
                throw .usage("\(name) must be a numeric user ID from 0 to \(MountRequest.idRange.upperBound)\(Self.noID)")
            }
            request.uid = uid
        case .gid:
            guard let gid = UInt32(value), MountRequest.idRange.contains(gid) else {
                throw .usage("\(name) must be a numeric group ID from 0 to \(MountRequest.idRange.upperBound)\(Self.noID)")
            }
            request.gid = gid
        case .umask:
            guard let mask = UInt16(value, radix: 8), MountRequest.umaskRange.contains(mask) else {
                throw .usage("\(name) must be octal, 000 to 777")
            }
            request.umask = mask
        case .project:
            guard !value.isEmpty else { throw .usage("\(name) needs a project ID or slug") }
            request.projects.append(value)
        case .foreground: request.foreground = true
        case .credentialsFile:
            guard !value.isEmpty else { throw .usage("\(name) needs a path") }
            request.credentialsFile = value
        case .keepNewline: request.keepNewline = true
        case .expandReferences: request.expandReferences = true
        case .includeImports: request.includeImports = true
        case .offlineCache:
            guard !value.isEmpty else { throw .usage("\(name) needs a path") }
            request.offlineCache = value
        case .logLevel:
            guard let level = LogLevel(name: value) else {
                throw .usage("\(name) must be one of debug, info, notice, warning, error")
            }
            request.logLevel = level
        case .readyPipe: request.readyPipe = true
        }
    }
}
