import InfisicalFSCLI
import Testing

/// Every numeric option has a range, checked at parse time: a value outside
/// it is a usage error naming the option and its range, in both spellings;
/// the ends of each range, and the defaults, are accepted.
@Suite("Numeric option ranges")
struct OptionRangeTests {
    private func parse(_ arguments: [String]) -> Result<MountRequest, CommandFailure> {
        Result { () throws(CommandFailure) in
            guard case .mount(let request) = try ArgumentParser.parse(["mount", "/m"] + arguments) else {
                throw CommandFailure(.failure, "not a mount")
            }
            return request
        }
    }

    /// (flag, -o name, the largest value accepted, the smallest refused above it, the range as the message says it)
    static let bounds: [(String, String, String, String, String)] = [
        ("--cache-ttl", "cache_ttl", "31536000", "31536001", "from 0 to 31536000"),
        ("--max-stale", "max_stale", "315360000", "315360001", "from 0 to 315360000"),
        ("--timeout", "timeout", "300", "300.5", "from 0.5 to 300"),
        ("--uid", "uid", "4294967294", "4294967295", "from 0 to 4294967294"),
        ("--gid", "gid", "4294967294", "4294967295", "from 0 to 4294967294"),
        ("--umask", "umask", "777", "1000", "000 to 777"),
    ]

    @Test(arguments: bounds.indices)
    func eachEndOfTheRangeIsAcceptedAndBeyondItRefused(index: Int) throws {
        let (flag, name, largest, beyond, range) = Self.bounds[index]
        let smallest = flag == "--timeout" ? "0.5" : "0"
        for value in [smallest, largest] {
            let byFlag = try parse([flag, value]).get()
            #expect(byFlag == (try parse(["-o", "\(name)=\(value)"]).get()), "\(flag) \(value)")
        }
        for (arguments, spelled) in [([flag, beyond], flag), (["-o", "\(name)=\(beyond)"], "-o \(name)")] {
            guard case .failure(let failure) = parse(arguments) else {
                Issue.record("\(arguments) accepted")
                continue
            }
            #expect(failure.code == .usage)
            // One line naming the option as it was spelled, and its range.
            #expect(failure.message.hasPrefix(spelled + " "), "\(failure.message)")
            #expect(failure.message.contains(range), "\(failure.message)")
            #expect(!failure.message.contains("\n"))
        }
    }

    /// What crashed the daemon (a Double to Int trap on the first `cat
    /// .status`) or locked everyone out ((uid_t)-1 as the owner).
    @Test(arguments: [
        ["--cache-ttl", "9223372036854775807"], ["--max-stale", "9223372036854775807"],
        ["-o", "cache_ttl=9223372036854775807"], ["-o", "max_stale=9223372036854775807"],
        ["--cache-ttl", "9223372036854775808"], ["--cache-ttl", "1e18"], ["--max-stale", "-1"],
        ["--uid", "4294967295"], ["--gid", "4294967295"], ["-o", "uid=4294967295"], ["-o", "gid=4294967295"],
        ["--uid", "4294967296"], ["--uid", "-1"], ["--timeout", "inf"], ["--timeout", "1e308"], ["--umask", "-1"],
    ])
    func valuesThatCrashedOrLockedOutAreUsageErrors(arguments: [String]) {
        guard case .failure(let failure) = parse(arguments) else {
            Issue.record("\(arguments) accepted")
            return
        }
        #expect(failure.code == .usage)
    }

    @Test func theDefaultsAreWithinTheirRanges() throws {
        let request = try parse([]).get()
        #expect(MountRequest.cacheTTLRange.contains(request.cacheTTL))
        #expect(MountRequest.maxStaleRange.contains(request.maxStale))
        #expect(MountRequest.timeoutRange.contains(request.timeout))
        #expect(MountRequest.umaskRange.contains(request.umask))
        #expect(request.cacheTTL == 300 && request.maxStale == 86_400 && request.timeout == 10 && request.umask == 0o077)
    }
}
