import Foundation
import Postgres

extension Vault {
    /// Creates a base and its data key.
    public func createBase(_ input: NewBase, by principal: Principal, requestID: String?) throws(VaultError) -> Base {
        var check = InputCheck()
        check.check("slug", Validation.slug(input.slug))
        check.check("display_name", Validation.name(input.displayName))
        let baseURL = check.normalized("base_url", Validation.baseURL(input.baseURL), original: input.baseURL)
        let tenant = check.normalized("tenant", Validation.tenant(input.tenant), original: input.tenant)
        try check.throwIfInvalid()
        return try withMutation(by: principal, requestID: requestID) { mutation in
            let id = random.uuid()
            let row: PostgresRow
            do {
                row = try mutation.connection.query("""
                    INSERT INTO bases (id, slug, display_name, base_url, tenant, status, created_at, updated_at)
                    VALUES (\(id), \(input.slug), \(input.displayName), \(baseURL), \(tenant), 'onboarding', \(mutation.now), \(mutation.now))
                    RETURNING \(unsafeSQL: Base.columns)
                    """).first!
            } catch let error as PostgresError where error.isUniqueViolation {
                throw VaultError(.conflict, "A base with slug \(input.slug) already exists.")
            }
            try barrier.createDataKey(for: id, on: mutation.connection, at: mutation.now)
            let base = try Base(row: row)
            mutation.record(AuditEvent(action: "base.created", targetType: "base", targetID: id.uuidString.lowercased(), baseID: id,
                                       details: ["slug": .string(base.slug), "display_name": .string(base.displayName),
                                                 "base_url": .string(base.baseURL), "tenant": .string(base.tenant)]))
            return base
        }
    }

    /// Lists live bases by slug. An instance key sees only its own.
    public func listBases(limit: Int, after cursor: String?, by principal: Principal) throws(VaultError) -> Page<Base> {
        let only = principal.role == .instance ? principal.baseID : nil
        let bases = try withConnection { connection in
            try connection.query("""
                SELECT \(unsafeSQL: Base.columns) FROM bases
                WHERE deleted_at IS NULL
                  AND (\(cursor)::text IS NULL OR slug > \(cursor))
                  AND (\(only)::uuid IS NULL OR id = \(only))
                ORDER BY slug LIMIT \(limit + 1)
                """).map(Base.init(row:))
        }
        let items = Array(bases.prefix(limit))
        return Page(items: items, nextCursor: bases.count > limit ? items.last?.slug : nil)
    }

    /// The live base with this slug, if the principal may see it (else not found, as if it did not exist).
    public func base(slug: String, by principal: Principal) throws(VaultError) -> Base {
        guard Validation.slug(slug) == nil else { throw VaultError.notFound("Base \(slug)") }
        let found = try withConnection { connection in
            try connection.query("SELECT \(unsafeSQL: Base.columns) FROM bases WHERE slug = \(slug) AND deleted_at IS NULL")
                .first.map(Base.init(row:))
        }
        guard let base = found, principal.canSee(baseID: base.id) else { throw VaultError.notFound("Base \(slug)") }
        return base
    }

    /// Changes a base if its version is still `expectedVersion`.
    public func updateBase(slug: String, changes: BaseChanges, expectedVersion: Int64?, by principal: Principal,
                           requestID: String?) throws(VaultError) -> Base {
        var check = InputCheck()
        if let name = changes.displayName { check.check("display_name", Validation.name(name)) }
        let baseURL = changes.baseURL.map { check.normalized("base_url", Validation.baseURL($0), original: $0) }
        let tenant = changes.tenant.map { check.normalized("tenant", Validation.tenant($0), original: $0) }
        try check.throwIfInvalid()
        guard let expectedVersion else {
            throw VaultError(.versionRequired, "Send If-Match with the base's ETag (from GET /v1/bases/\(slug)) to change it.")
        }
        return try withMutation(by: principal, requestID: requestID) { mutation in
            let current = try lockBase(slug: slug, by: principal, on: mutation.connection)
            guard current.version == expectedVersion else {
                throw VaultError(.versionMismatch, "The base changed since it was read (version \(current.version), If-Match \(expectedVersion)); read it again.")
            }
            var changed: [String: AuditValue] = [:]
            if let name = changes.displayName, name != current.displayName { changed["display_name"] = .string(name) }
            if let url = baseURL, url != current.baseURL { changed["base_url"] = .string(url) }
            if let tenant, tenant != current.tenant { changed["tenant"] = .string(tenant) }
            if changed.isEmpty { return current }
            let row = try mutation.connection.query("""
                UPDATE bases SET display_name = \(changes.displayName ?? current.displayName), base_url = \(baseURL ?? current.baseURL),
                                 tenant = \(tenant ?? current.tenant), version = version + 1, updated_at = \(mutation.now)
                WHERE id = \(current.id)
                RETURNING \(unsafeSQL: Base.columns)
                """).first!
            mutation.record(AuditEvent(action: "base.updated", targetType: "base", targetID: current.id.uuidString.lowercased(),
                                       baseID: current.id, details: changed))
            return try Base(row: row)
        }
    }

    /// Offboards a base: destroys its data key (nothing sealed for it can be opened again), revokes its instance keys,
    /// retires its credentials, closes its mailboxes and erases their tokens, frees its slug. Its audit trail stays.
    public func deleteBase(slug: String, by principal: Principal, requestID: String?) throws(VaultError) -> Base {
        try withMutation(by: principal, requestID: requestID) { mutation in
            let current = try lockBase(slug: slug, by: principal, on: mutation.connection)
            let revoked = try mutation.connection.query("""
                UPDATE api_keys SET revoked_at = \(mutation.now), revoked_by = \(principal.auditName)
                WHERE base_id = \(current.id) AND revoked_at IS NULL
                RETURNING prefix
                """)
            try mutation.connection.query("""
                UPDATE client_credentials SET retired_at = \(mutation.now) WHERE base_id = \(current.id) AND retired_at IS NULL
                """)
            try mutation.connection.query("DELETE FROM access_tokens WHERE base_id = \(current.id)")
            try mutation.connection.query("DELETE FROM oauth_states WHERE base_id = \(current.id)")
            let mailboxes = try mutation.connection.query("""
                UPDATE mailboxes SET deleted_at = \(mutation.now), updated_at = \(mutation.now), status = 'disabled',
                       refresh_token_sealed = NULL, previous_refresh_token_sealed = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE base_id = \(current.id) AND deleted_at IS NULL
                """).affectedRows
            try barrier.destroyDataKey(for: current.id, on: mutation.connection)
            let row = try mutation.connection.query("""
                UPDATE bases SET status = 'offboarded', deleted_at = \(mutation.now), updated_at = \(mutation.now), version = version + 1
                WHERE id = \(current.id)
                RETURNING \(unsafeSQL: Base.columns)
                """).first!
            for key in revoked { mutation.invalidate("api_key:" + (try key.decode("prefix", as: String.self))) }
            mutation.invalidate("base:\(current.id.uuidString.lowercased())")
            mutation.record(AuditEvent(action: "base.deleted", targetType: "base", targetID: current.id.uuidString.lowercased(),
                                       baseID: current.id, details: ["slug": .string(current.slug), "data_key_destroyed": true,
                                                                     "api_keys_revoked": .int(revoked.count), "mailboxes_closed": .int(mailboxes)]))
            return try Base(row: row)
        }
    }

    /// The base's view for a principal allowed to see it.
    public func scope(ofBase slug: String, by principal: Principal) throws(VaultError) -> BaseScope {
        try base(slug: slug, by: principal).scope
    }

    /// The id of the live base with this slug, or nil (cached; offboarding drops the entry on every replica).
    public func baseID(forSlug slug: String) throws(VaultError) -> UUID? {
        guard Validation.slug(slug) == nil else { return nil }
        if let id = liveBaseIDs.withLock({ $0[slug] }) { return id }
        let id = try withConnection { connection in
            try connection.query("SELECT id FROM bases WHERE slug = \(slug) AND deleted_at IS NULL").first?.decode("id", as: UUID.self)
        }
        if let id { liveBaseIDs.withLock { $0[slug] = id } }
        return id
    }

    /// Every base id that ever had this slug (the audit trail of offboarded bases stays searchable).
    public func baseIDs(everNamed slug: String) throws(VaultError) -> [UUID] {
        try withConnection { connection in
            try connection.query("SELECT id FROM bases WHERE slug = \(slug)").map { try $0.decode("id", as: UUID.self) }
        }
    }

    /// Slugs of bases by id, deleted ones included (to name bases in listings).
    public func slugs(of ids: Set<UUID>) throws(VaultError) -> [UUID: String] {
        guard !ids.isEmpty else { return [:] }
        return try withConnection { connection in
            var out: [UUID: String] = [:]
            for row in try connection.query("SELECT id, slug FROM bases WHERE id = ANY(\(array: Array(ids)))") {
                out[try row.decode("id")] = try row.decode("slug")
            }
            return out
        }
    }

    func lockBase(slug: String, by principal: Principal, on connection: PostgresConnection) throws -> Base {
        guard Validation.slug(slug) == nil,
              let row = try connection.query("""
                  SELECT \(unsafeSQL: Base.columns) FROM bases WHERE slug = \(slug) AND deleted_at IS NULL FOR UPDATE
                  """).first else { throw VaultError.notFound("Base \(slug)") }
        let base = try Base(row: row)
        guard principal.canSee(baseID: base.id) else { throw VaultError.notFound("Base \(slug)") }
        return base
    }
}
