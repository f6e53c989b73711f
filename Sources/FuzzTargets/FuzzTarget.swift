/// The fuzz targets' logic (docs/TESTING.md, "Fuzzing"): each takes one
/// input of bytes, drives a parser through its public API, and returns the
/// invariants the run broke. `InfisicalFSFuzz` hands libFuzzer's inputs to
/// it and traps on a broken invariant, so libFuzzer keeps the input;
/// `FuzzRegressionTests` feeds it every checked-in corpus and crash input in
/// the ordinary test build. A crash of the code under test crashes both.
public struct FuzzTarget: Sendable {
    /// The target's name: its folder under `Tests/Fuzz/Corpus/` and `Tests/Fuzz/Crashes/`.
    public let name: String
    /// What the target drives, for `--help` and the docs.
    public let summary: String
    private let body: @Sendable ([UInt8], inout Findings) -> Void

    init(name: String, summary: String, body: @escaping @Sendable ([UInt8], inout Findings) -> Void) {
        self.name = name
        self.summary = summary
        self.body = body
    }

    /// Runs one input; returns the broken invariants, empty when all held.
    public func run(_ input: [UInt8]) -> [String] {
        var findings = Findings()
        body(input, &findings)
        return findings.broken
    }

    public static let all: [FuzzTarget] = [pathParser, optionParser, cryptoRequests, apiResponses]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// The invariants a run broke, each one line.
struct Findings {
    private(set) var broken: [String] = []

    /// Records `message` unless `condition` holds.
    mutating func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { broken.append(message()) }
    }

    mutating func fail(_ message: String) { broken.append(message) }
}

/// Splits an input into a leading selector byte and the rest.
func selector(of input: [UInt8]) -> (UInt8, [UInt8]) {
    guard let first = input.first else { return (0, []) }
    return (first, Array(input.dropFirst()))
}

/// A quoted, escaped form of a string for findings: control characters and
/// non-ASCII shown as escapes, so a finding stays one line.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars.prefix(200) {
        if scalar.isASCII, scalar.value >= 0x20, scalar != "\\", scalar != "\"" {
            result.unicodeScalars.append(scalar)
        } else {
            result += "\\u{\(String(scalar.value, radix: 16))}"
        }
    }
    return result + (text.unicodeScalars.count > 200 ? "…\"" : "\"")
}
