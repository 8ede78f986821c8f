import Crypto
import Foundation
import Postgres
import Synchronization

/// Where a sealed value lives. It is the additional authenticated data of the seal, so a ciphertext copied to
/// another row, column, table or base fails to open.
public struct SealedFieldAddress: Sendable, Equatable {
    /// The base the value belongs to.
    public let baseID: UUID
    /// The table.
    public let table: String
    /// The column.
    public let column: String
    /// The row's identifier.
    public let rowID: String

    /// An address.
    public init(baseID: UUID, table: String, column: String, rowID: String) {
        self.baseID = baseID
        self.table = table
        self.column = column
        self.rowID = rowID
    }

    var additionalData: [UInt8] {
        Array("tokenvault.v1|\(baseID.uuidString.lowercased())|\(table)|\(column)|\(rowID)".utf8)
    }
}

/// A base's data-encryption key, unwrapped. Only the Barrier can use it.
public struct DataKey: Sendable {
    /// The base.
    public let baseID: UUID
    /// Its version (stored in every seal, so that a future re-keying can tell old seals apart).
    public let version: UInt32
    fileprivate let bytes: [UInt8]
}

/// Keys derived from the system data key.
public struct SystemKeys: Sendable {
    /// Keys the HMAC that stores API keys (the database holds only this hash).
    public let apiKeyHashing: [UInt8]
    /// Keys the HMAC chain of the audit trail.
    public let auditChain: [UInt8]
}

/// The only code that encrypts or decrypts. Storage is untrusted and reached through it.
///
/// Master keys wrap one data key per base (and one system key); every secret field is sealed with its base's data key
/// using AES-256-GCM, a fresh 96-bit nonce and the field's address as additional data. A seal is
/// `[format 0x01][key version, 4 bytes][nonce, 12][ciphertext][tag, 16]`.
public final class Barrier: Sendable {
    /// The master keys.
    public let keyRing: MasterKeyRing
    private let random: RandomSource
    private let dataKeys = Mutex<[UUID: DataKey]>([:])
    private let systemKeyCache = Mutex<SystemKeys?>(nil)
    private static let sealFormat: UInt8 = 1

    /// A barrier over the given master keys.
    public init(keyRing: MasterKeyRing, random: RandomSource = .secure) {
        self.keyRing = keyRing
        self.random = random
    }

    // MARK: Sealing

    /// Seals a secret for one field.
    public func seal(_ secret: Secret, at address: SealedFieldAddress, with key: DataKey) -> [UInt8] {
        precondition(key.baseID == address.baseID, "a base's key sealing another base's field")
        var plaintext = secret.revealedBytes
        defer { plaintext.wipe() }
        let nonce = random.bytes(AESGCM.nonceLength)
        let sealed = try! AESGCM.seal(plaintext, key: key.bytes, nonce: nonce, additionalData: address.additionalData)
        var out: [UInt8] = [Self.sealFormat]
        out.reserveCapacity(1 + 4 + nonce.count + sealed.ciphertext.count + sealed.tag.count)
        withUnsafeBytes(of: key.version.bigEndian) { out.append(contentsOf: $0) }
        out += nonce
        out += sealed.ciphertext
        out += sealed.tag
        return out
    }

    /// Opens a sealed field. Fails when the value was altered, moved to another address, or sealed with another key.
    public func open(_ sealed: [UInt8], at address: SealedFieldAddress, with key: DataKey) throws(VaultError) -> Secret {
        let header = 1 + 4 + AESGCM.nonceLength
        guard key.baseID == address.baseID, sealed.count >= header + AESGCM.tagLength, sealed[0] == Self.sealFormat else {
            throw Self.openFailure
        }
        let nonce = Array(sealed[5..<header])
        let ciphertext = Array(sealed[header..<(sealed.count - AESGCM.tagLength)])
        let tag = Array(sealed[(sealed.count - AESGCM.tagLength)...])
        guard var plaintext = try? AESGCM.open(ciphertext, tag: tag, key: key.bytes, nonce: nonce, additionalData: address.additionalData) else {
            throw Self.openFailure
        }
        defer { plaintext.wipe() }
        return Secret(String(decoding: plaintext, as: UTF8.self))
    }

    private static let openFailure = VaultError(.internalFailure, "A sealed value failed to open (wrong key, moved, or altered).")

    // MARK: Data keys

    /// Creates, wraps and stores a new data key for a base (in the caller's transaction).
    @discardableResult
    public func createDataKey(for baseID: UUID, on connection: PostgresConnection, at now: Date) throws -> DataKey {
        let key = DataKey(baseID: baseID, version: 1, bytes: random.bytes(AESGCM.keyLength))
        let master = keyRing.newest
        let wrapped = try wrap(key.bytes, scope: baseID.uuidString.lowercased(), with: master)
        try connection.query("""
            INSERT INTO base_keys (base_id, master_key_id, wrapped_key, key_version, created_at)
            VALUES (\(baseID), \(master.id), \(wrapped), \(Int(key.version)), \(now))
            """)
        dataKeys.withLock { $0[baseID] = key }
        return key
    }

    /// The data key of a base (cached after the first unwrap).
    public func dataKey(for baseID: UUID, on connection: PostgresConnection) throws -> DataKey {
        if let cached = dataKeys.withLock({ $0[baseID] }) { return cached }
        let rows = try connection.query("""
            SELECT master_key_id, wrapped_key, key_version FROM base_keys WHERE base_id = \(baseID)
            """)
        guard let row = rows.first else { throw VaultError(.notFound, "The base's data key no longer exists.") }
        let bytes = try unwrap(try row.decode("wrapped_key"), scope: baseID.uuidString.lowercased(), masterKeyID: try row.decode("master_key_id"))
        let key = DataKey(baseID: baseID, version: UInt32(try row.decode("key_version", as: Int.self)), bytes: bytes)
        dataKeys.withLock { $0[baseID] = key }
        return key
    }

    /// Destroys a base's data key (crypto-shredding: whatever was sealed for the base can no longer be opened).
    public func destroyDataKey(for baseID: UUID, on connection: PostgresConnection) throws {
        try connection.query("DELETE FROM base_keys WHERE base_id = \(baseID)")
        forgetDataKey(for: baseID)
    }

    /// Drops a cached data key (another replica destroyed it, or a test wants a cold cache).
    public func forgetDataKey(for baseID: UUID) {
        _ = dataKeys.withLock { $0.removeValue(forKey: baseID) }
    }

    // MARK: System keys

    /// The system keys if already loaded.
    public var cachedSystemKeys: SystemKeys? { systemKeyCache.withLock { $0 } }

    /// The keys derived from the system data key, created on first use.
    public func systemKeys(on connection: PostgresConnection, at now: Date = Date()) throws -> SystemKeys {
        if let cached = systemKeyCache.withLock({ $0 }) { return cached }
        var rows = try connection.query("SELECT master_key_id, wrapped_key FROM system_keys WHERE name = 'system'")
        if rows.isEmpty {
            let master = keyRing.newest
            let wrapped = try wrap(random.bytes(AESGCM.keyLength), scope: "system", with: master)
            try connection.query("""
                INSERT INTO system_keys (name, master_key_id, wrapped_key, created_at)
                VALUES ('system', \(master.id), \(wrapped), \(now)) ON CONFLICT (name) DO NOTHING
                """)
            rows = try connection.query("SELECT master_key_id, wrapped_key FROM system_keys WHERE name = 'system'")
        }
        guard let row = rows.first else { throw VaultError(.internalFailure, "The system key could not be created.") }
        var root = try unwrap(try row.decode("wrapped_key"), scope: "system", masterKeyID: try row.decode("master_key_id"))
        defer { root.wipe() }
        let keys = SystemKeys(apiKeyHashing: HMACSHA256.deriveKey(from: root, purpose: "tokenvault api-key hash v1"),
                              auditChain: HMACSHA256.deriveKey(from: root, purpose: "tokenvault audit chain v1"))
        systemKeyCache.withLock { $0 = keys }
        return keys
    }

    // MARK: Master-key rotation

    /// Progress of a re-wrap.
    public struct RewrapProgress: Sendable {
        /// Keys re-wrapped so far in this run.
        public let done: Int
        /// Keys that were wrapped by an older master key when the run started.
        public let total: Int
    }

    /// Re-wraps every data key (and the system key) that an older master key wraps under the newest one, one row per
    /// transaction so that it runs online and can be interrupted and resumed. Returns how many were re-wrapped.
    @discardableResult
    public func rewrapAll(pool: PostgresPool, clock: WallClock = .system,
                          progress: (RewrapProgress) -> Void = { _ in }) throws -> Int {
        let newest = keyRing.newest
        let total: Int = try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT (SELECT count(*) FROM base_keys WHERE master_key_id <> \(newest.id))
                     + (SELECT count(*) FROM system_keys WHERE master_key_id <> \(newest.id)) AS n
                """)
            return try rows.first!.decode("n", as: Int.self)
        }
        var done = 0
        try pool.withTransaction { connection in
            guard let row = try connection.query("""
                SELECT master_key_id, wrapped_key FROM system_keys
                WHERE name = 'system' AND master_key_id <> \(newest.id) FOR UPDATE
                """).first else { return }
            let key = try unwrap(try row.decode("wrapped_key"), scope: "system", masterKeyID: try row.decode("master_key_id"))
            let wrapped = try wrap(key, scope: "system", with: newest)
            try connection.query("""
                UPDATE system_keys SET master_key_id = \(newest.id), wrapped_key = \(wrapped), rewrapped_at = \(clock.now())
                WHERE name = 'system'
                """)
            done += 1
            progress(RewrapProgress(done: done, total: total))
        }
        while true {
            let moved: Bool = try pool.withTransaction { connection in
                guard let row = try connection.query("""
                    SELECT base_id, master_key_id, wrapped_key FROM base_keys
                    WHERE master_key_id <> \(newest.id) ORDER BY base_id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """).first else { return false }
                let baseID: UUID = try row.decode("base_id")
                let scope = baseID.uuidString.lowercased()
                let key = try unwrap(try row.decode("wrapped_key"), scope: scope, masterKeyID: try row.decode("master_key_id"))
                let wrapped = try wrap(key, scope: scope, with: newest)
                try connection.query("""
                    UPDATE base_keys SET master_key_id = \(newest.id), wrapped_key = \(wrapped), rewrapped_at = \(clock.now())
                    WHERE base_id = \(baseID)
                    """)
                return true
            }
            guard moved else { break }
            done += 1
            progress(RewrapProgress(done: done, total: total))
        }
        return done
    }

    // MARK: Wrapping

    private func wrap(_ key: [UInt8], scope: String, with master: MasterKey) throws -> [UInt8] {
        let nonce = random.bytes(AESGCM.nonceLength)
        let sealed = try AESGCM.seal(key, key: master.bytes, nonce: nonce, additionalData: wrapAAD(scope, master.id))
        return [Self.sealFormat] + nonce + sealed.ciphertext + sealed.tag
    }

    private func unwrap(_ wrapped: [UInt8], scope: String, masterKeyID: String) throws(VaultError) -> [UInt8] {
        guard let master = keyRing.key(id: masterKeyID) else {
            throw VaultError(.configuration, "Master key \(masterKeyID) is needed to unwrap a data key but is not loaded.")
        }
        let header = 1 + AESGCM.nonceLength
        guard wrapped.count == header + AESGCM.keyLength + AESGCM.tagLength, wrapped[0] == Self.sealFormat,
              let key = try? AESGCM.open(Array(wrapped[header..<(header + AESGCM.keyLength)]),
                                         tag: Array(wrapped[(header + AESGCM.keyLength)...]), key: master.bytes,
                                         nonce: Array(wrapped[1..<header]), additionalData: wrapAAD(scope, masterKeyID)) else {
            throw VaultError(.internalFailure, "A data key failed to unwrap with master key \(masterKeyID).")
        }
        return key
    }

    private func wrapAAD(_ scope: String, _ masterKeyID: String) -> [UInt8] {
        Array("tokenvault.dek.v1|\(scope)|\(masterKeyID)".utf8)
    }
}
