import InfisicalFSCLI
import Logging
import Testing

@Suite("Command-line parsing")
struct ArgumentParserTests {
    func mount(_ arguments: [String]) throws -> MountRequest {
        guard case .mount(let request) = try ArgumentParser.parse(["mount"] + arguments) else {
            throw CommandFailure(.failure, "not a mount")
        }
        return request
    }

    func failure(_ arguments: [String]) -> CommandFailure? {
        do {
            _ = try ArgumentParser.parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    @Test func commands() throws {
        #expect(try ArgumentParser.parse(["--version"]) == .version)
        #expect(try ArgumentParser.parse(["--help"]) == .help)
        #expect(try ArgumentParser.parse(["unmount", "/m"]) == .unmount(mountpoint: "/m"))
        #expect(failure([])?.code == .usage)
        #expect(failure(["frobnicate"])?.code == .usage)
    }

    @Test func flagsInBothSpellings() throws {
        let request = try mount([
            "/mnt/s", "--backend", "local", "--local-store=/var/s.db", "--cache-ttl", "0", "--read-only",
            "--allow-other", "--uid", "1001", "--gid=1002", "--umask", "027", "--project", "a", "--project", "b",
            "--foreground", "--keep-newline", "--log-level", "debug",
        ])
        #expect(request.mountpoint == "/mnt/s")
        #expect(request.backend == .local)
        #expect(request.localStore == "/var/s.db")
        #expect(request.cacheTTL == 0)
        #expect(request.readOnly && request.allowOther && request.foreground && request.keepNewline)
        #expect(request.uid == 1001 && request.gid == 1002)
        #expect(request.umask == 0o027)
        #expect(request.projects == ["a", "b"])
        #expect(request.logLevel == .debug)
    }

    @Test func fstabOptionsMeanTheSame() throws {
        let flags = try mount([
            "/m", "--read-only", "--allow-other", "--uid", "5", "--cache-ttl", "60", "--project", "x", "--timeout", "2.5",
            "--max-stale", "600",
        ])
        let fstab = try mount([
            "/m", "-o", "ro,allow_other,uid=5,cache_ttl=60,project=x,timeout=2.5,max_stale=600,_netdev,nofail,defaults",
        ])
        #expect(flags == fstab)
        #expect(fstab.timeout == 2.5 && fstab.maxStale == 600)
        let offline = try mount(["/m", "--offline-cache", "rel/cache.db"])
        #expect(offline == (try mount(["/m", "-o", "offline_cache=rel/cache.db"])))
        #expect(offline.withAbsolutePaths(from: "/srv").offlineCache == "/srv/rel/cache.db")
        // Separators are bytes: a combining mark after "," or "=" does not hide them.
        let marked = try mount(["/m", "-o", "project=\u{600},ro"])
        #expect(marked.readOnly && marked.projects == ["\u{600}"])
        #expect(failure(["mount", "/m", "-o", "a\nb"])?.message.contains("\n") == false)
        let defaults = try mount(["/m"])
        #expect(defaults.timeout == 10 && defaults.maxStale == 86_400)
        let joined = try mount(["-oro,local_store=/s.db,keep_newline", "/m"])
        #expect(joined.readOnly && joined.keepNewline && joined.localStore == "/s.db")
    }

    @Test(arguments: [
        ["/m", "--cache-ttl", "-1"], ["/m", "--cache-ttl", "soon"], ["/m", "--umask", "999"], ["/m", "--uid", "me"],
        ["/m", "--backend", "s3"], ["/m", "--site-url", "ftp://x"], ["/m", "-o", "bogus"], ["/m", "-o", "uid"],
        ["/m", "-o", "ro=1"], ["/m", "--read-only=yes"], ["/m", "/n"], [], ["/m", "--cache-ttl"],
        ["/m", "--client-secret", "s"], ["/m", "--timeout", "0"], ["/m", "--timeout", "nan"], ["/m", "-o", "timeout=301"],
        ["/m", "--max-stale", "-5"], ["/m", "-o", "max_stale=1.5"],
    ])
    func badArgumentsAreUsageErrors(arguments: [String]) {
        #expect(failure(["mount"] + arguments)?.code == .usage)
    }

    @Test func backendFollowsCredentialsNotTheSiteURL() throws {
        let request = try mount(["/m"])
        #expect(request.resolvedBackend(environment: [:]) == .local)
        #expect(request.resolvedBackend(environment: ["INFISICAL_SITE_URL": "https://x"]) == .local)
        #expect(request.resolvedBackend(environment: ["INFISICAL_ACCESS_TOKEN": "t"]) == .infisical)
        #expect(try mount(["/m", "--credentials-file", "/c"]).resolvedBackend(environment: [:]) == .infisical)
        #expect(try mount(["/m", "--backend", "local"]).resolvedBackend(environment: ["INFISICAL_ACCESS_TOKEN": "t"]) == .local)
    }

    @Test func relativePathsAreMadeAbsolute() throws {
        let request = try mount(["mnt", "--local-store", "s.db", "--credentials-file", "/etc/c"])
            .withAbsolutePaths(from: "/home/u")
        #expect(request.mountpoint == "/home/u/mnt")
        #expect(request.localStore == "/home/u/s.db")
        #expect(request.credentialsFile == "/etc/c")
    }

    @Test func localStoreDefaultsToXDGDataHome() throws {
        let request = try mount(["/m"])
        #expect(request.resolvedLocalStore(environment: ["XDG_DATA_HOME": "/d"]) == "/d/infisicalfs/store.db")
        #expect(request.resolvedLocalStore(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/infisicalfs/store.db")
    }

    // The mount(8) helper form: `infisicalfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]`.

    func helper(_ arguments: [String]) throws -> MountRequest {
        guard case .mount(let request) = try ArgumentParser.parse(arguments) else {
            throw CommandFailure(.failure, "not a mount")
        }
        return request
    }

    @Test func helperFormAsMountAndMountFuse3RunIt() throws {
        // mount(8) -> /sbin/mount.fuse.infisicalfs, as traced on util-linux 2.38.
        let viaMount = try helper([
            "infisical", "/mnt/s", "-o", "ro,allow_other,uid=1001,gid=1002,cache_ttl=60,credentials_file=/etc/i.env,_netdev,nofail",
            "-t", "fuse.infisicalfs",
        ])
        var expected = try mount([
            "/mnt/s", "--read-only", "--allow-other", "--uid", "1001", "--gid", "1002", "--cache-ttl", "60",
            "--credentials-file", "/etc/i.env",
        ])
        expected.source = "infisical"
        #expect(viaMount == expected)
        #expect(!viaMount.foreground && !viaMount.fake)
        // mount.fuse3 drops _netdev/nofail and adds dev,suid.
        let viaFuse3 = try helper(["none", "/mnt/s", "-o", "ro,uid=5,dev,suid"])
        #expect(viaFuse3.readOnly && viaFuse3.uid == 5 && viaFuse3.source == "none")
        #expect(viaFuse3.resolvedBackend(environment: [:]) == .local)
    }

    @Test func helperFormSourceLocalSelectsTheLocalStore() throws {
        let request = try helper(["local:/var/lib/infisicalfs/store.db", "/m"])
        #expect(request.backend == .local)
        #expect(request.localStore == "/var/lib/infisicalfs/store.db")
        #expect(request.mountpoint == "/m")
        // Options come after the source and win.
        #expect(try helper(["local:/a.db", "/m", "-o", "local_store=/b.db"]).localStore == "/b.db")
        #expect(failure(["local:", "/m"])?.code == .usage)
        // Any other source is only a label.
        let label = try helper(["infisical", "/m"])
        #expect(label.backend == nil && label.localStore == nil)
    }

    @Test func helperFormMountFlags() throws {
        let quiet = try helper(["none", "/m", "-n", "-v", "-o", "ro"])
        #expect(quiet.readOnly && !quiet.fake && !quiet.foreground)
        #expect(try helper(["none", "/m", "-f", "-o", "ro"]).fake)
        #expect(try helper(["none", "/m", "-fnv"]).fake)
        // -s: unknown options are ignored rather than refused, wherever -s stands.
        #expect(failure(["none", "/m", "-o", "ro,frobnicate=1"])?.code == .usage)
        #expect(try helper(["none", "/m", "-o", "ro,frobnicate=1", "-s"]).readOnly)
        #expect(try helper(["none", "/m", "-sv", "-o", "frobnicate"]).source == "none")
        // Flags still work, so the detaching mount can re-run itself with --foreground --ready-pipe.
        let daemon = try helper(["none", "/m", "-o", "ro", "--foreground", "--ready-pipe"])
        #expect(daemon.foreground && daemon.readyPipe && daemon.readOnly)
        #expect(failure(["none", "/m", "-N", "/proc/1/ns/mnt"])?.code == .usage)
        #expect(failure(["none", "/m", "-t"])?.code == .usage)
        #expect(failure(["none", "/m", "/n"])?.code == .usage)
    }

    @Test func mountHelperOptionsAreIgnored() throws {
        let request = try helper([
            "none", "/m", "-o",
            "rw,helper=fuse,fsname=infisical,subtype=infisicalfs,user=alice,nodiratime,x-systemd.requires=network-online.target,comment=x,noauto",
        ])
        var expected = try mount(["/m"])
        expected.source = "none"
        #expect(request == expected)
        // In the ordinary form -f is still --foreground, not mount's "fake".
        #expect(try mount(["/m", "-f"]).foreground)
        #expect(try mount(["/m", "-f"]).fake == false)
        // Not the helper form: a lone unknown word, or a flag second.
        #expect(failure(["frobnicate"])?.code == .usage)
        #expect(failure(["frobnicate", "--foreground"])?.code == .usage)
    }
}
