import Crypto
import Dispatch
import Foundation
import Postgres

extension Vault {
    /// Creates an API key. An `instance` key needs the slug of its base; the others must not have one.
    public func createAPIKey(role: Role, name: String, baseSlug: String?, expiresAt: Date?, by principal: Principal,
                             requestID: String?) throws(VaultError) -> IssuedAPIKey {
        var check = InputCheck()
        check.check("name", Validation.name(name))
        if role == .instance && baseSlug == nil { check.check("base", "is required for an instance key") }
        if role != .instance && baseSlug != nil { check.check("base", "is only for instance keys") }
        if let expiresAt, expiresAt <= clock.now() { check.check("expires_at", "must be in the future") }
        try check.throwIfInvalid()
        return try withMutation(by: principal, requestID: requestID) { mutation in
            var baseID: UUID?
            if let baseSlug {
                guard Validation.slug(baseSlug) == nil, let row = try mutation.connection.query("""
                    SELECT id FROM bases WHERE slug = \(baseSlug) AND deleted_at IS NULL
                    """).first else { throw VaultError.invalid("base", "no base has the slug \(baseSlug)") }
                baseID = try row.decode("id")
            }
            let (prefix, key) = APIKeyFormat.make(random: random)
            let hash = HMACSHA256.authenticate(key.revealedBytes, key: try barrier.systemKeys(on: mutation.connection, at: mutation.now).apiKeyHashing)
            let id = random.uuid()
            let row = try mutation.connection.query("""
                INSERT INTO api_keys (id, prefix, key_hash, role, base_id, name, created_at, created_by, expires_at)
                VALUES (\(id), \(prefix), \(hash), \(role.rawValue), \(baseID), \(name), \(mutation.now), \(principal.auditName), \(expiresAt))
                RETURNING \(unsafeSQL: APIKeyRecord.columns)
                """).first!
            mutation.record(AuditEvent(action: "api_key.created", targetType: "api_key", targetID: id.uuidString.lowercased(),
                                       baseID: baseID, details: ["prefix": .string(prefix), "role": .string(role.rawValue),
                                                                 "name": .string(name), "expires_at": .optional(expiresAt)]))
            return IssuedAPIKey(record: try APIKeyRecord(row: row), key: key)
        }
    }

    /// Lists keys, oldest first; the cursor is the last key's id.
    public func listAPIKeys(limit: Int, after cursor: UUID?) throws(VaultError) -> Page<APIKeyRecord> {
        let records = try withConnection { connection in
            try connection.query("""
                SELECT \(unsafeSQL: APIKeyRecord.columns) FROM api_keys
                WHERE (\(cursor)::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM api_keys WHERE id = \(cursor)))
                ORDER BY created_at, id LIMIT \(limit + 1)
                """).map(APIKeyRecord.init(row:))
        }
        let items = Array(records.prefix(limit))
        return Page(items: items, nextCursor: records.count > limit ? items.last?.id.uuidString.lowercased() : nil)
    }

    /// Revokes a key; it stops working at once on this replica and as soon as the NOTIFY arrives on the others.
    public func revokeAPIKey(id: UUID, by principal: Principal, requestID: String?) throws(VaultError) -> APIKeyRecord {
        try withMutation(by: principal, requestID: requestID) { mutation in
            guard let row = try mutation.connection.query("""
                SELECT \(unsafeSQL: APIKeyRecord.columns) FROM api_keys WHERE id = \(id) FOR UPDATE
                """).first else { throw VaultError.notFound("API key \(id.uuidString.lowercased())") }
            let record = try APIKeyRecord(row: row)
            if record.revokedAt != nil { return record }
            let updated = try mutation.connection.query("""
                UPDATE api_keys SET revoked_at = \(mutation.now), revoked_by = \(principal.auditName) WHERE id = \(id)
                RETURNING \(unsafeSQL: APIKeyRecord.columns)
                """).first!
            mutation.invalidate("api_key:\(record.prefix)")
            mutation.record(AuditEvent(action: "api_key.revoked", targetType: "api_key", targetID: id.uuidString.lowercased(),
                                       baseID: record.baseID, details: ["prefix": .string(record.prefix)]))
            return try APIKeyRecord(row: updated)
        }
    }

    /// The principal of a presented key, or nil when the key is malformed, unknown, revoked or expired.
    /// The comparison is on keyed hashes, in constant time.
    public func authenticate(apiKey presented: String) throws(VaultError) -> Principal? {
        guard let prefix = APIKeyFormat.prefix(of: presented) else { return nil }
        let entry: APIKeyCache.Entry
        if let cached = apiKeys.get(prefix) {
            entry = cached
        } else {
            let loaded: APIKeyCache.Entry? = try withConnection { connection in
                guard let row = try connection.query("""
                    SELECT \(unsafeSQL: APIKeyRecord.columns), key_hash FROM api_keys WHERE prefix = \(prefix)
                    """).first else { return nil }
                return APIKeyCache.Entry(hash: try row.decode("key_hash"), record: try APIKeyRecord(row: row), loadedAt: .now)
            }
            guard let loaded else { return nil }
            apiKeys.put(prefix, loaded)
            entry = loaded
        }
        let presentedHash = HMACSHA256.authenticate(Array(presented.utf8), key: try systemKeys().apiKeyHashing)
        guard constantTimeEquals(presentedHash, entry.hash) else { return nil }
        let record = entry.record
        guard record.revokedAt == nil else { return nil }
        if let expiresAt = record.expiresAt, expiresAt <= clock.now() { return nil }
        if apiKeys.shouldWriteLastUsed(prefix) { recordUse(of: record.id) }
        return .apiKey(id: record.id, prefix: record.prefix, role: record.role, baseID: record.baseID)
    }

    /// Writes `last_used_at` off the request path.
    private func recordUse(of id: UUID) {
        let now = clock.now()
        DispatchQueue.global(qos: .utility).async { [pool, logger] in
            do {
                try pool.withConnection { connection in
                    _ = try connection.query("UPDATE api_keys SET last_used_at = \(now) WHERE id = \(id)")
                }
            } catch {
                logger.warning("could not record API key use", ["api_key.id": id.uuidString.lowercased()])
            }
        }
    }
}
