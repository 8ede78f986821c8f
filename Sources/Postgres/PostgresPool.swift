import Foundation

/// A bounded pool of connections, safe to share between threads.
///
/// Connections are opened lazily up to `maxConnections`; a caller waits up to `acquireTimeout` for a free one.
/// A connection that was idle for a while is checked with a trivial statement before it is handed out, and a
/// broken one is replaced, so that a restarted database is picked up without a restart of the service.
public final class PostgresPool: @unchecked Sendable {
    /// Pool settings.
    public struct Configuration: Sendable {
        /// libpq conninfo string or URI.
        public var connectionString: String
        /// Upper bound of open connections.
        public var maxConnections: Int
        /// How long a caller waits for a free connection.
        public var acquireTimeout: Duration
        /// Idle time after which a connection is checked before reuse.
        public var healthCheckAfter: Duration
        /// `application_name` shown in `pg_stat_activity`.
        public var applicationName: String

        /// Settings with defaults suited to a service replica.
        public init(connectionString: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(5),
                    healthCheckAfter: Duration = .seconds(10), applicationName: String = "tokenvault") {
            self.connectionString = connectionString
            self.maxConnections = maxConnections
            self.acquireTimeout = acquireTimeout
            self.healthCheckAfter = healthCheckAfter
            self.applicationName = applicationName
        }
    }

    /// Counters for metrics.
    public struct Statistics: Sendable {
        /// Connections open.
        public var open: Int
        /// Connections handed out.
        public var inUse: Int
        /// Callers waiting for one.
        public var waiting: Int
        /// Upper bound.
        public var max: Int
        /// Acquisitions that timed out since start.
        public var timeouts: Int
    }

    /// The settings.
    public let configuration: Configuration
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var openCount = 0
    private var inUseCount = 0
    private var waitingCount = 0
    private var timeoutCount = 0
    private var isClosed = false

    /// A pool; no connection is opened until one is needed.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Runs `body` with a connection, then returns it to the pool (or drops it if it broke).
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try acquire()
        do {
            let value = try body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `body` inside `BEGIN … COMMIT`; any error rolls back and is rethrown.
    public func withTransaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { connection in
            try connection.execute(unsafeSQL: "BEGIN")
            do {
                let value = try body(connection)
                try connection.execute(unsafeSQL: "COMMIT")
                return value
            } catch {
                if connection.isHealthy { try? connection.execute(unsafeSQL: "ROLLBACK") }
                throw error
            }
        }
    }

    /// Current counters.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return Statistics(open: openCount, inUse: inUseCount, waiting: waitingCount,
                          max: configuration.maxConnections, timeouts: timeoutCount)
    }

    /// Closes idle connections and refuses new work; connections in use close when returned.
    public func close() {
        condition.lock()
        isClosed = true
        openCount -= idle.count
        idle.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func acquire() throws(PostgresError) -> PostgresConnection {
        let deadline = Date().addingTimeInterval(configuration.acquireTimeout.seconds)
        condition.lock()
        while true {
            if isClosed {
                condition.unlock()
                throw PostgresError(.poolClosed)
            }
            if let connection = idle.popLast() {
                inUseCount += 1
                condition.unlock()
                return try checked(connection)
            }
            if openCount < configuration.maxConnections {
                openCount += 1
                inUseCount += 1
                condition.unlock()
                do {
                    return try PostgresConnection(connectionString: configuration.connectionString,
                                                  applicationName: configuration.applicationName)
                } catch {
                    condition.lock()
                    openCount -= 1
                    inUseCount -= 1
                    condition.signal()
                    condition.unlock()
                    throw error
                }
            }
            waitingCount += 1
            let signalled = condition.wait(until: deadline)
            waitingCount -= 1
            if !signalled && Date() >= deadline {
                timeoutCount += 1
                condition.unlock()
                throw PostgresError(.poolTimeout)
            }
        }
    }

    /// Checks a connection that sat idle; replaces it when it no longer works.
    private func checked(_ connection: PostgresConnection) throws(PostgresError) -> PostgresConnection {
        let idleFor = ContinuousClock.now - connection.lastUsed
        if connection.seemsAlive && idleFor < configuration.healthCheckAfter { return connection }
        if connection.isHealthy, (try? connection.execute(unsafeSQL: "SELECT 1")) != nil { return connection }
        if connection.reset(), (try? connection.execute(unsafeSQL: "SELECT 1")) != nil { return connection }
        condition.lock()
        openCount -= 1
        inUseCount -= 1
        condition.signal()
        condition.unlock()
        throw PostgresError(.connectionFailed, serverMessage: "database unreachable")
    }

    private func release(_ connection: PostgresConnection) {
        var keep = connection.isHealthy && !connection.isInTransaction
        if connection.isHealthy && connection.isInTransaction {
            keep = (try? connection.execute(unsafeSQL: "ROLLBACK")) != nil
        }
        condition.lock()
        inUseCount -= 1
        if keep && !isClosed {
            idle.append(connection)
        } else {
            openCount -= 1
        }
        condition.signal()
        condition.unlock()
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
