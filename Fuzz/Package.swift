// swift-tools-version:5.4
// libFuzzer targets for Tally. A package of its own so the main package's `swift build` and
// `swift test` never see -sanitize=fuzzer; build and run them with Scripts/fuzz.sh.
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's entry point to
// <Target>_main and links `main` to it, which leaves no room for libFuzzer's own main.
import PackageDescription

let package = Package(
    name: "TallyFuzz",
    dependencies: [
        .package(name: "Tally", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrame",
            dependencies: [
                .product(name: "TallyFuzzable", package: "Tally"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "FuzzRequest",
            dependencies: [
                .product(name: "TallyFuzzable", package: "Tally"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
        .executableTarget(
            name: "FuzzLedger",
            dependencies: [
                .product(name: "TallyFuzzable", package: "Tally"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
    ]
)
