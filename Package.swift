// swift-tools-version:6.2
import PackageDescription

/// Keyward: API-token authentication for nginx, Apache and lighttpd, as one FastCGI executable.
///
/// Dependencies point one way: keyward -> KeywardFastCGI -> KeywardGateway -> KeywardCore ->
/// KeywardCrypto, KeywardStore -> KeywardCore, KeywardAdmin (the admin operations, no HTTP) ->
/// KeywardStore, and KeywardAdminHTTP (the JSON API, sessions, the reveal page) -> KeywardAdmin +
/// KeywardGateway. Each C library is imported by exactly one module. docs/ARCHITECTURE.md has the map.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny"), .strictMemorySafety(), .unsafeFlags(["-warnings-as-errors"])]

/// Test targets check memory safety too; the few POSIX calls that set up file modes and sockets
/// are marked `unsafe` where they are made.
let tests: [SwiftSetting] = [.strictMemorySafety(), .unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "keyward",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "keyward", targets: ["keyward"])],
    targets: [
        .systemLibrary(name: "CFastCGI"),
        .systemLibrary(name: "COpenSSL"),
        .systemLibrary(name: "CSQLite"),
        .target(name: "KeywardCrypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "KeywardCore", dependencies: ["KeywardCrypto"], swiftSettings: strict),
        .target(name: "KeywardStore", dependencies: ["KeywardCore", "KeywardCrypto", "CSQLite"], swiftSettings: strict),
        .target(name: "KeywardGateway", dependencies: ["KeywardCore"], swiftSettings: strict),
        .target(name: "KeywardFastCGI", dependencies: ["KeywardGateway", "KeywardCore", "CFastCGI"], swiftSettings: strict),
        .target(name: "KeywardAdmin", dependencies: ["KeywardStore", "KeywardCore", "KeywardCrypto"], swiftSettings: strict),
        .target(
            name: "KeywardAdminHTTP", dependencies: ["KeywardAdmin", "KeywardGateway", "KeywardStore", "KeywardCore", "KeywardCrypto"],
            resources: [.embedInCode("Resources/admin-openapi.json"), .embedInCode("Resources/keyward.css"), .embedInCode("Resources/keyward.js")],
            swiftSettings: strict),
        .executableTarget(
            name: "keyward",
            dependencies: ["KeywardFastCGI", "KeywardAdminHTTP", "KeywardAdmin", "KeywardGateway", "KeywardStore", "KeywardCore", "KeywardCrypto"],
            swiftSettings: strict),
        .executableTarget(
            name: "keyward-pages-bench",
            dependencies: ["KeywardAdminHTTP", "KeywardAdmin", "KeywardGateway", "KeywardStore", "KeywardCore"],
            path: "bench/Sources/keyward-pages-bench", swiftSettings: strict),
        .executableTarget(
            name: "keyward-bench",
            dependencies: ["KeywardGateway", "KeywardStore", "KeywardCore", "KeywardCrypto"],
            path: "bench/Sources/keyward-bench", swiftSettings: strict),
        .testTarget(name: "KeywardCryptoTests", dependencies: ["KeywardCrypto"], resources: [.copy("Vectors")], swiftSettings: tests),
        .testTarget(name: "KeywardCoreTests", dependencies: ["KeywardCore", "KeywardCrypto"], resources: [.copy("Vectors")], swiftSettings: tests),
        .testTarget(name: "KeywardStoreTests", dependencies: ["KeywardStore", "KeywardCore", "KeywardCrypto"], swiftSettings: tests),
        .testTarget(name: "KeywardFastCGITests", dependencies: ["KeywardFastCGI"], swiftSettings: tests),
        .testTarget(
            name: "KeywardAdminTests",
            dependencies: ["KeywardAdmin", "KeywardAdminHTTP", "KeywardGateway", "KeywardStore", "KeywardCore", "KeywardCrypto"], swiftSettings: tests
        ),
        .testTarget(name: "KeywardCLITests", dependencies: ["keyward"], swiftSettings: tests),
        .testTarget(
            name: "KeywardGatewayTests", dependencies: ["KeywardGateway", "KeywardCore", "KeywardStore", "KeywardCrypto"],
            resources: [.copy("Fixtures")], swiftSettings: tests),
    ]
)
