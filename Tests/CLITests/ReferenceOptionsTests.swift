import InfisicalFSCLI
import Testing

@Suite("expand_references and include_imports on the command line")
struct ReferenceOptionsTests {
    func mount(_ arguments: [String]) throws -> MountRequest {
        guard case .mount(let request) = try ArgumentParser.parse(["mount"] + arguments) else {
            throw CommandFailure(.failure, "not a mount")
        }
        return request
    }

    func usageError(_ arguments: [String]) -> Bool {
        do {
            _ = try ArgumentParser.parse(["mount"] + arguments)
            return false
        } catch {
            return error.code == .usage
        }
    }

    @Test func flagsAndFstabNamesMeanTheSame() throws {
        let flags = try mount(["/m", "--expand-references", "--include-imports"])
        let fstab = try mount(["/m", "-o", "expand_references,include_imports"])
        #expect(flags == fstab)
        #expect(flags.expandReferences && flags.includeImports)
        let defaults = try mount(["/m"])
        #expect(!defaults.expandReferences && !defaults.includeImports)
        #expect(try mount(["-oinclude_imports", "/m"]).includeImports)
    }

    @Test(arguments: [
        ["/m", "--expand-references=yes"], ["/m", "-o", "expand_references=1"], ["/m", "-o", "include_imports=true"],
        ["/m", "--include-imports=no"], ["/m", "--expand_references"],
    ])
    func theyTakeNoValue(arguments: [String]) {
        #expect(usageError(arguments))
    }

    /// Files then show values that are not their folder's stored ones: the mount is read-only.
    @Test func eitherImpliesReadOnly() throws {
        #expect(try mount(["/m", "--expand-references"]).mountsReadOnly)
        #expect(try mount(["/m", "-o", "include_imports"]).mountsReadOnly)
        #expect(try mount(["/m", "-o", "ro"]).mountsReadOnly)
        let plain = try mount(["/m"])
        #expect(!plain.mountsReadOnly)
        // The user's own --read-only is not rewritten: only what the mount does follows.
        #expect(try mount(["/m", "--expand-references"]).readOnly == false)
    }

    @Test func theLocalStoreRefusesThem() throws {
        let token = ["INFISICAL_ACCESS_TOKEN": "t"]
        let choices = [["--expand-references"], ["-o", "include_imports"], ["--include-imports", "--expand-references"]]
        for arguments in choices {
            let explicit = try mount(["/m", "--backend", "local"] + arguments)
            #expect(throws: CommandFailure.self) { try explicit.validate(environment: token) }
            // No credentials: the local store is chosen, and the reason says so.
            let implicit = try mount(["/m"] + arguments)
            do {
                try implicit.validate(environment: [:])
                Issue.record("accepted \(arguments) with the local store")
            } catch {
                #expect(error.code == .usage)
                #expect(error.message.contains("the Infisical backend: the local store has no secret references"))
                #expect(error.message.contains("no Infisical credentials"))
            }
            try implicit.validate(environment: token)
            try mount(["/m", "--backend", "infisical"] + arguments).validate(environment: [:])
        }
        try mount(["/m", "--backend", "local"]).validate(environment: [:])
    }

    /// The usage error comes before anything else is checked (here: a missing
    /// mountpoint would be exit code 3), and also for mount(8)'s fake mount.
    @Test func theBinaryExitsWithTheUsageCode() {
        let local = ["mount", "/nonexistent/mnt", "--backend", "local", "--expand-references"]
        #expect(InfisicalFSMain.run(local, environment: [:]) == 2)
        let fake = ["local:/s.db", "/nonexistent/mnt", "-f", "-o", "include_imports"]
        #expect(InfisicalFSMain.run(fake, environment: [:]) == 2)
    }
}
