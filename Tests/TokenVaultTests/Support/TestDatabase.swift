import Foundation
import Logging
import Postgres
import VaultCore

/// Databases for tests, in the throwaway cluster that scripts/test starts (TOKENVAULT_TEST_DATABASE_URL).
/// Each test gets its own database, copied from a template migrated once per run.
enum TestDatabase {
    struct MissingCluster: Error, CustomStringConvertible {
        var description: String {
            "TOKENVAULT_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a private PostgreSQL"
        }
    }

    static let adminURL: String? = ProcessInfo.processInfo.environment["TOKENVAULT_TEST_DATABASE_URL"]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var templateName: String?
    nonisolated(unsafe) private static var counter = 0

    /// The connection string of a database in the test cluster.
    static func url(_ name: String) throws -> String {
        guard let adminURL else { throw MissingCluster() }
        return adminURL + " dbname=\(name)"
    }

    /// A new, empty database (no schema).
    static func makeEmpty() throws -> String {
        try create(template: "template0")
    }

    /// A new database at the current schema.
    static func make() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if templateName == nil {
            let name = "tv_template_\(getpid())"
            let admin = try PostgresConnection(connectionString: try url("postgres"))
            try admin.execute(unsafeSQL: "DROP DATABASE IF EXISTS \(name)")
            try admin.execute(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE template0")
            try Migrations.migrate(connectionString: try url(name), logger: Logger(label: "test", level: .error, sink: MemorySink()))
            templateName = name
        }
        return try createLocked(template: templateName!)
    }

    private static func create(template: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        return try createLocked(template: template)
    }

    private static func createLocked(template: String) throws -> String {
        counter += 1
        let name = "tv_\(getpid())_\(counter)"
        let admin = try PostgresConnection(connectionString: try url("postgres"))
        try admin.execute(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)")
        return try url(name)
    }

    /// A superuser connection to a test database (to act behind the service's back).
    static func connect(_ url: String) throws -> PostgresConnection {
        try PostgresConnection(connectionString: url, applicationName: "test")
    }
}
