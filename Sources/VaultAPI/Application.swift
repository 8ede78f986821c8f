import EntraClient
import Foundation
import HTTPServer
import Logging
import Postgres
import VaultCore

/// The whole service, wired: database pool, vault, cache invalidation listener, HTTP server.
/// `tokenvault serve`, `tokenvault dev` and the tests all build it this way.
public final class Application: Sendable {
    /// The domain core.
    public let vault: Vault
    /// The HTTP server.
    public let server: HTTPServer
    /// Metrics.
    public let metrics: Metrics
    let listener: PostgresListener
    let logger: Logger
    /// Every route as `METHOD /pattern` (the OpenAPI test checks each is documented).
    public let routes: [String]

    /// Builds the service; nothing listens until `start()`.
    public init(configuration: ServiceConfiguration, keyRing: MasterKeyRing, logger: Logger,
                clock: WallClock = .system, random: RandomSource = .secure) {
        self.logger = logger
        let pool = PostgresPool(.init(connectionString: configuration.databaseURL, maxConnections: configuration.databasePoolSize))
        let vault = Vault(pool: pool, keyRing: keyRing, clock: clock, random: random, logger: logger.named("vault"),
                          entra: EntraClient(configuration: configuration.entra))
        self.vault = vault
        let metrics = Metrics()
        self.metrics = metrics
        self.listener = PostgresListener(
            connectionString: configuration.databaseURL, channels: [Vault.invalidationChannel],
            onNotification: { note in vault.applyInvalidation(note.payload) },
            onReconnect: { vault.dropCaches() })
        let box = ServerBox()
        let api = API(vault: vault, configuration: configuration, metrics: metrics, logger: logger.named("http"),
                      limiter: RateLimiter(perSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst),
                      failureLimiter: RateLimiter(perSecond: 10, burst: 50),
                      serverStatistics: { (box.server?.requestsInFlight ?? 0, box.server?.openConnections ?? 0) })
        let router = api.makeRouter()
        self.routes = router.routes.map { "\($0.method) \($0.pattern)" }
        self.server = HTTPServer(configuration: configuration.http, responder: router, logger: logger.named("http"))
        box.server = server
    }

    /// Checks the schema, loads the system key, starts the listener and the server.
    public func start() throws {
        let status = try vault.withConnection { connection in try Migrations.status(on: connection) }
        guard status.pending.isEmpty, status.edited.isEmpty else {
            throw VaultError(.configuration, "the database schema is not current (pending: \(status.pending.map(String.init).joined(separator: ", ")); edited: \(status.edited.map(String.init).joined(separator: ", "))); run `tokenvault migrate` first")
        }
        try vault.prepare()
        listener.start()
        try server.start()
    }

    /// The port the server listens on.
    public var port: Int { server.port }

    /// Stops accepting, drains requests in progress, closes everything.
    public func stop(gracePeriod: Duration = .seconds(10)) {
        server.shutdown(gracePeriod: gracePeriod)
        listener.stop()
        vault.pool.close()
    }
}

/// Lets the metrics closure reach the server that is built after it.
private final class ServerBox: @unchecked Sendable {
    weak var server: HTTPServer?
}
