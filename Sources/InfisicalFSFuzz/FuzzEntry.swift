// The fuzzing executable (docs/TESTING.md, "Fuzzing").
//
// Built by scripts/fuzz.sh with libFuzzer:
//   swift build --product InfisicalFSFuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
// `main` then hands the command line to libFuzzer's driver
// (LLVMFuzzerRunDriver), which runs the target named by
// INFISICALFS_FUZZ_TARGET on each input. `main` stays this file's (SwiftPM
// links executables through it), so libFuzzer's own `main` is never linked.
//
// In the ordinary build `main` replays inputs without libFuzzer:
//   InfisicalFSFuzz TARGET FILE...
// runs each file through the target, prints each broken invariant, and
// exits 1 if there was one.
import Foundation
import FuzzTargets

@main
enum FuzzEntry {
    static func main() {
        #if FUZZING
        exit(runLibFuzzer())
        #else
        exit(replay(Array(CommandLine.arguments.dropFirst())))
        #endif
    }

    static func replay(_ arguments: [String]) -> Int32 {
        guard let name = arguments.first, let target = FuzzTarget.named(name) else {
            print("usage: InfisicalFSFuzz TARGET FILE...   (replays inputs without libFuzzer)")
            for target in FuzzTarget.all { print("  \(target.name): \(target.summary)") }
            return 2
        }
        var failed = false
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                failed = true
                continue
            }
            let broken = target.run(Array(data))
            print("\(path): \(broken.isEmpty ? "ok" : "BROKEN")")
            for finding in broken { print("  \(finding)") }
            failed = failed || !broken.isEmpty
        }
        return failed ? 1 : 0
    }
}

#if FUZZING
/// libFuzzer's entry for a program with its own `main` (FuzzerInterface.h):
/// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target INFISICALFS_FUZZ_TARGET names.
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["INFISICALFS_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget.named(name) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        fatalError("INFISICALFS_FUZZ_TARGET must be one of \(names), not '\(name)'")
    }
    return target
}()

private func runLibFuzzer() -> CInt {
    _ = target  // a bad name fails before libFuzzer starts
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in LLVMFuzzerTestOneInput(data, size) }
}

/// One input. Also exported under libFuzzer's name: where the linker takes
/// libFuzzer's `main` after all (SwiftPM's debug builds reach ours through a
/// `--defsym`), that `main` calls this.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let broken = target.run(input)
    if !broken.isEmpty {
        // A trap, so libFuzzer keeps the input as a crash.
        fatalError("\(target.name): " + broken.joined(separator: "\n"))
    }
    return 0
}
#endif
