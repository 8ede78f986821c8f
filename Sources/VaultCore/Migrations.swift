import Crypto
import Foundation
import Logging
import Postgres

/// One numbered schema change from `sql/`.
public struct Migration: Sendable {
    /// The number (`0001` → 1).
    public let version: Int
    /// The file name.
    public let file: String
    /// The SQL.
    public let sql: String
    /// SHA-256 of the SQL, hex; an applied file whose checksum changed was edited, which is refused.
    public var checksum: String { Hex.encode(SHA256.hash(sql)) }
}

/// The schema state of a database.
public struct MigrationStatus: Sendable {
    /// Versions applied.
    public let applied: [Int]
    /// Versions not yet applied.
    public let pending: [Int]
    /// Versions whose file changed after they were applied.
    public let edited: [Int]
    /// Versions applied that this build does not know (the database is newer than the binary).
    public let unknown: [Int]

    /// True when the database is exactly at this build's schema.
    public var isCurrent: Bool { pending.isEmpty && edited.isEmpty && unknown.isEmpty }
}

/// The migrations carried by this build, and the runner that applies them.
public enum Migrations {
    /// All migrations, in order.
    public static let all: [Migration] = embedded.map { entry in
        Migration(version: Int(entry.file.prefix(4))!, file: entry.file, sql: entry.sql)
    }

    /// The version this build expects.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Advisory-lock key taken while migrating, so that concurrent runs apply each file once.
    static let lockKey: Int64 = 0x746f_6b65_6e76_6c74

    /// Reads the schema state.
    public static func status(on connection: PostgresConnection) throws -> MigrationStatus {
        let exists = try connection.query("SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present")
        var appliedRows: [(Int, String)] = []
        if try exists.first!.decode("present", as: Bool.self) {
            for row in try connection.query("SELECT version, checksum FROM schema_migrations ORDER BY version") {
                appliedRows.append((try row.decode("version"), try row.decode("checksum")))
            }
        }
        let known = Dictionary(uniqueKeysWithValues: all.map { ($0.version, $0) })
        let appliedVersions = Set(appliedRows.map(\.0))
        return MigrationStatus(
            applied: appliedRows.map(\.0),
            pending: all.map(\.version).filter { !appliedVersions.contains($0) },
            edited: appliedRows.filter { known[$0.0] != nil && known[$0.0]!.checksum != $0.1 }.map(\.0),
            unknown: appliedRows.filter { known[$0.0] == nil }.map(\.0))
    }

    /// Applies what is pending, each file in its own transaction, under an advisory lock.
    /// Refuses to run when an applied file was edited. Returns the versions it applied (none when current).
    @discardableResult
    public static func migrate(connectionString: String, logger: Logger) throws -> [Int] {
        let connection = try PostgresConnection(connectionString: connectionString, applicationName: "tokenvault-migrate")
        try connection.query("SELECT pg_advisory_lock(\(lockKey))")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(lockKey))") }
        try connection.execute(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                file       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let state = try status(on: connection)
        if !state.edited.isEmpty {
            throw VaultError(.configuration, "migration(s) \(state.edited.map(String.init).joined(separator: ", ")) changed after being applied; add a new numbered file instead of editing an applied one")
        }
        if !state.unknown.isEmpty {
            throw VaultError(.configuration, "the database has migration(s) \(state.unknown.map(String.init).joined(separator: ", ")) that this build does not know; run a newer tokenvault")
        }
        var applied: [Int] = []
        for migration in all where state.pending.contains(migration.version) {
            try connection.execute(unsafeSQL: "BEGIN")
            do {
                try connection.execute(unsafeSQL: migration.sql)
                try connection.query("""
                    INSERT INTO schema_migrations (version, file, checksum) VALUES (\(migration.version), \(migration.file), \(migration.checksum))
                    """)
                try connection.execute(unsafeSQL: "COMMIT")
            } catch {
                try? connection.execute(unsafeSQL: "ROLLBACK")
                throw error
            }
            logger.notice("migration applied", ["migration.file": migration.file])
            applied.append(migration.version)
        }
        return applied
    }
}
