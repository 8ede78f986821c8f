import EntraClient
import Foundation
import HTTPServer
import Logging
import VaultCore

/// The service's settings, read from `TOKENVAULT_*` environment variables (see the README's table).
public struct ServiceConfiguration: Sendable {
    /// libpq connection string or URI (`TOKENVAULT_DATABASE_URL`).
    public var databaseURL: String
    /// HTTP settings (`TOKENVAULT_LISTEN`, `TOKENVAULT_HTTP_WORKERS`, limits).
    public var http: HTTPServerConfiguration
    /// Database connections per replica (`TOKENVAULT_DB_POOL_SIZE`).
    public var databasePoolSize: Int
    /// Requests per second allowed per API key (`TOKENVAULT_RATE_LIMIT`).
    public var rateLimitPerSecond: Double
    /// Burst allowed per API key (`TOKENVAULT_RATE_BURST`).
    public var rateLimitBurst: Double
    /// Log level (`TOKENVAULT_LOG_LEVEL`).
    public var logLevel: Logger.Level
    /// Whether each request is logged (`TOKENVAULT_ACCESS_LOG`).
    public var accessLog: Bool
    /// The Microsoft identity platform (`TOKENVAULT_ENTRA_AUTHORITY`, `TOKENVAULT_ENTRA_TIMEOUT`).
    public var entra: EntraConfiguration

    /// Settings with defaults, for the given database.
    public init(databaseURL: String, http: HTTPServerConfiguration = HTTPServerConfiguration(), databasePoolSize: Int = 16,
                rateLimitPerSecond: Double = 50, rateLimitBurst: Double = 100, logLevel: Logger.Level = .info, accessLog: Bool = true,
                entra: EntraConfiguration = EntraConfiguration()) {
        self.databaseURL = databaseURL
        self.http = http
        self.databasePoolSize = databasePoolSize
        self.rateLimitPerSecond = rateLimitPerSecond
        self.rateLimitBurst = rateLimitBurst
        self.logLevel = logLevel
        self.accessLog = accessLog
        self.entra = entra
    }

    /// One documented variable.
    public struct Variable: Sendable {
        /// Name.
        public let name: String
        /// Default, as text.
        public let defaultValue: String
        /// Meaning.
        public let meaning: String
    }

    /// Every variable the service reads (the README's table is generated from the same facts).
    public static let variables: [Variable] = [
        .init(name: "TOKENVAULT_DATABASE_URL", defaultValue: "(required)", meaning: "libpq connection string or postgres:// URI"),
        .init(name: "TOKENVAULT_MASTER_KEYS", defaultValue: "(none)", meaning: "master keys as id:base64 pairs separated by commas; the last is the newest"),
        .init(name: "TOKENVAULT_MASTER_KEY_FILE", defaultValue: "(none)", meaning: "file with one id:base64 master key a line (mode 600), instead of TOKENVAULT_MASTER_KEYS"),
        .init(name: "TOKENVAULT_LISTEN", defaultValue: "127.0.0.1:8400", meaning: "IPv4 address and port to listen on"),
        .init(name: "TOKENVAULT_HTTP_THREADS", defaultValue: "2", meaning: "libmicrohttpd polling threads"),
        .init(name: "TOKENVAULT_HTTP_WORKERS", defaultValue: "64", meaning: "worker threads that run handlers (a handler waiting on Microsoft holds one)"),
        .init(name: "TOKENVAULT_MAX_BODY_BYTES", defaultValue: "65536", meaning: "largest request body (413 above)"),
        .init(name: "TOKENVAULT_MAX_HEADER_BYTES", defaultValue: "16384", meaning: "largest total of header fields (431 above)"),
        .init(name: "TOKENVAULT_CONNECTION_TIMEOUT", defaultValue: "30", meaning: "seconds of inactivity before a connection is closed"),
        .init(name: "TOKENVAULT_MAX_CONNECTIONS", defaultValue: "4096", meaning: "simultaneous connections"),
        .init(name: "TOKENVAULT_DB_POOL_SIZE", defaultValue: "16", meaning: "PostgreSQL connections per replica"),
        .init(name: "TOKENVAULT_RATE_LIMIT", defaultValue: "50", meaning: "requests per second per API key (429 with Retry-After above)"),
        .init(name: "TOKENVAULT_RATE_BURST", defaultValue: "100", meaning: "burst per API key"),
        .init(name: "TOKENVAULT_LOG_LEVEL", defaultValue: "info", meaning: "debug, info, notice, warning or error"),
        .init(name: "TOKENVAULT_ACCESS_LOG", defaultValue: "true", meaning: "log one line per request"),
        .init(name: "TOKENVAULT_ENTRA_AUTHORITY", defaultValue: "https://login.microsoftonline.com", meaning: "the Microsoft identity platform (EntraSimulator in development and tests)"),
        .init(name: "TOKENVAULT_ENTRA_TIMEOUT", defaultValue: "10", meaning: "seconds allowed for one token request to Microsoft"),
    ]

    /// Reads the environment; a malformed value is an error naming the variable.
    public static func fromEnvironment(_ environment: [String: String]) throws(VaultError) -> ServiceConfiguration {
        guard let url = environment["TOKENVAULT_DATABASE_URL"], !url.isEmpty else {
            throw VaultError(.configuration, "TOKENVAULT_DATABASE_URL is not set (a libpq connection string such as postgres://tokenvault@db/tokenvault)")
        }
        var configuration = ServiceConfiguration(databaseURL: url)
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(VaultError) -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw VaultError(.configuration, "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        if let listen = environment["TOKENVAULT_LISTEN"], !listen.isEmpty {
            let (host, port) = try parseListen(listen)
            configuration.http.host = host
            configuration.http.port = port
        }
        if let v = try integer("TOKENVAULT_HTTP_THREADS", 1...64) { configuration.http.pollingThreads = v }
        if let v = try integer("TOKENVAULT_HTTP_WORKERS", 1...1024) { configuration.http.workerThreads = v }
        if let v = try integer("TOKENVAULT_MAX_BODY_BYTES", 1024...(16 << 20)) { configuration.http.maxBodyBytes = v }
        if let v = try integer("TOKENVAULT_MAX_HEADER_BYTES", 1024...(1 << 20)) { configuration.http.maxHeaderBytes = v }
        if let v = try integer("TOKENVAULT_CONNECTION_TIMEOUT", 1...3600) { configuration.http.connectionTimeoutSeconds = v }
        if let v = try integer("TOKENVAULT_MAX_CONNECTIONS", 1...1_000_000) { configuration.http.maxConnections = v }
        if let v = try integer("TOKENVAULT_DB_POOL_SIZE", 1...1000) { configuration.databasePoolSize = v }
        if let v = try integer("TOKENVAULT_RATE_LIMIT", 1...1_000_000) { configuration.rateLimitPerSecond = Double(v) }
        if let v = try integer("TOKENVAULT_RATE_BURST", 1...1_000_000) { configuration.rateLimitBurst = Double(v) }
        if let text = environment["TOKENVAULT_LOG_LEVEL"], !text.isEmpty {
            guard let level = Logger.Level(name: text) else {
                throw VaultError(.configuration, "TOKENVAULT_LOG_LEVEL must be one of debug, info, notice, warning, error")
            }
            configuration.logLevel = level
        }
        if let text = environment["TOKENVAULT_ACCESS_LOG"], !text.isEmpty {
            guard let flag = ["true": true, "1": true, "false": false, "0": false][text.lowercased()] else {
                throw VaultError(.configuration, "TOKENVAULT_ACCESS_LOG must be true or false")
            }
            configuration.accessLog = flag
        }
        if let authority = environment["TOKENVAULT_ENTRA_AUTHORITY"], !authority.isEmpty {
            guard let url = URLComponents(string: authority), ["https", "http"].contains(url.scheme ?? ""), url.host != nil,
                  url.scheme == "https" || ["127.0.0.1", "localhost"].contains(url.host ?? "") else {
                throw VaultError(.configuration, "TOKENVAULT_ENTRA_AUTHORITY must be an https URL (http only on loopback, for EntraSimulator)")
            }
            configuration.entra.authorityURL = authority.hasSuffix("/") ? String(authority.dropLast()) : authority
        }
        if let v = try integer("TOKENVAULT_ENTRA_TIMEOUT", 1...120) { configuration.entra.timeout = .seconds(v) }
        return configuration
    }

    /// Parses `host:port` (IPv4).
    public static func parseListen(_ text: String) throws(VaultError) -> (String, Int) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port),
              parts[0].split(separator: ".").count == 4 else {
            throw VaultError(.configuration, "the listen address must be IPv4:port, such as 127.0.0.1:8400 or 0.0.0.0:8400")
        }
        return (String(parts[0]), port)
    }

    /// The master keys from `TOKENVAULT_MASTER_KEYS` or `TOKENVAULT_MASTER_KEY_FILE`; refuses when neither is set.
    public static func masterKeys(from environment: [String: String]) throws(VaultError) -> MasterKeyRing {
        if let text = environment["TOKENVAULT_MASTER_KEYS"], !text.isEmpty {
            return try MasterKeyRing.parse(text, source: "TOKENVAULT_MASTER_KEYS")
        }
        if let path = environment["TOKENVAULT_MASTER_KEY_FILE"], !path.isEmpty {
            return try MasterKeyRing.load(file: path)
        }
        throw VaultError(.configuration, "no master key: set TOKENVAULT_MASTER_KEYS (id:base64, from `tokenvault keys generate`) or TOKENVAULT_MASTER_KEY_FILE")
    }
}
