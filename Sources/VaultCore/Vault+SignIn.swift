import Crypto
import EntraClient
import Foundation
import Postgres

/// A sign-in just started.
public struct AuthorizationStart: Sendable {
    /// Where the person signs in (Microsoft's authorize endpoint, with state, PKCE and `login_hint`).
    public let authorizeURL: String
    /// After this the state is refused.
    public let expiresAt: Date
    /// The mailbox.
    public let mailbox: Mailbox
}

/// What the confirm step produced.
public struct SignInResult: Sendable {
    /// The base.
    public let base: Base
    /// The mailbox, active.
    public let mailbox: Mailbox
}

/// The OAuth `state`: `<base id>.<256 random bits>`, base64url. Only its SHA-256 is stored.
enum OAuthState {
    static let lifetime: TimeInterval = 600

    static func make(base: UUID, random: RandomSource) -> (text: String, hash: [UInt8]) {
        let text = Base64URL.encode(withUnsafeBytes(of: base.uuid) { Array($0) }) + "." + Base64URL.encode(random.bytes(32))
        return (text, SHA256.hash(text))
    }

    /// The base a state belongs to, when it is well-formed.
    static func base(of text: String) -> UUID? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 43, let bytes = Base64URL.decode(String(parts[0])), bytes.count == 16 else { return nil }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

extension Vault {
    /// Starts a sign-in for a delegated mailbox: the authorize URL to open (state single use for 10 minutes, PKCE S256,
    /// `offline_access openid` and the Outlook scopes, `login_hint` = the mailbox).
    public func startAuthorization(base slug: String, mailbox id: UUID, by principal: Principal,
                                   requestID: String?) throws(VaultError) -> AuthorizationStart {
        try withMutation(by: principal, requestID: requestID) { mutation in
            let base = try lockBase(slug: slug, by: principal, on: mutation.connection)
            guard let mailbox = try loadMailbox(base: base.id, id: id, on: mutation.connection) else {
                throw VaultError.notFound("Mailbox \(id.uuidString.lowercased())")
            }
            guard mailbox.mode == .delegated else {
                throw VaultError(.conflict, "An application-mode mailbox does not sign in: a tenant administrator grants the app access (admin consent and Add-MailboxPermission).")
            }
            let registration = try registrationContext(base.scope, on: mutation.connection)
            let (state, hash) = OAuthState.make(base: base.id, random: random)
            let pkce = PKCE.make()
            let key = try barrier.dataKey(for: base.id, on: mutation.connection)
            let sealedVerifier = barrier.seal(pkce.verifier, at: verifierAddress(base.id, hash), with: key)
            let expiresAt = mutation.now.addingTimeInterval(OAuthState.lifetime)
            try mutation.connection.query("DELETE FROM oauth_states WHERE base_id = \(base.id) AND expires_at < \(mutation.now.addingTimeInterval(-86_400))")
            try mutation.connection.query("""
                INSERT INTO oauth_states (base_id, state_hash, mailbox_id, code_verifier_sealed, redirect_uri, scopes, created_by, created_at, expires_at)
                VALUES (\(base.id), \(hash), \(id), \(sealedVerifier), \(base.redirectURI), \(array: MicrosoftScopes.signIn), \(principal.auditName),
                        \(mutation.now), \(expiresAt))
                """)
            mutation.record(AuditEvent(action: "mailbox.authorization_started", targetType: "mailbox", targetID: id.uuidString.lowercased(),
                                       baseID: base.id, details: ["address": .string(mailbox.address)]))
            let url = entra.authorizeURL(tenant: mailbox.tenantID ?? registration.tenant, clientID: registration.clientID,
                                         redirectURI: base.redirectURI, scopes: MicrosoftScopes.signIn, state: state,
                                         codeChallenge: pkce.challenge, loginHint: mailbox.address)
            return AuthorizationStart(authorizeURL: url, expiresAt: expiresAt, mailbox: mailbox)
        }
    }

    /// Completes a sign-in with what Microsoft sent to the redirect URI. The state must be unexpired, unused and of the
    /// caller's base; the code is redeemed; the account must be the mailbox, from the pinned tenant, with the required
    /// scopes. Then the tokens are stored sealed and the mailbox is active.
    public func confirmAuthorization(code: String?, state: String, error: String?, errorDescription: String?, by principal: Principal,
                                     requestID: String?) throws(VaultError) -> SignInResult {
        let claimed = try claimState(state, by: principal, requestID: requestID)
        let base = claimed.base
        let mailbox = claimed.mailbox
        if let error {
            let code = errorDescription.flatMap(Self.aadstsCode(in:))
            let (_, remediation) = EntraErrorTaxonomy.classify(httpStatus: 400, error: error, code: code)
            try refuseSignIn(base: base, mailbox: mailbox, code: code.map { "AADSTS\($0)" } ?? error,
                             message: "Microsoft refused the sign-in: \(errorDescription?.split(whereSeparator: \.isNewline).first.map(String.init) ?? error)",
                             remediation: remediation, reason: error == "access_denied" ? "consent_denied" : "authorization_refused",
                             principal: principal, requestID: requestID)
        }
        guard let code, !code.isEmpty else {
            throw VaultError(.authorizationFailed, "The redirect carried neither a code nor an error.", reason: "missing_code")
        }
        let registration = try mapErrors { try pool.withConnection { try registrationContext(base.scope, on: $0) } }
        let grant: TokenGrant
        do {
            grant = try withClientSecret(registration) { secret throws(EntraFailure) in
                try entra.redeemCode(tenant: mailbox.tenantID ?? registration.tenant, clientID: registration.clientID, clientSecret: secret,
                                     code: Secret(code), redirectURI: claimed.redirectURI, codeVerifier: claimed.verifier,
                                     scopes: MicrosoftScopes.signIn.filter { !$0.hasPrefix("https://graph") })
            }
        } catch let failure as EntraFailure {
            if failure.kind == .transient { throw failure.vaultError(context: "Redeeming the sign-in code") }
            try refuseSignIn(base: base, mailbox: mailbox, code: failure.codeText, message: "Microsoft refused the sign-in code: \(failure.message)",
                             remediation: failure.remediation, reason: "code_redemption_failed", principal: principal, requestID: requestID)
        } catch {
            throw vaultError(from: error)
        }

        // Who signed in, from where, with what.
        guard let claims = grant.idToken, claims.audience == registration.clientID, let signedIn = claims.address else {
            try refuseSignIn(base: base, mailbox: mailbox, code: "missing_id_token", message: "Microsoft did not say who signed in (no usable id_token).",
                             remediation: "Sign in again; if it persists, check that the app has the openid and email permissions.",
                             reason: "missing_id_token", principal: principal, requestID: requestID)
        }
        let matches = signedIn == mailbox.address || claims.preferredUsername?.lowercased() == mailbox.address
        guard matches else {
            try refuseSignIn(base: base, mailbox: mailbox, code: "account_mismatch",
                             message: "The account that signed in is \(signedIn), but this mailbox is \(mailbox.address).",
                             remediation: "Sign in with \(mailbox.address) (sign out of \(signedIn) first, or use a private window).",
                             reason: "account_mismatch", principal: principal, requestID: requestID)
        }
        let expectedTenant = mailbox.tenantID ?? (UUID(uuidString: registration.tenant) != nil ? registration.tenant : nil)
        if let expectedTenant, expectedTenant != claims.tenantID {
            try refuseSignIn(base: base, mailbox: mailbox, code: "tenant_mismatch",
                             message: "The account signed in from tenant \(claims.tenantID), but this mailbox belongs to tenant \(expectedTenant).",
                             remediation: "Sign in with the customer's own account in tenant \(expectedTenant).",
                             reason: "tenant_mismatch", principal: principal, requestID: requestID)
        }
        let granted = grant.scopes.map { $0.lowercased() }
        let missingRequired = MicrosoftScopes.required.filter { !granted.contains($0.lowercased()) }
        guard missingRequired.isEmpty, let refreshToken = grant.refreshToken else {
            let missing = missingRequired.isEmpty ? ["offline_access"] : missingRequired
            try refuseSignIn(base: base, mailbox: mailbox, code: "missing_scopes",
                             message: "Microsoft did not grant \(missing.joined(separator: ", ")).",
                             remediation: "Add the permission(s) \(missing.map { String($0.split(separator: "/").last ?? "") }.joined(separator: ", ")) to the OpenFire app, grant admin consent, then sign in again.",
                             reason: "missing_scopes", principal: principal, requestID: requestID)
        }
        let missingOptional = MicrosoftScopes.optional.filter { !granted.contains($0.lowercased()) }

        return try withMutation(by: principal, requestID: requestID) { mutation in
            guard try mutation.connection.query("""
                SELECT 1 FROM mailboxes WHERE base_id = \(base.id) AND id = \(mailbox.id) AND deleted_at IS NULL FOR UPDATE
                """).first != nil else { throw VaultError.notFound("Mailbox \(mailbox.id.uuidString.lowercased())") }
            let key = try barrier.dataKey(for: base.id, on: mutation.connection)
            let sealedRefresh = barrier.seal(refreshToken, at: refreshTokenAddress(base.id, mailbox.id, previous: false), with: key)
            try mutation.connection.query("""
                UPDATE mailboxes SET
                    status = \(mailbox.status.after(.authorized).rawValue), tenant_id = \(claims.tenantID), object_id = \(claims.objectID),
                    granted_scopes = \(array: grant.scopes), missing_scopes = \(array: missingOptional),
                    refresh_token_sealed = \(sealedRefresh), previous_refresh_token_sealed = NULL,
                    refresh_token_version = refresh_token_version + 1, refresh_token_obtained_at = \(mutation.now), refresh_token_used_at = NULL,
                    last_error_code = NULL, last_error = NULL, last_error_remediation = NULL, last_error_at = NULL, consecutive_failures = 0,
                    retry_after_at = NULL, authorized_at = \(mutation.now), next_refresh_at = \(mutation.now.addingTimeInterval(Self.refreshTokenRedeemInterval)),
                    updated_at = \(mutation.now)
                WHERE base_id = \(base.id) AND id = \(mailbox.id)
                """)
            try storeAccessToken(grant, base: base.id, mailbox: mailbox.id, resource: "outlook", key: key, mutation: mutation)
            try mutation.connection.query("""
                UPDATE bases SET status = 'active', updated_at = \(mutation.now), version = version + 1 WHERE id = \(base.id) AND status = 'onboarding'
                """)
            mutation.record(AuditEvent(action: "mailbox.authorized", targetType: "mailbox", targetID: mailbox.id.uuidString.lowercased(), baseID: base.id,
                                       details: ["address": .string(mailbox.address), "tenant_id": .string(claims.tenantID),
                                                 "scopes": .strings(grant.scopes), "missing_scopes": .strings(missingOptional),
                                                 "previous_status": .string(mailbox.status.rawValue)]))
            mutation.invalidate("token:\(base.id.uuidString.lowercased()):\(mailbox.id.uuidString.lowercased())")
            let updatedBase = try mutation.connection.query("SELECT \(unsafeSQL: Base.columns) FROM bases WHERE id = \(base.id)").first.map(Base.init(row:)) ?? base
            return SignInResult(base: updatedBase, mailbox: try loadMailbox(base: base.id, id: mailbox.id, on: mutation.connection)!)
        }
    }

    /// How often a refresh token is redeemed even when no one asks for a token (far inside the 90-day inactivity limit).
    public static let refreshTokenRedeemInterval: TimeInterval = 86_400

    struct ClaimedState {
        let base: Base
        let mailbox: Mailbox
        let redirectURI: String
        let verifier: Secret
    }

    /// Marks the state used (once, atomically) and returns what it was for; refuses unknown, used, expired states
    /// and states of another base than the caller's.
    private func claimState(_ state: String, by principal: Principal, requestID: String?) throws(VaultError) -> ClaimedState {
        let unknown = VaultError(.authorizationFailed, "This sign-in was not started by TokenVault for this base.", reason: "invalid_state",
                                 remediation: "Start the sign-in again from OpenFire (the arrow in the Outlook settings).")
        guard let baseID = OAuthState.base(of: state), principal.canSee(baseID: baseID) else {
            throw unknown
        }
        let hash = SHA256.hash(state)
        return try withMutation(by: principal, requestID: requestID) { mutation in
            guard let row = try mutation.connection.query("""
                SELECT s.mailbox_id, s.code_verifier_sealed, s.redirect_uri, s.used_at, s.expires_at
                FROM oauth_states s JOIN bases b ON b.id = s.base_id AND b.deleted_at IS NULL
                WHERE s.base_id = \(baseID) AND s.state_hash = \(hash) FOR UPDATE OF s
                """).first else { throw unknown }
            if try row.decode("used_at", as: Date?.self) != nil {
                throw VaultError(.authorizationFailed, "This sign-in was already completed; a state works once.", reason: "state_used",
                                 remediation: "Start a new sign-in from OpenFire if the mailbox is not validated.")
            }
            if try row.decode("expires_at", as: Date.self) <= mutation.now {
                throw VaultError(.authorizationFailed, "The sign-in took longer than 10 minutes and expired.", reason: "state_expired",
                                 remediation: "Start the sign-in again from OpenFire and complete it within 10 minutes.")
            }
            try mutation.connection.query("UPDATE oauth_states SET used_at = \(mutation.now) WHERE base_id = \(baseID) AND state_hash = \(hash)")
            let mailboxID: UUID = try row.decode("mailbox_id")
            guard let base = try mutation.connection.query("SELECT \(unsafeSQL: Base.columns) FROM bases WHERE id = \(baseID)").first.map(Base.init(row:)),
                  let mailbox = try loadMailbox(base: baseID, id: mailboxID, on: mutation.connection) else { throw unknown }
            let key = try barrier.dataKey(for: baseID, on: mutation.connection)
            let verifier = try barrier.open(try row.decode("code_verifier_sealed"), at: verifierAddress(baseID, hash), with: key)
            mutation.record(AuditEvent(action: "mailbox.authorization_returned", targetType: "mailbox", targetID: mailboxID.uuidString.lowercased(),
                                       baseID: baseID, details: ["address": .string(mailbox.address)]))
            return ClaimedState(base: base, mailbox: mailbox, redirectURI: try row.decode("redirect_uri"), verifier: verifier)
        }
    }

    /// Records why a sign-in was refused on the mailbox (its tokens, if any, stay) and throws the refusal.
    private func refuseSignIn(base: Base, mailbox: Mailbox, code: String, message: String, remediation: String, reason: String,
                              principal: Principal, requestID: String?) throws(VaultError) -> Never {
        try withMutation(by: principal, requestID: requestID) { mutation in
            try mutation.connection.query("""
                UPDATE mailboxes SET status = \(mailbox.status.after(.authorizationRefused).rawValue), last_error_code = \(code),
                       last_error = \(message), last_error_remediation = \(remediation), last_error_at = \(mutation.now), updated_at = \(mutation.now)
                WHERE base_id = \(base.id) AND id = \(mailbox.id)
                """)
            mutation.record(AuditEvent(action: "mailbox.authorization_refused", targetType: "mailbox", targetID: mailbox.id.uuidString.lowercased(),
                                       baseID: base.id, details: ["address": .string(mailbox.address), "code": .string(code), "reason": .string(reason)]))
        }
        throw VaultError(.authorizationFailed, message, reason: reason, remediation: remediation, upstreamCode: code.hasPrefix("AADSTS") ? code : nil)
    }

    static func aadstsCode(in text: String) -> Int? {
        guard let range = text.range(of: "AADSTS") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    func verifierAddress(_ base: UUID, _ stateHash: [UInt8]) -> SealedFieldAddress {
        SealedFieldAddress(baseID: base, table: "oauth_states", column: "code_verifier", rowID: Hex.encode(stateHash))
    }

    func refreshTokenAddress(_ base: UUID, _ mailbox: UUID, previous: Bool) -> SealedFieldAddress {
        SealedFieldAddress(baseID: base, table: "mailboxes", column: previous ? "previous_refresh_token" : "refresh_token",
                           rowID: mailbox.uuidString.lowercased())
    }

    func accessTokenAddress(_ base: UUID, _ mailbox: UUID, resource: String) -> SealedFieldAddress {
        SealedFieldAddress(baseID: base, table: "access_tokens", column: "token", rowID: "\(mailbox.uuidString.lowercased()):\(resource)")
    }

    func storeAccessToken(_ grant: TokenGrant, base: UUID, mailbox: UUID, resource: String, key: DataKey, mutation: Mutation) throws {
        let sealed = barrier.seal(grant.accessToken, at: accessTokenAddress(base, mailbox, resource: resource), with: key)
        try mutation.connection.query("""
            INSERT INTO access_tokens (base_id, mailbox_id, resource, token_sealed, scopes, expires_at, obtained_at)
            VALUES (\(base), \(mailbox), \(resource), \(sealed), \(array: grant.scopes), \(mutation.now.addingTimeInterval(TimeInterval(grant.expiresIn))), \(mutation.now))
            ON CONFLICT (base_id, mailbox_id, resource) DO UPDATE
            SET token_sealed = EXCLUDED.token_sealed, scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at, obtained_at = EXCLUDED.obtained_at
            """)
    }
}
