import Foundation
import Postgres

extension Vault {
    /// Adds a mailbox to a base.
    public func createMailbox(base slug: String, address rawAddress: String, mode rawMode: String?, by principal: Principal,
                              requestID: String?) throws(VaultError) -> Mailbox {
        var check = InputCheck()
        let address = check.normalized("address", Validation.emailAddress(rawAddress), original: rawAddress).lowercased()
        let mode = MailboxMode(rawValue: rawMode ?? "delegated")
        if mode == nil { check.check("mode", "must be delegated or application") }
        try check.throwIfInvalid()
        return try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            if mode == .application {
                let tenant = try mutation.connection.query("SELECT tenant FROM app_registrations WHERE base_id = \(base.id)").first?
                    .decode("tenant", as: String.self) ?? base.tenant
                if tenant == "organizations" {
                    throw VaultError.invalid("mode", "application mode needs the customer's tenant id (not 'organizations') on the base or its app registration")
                }
            }
            let id = random.uuid()
            do {
                try mutation.connection.query("""
                    INSERT INTO mailboxes (base_id, id, address, mode, status, created_at, updated_at)
                    VALUES (\(base.id), \(id), \(address), \(mode!.rawValue), 'pending', \(mutation.now), \(mutation.now))
                    """)
            } catch let error as PostgresError where error.isUniqueViolation {
                throw VaultError(.conflict, "The base already has a mailbox \(address).")
            }
            mutation.record(AuditEvent(action: "mailbox.created", targetType: "mailbox", targetID: id.uuidString.lowercased(), baseID: base.id,
                                       details: ["address": .string(address), "mode": .string(mode!.rawValue)]))
            return try loadMailbox(base: base.id, id: id, on: mutation.connection)!
        }
    }

    /// The live mailboxes of a base, by address.
    public func listMailboxes(base slug: String, limit: Int, after cursor: String?, by principal: Principal) throws(VaultError) -> Page<Mailbox> {
        let scope = try scope(ofBase: slug, by: principal)
        let mailboxes = try withConnection { connection in
            let rows = try connection.query("""
                SELECT \(unsafeSQL: Mailbox.columns) FROM mailboxes m
                WHERE m.base_id = \(scope.id) AND m.deleted_at IS NULL AND (\(cursor)::text IS NULL OR m.address > \(cursor))
                ORDER BY m.address LIMIT \(limit + 1)
                """)
            let tokens = try accessTokenStates(base: scope.id, mailboxes: rows.map { try $0.decode("id", as: UUID.self) }, on: connection)
            return try rows.map { row in try Mailbox(row: row, accessTokens: tokens[try row.decode("id", as: UUID.self)] ?? []) }
        }
        let items = Array(mailboxes.prefix(limit))
        return Page(items: items, nextCursor: mailboxes.count > limit ? items.last?.address : nil)
    }

    /// One mailbox of a base.
    public func mailbox(base slug: String, id: UUID, by principal: Principal) throws(VaultError) -> Mailbox {
        let scope = try scope(ofBase: slug, by: principal)
        let found = try withConnection { connection in try loadMailbox(base: scope.id, id: id, on: connection) }
        guard let found else { throw VaultError.notFound("Mailbox \(id.uuidString.lowercased())") }
        return found
    }

    /// Removes a mailbox: its tokens are erased, sign-ins in progress cancelled, its trail kept.
    public func deleteMailbox(base slug: String, id: UUID, by principal: Principal, requestID: String?) throws(VaultError) -> Mailbox {
        try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            guard let current = try loadMailbox(base: base.id, id: id, on: mutation.connection) else {
                throw VaultError.notFound("Mailbox \(id.uuidString.lowercased())")
            }
            try mutation.connection.query("DELETE FROM access_tokens WHERE base_id = \(base.id) AND mailbox_id = \(id)")
            try mutation.connection.query("DELETE FROM oauth_states WHERE base_id = \(base.id) AND mailbox_id = \(id)")
            try mutation.connection.query("""
                UPDATE mailboxes SET deleted_at = \(mutation.now), updated_at = \(mutation.now), status = 'disabled',
                       refresh_token_sealed = NULL, previous_refresh_token_sealed = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE base_id = \(base.id) AND id = \(id)
                """)
            mutation.record(AuditEvent(action: "mailbox.deleted", targetType: "mailbox", targetID: id.uuidString.lowercased(), baseID: base.id,
                                       details: ["address": .string(current.address)]))
            return current
        }
    }

    func loadMailbox(base: UUID, id: UUID, on connection: PostgresConnection) throws -> Mailbox? {
        guard let row = try connection.query("""
            SELECT \(unsafeSQL: Mailbox.columns) FROM mailboxes m WHERE m.base_id = \(base) AND m.id = \(id) AND m.deleted_at IS NULL
            """).first else { return nil }
        return try Mailbox(row: row, accessTokens: try accessTokenStates(base: base, mailboxes: [id], on: connection)[id] ?? [])
    }

    func accessTokenStates(base: UUID, mailboxes: [UUID], on connection: PostgresConnection) throws -> [UUID: [AccessTokenState]] {
        guard !mailboxes.isEmpty else { return [:] }
        var out: [UUID: [AccessTokenState]] = [:]
        for row in try connection.query("""
            SELECT mailbox_id, resource, expires_at, obtained_at FROM access_tokens
            WHERE base_id = \(base) AND mailbox_id = ANY(\(array: mailboxes)) ORDER BY resource
            """) {
            out[try row.decode("mailbox_id"), default: []].append(
                AccessTokenState(resource: try row.decode("resource"), expiresAt: try row.decode("expires_at"), obtainedAt: try row.decode("obtained_at")))
        }
        return out
    }
}
