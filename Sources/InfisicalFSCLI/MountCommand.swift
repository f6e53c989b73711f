import Foundation
import FuseKit
import Glibc
import HTTPClient
import InfisicalAPI
import InfisicalFS
import LocalStore
import Logging
import SecretsCore

/// `infisicalfs mount`: checks the mountpoint, opens the backend, mounts,
/// and serves until unmounted or signalled.
struct MountCommand {
    let request: MountRequest
    let environment: [String: String]

    /// Mounts in this process and serves until the mount ends.
    func runInForeground() throws(CommandFailure) {
        let logger = makeLogger()
        let readiness = ReadinessReporter(enabled: request.readyPipe)
        let systemd = SystemdNotifier(environment: environment)
        func tellSystemd(_ state: String) {
            if let problem = systemd.notify(state) { logger.warning("systemd notification: \(problem)") }
        }
        var serving = false
        do throws(CommandFailure) {
            try checkMountpoint()
            let (backend, projects, offline) = try openBackend(logger: logger)
            let cache = CachingBackend(
                backend, ttl: TimeInterval(request.cacheTTL), maxStale: TimeInterval(request.maxStale),
                offline: offline, logger: logger.named("cache"))
            // The login check listed the projects: the first lookups need not ask again.
            if let projects { cache.prime(projects: projects) }
            var options = FileSystemOptions(uid: request.uid ?? getuid(), gid: request.gid ?? getgid())
            options.umask = request.umask
            options.readOnly = request.mountsReadOnly
            if request.impliesReadOnly && !request.readOnly {
                logger.notice(
                    "mounting read-only: with expand_references or include_imports, files show values "
                        + "that are not their folder's stored ones, so writing them back is refused (EROFS)")
            }
            options.keepNewline = request.keepNewline
            options.projects = request.projects
            options.operationTimeout = request.timeout
            options.statusLabels = [
                ("version", .string(InfisicalFSMain.version)), ("mountpoint", .string(request.mountpoint)),
                ("pid", .integer(Int(getpid()))),
            ]
            // A read-only mount has nothing to commit and no per-open state
            // (it has no /.crypto): cached reads need not reach the daemon.
            options.readsWithoutOpen = request.mountsReadOnly
            let fileSystem = SecretsFileSystem(backend: cache, options: options, logger: logger.named("fs"))
            var configuration = MountConfiguration()
            configuration.allowOther = request.allowOther
            configuration.readOnly = request.mountsReadOnly
            configuration.readsWithoutOpen = options.readsWithoutOpen
            let session: FuseSession
            do {
                session = try FuseSession(
                    mountpoint: request.mountpoint, configuration: configuration, operations: fileSystem,
                    logger: logger)
            } catch {
                throw CommandFailure(.mountFailed, "cannot mount \(request.mountpoint): \(error)")
            }
            logger.notice("mounted \(request.mountpoint) (\(backendDescription))")
            readiness.ready()
            tellSystemd("READY=1\nSTATUS=serving \(request.mountpoint) (\(backendDescription))")
            serving = true
            do {
                try session.run()
            } catch {
                throw CommandFailure(.failure, "\(request.mountpoint): \(error)")
            }
            logger.notice("unmounted \(request.mountpoint)")
            tellSystemd("STOPPING=1\nSTATUS=unmounted \(request.mountpoint)")
        } catch {
            readiness.failed(error)
            tellSystemd((serving ? "STOPPING=1\n" : "") + "STATUS=failed: \(error.message)")
            if error.loginRefused, !request.readyPipe { holdExitAfterRefusedLogin(error, logger: logger) }
            throw error
        }
    }

    /// A mount in the foreground is usually kept up by a supervisor
    /// (systemd, Kubernetes, Docker) that restarts it within seconds, and
    /// Infisical locks a universal-auth client ID out, for every host that
    /// shares it, after three refused logins each less than 30 s after the
    /// last. So a refused login holds the exit as long as a running mount
    /// would wait before trying again; SIGINT or SIGTERM end the wait.
    private func holdExitAfterRefusedLogin(_ failure: CommandFailure, logger: Logger) {
        let seconds = InfisicalBackend.waitAfterRefusedLogin()
        logger.error(failure.message)
        logger.notice(
            "waiting \(Int(seconds.rounded(.up))) s before exiting, so that a restart cannot log in again sooner "
                + "and lock the identity out (SIGTERM or Ctrl-C exits now)")
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return }
            var timeout = timespec(tv_sec: Int(left), tv_nsec: Int((left - left.rounded(.down)) * 1e9))
            // The signals are blocked in every thread (main.swift): wait for one here.
            if sigtimedwait(&signals, nil, &timeout) >= 0 { return }
            if errno != EINTR { return }  // EAGAIN: the wait is over
        }
    }

    private var backendDescription: String {
        switch request.resolvedBackend(environment: environment) {
        case .local: "local store \(request.resolvedLocalStore(environment: environment))"
        case .infisical: "Infisical at \(request.siteURL ?? environment["INFISICAL_SITE_URL"] ?? InfisicalConfiguration.defaultSiteURL)"
        }
    }

    func checkMountpoint() throws(CommandFailure) {
        let path = request.mountpoint
        switch Mounts.state(of: path) {
        case .directory: return
        case .missing: throw CommandFailure(.mountpointMissing, "mountpoint \(path) does not exist")
        case .notDirectory: throw CommandFailure(.mountpointNotDirectory, "mountpoint \(path) is not a directory")
        case .mounted: throw CommandFailure(.mountState, "\(path) is already mounted")
        case .disconnected:
            throw CommandFailure(
                .mountState, "\(path) is a dead mount (its daemon is gone); run 'infisicalfs unmount \(path)' first")
        }
    }

    /// The backend, the projects it listed while checking the login
    /// (Infisical), and the offline cache when one was asked for.
    private func openBackend(logger: Logger) throws(CommandFailure)
        -> (any SecretBackend, [Project]?, (any OfflineCopies)?)
    {
        switch request.resolvedBackend(environment: environment) {
        case .infisical:
            return try openInfisical(logger: logger.named("infisical"))
        case .local:
            let path = request.resolvedLocalStore(environment: environment)
            // The default place is infisicalfs's own folder, made when missing;
            // a path the user gave must be in a folder that exists (a typo must
            // not quietly start an empty store somewhere new).
            let createMissingFolders = request.localStore == nil
            do {
                let key = try LocalStoreKey.load(
                    storePath: path, environment: environment, newKeyForExistingFile: false,
                    createMissingFolders: createMissingFolders)
                return (
                    try LocalSecretStore(
                        path: path, key: key, logger: logger.named("store"), createMissingFolders: createMissingFolders),
                    nil, nil
                )
            } catch let mismatch as StoreKeyMismatch {
                throw CommandFailure(.storeKeyMismatch, mismatch.reason)
            } catch {
                throw CommandFailure(.backendUnavailable, "cannot open local store \(path): \(error)")
            }
        }
    }

    /// Credentials and settings from the environment, overridden by the
    /// credentials file; then a login, so a mount that cannot work fails
    /// before mounting.
    private func openInfisical(logger: Logger) throws(CommandFailure)
        -> (any SecretBackend, [Project]?, (any OfflineCopies)?)
    {
        var values = environment
        if let path = request.credentialsFile {
            do {
                values.merge(try CredentialsFile.load(path)) { _, fromFile in fromFile }
            } catch {
                throw CommandFailure(.backendUnavailable, error.reason)
            }
        }
        let credentials: Credentials
        do throws(BackendError) {
            guard let found = try Credentials.from(values) else {
                throw BackendError(
                    .unauthenticated,
                    "no credentials: set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET, "
                        + "INFISICAL_ACCESS_TOKEN, INFISICAL_AWS_IAM_AUTH_IDENTITY_ID, INFISICAL_GCP_AUTH_IDENTITY_ID "
                        + "(with INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH for GCP IAM), "
                        + "INFISICAL_KUBERNETES_IDENTITY_ID, INFISICAL_AZURE_AUTH_IDENTITY_ID, "
                        + "INFISICAL_OIDC_AUTH_IDENTITY_ID or INFISICAL_JWT_AUTH_IDENTITY_ID (with INFISICAL_JWT_PATH)")
            }
            credentials = found
        } catch {
            throw CommandFailure(.authenticationFailed, error.reason)
        }
        let siteURL =
            request.siteURL ?? values["INFISICAL_SITE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? InfisicalConfiguration.defaultSiteURL
        var configuration = InfisicalConfiguration(siteURL: siteURL, credentials: credentials)
        // No single call may take longer than a whole operation.
        configuration.requestTimeout = request.timeout
        configuration.expandReferences = request.expandReferences
        configuration.includeImports = request.includeImports
        let transport = CurlTransport(tls: TLSConfiguration.fromEnvironment(values), logger: logger.named("http"))
        let backend = InfisicalBackend(configuration: configuration, transport: transport, logger: logger)
        let offline = try openOfflineCache(
            partition: "\(siteURL) \(credentials.identityName) expand=\(request.expandReferences) imports=\(request.includeImports)",
            values: values, logger: logger.named("offline"))
        do {
            return (backend, try backend.authenticate(), offline)
        } catch {
            let failure = (error as? BackendError) ?? BackendError(.internalError, "\(error)")
            // With an offline cache, an unreachable Infisical is an outage to
            // ride out with the kept copies; refused credentials never are.
            if offline != nil, [.unavailable, .timedOut].contains(failure.kind) {
                logger.warning("Infisical at \(siteURL) cannot be reached (\(failure.reason)); mounting with the offline cache")
                return (backend, nil, offline)
            }
            throw CommandFailure(
                .authenticationFailed, "cannot use Infisical at \(siteURL): \(failure.reason)",
                loginRefused: [.unauthenticated, .permissionDenied].contains(failure.kind))
        }
    }

    private func openOfflineCache(partition: String, values: [String: String], logger: Logger) throws(CommandFailure)
        -> (any OfflineCopies)?
    {
        guard let path = request.offlineCache else { return nil }
        do {
            let key = try LocalStoreKey.load(storePath: path, environment: values)
            return try OfflineCache(path: path, key: key, partition: partition, logger: logger)
        } catch {
            throw CommandFailure(.backendUnavailable, "cannot open the offline cache \(path): \(error)")
        }
    }

    private func makeLogger() -> Logger {
        let handler: any LogHandler = request.readyPipe ? SyslogLogHandler() : StandardErrorLogHandler()
        return Logger(label: "mount", handler: handler, minimumLevel: request.logLevel)
    }
}

/// Tells a detaching parent, through the pipe on standard output, whether
/// the mount came up; then lets go of the pipe so the parent can exit.
struct ReadinessReporter {
    let enabled: Bool

    func ready() { report("READY\n") }

    func failed(_ failure: CommandFailure) {
        report("ERROR \(failure.code.rawValue) \(failure.message)\n")
    }

    private func report(_ line: String) {
        guard enabled else { return }
        FileHandle.standardOutput.write(Data(line.utf8))
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 {
            dup2(null, 1)
            close(null)
        }
    }
}
