// swift-tools-version:6.1
// Benchmarks live in their own package so that building and testing celldrift never pulls in the
// benchmark framework. Run from the repository root: `make bench`.
import Foundation
import PackageDescription

// A path dependency is named after its folder, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "celldrift-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "decode-throughput",
            dependencies: [.product(name: "CAN", package: root), .product(name: "DBC", package: root)],
            path: "Sources/decode-throughput"
        ),
        .executableTarget(
            name: "DecodeBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CAN", package: root),
                .product(name: "DBC", package: root),
                .product(name: "Consistency", package: root),
                .product(name: "Pack", package: root),
                .product(name: "TOML", package: root),
                .product(name: "Model", package: root),
            ],
            path: "Benchmarks/DecodeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
