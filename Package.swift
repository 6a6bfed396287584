// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "celldrift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "celldrift", targets: ["celldrift"]),
        .library(name: "CAN", targets: ["CAN"]),
        .library(name: "DBC", targets: ["DBC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "CAN", dependencies: ["CZlib"]),
        .target(name: "DBC", dependencies: ["CAN"]),
        .target(name: "JSON"),
        .executableTarget(
            name: "celldrift",
            dependencies: [
                "CAN", "DBC", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "CANTests", dependencies: ["CAN"]),
        .testTarget(name: "DBCTests", dependencies: ["DBC", "CAN"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
    ],
    swiftLanguageModes: [.v6]
)
