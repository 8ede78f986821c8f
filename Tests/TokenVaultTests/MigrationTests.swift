import Foundation
import Logging
import Postgres
import Testing
@testable import VaultCore

@Suite struct MigrationTests {
    let logger = Logger(label: "test", level: .error, sink: MemorySink())

    @Test("migrating twice applies each file once; the second run is a no-op")
    func idempotent() throws {
        let url = try TestDatabase.makeEmpty()
        let first = try Migrations.migrate(connectionString: url, logger: logger)
        #expect(first == Migrations.all.map(\.version))
        let second = try Migrations.migrate(connectionString: url, logger: logger)
        #expect(second.isEmpty)
        let status = try Migrations.status(on: try TestDatabase.connect(url))
        #expect(status.isCurrent)
        #expect(status.applied == Migrations.all.map(\.version))
    }

    @Test("two processes migrating at once do not collide")
    func concurrent() throws {
        let url = try TestDatabase.makeEmpty()
        let results = Results()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                do { results.add(.success(try Migrations.migrate(connectionString: url, logger: logger))) }
                catch { results.add(.failure(error)) }
            }.start()
        }
        group.wait()
        let applied = try results.all.map { try $0.get() }
        #expect(applied.filter { !$0.isEmpty }.count == 1, "exactly one run applies the files")
        #expect(applied.flatMap { $0 } == Migrations.all.map(\.version))
    }

    @Test("an applied migration that was edited is refused with a clear message")
    func editedFileIsRefused() throws {
        let url = try TestDatabase.makeEmpty()
        try Migrations.migrate(connectionString: url, logger: logger)
        try TestDatabase.connect(url).query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        #expect { try Migrations.migrate(connectionString: url, logger: logger) } throws: { error in
            (error as? VaultError)?.code == .configuration && "\(error)".contains("changed after being applied")
        }
    }

    @Test("the service refuses to start on a schema that is behind, and readyz says so when it falls behind")
    func readinessFollowsTheSchema() throws {
        let url = try TestDatabase.makeEmpty()
        let application = Application(configuration: .init(databaseURL: url),
                                      keyRing: try MasterKeyRing.parse(MasterKeyRing.generateEntry(id: "m"), source: "test"),
                                      logger: logger)
        #expect { try application.start() } throws: { "\($0)".contains("run `tokenvault migrate` first") }

        let service = try TestService()
        try TestDatabase.connect(service.databaseURL).query("DELETE FROM schema_migrations WHERE version = 1")
        let ready = try service.call("GET", "/readyz", key: "")
        #expect(ready.status == 503)
        #expect(ready.json["checks"]?["migrations"]?.string?.hasPrefix("pending") == true)
    }

    @Test("the SQL embedded in the binary is exactly sql/*.sql (run scripts/embed after adding a file)")
    func embeddedMatchesFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path + "/sql").filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migrations.all.map(\.file))
        for migration in Migrations.all {
            let text = try String(contentsOfFile: root.path + "/sql/" + migration.file, encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines), "\(migration.file) differs")
        }
    }
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<[Int], any Error>] = []
    func add(_ item: Result<[Int], any Error>) { lock.lock(); items.append(item); lock.unlock() }
    var all: [Result<[Int], any Error>] { lock.lock(); defer { lock.unlock() }; return items }
}

import VaultAPI
