// swift-tools-version:6.0
import PackageDescription

// Layers (dependencies point down only), as in DESIGN.md:
//   tokenvault -> VaultAPI -> VaultScheduler -> VaultCore -> EntraClient
//   -> Postgres | HTTPServer | HTTPClient | Crypto -> CLibPQ | CMicroHTTPD | CCurl | COpenSSL
// Each C module is imported by exactly one Swift module.
let package = Package(
    name: "TokenVault",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tokenvault", targets: ["tokenvault"]),
        .executable(name: "entra-sim", targets: ["entra-sim"]),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),

        .target(name: "Logging"),
        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "HTTPServer", dependencies: ["CMicroHTTPD", "Logging"]),
        .target(name: "HTTPClient", dependencies: ["CCurl", "Logging"]),

        .target(name: "EntraClient", dependencies: ["HTTPClient", "Crypto"]),
        .target(name: "VaultCore", dependencies: ["EntraClient", "Crypto", "Postgres", "Logging"]),
        .target(name: "VaultAPI", dependencies: ["VaultCore", "EntraClient", "HTTPServer", "Crypto", "Postgres", "Logging"]),
        .target(name: "EntraSimulator", dependencies: ["HTTPServer", "Crypto", "Logging"]),
        .executableTarget(name: "entra-sim", dependencies: ["EntraSimulator"]),
        .executableTarget(name: "tokenvault", dependencies: ["VaultAPI", "VaultCore", "Postgres", "Crypto", "Logging"]),

        .testTarget(
            name: "TokenVaultTests",
            dependencies: ["VaultAPI", "VaultCore", "Postgres", "Crypto", "HTTPServer", "HTTPClient", "Logging", "EntraClient", "EntraSimulator"]
        ),
    ]
)
