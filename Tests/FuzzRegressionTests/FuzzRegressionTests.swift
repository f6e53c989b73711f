import Foundation
import FuzzTargets
import Testing

/// One checked-in fuzz input: a seed of a corpus or a crash found by
/// libFuzzer (kept after its fix as a regression test).
struct FuzzInput: Sendable, CustomTestStringConvertible {
    let target: String
    let path: String

    var testDescription: String { "\(target): \(path.split(separator: "/").suffix(2).joined(separator: "/"))" }

    /// `Tests/Fuzz/Corpus/<target>/*` and `Tests/Fuzz/Crashes/<target>/*`.
    static let all: [FuzzInput] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz")
        var inputs: [FuzzInput] = []
        for kind in ["Corpus", "Crashes"] {
            for target in FuzzTarget.all {
                let folder = root.appendingPathComponent(kind).appendingPathComponent(target.name).path
                let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                for file in files.sorted() where !file.hasPrefix(".") && file != "README.md" {
                    inputs.append(FuzzInput(target: target.name, path: folder + "/" + file))
                }
            }
        }
        return inputs
    }()
}

/// The fuzz targets' logic in the ordinary test build: every checked-in
/// input runs through the same entry as under libFuzzer, without it.
@Suite("Fuzz inputs replayed")
struct FuzzRegressionTests {
    @Test func everyTargetHasASeedCorpus() {
        for target in FuzzTarget.all {
            #expect(
                FuzzInput.all.contains { $0.target == target.name && $0.path.contains("/Corpus/") },
                "no seed corpus for \(target.name)")
        }
    }

    @Test(arguments: FuzzInput.all)
    func replay(_ input: FuzzInput) throws {
        let target = try #require(FuzzTarget.named(input.target))
        let data = try #require(FileManager.default.contents(atPath: input.path))
        let broken = target.run(Array(data))
        #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
    }
}
