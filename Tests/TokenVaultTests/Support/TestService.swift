import Foundation
import HTTPClient
import HTTPServer
import Logging
import Postgres
import Synchronization
@testable import VaultAPI
@testable import VaultCore

/// The whole service running in-process on a free loopback port against its own database, with its logs captured
/// and every response kept, so that a test can search them for secrets.
final class TestService: @unchecked Sendable {
    let application: Application
    let databaseURL: String
    let logs = MemorySink()
    let url: String
    let adminKey: String
    let client = HTTPClient()
    private let recorded = Mutex<[TestResponse]>([])

    var vault: Vault { application.vault }

    init(clock: WallClock = .system, databaseURL existing: String? = nil, configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        databaseURL = try existing ?? TestDatabase.make()
        var configuration = ServiceConfiguration(databaseURL: databaseURL)
        configuration.http.host = "127.0.0.1"
        configuration.http.port = 0
        configuration.http.workerThreads = 8
        configuration.databasePoolSize = 4
        configure(&configuration)
        let keyRing = try MasterKeyRing.parse(TestService.masterKeyEntry(for: databaseURL), source: "test")
        let sink: any LogSink = ProcessInfo.processInfo.environment["TOKENVAULT_TEST_VERBOSE"] == nil
            ? logs : FanOutSink([logs, StandardErrorSink()])
        application = Application(configuration: configuration, keyRing: keyRing,
                                  logger: Logger(label: "tokenvault", level: .debug, sink: sink), clock: clock)
        try application.start()
        url = "http://127.0.0.1:\(application.port)"
        adminKey = try application.vault.createAPIKey(role: .admin, name: "test admin", baseSlug: nil, expiresAt: nil,
                                                      by: .cli(user: "test"), requestID: nil).key.revealed()
    }

    deinit { application.stop(gracePeriod: .seconds(2)) }

    /// The master key of a test database: a second replica on the same database gets the same one.
    static func masterKeyEntry(for databaseURL: String) -> String {
        masterKeys.withLock { keys in
            if let entry = keys[databaseURL] { return entry }
            let entry = MasterKeyRing.generateEntry(id: "test1")
            keys[databaseURL] = entry
            return entry
        }
    }

    private static let masterKeys = Mutex<[String: String]>([:])

    /// Every response received so far.
    var responses: [TestResponse] { recorded.withLock { $0 } }

    /// Sends a request; `key` defaults to the admin key (pass "" for none).
    @discardableResult
    func call(_ method: String, _ path: String, key: String? = nil, json: String? = nil, body: [UInt8]? = nil,
              headers: [(String, String)] = []) throws -> TestResponse {
        var allHeaders = headers
        let key = key ?? adminKey
        if !key.isEmpty { allHeaders.append(("Authorization", "Bearer \(key)")) }
        var payload = body ?? []
        if let json {
            payload = Array(json.utf8)
            if !allHeaders.contains(where: { $0.0.lowercased() == "content-type" }) { allHeaders.append(("Content-Type", "application/json")) }
        }
        let response = try client.send(HTTPClientRequest(method: method, url: url + path, headers: allHeaders, body: payload))
        let result = TestResponse(status: response.status, headers: response.headers, body: response.body)
        recorded.withLock { $0.append(result) }
        return result
    }

    /// Creates a base (and returns its JSON).
    @discardableResult
    func createBase(_ slug: String, tenant: String = "organizations") throws -> TestResponse {
        let response = try call("POST", "/v1/bases", json: """
            {"slug":"\(slug)","display_name":"Base \(slug)","base_url":"https://\(slug).openfire.fr","tenant":"\(tenant)"}
            """)
        guard response.status == 201 else { throw TestFailure("creating base \(slug): \(response.status) \(response.text)") }
        return response
    }

    /// Creates an API key and returns its text.
    @discardableResult
    func createKey(role: String, base: String? = nil) throws -> String {
        let baseField = base.map { ",\"base\":\"\($0)\"" } ?? ""
        let response = try call("POST", "/v1/api-keys", json: #"{"role":"\#(role)","name":"\#(role) key"\#(baseField)}"#)
        guard response.status == 201, let key = response.json["key"]?.string else {
            throw TestFailure("creating \(role) key: \(response.status) \(response.text)")
        }
        return key
    }

    /// Rows of every table of the public schema, as text (to search for plaintext secrets).
    func dumpDatabase() throws -> String {
        let connection = try TestDatabase.connect(databaseURL)
        var out = ""
        for table in try connection.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename") {
            let name: String = try table.decode("tablename")
            for row in try connection.query(PostgresQuery(unsafeSQL: "SELECT t::text AS line FROM \"\(name)\" t")) {
                out += name + ": " + (try row.decode("line", as: String.self)) + "\n"
            }
        }
        return out
    }

    /// Everything the service logged.
    var logText: String { logs.contents.joined(separator: "\n") }
}

/// A response, with JSON helpers.
struct TestResponse: Sendable {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.name == name.lowercased() }?.value }
    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(body))) ?? .null }
    var contentType: String? { header("content-type") }
    var isProblem: Bool { contentType == "application/problem+json" && json["status"]?.int == status && json["code"]?.string != nil }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    subscript(_ key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    subscript(_ index: Int) -> JSONValue? {
        guard case .array(let items) = self, index < items.count else { return nil }
        return items[index]
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var int: Int? { if case .integer(let i) = self { return Int(i) } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [JSONValue] { if case .array(let items) = self { return items } else { return [] } }
    var isNull: Bool { self == .null }
}

extension Array where Element == UInt8 {
    /// Hex of these bytes (to search a dump for bytes stored as bytea).
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
