import Foundation
import Postgres

extension Vault {
    /// Stores a base's app registration (`PUT`): the client id and tenant, and, when given, the set of active secrets,
    /// which replaces the previous active set (those are retired, kept for the record). When the client id is unchanged
    /// and no secret is given, the current secrets stay. Returns the registration and whether it was created.
    public func putAppRegistration(base slug: String, clientID rawClientID: String, tenant rawTenant: String?,
                                   secrets: [NewClientSecret]?, by principal: Principal,
                                   requestID: String?) throws(VaultError) -> (AppRegistration, created: Bool) {
        var check = InputCheck()
        let clientID = check.normalized("client_id", Validation.clientID(rawClientID), original: rawClientID)
        let tenant = rawTenant.map { check.normalized("tenant", Validation.tenant($0), original: $0) }
        let now = clock.now()
        for (index, secret) in (secrets ?? []).enumerated() {
            check.check("client_secrets[\(index)].secret", Validation.clientSecret(secret.secret))
            check.check("client_secrets[\(index)].expires_at", Validation.secretExpiry(secret.expiresAt, now: now))
        }
        if let secrets, secrets.count > 10 { check.check("client_secrets", "must list at most 10 secrets") }
        try check.throwIfInvalid()

        return try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            let existing = try mutation.connection.query("""
                SELECT client_id, tenant FROM app_registrations WHERE base_id = \(base.id) FOR UPDATE
                """).first
            let previousClientID: String? = try existing?.decode("client_id")
            let effectiveTenant = tenant ?? base.tenant
            if existing == nil && (secrets ?? []).isEmpty {
                throw VaultError.invalid("client_secrets", "must hold at least one secret for a new app registration")
            }
            if let previousClientID, previousClientID != clientID, (secrets ?? []).isEmpty {
                throw VaultError.invalid("client_secrets", "must hold the new application's secret: the stored secrets belong to \(previousClientID)")
            }
            if existing == nil {
                try mutation.connection.query("""
                    INSERT INTO app_registrations (base_id, client_id, tenant, created_at, updated_at)
                    VALUES (\(base.id), \(clientID), \(effectiveTenant), \(mutation.now), \(mutation.now))
                    """)
            } else {
                try mutation.connection.query("""
                    UPDATE app_registrations SET client_id = \(clientID), tenant = \(effectiveTenant), version = version + 1,
                                                 updated_at = \(mutation.now)
                    WHERE base_id = \(base.id)
                    """)
            }
            var retired = 0
            if let secrets, !secrets.isEmpty {
                retired = try mutation.connection.query("""
                    UPDATE client_credentials SET retired_at = \(mutation.now) WHERE base_id = \(base.id) AND retired_at IS NULL
                    """).affectedRows
            }
            var added: [String] = []
            for secret in secrets ?? [] {
                added.append(try insertSecret(secret, base: base.scope, clientID: clientID, mutation: mutation).id.uuidString.lowercased())
            }
            mutation.record(AuditEvent(action: existing == nil ? "app_registration.created" : "app_registration.replaced",
                                       targetType: "app_registration", targetID: base.id.uuidString.lowercased(), baseID: base.id,
                                       details: ["client_id": .string(clientID), "tenant": .string(effectiveTenant),
                                                 "previous_client_id": .optional(previousClientID),
                                                 "credentials_added": .strings(added), "credentials_retired": .int(retired)]))
            return (try loadAppRegistration(base: base, on: mutation.connection)!, existing == nil)
        }
    }

    /// The app registration of a base.
    public func appRegistration(base slug: String, by principal: Principal) throws(VaultError) -> AppRegistration {
        let base = try base(slug: slug, by: principal)
        let registration = try withConnection { connection in try loadAppRegistration(base: base, on: connection) }
        guard let registration else { throw VaultError.notFound("The app registration of base \(slug)") }
        return registration
    }

    /// Adds a client secret (rotation with overlap: the others stay active until retired).
    public func addClientSecret(base slug: String, _ secret: NewClientSecret, by principal: Principal,
                                requestID: String?) throws(VaultError) -> ClientCredential {
        var check = InputCheck()
        check.check("secret", Validation.clientSecret(secret.secret))
        check.check("expires_at", Validation.secretExpiry(secret.expiresAt, now: clock.now()))
        try check.throwIfInvalid()
        return try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            guard let registration = try mutation.connection.query("""
                SELECT client_id FROM app_registrations WHERE base_id = \(base.id) FOR UPDATE
                """).first else { throw VaultError.notFound("The app registration of base \(slug)") }
            let clientID: String = try registration.decode("client_id")
            let active = try mutation.connection.query("""
                SELECT count(*) AS n FROM client_credentials WHERE base_id = \(base.id) AND retired_at IS NULL AND expires_at > \(mutation.now)
                """).first!.decode("n", as: Int.self)
            guard active < 10 else { throw VaultError(.conflict, "The base already has 10 active secrets; retire one first.") }
            let credential = try insertSecret(secret, base: base.scope, clientID: clientID, mutation: mutation)
            mutation.record(AuditEvent(action: "client_credential.added", targetType: "client_credential",
                                       targetID: credential.id.uuidString.lowercased(), baseID: base.id,
                                       details: ["client_id": .string(clientID), "hint": .string(credential.hint),
                                                 "expires_at": .date(credential.expiresAt)]))
            return credential
        }
    }

    /// Retires a credential (kept for the record). Retiring a retired one changes nothing.
    public func retireClientCredential(base slug: String, id: UUID, by principal: Principal,
                                       requestID: String?) throws(VaultError) -> ClientCredential {
        try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            guard let row = try mutation.connection.query("""
                SELECT \(unsafeSQL: ClientCredential.columns) FROM client_credentials WHERE base_id = \(base.id) AND id = \(id) FOR UPDATE
                """).first else { throw VaultError.notFound("Credential \(id.uuidString.lowercased())") }
            let credential = try ClientCredential(row: row)
            if credential.retiredAt != nil { return credential }
            let updated = try mutation.connection.query("""
                UPDATE client_credentials SET retired_at = \(mutation.now) WHERE base_id = \(base.id) AND id = \(id)
                RETURNING \(unsafeSQL: ClientCredential.columns)
                """).first!
            mutation.record(AuditEvent(action: "client_credential.retired", targetType: "client_credential",
                                       targetID: id.uuidString.lowercased(), baseID: base.id,
                                       details: ["hint": .string(credential.hint)]))
            return try ClientCredential(row: updated)
        }
    }

    /// The active secrets of a base, newest first, opened. Only the Entra client needs this.
    public func activeClientSecrets(of scope: BaseScope, on connection: PostgresConnection) throws -> [(ClientCredential, Secret)] {
        let key = try barrier.dataKey(for: scope.id, on: connection)
        let now = clock.now()
        return try connection.query("""
            SELECT c.id, c.client_id, c.kind, c.hint, c.expires_at, c.created_at, c.retired_at, c.last_used_at,
                   c.last_error_code, c.secret_sealed
            FROM client_credentials c JOIN app_registrations a ON a.base_id = c.base_id AND a.client_id = c.client_id
            WHERE c.base_id = \(scope.id) AND c.retired_at IS NULL AND c.expires_at > \(now)
            ORDER BY c.created_at DESC
            """).map { row in
            let credential = try ClientCredential(row: row)
            let secret = try barrier.open(try row.decode("secret_sealed"), at: secretAddress(scope.id, credential.id), with: key)
            return (credential, secret)
        }
    }

    func loadAppRegistration(base: Base, on connection: PostgresConnection) throws -> AppRegistration? {
        guard let row = try connection.query("""
            SELECT client_id, tenant, created_at, updated_at FROM app_registrations WHERE base_id = \(base.id)
            """).first else { return nil }
        let clientID: String = try row.decode("client_id")
        let credentials = try connection.query("""
            SELECT \(unsafeSQL: ClientCredential.columns) FROM client_credentials
            WHERE base_id = \(base.id) AND client_id = \(clientID) ORDER BY created_at DESC, id
            """).map(ClientCredential.init(row:))
        return AppRegistration(baseID: base.id, clientID: clientID, tenant: try row.decode("tenant"),
                               redirectURI: base.redirectURI, credentials: credentials,
                               createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"))
    }

    private func insertSecret(_ secret: NewClientSecret, base: BaseScope, clientID: String, mutation: Mutation) throws -> ClientCredential {
        let id = random.uuid()
        let key = try barrier.dataKey(for: base.id, on: mutation.connection)
        let sealed = barrier.seal(secret.secret, at: secretAddress(base.id, id), with: key)
        let hint = String(secret.secret.revealed().prefix(4))
        let row = try mutation.connection.query("""
            INSERT INTO client_credentials (base_id, id, client_id, kind, secret_sealed, hint, expires_at, created_at)
            VALUES (\(base.id), \(id), \(clientID), 'secret', \(sealed), \(hint), \(secret.expiresAt), \(mutation.now))
            RETURNING \(unsafeSQL: ClientCredential.columns)
            """).first!
        return try ClientCredential(row: row)
    }

    func secretAddress(_ baseID: UUID, _ credentialID: UUID) -> SealedFieldAddress {
        SealedFieldAddress(baseID: baseID, table: "client_credentials", column: "secret_sealed", rowID: credentialID.uuidString.lowercased())
    }
}
