import Foundation
import Testing

/// Every examples/*/run.sh, with the binary under test.
@Suite("examples/", .enabled(if: mountTestsEnabled), .serialized)
struct ExamplesTests {
    static let examples: [String] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples")
            .standardizedFileURL.path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().map { "\(root)/\($0)/run.sh" }.filter { FileManager.default.fileExists(atPath: $0) }
    }()

    @Test func thereAreExamples() {
        #expect(!Self.examples.isEmpty)
    }

    @Test(arguments: examples)
    func exampleRuns(script: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["INFISICALFS"] = infisicalfsBinary
        let result = try run("/bin/bash", [script], environment: environment, timeout: 120)
        #expect(result.status == 0, "\(script): \(result.stderr)")
    }
}
