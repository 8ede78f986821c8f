import Crypto
import EntraClient
import Foundation
import Postgres

/// An access token handed to its owner: the one answer that carries a token.
public struct IssuedAccessToken: Sendable {
    /// The token.
    public let token: Secret
    /// `Bearer`.
    public let tokenType: String
    /// Its expiry.
    public let expiresAt: Date
    /// `outlook` or `graph`.
    public let resource: String
    /// The mailbox address to authenticate as.
    public let username: String

    /// `base64("user=<mailbox>\x01auth=Bearer <token>\x01\x01")`, ready for `AUTH XOAUTH2`.
    public var xoauth2: Secret {
        Secret(Data("user=\(username)\u{1}auth=Bearer \(token.revealed())\u{1}\u{1}".utf8).base64EncodedString())
    }
}

extension Vault {
    /// Resources a token can be asked for.
    public static let resources = ["outlook", "graph"]
    /// Bounds of `min_validity` in seconds (a token lives 60 to 90 minutes).
    public static let minValidityRange = 0...3000

    /// A token for the mailbox valid for at least `minValidity` seconds, refreshed first when needed: one refresh per
    /// mailbox at a time on this replica (single flight) and across replicas (a lease on the mailbox row); the newest
    /// refresh token is always the one kept. Each disclosure is recorded with a hash of the token.
    public func accessToken(base slug: String, mailbox id: UUID, resource: String, minValidity: Int, by principal: Principal,
                            requestID: String?) throws(VaultError) -> IssuedAccessToken {
        var check = InputCheck()
        if !Self.resources.contains(resource) { check.check("resource", "must be outlook or graph") }
        if !Self.minValidityRange.contains(minValidity) { check.check("min_validity", "must be from 0 to 3000 seconds") }
        try check.throwIfInvalid()
        guard let baseID = try baseID(forSlug: slug), principal.canSee(baseID: baseID) else { throw VaultError.notFound("Base \(slug)") }
        let scope = BaseScope(id: baseID, slug: slug)
        let deadline = Date().addingTimeInterval(25)
        var rounds = 0
        while true {
            // After two refresh rounds, Microsoft's tokens are simply shorter than asked (a tenant policy can do that):
            // hand out the newest valid one rather than refreshing again and again.
            if let token = try currentToken(scope, id, resource: resource, minValidity: rounds < 2 ? minValidity : 1) {
                try recordDisclosure(token, scope: scope, mailbox: id, minValidity: minValidity, by: principal, requestID: requestID)
                return token
            }
            guard Date() < deadline, rounds < 2 else {
                throw VaultError(.upstreamUnavailable, "The token could not be refreshed in time.", reason: "refresh_timeout", retryAfter: 5)
            }
            rounds += 1
            let key = "\(baseID.uuidString):\(id.uuidString)"
            try mapErrors {
                try refreshes.run(key) { try refreshUnderLease(scope, id, resource: resource, minValidity: minValidity, deadline: deadline) }
            }
        }
    }

    /// The stored token when it is valid long enough; nil when a refresh is needed.
    private func currentToken(_ scope: BaseScope, _ id: UUID, resource: String, minValidity: Int) throws(VaultError) -> IssuedAccessToken? {
        try withConnection { connection in
            guard let row = try connection.query("""
                SELECT m.address, t.token_sealed, t.expires_at
                FROM mailboxes m LEFT JOIN access_tokens t ON t.base_id = m.base_id AND t.mailbox_id = m.id AND t.resource = \(resource)
                WHERE m.base_id = \(scope.id) AND m.id = \(id) AND m.deleted_at IS NULL
                """).first else { throw VaultError.notFound("Mailbox \(id.uuidString.lowercased())") }
            guard let expiresAt: Date = try row.decode("expires_at"), expiresAt.timeIntervalSince(clock.now()) >= Double(minValidity) else { return nil }
            let key = try barrier.dataKey(for: scope.id, on: connection)
            let token = try barrier.open(try row.decode("token_sealed"), at: accessTokenAddress(scope.id, id, resource: resource), with: key)
            return IssuedAccessToken(token: token, tokenType: "Bearer", expiresAt: expiresAt, resource: resource, username: try row.decode("address"))
        }
    }

    private func recordDisclosure(_ token: IssuedAccessToken, scope: BaseScope, mailbox: UUID, minValidity: Int, by principal: Principal,
                                  requestID: String?) throws(VaultError) {
        try withMutation(by: principal, requestID: requestID) { mutation in
            mutation.record(AuditEvent(action: "access_token.disclosed", targetType: "mailbox", targetID: mailbox.uuidString.lowercased(),
                                       baseID: scope.id, details: ["resource": .string(token.resource), "username": .string(token.username),
                                                                   "token_sha256": .string(Hex.encode(SHA256.hash(token.token.revealed()))),
                                                                   "expires_at": .date(token.expiresAt), "min_validity": .int(minValidity)]))
        }
    }

    /// What a lease on a mailbox gives: enough to obtain a token.
    private struct LeasedMailbox {
        let mode: MailboxMode
        let status: MailboxStatus
        let tenantID: String?
        let grantedScopes: [String]
        let refreshToken: [UInt8]?
        let previousRefreshToken: [UInt8]?
        let refreshTokenVersion: Int64
        let consecutiveFailures: Int
        let lastErrorCode: String?
        let lastErrorRemediation: String?
        let retryAfterAt: Date?
    }

    /// Seconds to wait after a transient failure: Microsoft's `Retry-After` when it gave one, else 1, 2, 4 … 60 seconds
    /// with ±20 % jitter (so that replicas and mailboxes do not retry in step).
    static func backoff(consecutiveFailures: Int, retryAfter: Int?, jitter: Double) -> Int {
        if let retryAfter { return max(1, retryAfter) }
        let base = min(60.0, pow(2.0, Double(max(0, consecutiveFailures - 1))))
        return max(1, Int((base * (0.8 + 0.4 * min(max(jitter, 0), 1))).rounded()))
    }

    static let leaseDuration: TimeInterval = 60

    /// Takes the mailbox's lease (or waits for the replica that holds it), then refreshes unless someone else already did.
    private func refreshUnderLease(_ scope: BaseScope, _ id: UUID, resource: String, minValidity: Int, deadline: Date) throws {
        while true {
            guard let lease = try acquireLease(scope, id) else {
                // Another replica is refreshing: its result will appear in the table.
                if try currentToken(scope, id, resource: resource, minValidity: minValidity) != nil { return }
                guard Date() < deadline else { return }
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            do {
                if try currentToken(scope, id, resource: resource, minValidity: minValidity) != nil {
                    try releaseLease(scope, id)
                    return
                }
                if let notBefore = lease.retryAfterAt, notBefore > clock.now() {
                    try releaseLease(scope, id)
                    let wait = max(1, Int(notBefore.timeIntervalSince(clock.now()).rounded(.up)))
                    throw VaultError(.upstreamUnavailable, "Microsoft failed moments ago (\(lease.lastErrorCode ?? "transient")); not calling it again before \(wait) s.",
                                     reason: "entra_unavailable", remediation: lease.lastErrorRemediation, upstreamCode: lease.lastErrorCode, retryAfter: wait)
                }
                if lease.status == .needsReauthorization || lease.status == .disabled {
                    try releaseLease(scope, id)
                    throw VaultError(.dependencyFailed, "The mailbox needs a new sign-in (\(lease.lastErrorCode ?? "its grant was refused")).",
                                     reason: "needs_reauthorization", remediation: lease.lastErrorRemediation
                                        ?? "Sign in again with the mailbox (the arrow in OpenFire's Outlook settings).", upstreamCode: lease.lastErrorCode)
                }
                try obtainAndStore(scope, id, lease: lease, resource: resource)
                return
            } catch let error as VaultError {
                try? releaseLease(scope, id)
                throw error
            } catch let failure as EntraFailure {
                let wait = try recordFailure(scope, id, lease: lease, failure: failure)
                throw failure.vaultError(context: "Refreshing the token", retryAfter: wait)
            } catch {
                try? releaseLease(scope, id)
                throw error
            }
        }
    }

    private func acquireLease(_ scope: BaseScope, _ id: UUID) throws -> LeasedMailbox? {
        try pool.withConnection { connection in
            let now = clock.now()
            guard let row = try connection.query("""
                UPDATE mailboxes SET lease_owner = \(replicaID), lease_expires_at = \(now.addingTimeInterval(Self.leaseDuration))
                WHERE base_id = \(scope.id) AND id = \(id) AND deleted_at IS NULL
                  AND (lease_owner IS NULL OR lease_expires_at < \(now) OR lease_owner = \(replicaID))
                RETURNING mode, status, tenant_id, granted_scopes::text AS granted, refresh_token_sealed, previous_refresh_token_sealed,
                          refresh_token_version, consecutive_failures, last_error_code, last_error_remediation, retry_after_at
                """).first else {
                guard try connection.query("SELECT 1 FROM mailboxes WHERE base_id = \(scope.id) AND id = \(id) AND deleted_at IS NULL").first != nil else {
                    throw VaultError.notFound("Mailbox \(id.uuidString.lowercased())")
                }
                return nil
            }
            return LeasedMailbox(mode: MailboxMode(rawValue: try row.decode("mode")) ?? .delegated,
                                 status: MailboxStatus(rawValue: try row.decode("status")) ?? .pending, tenantID: try row.decode("tenant_id"),
                                 grantedScopes: PostgresTextArray.parse(try row.decode("granted")),
                                 refreshToken: try row.decode("refresh_token_sealed"), previousRefreshToken: try row.decode("previous_refresh_token_sealed"),
                                 refreshTokenVersion: try row.decode("refresh_token_version"), consecutiveFailures: try row.decode("consecutive_failures"),
                                 lastErrorCode: try row.decode("last_error_code"), lastErrorRemediation: try row.decode("last_error_remediation"),
                                 retryAfterAt: try row.decode("retry_after_at"))
        }
    }

    private func releaseLease(_ scope: BaseScope, _ id: UUID) throws {
        try pool.withConnection { connection in
            _ = try connection.query("""
                UPDATE mailboxes SET lease_owner = NULL, lease_expires_at = NULL
                WHERE base_id = \(scope.id) AND id = \(id) AND lease_owner = \(replicaID)
                """)
        }
    }

    /// Calls Microsoft (refresh token, or client credentials in application mode) and stores what it granted.
    private func obtainAndStore(_ scope: BaseScope, _ id: UUID, lease: LeasedMailbox, resource: String) throws {
        let registration = try pool.withConnection { try registrationContext(scope, on: $0) }
        let key = try pool.withConnection { try barrier.dataKey(for: scope.id, on: $0) }
        switch lease.mode {
        case .application:
            let tenant = lease.tenantID ?? registration.tenant
            let appScope = resource == "graph" ? "https://graph.microsoft.com/.default" : MicrosoftScopes.exchangeAppOnly
            let grant = try withClientSecret(registration) { secret throws(EntraFailure) in
                try entra.clientCredentials(tenant: tenant, clientID: registration.clientID, clientSecret: secret, scope: appScope)
            }
            try store(grant, usedRefreshToken: nil, scope: scope, id: id, lease: lease, resource: resource, key: key)
        case .delegated:
            guard let sealed = lease.refreshToken else {
                throw VaultError(.dependencyFailed, "The mailbox has not signed in yet.", reason: "not_authorized",
                                 remediation: "Sign in with the mailbox (the arrow in OpenFire's Outlook settings).")
            }
            let current = try barrier.open(sealed, at: refreshTokenAddress(scope.id, id, previous: false), with: key)
            let scopes = MicrosoftScopes.refreshScopes(resource: resource, granted: lease.grantedScopes)
            let tenant = lease.tenantID ?? registration.tenant
            func redeem(_ refreshToken: Secret) throws -> TokenGrant {
                try withClientSecret(registration) { secret throws(EntraFailure) in
                    try entra.refresh(tenant: tenant, clientID: registration.clientID, clientSecret: secret, refreshToken: refreshToken, scopes: scopes)
                }
            }
            do {
                try store(try redeem(current), usedRefreshToken: current, scope: scope, id: id, lease: lease, resource: resource, key: key)
            } catch let failure as EntraFailure where failure.kind == .reauthorize && lease.previousRefreshToken != nil {
                // The previous refresh token is kept for exactly this: a newer one that Microsoft does not accept.
                let previous = try barrier.open(lease.previousRefreshToken!, at: refreshTokenAddress(scope.id, id, previous: true), with: key)
                guard let grant = try? redeem(previous) else { throw failure }
                logger.warning("the current refresh token was refused; the previous one worked", ["base.slug": scope.slug, "entra.code": failure.codeText])
                try store(grant, usedRefreshToken: previous, scope: scope, id: id, lease: lease, resource: resource, key: key)
            }
        }
    }

    /// Stores a grant: the access token, and the new refresh token only if no one changed it meanwhile (version check);
    /// the refresh token just used becomes the previous one. Releases the lease.
    private func store(_ grant: TokenGrant, usedRefreshToken: Secret?, scope: BaseScope, id: UUID, lease: LeasedMailbox, resource: String,
                       key: DataKey) throws {
        let status = lease.status.after(.tokenObtained)
        try withMutation(by: .system("token-refresh"), requestID: nil) { mutation in
            try storeAccessToken(grant, base: scope.id, mailbox: id, resource: resource, key: key, mutation: mutation)
            if let newRefresh = grant.refreshToken, let used = usedRefreshToken {
                let sealedNew = barrier.seal(newRefresh, at: refreshTokenAddress(scope.id, id, previous: false), with: key)
                let sealedPrevious = barrier.seal(used, at: refreshTokenAddress(scope.id, id, previous: true), with: key)
                let rotated = try mutation.connection.query("""
                    UPDATE mailboxes SET refresh_token_sealed = \(sealedNew), previous_refresh_token_sealed = \(sealedPrevious),
                           refresh_token_version = refresh_token_version + 1, refresh_token_obtained_at = \(mutation.now),
                           refresh_token_used_at = \(mutation.now), next_refresh_at = \(mutation.now.addingTimeInterval(Self.refreshTokenRedeemInterval))
                    WHERE base_id = \(scope.id) AND id = \(id) AND refresh_token_version = \(lease.refreshTokenVersion) AND deleted_at IS NULL
                    """).affectedRows
                if rotated == 0 {
                    logger.notice("a newer sign-in replaced the refresh token during a refresh; keeping the newer one", ["base.slug": scope.slug])
                }
            }
            try mutation.connection.query("""
                UPDATE mailboxes SET status = \(status.rawValue), last_error_code = NULL, last_error = NULL, last_error_remediation = NULL,
                       last_error_at = NULL, consecutive_failures = 0, retry_after_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                       updated_at = \(mutation.now)
                WHERE base_id = \(scope.id) AND id = \(id)
                """)
            if status != lease.status {
                mutation.record(AuditEvent(action: "mailbox.status_changed", targetType: "mailbox", targetID: id.uuidString.lowercased(), baseID: scope.id,
                                           details: ["from": .string(lease.status.rawValue), "to": .string(status.rawValue)]))
            }
            mutation.invalidate("token:\(scope.id.uuidString.lowercased()):\(id.uuidString.lowercased())")
        }
    }

    /// Records a failed refresh on the mailbox (status per the rules of `MailboxStatus.after`, a backoff after transient
    /// failures) and releases the lease. Returns the backoff in seconds, for transient failures.
    @discardableResult
    private func recordFailure(_ scope: BaseScope, _ id: UUID, lease: LeasedMailbox, failure: EntraFailure) throws -> Int? {
        let consecutive = lease.consecutiveFailures + 1
        let wait = failure.kind == .transient
            ? Self.backoff(consecutiveFailures: consecutive, retryAfter: failure.retryAfter, jitter: Double(random.bytes(1)[0]) / 255) : nil
        let retryAfterAt = wait.map { clock.now().addingTimeInterval(TimeInterval($0)) }
        let event: MailboxStatus.Event = switch failure.kind {
        case .reauthorize: .grantRefused
        case .transient: .transientFailure(consecutive: consecutive)
        case .clientCredential, .configuration, .request: .registrationRefused
        }
        let status = lease.status.after(event)
        try withMutation(by: .system("token-refresh"), requestID: nil) { mutation in
            try mutation.connection.query("""
                UPDATE mailboxes SET status = \(status.rawValue), last_error_code = \(failure.codeText), last_error = \(failure.message),
                       last_error_remediation = \(failure.remediation), last_error_at = \(mutation.now), consecutive_failures = \(consecutive),
                       retry_after_at = \(retryAfterAt), lease_owner = NULL, lease_expires_at = NULL, updated_at = \(mutation.now)
                WHERE base_id = \(scope.id) AND id = \(id)
                """)
            if status != lease.status {
                mutation.record(AuditEvent(action: "mailbox.status_changed", targetType: "mailbox", targetID: id.uuidString.lowercased(), baseID: scope.id,
                                           details: ["from": .string(lease.status.rawValue), "to": .string(status.rawValue),
                                                     "code": .string(failure.codeText)]))
            }
        }
        logger.warning("token refresh failed", ["base.slug": scope.slug, "mailbox.id": id.uuidString.lowercased(), "entra.code": failure.codeText,
                                                "entra.kind": failure.kind.rawValue])
        return wait
    }
}
