// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tallyd", targets: ["tallyd"]),
        .executable(name: "tally", targets: ["tally"]),
        .library(name: "TallyClient", targets: ["TallyClient"]),
        // For the fuzzers in Fuzz/, a separate package so that this one's build is unaffected.
        .library(name: "TallyFuzzable", targets: ["TallyLedger", "TallyWire", "TallyCodec", "TallyServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // SHA-256 for the state digest (Admin/Health, tallyd verify).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // The command log of several hosts (`--journal postgresql://...`).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The pure state machine: no I/O, no clock, no randomness.
        .target(
            name: "TallyLedger",
            dependencies: [
                .product(name: "HashTreeCollections", package: "swift-collections")
            ]
        ),
        // The protocol: generated tally.v1 code, framing, method names. Nothing of ours, so
        // clients link only this.
        .target(
            name: "TallyWire",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The Ledger's values as tally.v1 messages (and the hot answers written from them
        // byte by byte), and the store's own schema: shared by the server and the store.
        .target(
            name: "TallyCodec",
            dependencies: [
                "TallyLedger", "TallyWire",
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // CRC-32C with the CPU's crc32 instruction (Swift cannot reach it without C).
        .target(name: "CCRC32C"),
        // Snapshot files, checksums, recovery.
        .target(
            name: "TallyStore",
            dependencies: [
                "TallyLedger", "TallyWire", "TallyCodec", "CCRC32C",
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The command log in PostgreSQL that several tallyd nodes share (docs/operations.md,
        // "Several hosts"); the server sees it only through TallyStore's CommandLog.
        .target(
            name: "TallyPostgres",
            dependencies: [
                "TallyLedger", "TallyStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Listener, connections, the Writer, config.
        .target(
            name: "TallyServer",
            dependencies: [
                "TallyLedger", "TallyWire", "TallyCodec", "TallyStore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "TallyClient",
            dependencies: [
                "TallyWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        .executableTarget(
            name: "tallyd",
            dependencies: [
                "TallyServer", "TallyStore", "TallyLedger", "TallyPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "TallyClient", "TallyWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers the test targets share (a seeded generator, a command log in memory).
        .target(name: "TallyTestSupport", dependencies: ["TallyLedger", "TallyStore"], path: "Tests/TallyTestSupport"),
        .testTarget(name: "TallyLedgerTests", dependencies: ["TallyLedger", "TallyTestSupport"]),
        .testTarget(
            name: "TallyWireTests",
            dependencies: [
                "TallyWire",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "TallyCodecTests",
            dependencies: ["TallyCodec", "TallyWire", "TallyLedger", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .testTarget(name: "TallyStoreTests", dependencies: ["TallyStore", "TallyLedger", "TallyWire", "TallyCodec", "TallyTestSupport"]),
        .testTarget(
            name: "TallyServerTests",
            dependencies: [
                "TallyServer", "TallyClient", "TallyWire", "TallyCodec", "TallyLedger", "TallyStore", "TallyTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
