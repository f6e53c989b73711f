public import Logging
import CFuse
import Glibc
import Foundation
import Synchronization

/// Why a mount could not be made or served.
public struct MountError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How the kernel is asked to mount.
public struct MountConfiguration: Sendable {
    public var fileSystemName = "infisicalfs"
    public var subtype = "infisicalfs"
    /// Let users other than the mounting one in (their access then follows the modes).
    public var allowOther = false
    /// Mount read-only: the kernel refuses every change with EROFS.
    public var readOnly = false
    /// Most requests served at once: each blocks a libfuse worker thread
    /// while it waits for the backend, so slow backends need many.
    public var maximumThreads = 64
    /// Files are read without OPEN, FLUSH and RELEASE (libfuse's no-open,
    /// mount-wide): a cached read never reaches the file system, reads come
    /// without a handle, and the kernel keeps file pages until the file
    /// system drops them through `KernelCache`. Only for mounts where no
    /// file needs per-open state or a flush, such as read-only ones. Kernels
    /// without no-open support get ordinary opens.
    public var readsWithoutOpen = false
    /// Extra `-o` options for the kernel, as `name` or `name=value`.
    public var extraOptions: [String] = []

    public init() {}

    var optionString: String {
        var options = ["fsname=\(fileSystemName)", "subtype=\(subtype)", "default_permissions"]
        if allowOther { options.append("allow_other") }
        if readOnly { options.append("ro") }
        options += extraOptions
        return options.joined(separator: ",")
    }
}

/// One FUSE mount served by libfuse's low-level API and multithreaded loop.
/// The file system is reached from callbacks through libfuse's user data.
public final class FuseSession: Sendable {
    private let session: SessionPointer
    private let dispatcher: Dispatcher
    private let kernelCache: KernelCache
    private let mountpoint: String
    private let configuration: MountConfiguration
    private let logger: Logger

    /// Creates the session and mounts it; requests queue until `run()`.
    public init(
        mountpoint: String, configuration: MountConfiguration, operations: any FileSystemOperations,
        logger: Logger
    ) throws(MountError) {
        FuseLog.route(to: logger)
        let dispatcher = Dispatcher(
            operations: operations, logger: logger, readsWithoutOpen: configuration.readsWithoutOpen)
        let arguments = ["infisicalfs", "-o", configuration.optionString]
        let created: OpaquePointer? = withCArguments(arguments) { args in
            var operationsTable = Dispatcher.operationsTable
            return fuse_session_new(
                &args, &operationsTable, MemoryLayout<fuse_lowlevel_ops>.size,
                Unmanaged.passUnretained(dispatcher).toOpaque())
        }
        guard let created else { throw MountError("libfuse refused the mount options") }
        guard fuse_session_mount(created, mountpoint) == 0 else {
            fuse_session_destroy(created)
            throw MountError("the kernel refused to mount \(mountpoint)")
        }
        let session = SessionPointer(pointer: created)
        self.session = session
        self.dispatcher = dispatcher
        self.kernelCache = KernelCache(session: session)
        self.mountpoint = mountpoint
        self.configuration = configuration
        self.logger = logger
        operations.attach(kernelCache)
    }

    /// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and so in
    /// every thread started after it. Call first thing in `main`: `run()`
    /// then unblocks them in its own thread only, so they interrupt the loop
    /// instead of landing on a runtime thread libfuse never hears from.
    public static func blockTerminationSignals() {
        var signals = terminationSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    private static var terminationSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        return signals
    }

    /// Serves requests until unmounted or until SIGINT, SIGTERM or SIGHUP,
    /// then unmounts. Blocks the calling thread.
    public func run() throws(MountError) {
        let se = session.pointer
        guard fuse_set_signal_handlers(se) == 0 else { throw MountError("could not install signal handlers") }
        defer { fuse_remove_signal_handlers(se) }
        var signals = Self.terminationSignals
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        defer { pthread_sigmask(SIG_BLOCK, &signals, nil) }
        let config = fuse_loop_cfg_create()
        defer { fuse_loop_cfg_destroy(config) }
        fuse_loop_cfg_set_max_threads(config, UInt32(configuration.maximumThreads))
        fuse_loop_cfg_set_clone_fd(config, 0)
        let status = withExtendedLifetime(dispatcher) { fuse_session_loop_mt(se, config) }
        fuse_session_unmount(se)
        // libfuse reports the signal that ended the loop as its status.
        let ending = abs(status)
        if [SIGINT, SIGTERM, SIGHUP].contains(ending) {
            logger.notice("received signal \(ending), unmounting")
        } else if status != 0 {
            logger.warning("the FUSE loop ended with \(Errno(rawValue: ending))")
        }
    }

    /// Asks the loop to end; `run()` then unmounts and returns.
    public func exit() { fuse_session_exit(session.pointer) }

    deinit {
        kernelCache.detach()
        fuse_session_destroy(session.pointer)
    }
}

/// `struct fuse_session *`, which libfuse makes safe to use from any thread.
struct SessionPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Runs `body` with a C `struct fuse_args` built from `arguments`.
private func withCArguments<R>(_ arguments: [String], _ body: (inout fuse_args) -> R) -> R {
    let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
    for (index, argument) in arguments.enumerated() { argv[index] = strdup(argument) }
    argv[arguments.count] = nil
    defer {
        for index in 0..<arguments.count { free(argv[index]) }
        argv.deallocate()
    }
    var args = cfuse_args(Int32(arguments.count), argv)
    defer { fuse_opt_free_args(&args) }
    return body(&args)
}
