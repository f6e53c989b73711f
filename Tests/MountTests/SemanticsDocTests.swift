import Foundation
import Testing

/// Runs every ```console example of docs/SEMANTICS.md, in order, on one mount
/// of the local store, and holds the document to its outputs.
@Suite("docs/SEMANTICS.md examples", .enabled(if: mountTestsEnabled), .serialized)
struct SemanticsDocTests {
    /// One `$ ` line of a console block and the output expected from it.
    struct Example {
        let command: String
        let expected: String
        let line: Int
    }

    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/SEMANTICS.md").path

    /// Splits the ```console blocks into commands (lines starting `$ `) and
    /// the lines after each one, up to the next command or the block's end.
    static func examples(in document: String) -> [Example] {
        var examples: [Example] = []
        var inBlock = false
        var command: (text: String, line: Int)?
        var output: [String] = []
        func finish() {
            if let command {
                let expected = output.isEmpty ? "" : output.joined(separator: "\n") + "\n"
                examples.append(Example(command: command.text, expected: expected, line: command.line))
            }
            command = nil
            output = []
        }
        for (index, line) in document.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if !inBlock {
                if line == "```console" { inBlock = true }
                continue
            }
            if line.hasPrefix("```") {
                finish()
                inBlock = false
            } else if line.hasPrefix("$ ") {
                finish()
                command = (String(line.dropFirst(2)), index + 1)
            } else if command != nil {
                output.append(String(line))
            } else {
                Issue.record("SEMANTICS.md line \(index + 1): output before any command in a console block")
            }
        }
        if inBlock { Issue.record("SEMANTICS.md ends inside a console block") }
        return examples
    }

    /// bash -c in the mountpoint with stderr merged into stdout in order;
    /// `$0` is `bash`, so errors read `bash: line 1: …` as in a terminal.
    static func runExample(_ command: String, in mount: Mount) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        let script = "cd '\(mount.mountpoint)' && exec 2>&1 && " + command
        let result = try run("/bin/bash", ["-c", script, "bash"], environment: environment)
        return result.stdout + result.stderr
    }

    @Test func everyConsoleExampleGivesItsDocumentedOutput() throws {
        let document = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let examples = Self.examples(in: document)
        try #require(examples.count >= 15, "SEMANTICS.md has only \(examples.count) console commands")

        let scratch = try Scratch()
        let mount = try Mount(scratch: scratch)
        defer { mount.stop() }
        for example in examples {
            let actual = try Self.runExample(example.command, in: mount)
            if actual != example.expected {
                Issue.record(
                    """
                    SEMANTICS.md line \(example.line): $ \(example.command)
                    --- expected
                    \(example.expected)--- actual
                    \(actual)---
                    """)
            }
        }
    }
}
