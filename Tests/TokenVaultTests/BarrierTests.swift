import Foundation
import Logging
import Postgres
import Testing
@testable import VaultCore

@Suite struct BarrierTests {
    func makeVault(_ url: String, keys: String) throws -> Vault {
        Vault(pool: PostgresPool(.init(connectionString: url, maxConnections: 2)),
              keyRing: try MasterKeyRing.parse(keys, source: "test"), logger: Logger(label: "test", sink: MemorySink()))
    }

    @Test("a sealed value moved to another row, column or base fails to open; in place it opens")
    func sealsAreBoundToTheirAddress() throws {
        let url = try TestDatabase.make()
        let vault = try makeVault(url, keys: MasterKeyRing.generateEntry(id: "k1"))
        let a = try vault.createBase(NewBase(slug: "a", displayName: "A", baseURL: "https://a.openfire.fr", tenant: "organizations"), by: .system("test"), requestID: nil)
        let b = try vault.createBase(NewBase(slug: "b", displayName: "B", baseURL: "https://b.openfire.fr", tenant: "organizations"), by: .system("test"), requestID: nil)
        try vault.withConnection { connection in
            let keyA = try vault.barrier.dataKey(for: a.id, on: connection)
            let keyB = try vault.barrier.dataKey(for: b.id, on: connection)
            let here = SealedFieldAddress(baseID: a.id, table: "mailboxes", column: "refresh_token", rowID: "row-1")
            let sealed = vault.barrier.seal(Secret("0.AXoA-refresh-token"), at: here, with: keyA)
            #expect(try vault.barrier.open(sealed, at: here, with: keyA).revealed() == "0.AXoA-refresh-token")
            let elsewhere = [
                SealedFieldAddress(baseID: a.id, table: "mailboxes", column: "refresh_token", rowID: "row-2"),
                SealedFieldAddress(baseID: a.id, table: "mailboxes", column: "previous_refresh_token", rowID: "row-1"),
                SealedFieldAddress(baseID: a.id, table: "client_credentials", column: "refresh_token", rowID: "row-1"),
            ]
            for address in elsewhere {
                #expect(throws: VaultError.self) { try vault.barrier.open(sealed, at: address, with: keyA) }
            }
            let otherBase = SealedFieldAddress(baseID: b.id, table: "mailboxes", column: "refresh_token", rowID: "row-1")
            #expect(throws: VaultError.self) { try vault.barrier.open(sealed, at: otherBase, with: keyB) }
            var tampered = sealed
            tampered[tampered.count / 2] ^= 0x01
            #expect(throws: VaultError.self) { try vault.barrier.open(tampered, at: here, with: keyA) }
            #expect(throws: VaultError.self) { try vault.barrier.open(Array(sealed.prefix(20)), at: here, with: keyA) }
            // Two seals of the same value differ (fresh nonce each time).
            #expect(vault.barrier.seal(Secret("x"), at: here, with: keyA) != vault.barrier.seal(Secret("x"), at: here, with: keyA))
        }
    }

    @Test("a stored secret copied onto another credential row fails to open")
    func copiedCiphertextFails() throws {
        let service = try TestService()
        try service.createBase("copy")
        try service.call("PUT", "/v1/bases/copy/app-registration", json: """
            {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Copy~Source.Secret_000000","expires_at":"2027-06-30T00:00:00Z"}]}
            """)
        try service.call("POST", "/v1/bases/copy/app-registration/credentials", json: #"{"secret":"Copy~Target.Secret_1111111","expires_at":"2027-06-30T00:00:00Z"}"#)
        let connection = try TestDatabase.connect(service.databaseURL)
        try connection.execute(unsafeSQL: """
            UPDATE client_credentials SET secret_sealed = (SELECT secret_sealed FROM client_credentials WHERE hint = 'Copy' ORDER BY created_at LIMIT 1)
            WHERE hint = 'Copy' AND created_at = (SELECT max(created_at) FROM client_credentials)
            """)
        let scope = try service.vault.scope(ofBase: "copy", by: .system("test"))
        #expect(throws: VaultError.self) { try service.vault.withConnection { try service.vault.activeClientSecrets(of: scope, on: $0) } }
    }

    @Test("rotation re-wraps every data key under the newest master key; afterwards the old key can go")
    func masterKeyRotation() throws {
        let url = try TestDatabase.make()
        let oldEntry = MasterKeyRing.generateEntry(id: "old")
        let newEntry = MasterKeyRing.generateEntry(id: "new")
        let before = try makeVault(url, keys: oldEntry)
        try before.prepare()
        var secrets: [UUID: String] = [:]
        for index in 0..<3 {
            let base = try before.createBase(NewBase(slug: "r\(index)", displayName: "R", baseURL: "https://r\(index).openfire.fr", tenant: "organizations"), by: .system("test"), requestID: nil)
            let secret = "Rotation~Secret.Value_\(index)000000"
            _ = try before.putAppRegistration(base: base.slug, clientID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", tenant: nil,
                                              secrets: [NewClientSecret(secret: Secret(secret), expiresAt: Date().addingTimeInterval(86_400 * 30))],
                                              by: .system("test"), requestID: nil)
            secrets[base.id] = secret
        }
        let key = try before.createAPIKey(role: .auditor, name: "survives", baseSlug: nil, expiresAt: nil, by: .system("test"), requestID: nil)

        let both = try makeVault(url, keys: oldEntry + "," + newEntry)
        var progress: [Int] = []
        let count = try both.barrier.rewrapAll(pool: both.pool) { progress.append($0.done) }
        #expect(count == 4)  // three bases and the system key
        #expect(progress == [1, 2, 3, 4])
        #expect(try both.barrier.rewrapAll(pool: both.pool) == 0, "a second run has nothing left to do")
        let ids = try TestDatabase.connect(url).query("SELECT DISTINCT master_key_id FROM base_keys UNION SELECT master_key_id FROM system_keys")
        #expect(try ids.map { try $0.decode("master_key_id", as: String.self) } == ["new"])

        let after = try makeVault(url, keys: newEntry)
        for (id, secret) in secrets {
            let opened = try after.withConnection { try after.activeClientSecrets(of: BaseScope(id: id, slug: ""), on: $0) }
            #expect(opened.map { $0.1.revealed() } == [secret])
        }
        #expect(try after.authenticate(apiKey: key.key.revealed())?.role == .auditor, "API key hashes survive the rotation")
        #expect(try after.verifyAuditTrail().ok, "the audit chain key survives the rotation")
        let wrongKey = try makeVault(url, keys: MasterKeyRing.generateEntry(id: "new"))
        #expect(throws: VaultError.self) { try wrongKey.prepare() }
    }

    @Test("master keys are parsed strictly; none at all is refused")
    func masterKeyParsing() throws {
        #expect(try MasterKeyRing.parse("a:\(Data(repeating: 1, count: 32).base64EncodedString()), b:\(Data(repeating: 2, count: 32).base64EncodedString())", source: "env").newest.id == "b")
        for bad in ["", "nokey", "a:short", "a:\(Data(repeating: 1, count: 16).base64EncodedString())", "bad id:\(Data(repeating: 1, count: 32).base64EncodedString())",
                    "a:\(Data(repeating: 1, count: 32).base64EncodedString()),a:\(Data(repeating: 2, count: 32).base64EncodedString())"] {
            #expect(throws: VaultError.self, "\(bad)") { try MasterKeyRing.parse(bad, source: "env") }
        }
    }
}
