// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "celldrift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "celldrift", targets: ["celldrift"]),
        .library(name: "CAN", targets: ["CAN"]),
        .library(name: "DBC", targets: ["DBC"]),
        .library(name: "Simulator", targets: ["Simulator"]),
        .library(name: "Consistency", targets: ["Consistency"]),
        .library(name: "Pack", targets: ["Pack"]),
        .library(name: "TOML", targets: ["TOML"]),
        .library(name: "Model", targets: ["Model"]),
        // For the fuzz targets' package (Fuzz/).
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "Gateway", targets: ["Gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // Headers only: libcurl itself is opened at run time (Sources/CCurl/shim.h says why).
        .systemLibrary(
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CReadBuffer"),
        .target(name: "MQTT", dependencies: ["CMosquitto", "CReadBuffer"]),
        .target(name: "Uplink", dependencies: ["MQTT", "Outbox", "JSON", "CCurl"]),
        .target(name: "CAN", dependencies: ["CZlib", "CDeflate"]),
        .target(name: "DBC", dependencies: ["CAN"]),
        .target(name: "JSON"),
        .target(name: "TOML"),
        .target(name: "Simulator", dependencies: ["CAN", "DBC", "JSON", "Consistency"]),
        .target(name: "Outbox", dependencies: ["CSQLite", "JSON"]),
        .target(name: "Consistency"),
        .target(name: "Pack", dependencies: ["DBC", "TOML"]),
        .target(name: "Model", dependencies: ["CAN", "Consistency", "JSON"]),
        .target(name: "Report", dependencies: ["CAN", "Outbox"]),
        .target(name: "Training", dependencies: ["CAN", "JSON", "Simulator", "Consistency", "Model"]),
        .target(name: "Agent", dependencies: ["CAN", "DBC", "JSON", "TOML", "Pack", "Consistency", "Outbox", "Model"]),
        .target(name: "Gateway", dependencies: ["Agent", "MQTT", "Uplink", "CAN", "DBC", "JSON", "Model", "Outbox",
                                                .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "celldrift",
            dependencies: [
                "Gateway", "Agent", "Model", "Report", "Training", "CAN", "DBC", "JSON", "Simulator", "Outbox", "Consistency", "Pack", "TOML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The functions the daemon runs placed together (scripts/release/hot_functions.py writes the list):
            // its code then stays on fewer resident pages. Names no longer in the binary are skipped.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                           "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/release/hot-functions.txt",
                                           "-Xlinker", "--no-warn-symbol-ordering"], .when(configuration: .release))]
        ),
        .testTarget(name: "CANTests", dependencies: ["CAN"]),
        .testTarget(name: "MQTTTests", dependencies: ["CReadBuffer", "MQTT"]),
        .testTarget(name: "DBCTests", dependencies: ["DBC", "CAN"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "TOMLTests", dependencies: ["TOML"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "DBC", "CAN"]),
        .testTarget(name: "OutboxTests", dependencies: ["Outbox"]),
        .testTarget(name: "ConsistencyTests", dependencies: ["Consistency"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "ReportTests", dependencies: ["Report"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Agent", "MQTT", "Outbox", "CAN", "CReadBuffer", "Uplink",
                                                       .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Outbox"]),
    ],
    swiftLanguageModes: [.v6]
)
