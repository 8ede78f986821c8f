import Crypto
import EntraClient
import Foundation
import Logging
import Postgres
import Synchronization

/// One page of a listing.
public struct Page<Item: Sendable>: Sendable {
    /// The items.
    public let items: [Item]
    /// The cursor of the next page, nil on the last one.
    public let nextCursor: String?
}

/// Changes made in one transaction, with the audit events that record them (written in the same transaction).
public final class Mutation {
    /// The transaction's connection.
    public let connection: PostgresConnection
    /// The time of the change (one value for the whole transaction).
    public let now: Date
    var events: [AuditEvent] = []
    var notifications: [String] = []

    init(connection: PostgresConnection, now: Date) {
        self.connection = connection
        self.now = now
    }

    /// Records an audit event for this change.
    public func record(_ event: AuditEvent) { events.append(event) }

    /// Tells every replica, at commit, to drop what it cached about something (`base:<id>`, `api_key:<prefix>`).
    public func invalidate(_ payload: String) { notifications.append(payload) }
}

/// The domain core: bases, app registrations, credentials, API keys and the audit trail, over PostgreSQL and the
/// Barrier. Every mutation runs in one transaction together with its audit rows.
public final class Vault: Sendable {
    /// The database.
    public let pool: PostgresPool
    /// The only code that encrypts or decrypts.
    public let barrier: Barrier
    /// The audit trail.
    public let audit: AuditLog
    /// Time.
    public let clock: WallClock
    /// Randomness.
    public let random: RandomSource
    /// The logger.
    public let logger: Logger
    /// The Microsoft identity platform.
    public let entra: EntraClient
    /// This replica's name in leases.
    public let replicaID: String
    let apiKeys: APIKeyCache
    let liveBaseIDs = Mutex<[String: UUID]>([:])
    let refreshes = SingleFlight()

    /// The channel on which replicas announce what others must drop from their caches.
    public static let invalidationChannel = "tokenvault_invalidate"

    /// A vault over a pool and the master keys.
    public init(pool: PostgresPool, keyRing: MasterKeyRing, clock: WallClock = .system, random: RandomSource = .secure, logger: Logger,
                entra: EntraClient = EntraClient(configuration: EntraConfiguration())) {
        self.pool = pool
        self.entra = entra
        self.replicaID = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(random.uuid().uuidString.prefix(8).lowercased())"
        self.barrier = Barrier(keyRing: keyRing, random: random)
        self.audit = AuditLog(barrier: barrier)
        self.clock = clock
        self.random = random
        self.logger = logger
        self.apiKeys = APIKeyCache()
    }

    /// Runs `body` in a transaction, then writes the audit events it recorded and the invalidations it asked for,
    /// and commits. Any error rolls everything back.
    public func withMutation<T>(by principal: Principal, requestID: String?, _ body: (Mutation) throws -> T) throws(VaultError) -> T {
        let (value, invalidations) = try mapErrors {
            try pool.withTransaction { connection in
                let mutation = Mutation(connection: connection, now: clock.now())
                let value = try body(mutation)
                try audit.record(mutation.events, by: principal, requestID: requestID, at: mutation.now, on: connection)
                for payload in mutation.notifications {
                    try connection.query("SELECT pg_notify(\(Self.invalidationChannel), \(payload))")
                }
                return (value, mutation.notifications)
            }
        }
        // This replica forgets at once (other replicas hear the NOTIFY): a revoked key must fail on the next request.
        for payload in invalidations { applyInvalidation(payload) }
        return value
    }

    /// Runs `body` with a connection (reads).
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws(VaultError) -> T {
        try mapErrors { try pool.withConnection(body) }
    }

    /// Loads (creating on first start) the system key, so that requests never wait for it.
    public func prepare() throws(VaultError) {
        _ = try systemKeys()
    }

    /// The keys derived from the system key (cached after the first load).
    func systemKeys() throws(VaultError) -> SystemKeys {
        if let keys = barrier.cachedSystemKeys { return keys }
        return try withConnection { connection in try barrier.systemKeys(on: connection, at: clock.now()) }
    }

    /// Applies an invalidation announced by any replica (this one included).
    public func applyInvalidation(_ payload: String) {
        let parts = payload.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        switch parts[0] {
        case "base":
            if let id = UUID(uuidString: parts[1]) {
                barrier.forgetDataKey(for: id)
                liveBaseIDs.withLock { cache in cache = cache.filter { $0.value != id } }
            }
            apiKeys.removeAll()
        case "api_key":
            apiKeys.remove(prefix: parts[1])
        default:
            break
        }
    }

    /// Drops every cache (after the invalidation listener reconnected and may have missed announcements).
    public func dropCaches() {
        apiKeys.removeAll()
        liveBaseIDs.withLock { $0.removeAll() }
    }

    /// Turns lower-level errors into `VaultError`; database details go to the log, not to the caller.
    func mapErrors<T>(_ body: () throws -> T) throws(VaultError) -> T {
        do {
            return try body()
        } catch {
            throw vaultError(from: error)
        }
    }

    /// The `VaultError` for any error.
    func vaultError(from error: any Error) -> VaultError {
        switch error {
        case let error as VaultError:
            return error
        case let error as PostgresError:
            if error.isUnavailable { return VaultError(.unavailable, "The database is unavailable; try again shortly.") }
            logger.error("database statement failed", ["db.error": error.debugDescription, "db.constraint": error.constraint ?? ""])
            return VaultError(.internalFailure, "A database statement failed.")
        case let error as EntraFailure:
            return error.vaultError(context: "Microsoft")
        default:
            logger.error("unexpected failure", ["error": "\(type(of: error))"])
            return VaultError(.internalFailure, "An unexpected failure occurred.")
        }
    }
}
