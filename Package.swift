// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode with complete
/// strict concurrency is the default of tools 6.0; these add warnings as errors
/// and the upcoming features that keep imports honest.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "infisicalfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "infisicalfs", targets: ["infisicalfs"])
    ],
    targets: [
        // C libraries: each reached only through the Swift module named beside it.
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),  // FuseKit
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),  // SecretCrypto
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),  // LocalStore
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),  // HTTPClient

        .target(name: "Logging", swiftSettings: strictSettings),
        .target(name: "FuseKit", dependencies: ["CFuse", "Logging"], swiftSettings: strictSettings),
        .target(name: "SecretCrypto", dependencies: ["COpenSSL"], swiftSettings: strictSettings),
        .target(name: "SecretsCore", dependencies: ["Logging"], swiftSettings: strictSettings),
        .target(
            name: "LocalStore", dependencies: ["CSQLite", "SecretCrypto", "SecretsCore", "Logging"],
            swiftSettings: strictSettings),
        .target(name: "HTTPClient", dependencies: ["CCurl", "Logging"], swiftSettings: strictSettings),
        .target(
            name: "InfisicalAPI", dependencies: ["HTTPClient", "SecretsCore", "SecretCrypto", "Logging"],
            swiftSettings: strictSettings),
        .target(
            name: "InfisicalFS", dependencies: ["FuseKit", "SecretsCore", "SecretCrypto", "Logging"],
            swiftSettings: strictSettings),
        .target(
            name: "InfisicalFSCLI",
            dependencies: ["InfisicalFS", "FuseKit", "SecretsCore", "LocalStore", "InfisicalAPI", "HTTPClient", "Logging"],
            swiftSettings: strictSettings),
        .target(name: "TestSupport", dependencies: ["SecretsCore"], swiftSettings: strictSettings),
        .executableTarget(name: "infisicalfs", dependencies: ["InfisicalFSCLI", "FuseKit"], swiftSettings: strictSettings),
        // Fuzzing (docs/TESTING.md): the targets' logic, and the executable that
        // scripts/fuzz.sh builds with libFuzzer (-sanitize=fuzzer -DFUZZING) and
        // that replays inputs in the ordinary build.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "InfisicalFSCLI", "InfisicalFS", "InfisicalAPI", "HTTPClient", "FuseKit", "SecretsCore", "SecretCrypto",
                "TestSupport", "Logging",
            ],
            swiftSettings: strictSettings),
        .executableTarget(name: "InfisicalFSFuzz", dependencies: ["FuzzTargets"], swiftSettings: strictSettings),

        .testTarget(name: "SecretsCoreTests", dependencies: ["SecretsCore", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "SecretCryptoTests", dependencies: ["SecretCrypto"], swiftSettings: strictSettings),
        .testTarget(
            name: "LocalStoreTests", dependencies: ["LocalStore", "SecretsCore", "SecretCrypto"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "InfisicalFSTests", dependencies: ["InfisicalFS", "FuseKit", "SecretsCore", "TestSupport", "Logging"],
            swiftSettings: strictSettings),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient"], swiftSettings: strictSettings),
        .testTarget(
            name: "InfisicalAPITests", dependencies: ["InfisicalAPI", "HTTPClient", "SecretsCore", "SecretCrypto", "Logging"],
            swiftSettings: strictSettings),
        .testTarget(name: "CLITests", dependencies: ["InfisicalFSCLI"], swiftSettings: strictSettings),
        .testTarget(name: "MountTests", dependencies: [], swiftSettings: strictSettings),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"], swiftSettings: strictSettings),
        .testTarget(name: "BackendContractTests", dependencies: ["SecretsCore", "TestSupport", "LocalStore", "SecretCrypto", "InfisicalAPI", "HTTPClient", "Logging"], swiftSettings: strictSettings),
    ]
)
