import Foundation
import FuseKit
import Glibc

/// The whole command line: parse, run, report one line, exit with a code.
public enum InfisicalFSMain {
    public static let version = "0.1.0"

    public static func run(_ arguments: [String], environment: [String: String]) -> Int32 {
        do {
            try execute(arguments, environment: environment)
            return ExitCode.success.rawValue
        } catch {
            printError("infisicalfs: \(error.message)")
            if error.code == .usage { printError("Try 'infisicalfs --help'.") }
            return error.code.rawValue
        }
    }

    static func execute(_ arguments: [String], environment: [String: String]) throws(CommandFailure) {
        switch try ArgumentParser.parse(arguments) {
        case .version:
            print("infisicalfs \(version)")
        case .help:
            print(helpText)
        case .unmount(let mountpoint):
            guard Mounts.state(of: mountpoint) == .mounted || Mounts.state(of: mountpoint) == .disconnected else {
                throw CommandFailure(.mountState, "\(mountpoint) is not a FUSE mount")
            }
            do {
                try Mounts.unmount(mountpoint)
            } catch {
                throw CommandFailure(.failure, error.description)
            }
        case .mount(let given):
            try given.validate(environment: environment)
            // mount -f: mount(8) only wants to know the arguments are good.
            if given.fake { return }
            let request = given.withAbsolutePaths(from: FileManager.default.currentDirectoryPath)
            let command = MountCommand(request: request, environment: environment)
            if request.foreground {
                if request.readyPipe {
                    // A daemon: its own session, and no hold on the directory it was started in.
                    _ = setsid()
                    _ = chdir("/")
                }
                try command.runInForeground()
            } else {
                try command.checkMountpoint()
                try Detach.mountInBackground(arguments: arguments, mountpoint: request.mountpoint)
            }
        }
    }

    private static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static let helpText = """
        infisicalfs \(version): Infisical secrets as files

        Usage:
          infisicalfs mount MOUNTPOINT [options]   mount; returns once the mount is ready
          infisicalfs mount MOUNTPOINT --foreground
                                                   stay in the foreground; SIGINT/SIGTERM unmount
          infisicalfs unmount MOUNTPOINT
          infisicalfs SOURCE MOUNTPOINT [-sfnv] -o OPTIONS
                                                   the mount(8) helper form (mount -t fuse.infisicalfs);
                                                   SOURCE local:PATH means --backend local --local-store PATH,
                                                   any other SOURCE is a label
          infisicalfs --version | --help

        Options (each also as -o name=value, the fstab form):
          --backend infisical|local   backend=      where secrets live (default: infisical when
                                                    credentials are in the environment, else local)
          --site-url URL              site_url=     Infisical base URL (env INFISICAL_SITE_URL)
          --local-store PATH          local_store=  the local store (default
                                                    $XDG_DATA_HOME/infisicalfs/store.db)
          --cache-ttl SECONDS         cache_ttl=    read-through cache lifetime; 0 disables (300)
          --timeout SECONDS           timeout=      every file operation answers within this (10)
          --max-stale SECONDS         max_stale=    while Infisical is unreachable, serve cached
                                                    values up to this long past expiry (86400)
          --read-only                 ro            refuse every change with EROFS
          --allow-other               allow_other   let other users in; the modes decide
          --uid N, --gid N            uid=, gid=    owner shown (default: the mounting user)
          --umask NNN                 umask=        modes shown (default 077: files 0600, dirs 0700)
          --project ID_OR_SLUG        project=      projects shown at the root (repeatable)
          --keep-newline              keep_newline  store file content exactly, final newline included
          --expand-references         expand_references
                                                    show values with ${...} references expanded by
                                                    Infisical; implies --read-only; Infisical only
          --include-imports           include_imports
                                                    show the secrets of imported folders in the folders
                                                    that import them; implies --read-only; Infisical only
          --credentials-file PATH     credentials_file=
                                                    KEY=VALUE credentials (mode 0600)
          --offline-cache PATH        offline_cache=
                                                    keep what was read, encrypted, and serve it after a
                                                    restart while Infisical is unreachable; Infisical only
          --log-level LEVEL           log_level=    debug, info, notice, warning, error (info)
          --foreground, -f                          do not detach

        Credentials come from the Infisical SDKs' environment variables, never from flags.
        Under systemd (Type=notify), the daemon reports READY=1 and STOPPING=1 to $NOTIFY_SOCKET.
        Exit codes: 0 ok, 1 failure, 2 usage, 3 no mountpoint, 4 mountpoint not a directory,
        5 already mounted / not mounted, 6 backend cannot be opened, 7 mount refused,
        8 Infisical refused the credentials or cannot be reached.
        """
}
