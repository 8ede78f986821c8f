import Foundation
import Logging
import Postgres
import VaultAPI
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

/// The `tokenvault` commands.
enum Commands {
    static let usage = """
    tokenvault: keeps OpenFire bases' Entra ID app registrations, secrets and mailbox tokens, and serves them.

    Usage:
      tokenvault serve                      serve the API (configuration from TOKENVAULT_* variables)
      tokenvault migrate                    apply pending database migrations (safe to run concurrently)
      tokenvault dev [--listen A:P] [--data-dir DIR]
                                            development: private PostgreSQL, generated master key, admin key, serve
      tokenvault dev-postgres start|stop --data-dir DIR
                                            start or stop a private PostgreSQL cluster (prints its connection string)
      tokenvault keys generate [--id ID]    print a new master key entry (id:base64) for TOKENVAULT_MASTER_KEYS
      tokenvault keys rotate                re-wrap every data key under the newest master key (online, resumable)
      tokenvault api-keys create --role admin|instance|auditor --name NAME [--base SLUG] [--expires-at TIME]
      tokenvault api-keys list
      tokenvault api-keys revoke ID
      tokenvault check                      check configuration, database and schema; exit 0 when ready
      tokenvault openapi                    print the OpenAPI document
    """

    static func run(_ argv: [String]) throws {
        guard let command = argv.first else {
            print(usage)
            throw CLIError("no command given")
        }
        var arguments = try Arguments(Array(argv.dropFirst()), flags: ["simulate-entra", "help"])
        let environment = ProcessInfo.processInfo.environment
        switch command {
        case "serve":
            try arguments.rejectUnknown()
            try serve(environment: environment)
        case "migrate":
            try arguments.rejectUnknown()
            let configuration = try ServiceConfiguration.fromEnvironment(environment)
            let applied = try Migrations.migrate(connectionString: configuration.databaseURL, logger: makeLogger(configuration.logLevel))
            print(applied.isEmpty ? "schema is current (version \(Migrations.latestVersion))" : "applied migration(s) \(applied.map(String.init).joined(separator: ", "))")
        case "dev":
            try DevCommand.run(&arguments)
        case "dev-postgres":
            let dataDirectory = try absolute(arguments.value("data-dir") ?? ".tokenvault-dev")
            try arguments.rejectUnknown()
            let postgres = try DevPostgres(dataDirectory: dataDirectory)
            switch arguments.positional.first {
            case "start":
                let (port, _) = try postgres.start()
                print(postgres.connectionString(database: "postgres", port: port))
            case "stop":
                postgres.stop()
            default:
                throw CLIError("dev-postgres needs start or stop")
            }
        case "keys":
            try keys(&arguments, environment: environment)
        case "api-keys":
            try apiKeys(&arguments, environment: environment)
        case "check":
            try arguments.rejectUnknown()
            try check(environment: environment)
        case "openapi":
            print(String(decoding: VaultAPIDocument.openAPI, as: UTF8.self))
        case "help", "--help", "-h":
            print(usage)
        default:
            print(usage)
            throw CLIError("unknown command \(command)")
        }
    }

    static func serve(environment: [String: String]) throws {
        let configuration = try ServiceConfiguration.fromEnvironment(environment)
        let keyRing = try ServiceConfiguration.masterKeys(from: environment)
        let logger = makeLogger(configuration.logLevel)
        let application = Application(configuration: configuration, keyRing: keyRing, logger: logger)
        try application.start()
        logger.notice("serving", ["http.url": "http://\(configuration.http.host):\(application.port)",
                                  "master_key.id": keyRing.newest.id])
        let signal = SignalWaiter.wait()
        logger.notice("stopping", ["signal": signal])
        application.stop()
    }

    static func keys(_ arguments: inout Arguments, environment: [String: String]) throws {
        switch arguments.positional.first {
        case "generate":
            let id = arguments.value("id") ?? "k" + String(Int(Date().timeIntervalSince1970))
            try arguments.rejectUnknown()
            print(MasterKeyRing.generateEntry(id: id))
        case "rotate":
            try arguments.rejectUnknown()
            let configuration = try ServiceConfiguration.fromEnvironment(environment)
            let keyRing = try ServiceConfiguration.masterKeys(from: environment)
            let pool = PostgresPool(.init(connectionString: configuration.databaseURL, maxConnections: 2))
            let barrier = Barrier(keyRing: keyRing)
            let count = try barrier.rewrapAll(pool: pool) { progress in
                FileHandle.standardError.write(Data("re-wrapped \(progress.done)/\(progress.total)\n".utf8))
            }
            print("\(count) data key(s) re-wrapped under master key \(keyRing.newest.id); older master keys can be removed once every replica runs with this key ring")
        default:
            throw CLIError("keys needs generate or rotate")
        }
    }

    static func apiKeys(_ arguments: inout Arguments, environment: [String: String]) throws {
        let configuration = try ServiceConfiguration.fromEnvironment(environment)
        let keyRing = try ServiceConfiguration.masterKeys(from: environment)
        let vault = Vault(pool: PostgresPool(.init(connectionString: configuration.databaseURL, maxConnections: 2)),
                          keyRing: keyRing, logger: makeLogger(configuration.logLevel))
        let principal = Principal.cli(user: ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "operator")
        switch arguments.positional.first {
        case "create":
            guard let roleText = arguments.value("role"), let role = Role(rawValue: roleText) else {
                throw CLIError("--role must be admin, instance or auditor")
            }
            guard let name = arguments.value("name") else { throw CLIError("--name is required") }
            let base = arguments.value("base")
            let expiresAt = try arguments.value("expires-at").map { text throws(CLIError) -> Date in
                guard let date = try? Date.ISO8601FormatStyle().parse(text) else { throw CLIError("--expires-at must be an RFC 3339 time") }
                return date
            }
            try arguments.rejectUnknown()
            let issued = try vault.createAPIKey(role: role, name: name, baseSlug: base, expiresAt: expiresAt, by: principal, requestID: nil)
            FileHandle.standardError.write(Data("created \(role.rawValue) key \(issued.record.prefix) (id \(issued.record.id.uuidString.lowercased())); it is shown once:\n".utf8))
            print(issued.key.revealed())
        case "list":
            try arguments.rejectUnknown()
            var cursor: UUID?
            print("id\tprefix\trole\tname\tcreated_at\tlast_used_at\tstatus")
            repeat {
                let page = try vault.listAPIKeys(limit: 500, after: cursor)
                for key in page.items {
                    let status = key.revokedAt != nil ? "revoked" : "active"
                    print("\(key.id.uuidString.lowercased())\t\(key.prefix)\t\(key.role.rawValue)\t\(key.name)\t\(key.createdAt.formatted(.iso8601))\t\(key.lastUsedAt?.formatted(.iso8601) ?? "-")\t\(status)")
                }
                cursor = page.nextCursor.flatMap(UUID.init(uuidString:))
            } while cursor != nil
        case "revoke":
            guard arguments.positional.count == 2, let id = UUID(uuidString: arguments.positional[1]) else {
                throw CLIError("api-keys revoke needs the key's id")
            }
            try arguments.rejectUnknown()
            let record = try vault.revokeAPIKey(id: id, by: principal, requestID: nil)
            print("revoked \(record.prefix)")
        default:
            throw CLIError("api-keys needs create, list or revoke")
        }
    }

    static func check(environment: [String: String]) throws {
        let configuration = try ServiceConfiguration.fromEnvironment(environment)
        let keyRing = try ServiceConfiguration.masterKeys(from: environment)
        print("configuration: ok (listen \(configuration.http.host):\(configuration.http.port), master keys \(keyRing.keys.map(\.id).joined(separator: ",")))")
        let connection = try PostgresConnection(connectionString: configuration.databaseURL)
        print("database: ok")
        let status = try Migrations.status(on: connection)
        guard status.pending.isEmpty && status.edited.isEmpty else {
            throw CLIError("schema: pending \(status.pending), edited \(status.edited); run tokenvault migrate", usage: false)
        }
        let vault = Vault(pool: PostgresPool(.init(connectionString: configuration.databaseURL, maxConnections: 1)), keyRing: keyRing,
                          logger: makeLogger(configuration.logLevel))
        try vault.prepare()
        print("schema: ok (version \(Migrations.latestVersion)); master key opens the system key: ok")
    }

    static func makeLogger(_ level: Logger.Level) -> Logger {
        Logger(label: "tokenvault", level: level)
    }

    static func absolute(_ path: String) throws(CLIError) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// Waits for SIGINT or SIGTERM. The signals are blocked in every thread (`blockTerminationSignals()` runs before any
/// thread starts), so only this `sigwait` receives them.
enum SignalWaiter {
    static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func wait() -> String {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        var received: Int32 = 0
        sigwait(&set, &received)
        return received == SIGINT ? "SIGINT" : "SIGTERM"
    }
}
