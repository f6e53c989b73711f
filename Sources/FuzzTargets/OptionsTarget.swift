import InfisicalFSCLI
import Logging

extension FuzzTarget {
    /// `ArgumentParser.parse` with the fuzz text as an `-o` list (after
    /// `mount`, in the mount(8) helper form, sloppy or not) or as whole
    /// argument lists (NUL-separated). A request that parses is rendered
    /// back as flags, and as an `-o` list where its values allow, and must
    /// parse to the same request both ways.
    static let optionParser = FuzzTarget(
        name: "options",
        summary: "ArgumentParser.parse: -o lists, flags, the mount(8) helper form; both spellings agree"
    ) { input, findings in
        let (shape, rest) = selector(of: input)
        let text = String(decoding: rest, as: UTF8.self)
        let words = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        let arguments: [String] =
            switch shape % 6 {
            case 0: ["mount", "/m", "-o", text]
            case 1: ["mount", "/m", "-o" + text]
            case 2: ["infisical", "/m", "-o", text]
            case 3: ["local:/s.db", "/m", "-s", "-o", text]
            case 4: ["mount"] + words
            default: words
            }
        checkArguments(arguments, &findings)
    }

    private static func outcome(_ arguments: [String]) -> Result<Command, CommandFailure> {
        do throws(CommandFailure) {
            return .success(try ArgumentParser.parse(arguments))
        } catch {
            return .failure(error)
        }
    }

    private static func checkArguments(_ arguments: [String], _ findings: inout Findings) {
        let shown = arguments.map(quoted).joined(separator: " ")
        let first = outcome(arguments)
        findings.check(first == outcome(arguments), "parsing \(shown) twice gave two answers")
        switch first {
        case .failure(let failure):
            findings.check(failure.code == .usage, "\(shown): a parse failure with exit code \(failure.code.rawValue)")
            findings.check(!failure.message.isEmpty, "\(shown): a parse failure without a message")
        case .success(.mount(let request)):
            checkRequest(request, shown, &findings)
        case .success(.unmount(let mountpoint)):
            findings.check(arguments.count == 2 && arguments[1] == mountpoint, "\(shown): unmount of \(quoted(mountpoint))")
        case .success(.version), .success(.help):
            break
        }
    }

    private static func checkRequest(_ request: MountRequest, _ shown: String, _ findings: inout Findings) {
        findings.check(!request.mountpoint.isEmpty, "\(shown): an empty mountpoint")
        findings.check(request.umask <= 0o777, "\(shown): umask \(String(request.umask, radix: 8))")
        findings.check(
            request.timeout.isFinite && request.timeout >= 0.5 && request.timeout <= 300, "\(shown): timeout \(request.timeout)")
        findings.check(
            MountRequest.cacheTTLRange.contains(request.cacheTTL) && MountRequest.maxStaleRange.contains(request.maxStale),
            "\(shown): cache_ttl \(request.cacheTTL) or max_stale \(request.maxStale) out of range")
        findings.check(
            [request.uid, request.gid].allSatisfy { $0.map(MountRequest.idRange.contains) ?? true },
            "\(shown): uid or gid (uid_t)-1")
        findings.check(
            request.siteURL.map { $0.hasPrefix("http://") || $0.hasPrefix("https://") } ?? true,
            "\(shown): site URL \(quoted(request.siteURL ?? ""))")
        findings.check(!request.projects.contains(""), "\(shown): an empty project")
        findings.check(request.localStore != "" && request.credentialsFile != "", "\(shown): an empty path")
        let absolute = request.withAbsolutePaths(from: "/cwd")
        findings.check(absolute.mountpoint.hasPrefix("/"), "\(shown): withAbsolutePaths left a relative mountpoint")
        findings.check(absolute.withAbsolutePaths(from: "/elsewhere") == absolute, "\(shown): withAbsolutePaths twice")

        // The same request spelled as flags, then as an -o list.
        if let flags = flagSpelling(of: request) {
            let again = outcome(flags)
            findings.check(
                again == .success(.mount(request)),
                "\(shown) as flags \(flags.map(quoted).joined(separator: " ")) parses to \(again)")
        }
        if let fstab = fstabSpelling(of: request) {
            let again = outcome(fstab)
            findings.check(
                again == .success(.mount(request)),
                "\(shown) as -o \(fstab.map(quoted).joined(separator: " ")) parses to \(again)")
        }
    }

    /// The command words that a helper form's SOURCE must not be.
    private static let commandWords: Set<String> = ["mount", "unmount", "umount", "version", "help"]

    /// The command line up to the options: `mount MOUNTPOINT`, or the helper
    /// form; nil when the request's mountpoint or source cannot be spelled there.
    private static func prefix(of request: MountRequest) -> [String]? {
        guard !request.mountpoint.hasPrefix("-") else { return nil }
        guard let source = request.source else { return ["mount", request.mountpoint] }
        guard !source.hasPrefix("-"), !commandWords.contains(source) else { return nil }
        return [source, request.mountpoint] + (request.fake ? ["-f"] : [])
    }

    /// Every option as `name → value` (nil for a bare flag), in both spellings.
    private static func options(of request: MountRequest) -> [(flag: String, fstab: String?, value: String?)] {
        var options: [(String, String?, String?)] = []
        if let backend = request.backend { options.append(("--backend", "backend", backend.rawValue)) }
        if let url = request.siteURL { options.append(("--site-url", "site_url", url)) }
        if let store = request.localStore { options.append(("--local-store", "local_store", store)) }
        options.append(("--cache-ttl", "cache_ttl", String(request.cacheTTL)))
        options.append(("--timeout", "timeout", String(request.timeout)))
        options.append(("--max-stale", "max_stale", String(request.maxStale)))
        if request.readOnly { options.append(("--read-only", "ro", nil)) }
        if request.allowOther { options.append(("--allow-other", "allow_other", nil)) }
        if let uid = request.uid { options.append(("--uid", "uid", String(uid))) }
        if let gid = request.gid { options.append(("--gid", "gid", String(gid))) }
        options.append(("--umask", "umask", String(request.umask, radix: 8)))
        for project in request.projects { options.append(("--project", "project", project)) }
        if request.foreground { options.append(("--foreground", nil, nil)) }
        if let file = request.credentialsFile { options.append(("--credentials-file", "credentials_file", file)) }
        if request.keepNewline { options.append(("--keep-newline", "keep_newline", nil)) }
        if request.expandReferences { options.append(("--expand-references", "expand_references", nil)) }
        if request.includeImports { options.append(("--include-imports", "include_imports", nil)) }
        options.append(("--log-level", "log_level", request.logLevel.name))
        if request.readyPipe { options.append(("--ready-pipe", nil, nil)) }
        return options
    }

    private static func flagSpelling(of request: MountRequest) -> [String]? {
        guard let prefix = prefix(of: request) else { return nil }
        return prefix + options(of: request).map { option in option.value.map { "\(option.flag)=\($0)" } ?? option.flag }
    }

    /// nil when a value holds a comma, which an -o list cannot carry.
    private static func fstabSpelling(of request: MountRequest) -> [String]? {
        guard let prefix = prefix(of: request) else { return nil }
        var items: [String] = []
        var flags: [String] = []
        for option in options(of: request) {
            guard let name = option.fstab else {
                flags.append(option.flag)
                continue
            }
            guard let value = option.value else {
                items.append(name)
                continue
            }
            guard !value.utf8.contains(UInt8(ascii: ",")) else { return nil }
            items.append("\(name)=\(value)")
        }
        return prefix + ["-o", items.joined(separator: ",")] + flags
    }
}
