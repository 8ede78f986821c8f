import Foundation
import Testing
@testable import VaultCore

@Suite struct APIKeyTests {
    @Test("a key is shown once at creation, works, and is listed without its text")
    func creation() throws {
        let service = try TestService()
        try service.createBase("keyed")
        let created = try service.call("POST", "/v1/api-keys", json: #"{"role":"instance","name":"openfire keyed","base":"keyed"}"#)
        #expect(created.status == 201)
        let key = created.json["key"]!.string!
        #expect(key.hasPrefix(created.json["prefix"]!.string! + "_"))
        #expect(created.json["base"]?.string == "keyed")
        #expect(created.json["role"]?.string == "instance")
        #expect(try service.call("GET", "/v1/bases/keyed", key: key).status == 200)
        let listed = try service.call("GET", "/v1/api-keys").json["items"]!.array
        let entry = listed.first { $0["id"]?.string == created.json["id"]?.string }
        #expect(entry?["key"] == nil)
        #expect(entry?["base"]?.string == "keyed")
        #expect(entry?["status"]?.string == "active")
    }

    @Test("a revoked key stops working at once; revoking twice changes nothing")
    func revocation() throws {
        let service = try TestService()
        let key = try service.createKey(role: "auditor")
        #expect(try service.call("GET", "/v1/audit-events", key: key).status == 200)
        let id = try service.call("GET", "/v1/api-keys").json["items"]!.array.last!["id"]!.string!
        let revoked = try service.call("DELETE", "/v1/api-keys/\(id)")
        #expect(revoked.json["status"]?.string == "revoked")
        #expect(revoked.json["revoked_by"]?.string?.hasPrefix("api_key:") == true)
        #expect(try service.call("GET", "/v1/audit-events", key: key).status == 401)
        #expect(try service.call("DELETE", "/v1/api-keys/\(id)").status == 200)
        #expect(try service.call("DELETE", "/v1/api-keys/00000000-0000-0000-0000-000000000001").status == 404)
    }

    @Test("a revocation on one replica reaches another replica's cache through LISTEN/NOTIFY")
    func revocationAcrossReplicas() throws {
        let service = try TestService()
        let key = try service.createKey(role: "auditor")
        let replica = Vault(pool: .init(.init(connectionString: service.databaseURL, maxConnections: 2)),
                            keyRing: service.vault.barrier.keyRing, logger: .init(label: "replica", sink: MemorySink()))
        let listener = PostgresListener(connectionString: service.databaseURL, channels: [Vault.invalidationChannel],
                                        onNotification: { replica.applyInvalidation($0.payload) })
        listener.start()
        defer { listener.stop() }
        while !listener.hasSubscribed { Thread.sleep(forTimeInterval: 0.01) }
        #expect(try replica.authenticate(apiKey: key)?.role == .auditor)  // now cached on the replica
        let id = try service.call("GET", "/v1/api-keys").json["items"]!.array.last!["id"]!.string!
        #expect(try service.call("DELETE", "/v1/api-keys/\(id)").status == 200)
        var stillValid = true
        for _ in 0..<1000 where stillValid {
            stillValid = try replica.authenticate(apiKey: key) != nil
            if stillValid { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(!stillValid, "the replica kept accepting a revoked key")
    }

    @Test("an expired key is refused; last_used_at is recorded")
    func expiryAndLastUse() throws {
        let clock = MovableClock()
        let service = try TestService(clock: clock.wallClock)
        let created = try service.call("POST", "/v1/api-keys", json: #"{"role":"auditor","name":"short","expires_at":"2099-01-01T00:00:00Z"}"#)
        let key = created.json["key"]!.string!
        #expect(try service.call("GET", "/v1/audit-events", key: key).status == 200)
        var lastUsed: String?
        for _ in 0..<1000 where lastUsed == nil {
            lastUsed = try service.call("GET", "/v1/api-keys").json["items"]!.array.first { $0["id"] == created.json["id"] }?["last_used_at"]?.string
            if lastUsed == nil { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(lastUsed != nil)
        clock.advance(by: 100 * 365 * 86_400)
        #expect(try service.call("GET", "/v1/audit-events", key: key).status == 401)
    }

    @Test("malformed keys and other schemes are 401 without touching the database")
    func malformed() throws {
        let service = try TestService()
        for header in ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer short", "Bearer tvk_" + String(repeating: "x", count: 100), service.adminKey] {
            let response = try service.call("GET", "/v1/bases", key: "", headers: [("Authorization", header)])
            #expect(response.status == 401 && response.isProblem, "\(header.prefix(10))")
        }
    }

    @Test("the key format is recognised strictly")
    func format() {
        let (prefix, key) = APIKeyFormat.make(random: .secure)
        #expect(APIKeyFormat.prefix(of: key.revealed()) == prefix)
        #expect(APIKeyFormat.prefix(of: key.revealed() + "x") == nil)
        #expect(APIKeyFormat.prefix(of: "tvk_ABCDEFGHIJ_" + String(repeating: "a", count: 43)) == nil)
    }
}

/// A clock that tests move by hand.
final class MovableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: TimeInterval = 0

    func advance(by seconds: TimeInterval) {
        lock.lock()
        offset += seconds
        lock.unlock()
    }

    var wallClock: WallClock {
        WallClock { [self] in
            lock.lock()
            defer { lock.unlock() }
            return Date().addingTimeInterval(offset)
        }
    }
}

import Logging
import Postgres
