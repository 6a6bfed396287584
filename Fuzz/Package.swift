// swift-tools-version:6.0
// The libFuzzer targets (docs/fuzzing.md) in their own package, built with the fuzzer and address
// sanitizers by `make fuzz`; the product never builds them. Run from the repository root.
import Foundation
import PackageDescription

// A path dependency is named after its folder, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "celldrift-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "celldrift-fuzz",
            dependencies: [
                .product(name: "CAN", package: root), .product(name: "DBC", package: root), .product(name: "TOML", package: root),
                .product(name: "Model", package: root), .product(name: "Agent", package: root),
                .product(name: "Gateway", package: root),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
