import Crypto
import EntraClient
import Foundation
import Postgres

/// What a call to the identity platform needs of a base's app registration.
struct RegistrationContext: Sendable {
    let scope: BaseScope
    let clientID: String
    let tenant: String
}

extension Vault {
    /// The app registration of a base, for calls to Microsoft.
    func registrationContext(_ scope: BaseScope, on connection: PostgresConnection) throws -> RegistrationContext {
        guard let row = try connection.query("SELECT client_id, tenant FROM app_registrations WHERE base_id = \(scope.id)").first else {
            throw VaultError(.dependencyFailed, "The base has no app registration.", reason: "no_app_registration",
                             remediation: "Store the OpenFire app registration of the base (client id and secret) first.")
        }
        return RegistrationContext(scope: scope, clientID: try row.decode("client_id"), tenant: try row.decode("tenant"))
    }

    /// Runs a call to Microsoft with each active client secret in turn (newest first) while Microsoft rejects the secret
    /// (AADSTS7000222 expired, 7000215 invalid). Rejections are recorded on the credential and in the audit trail; when
    /// every secret has expired, the base is marked `secret_expired`. Other failures are rethrown at once.
    func withClientSecret<T>(_ registration: RegistrationContext, _ body: (Secret) throws(EntraFailure) -> T) throws -> T {
        let secrets = try pool.withConnection { connection in try activeClientSecrets(of: registration.scope, on: connection) }
        guard !secrets.isEmpty else {
            try markSecretsExpired(registration.scope, reason: "no active client secret")
            throw VaultError(.dependencyFailed, "The base has no active client secret.", reason: "secret_expired",
                             remediation: "Create a new client secret in Entra ID (Certificates & secrets) and add it to the base.")
        }
        var rejected: [(ClientCredential, EntraFailure)] = []
        for (credential, secret) in secrets {
            let outcome: Result<T, EntraFailure>
            do { outcome = .success(try body(secret)) } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let value):
                try recordSecretOutcome(registration.scope, used: credential, rejected: rejected)
                return value
            case .failure(let failure) where failure.kind == .clientCredential:
                rejected.append((credential, failure))
            case .failure(let failure):
                try recordSecretOutcome(registration.scope, used: nil, rejected: rejected)
                throw failure
            }
        }
        try recordSecretOutcome(registration.scope, used: nil, rejected: rejected)
        if rejected.allSatisfy({ $0.1.code == 7000222 }) {
            try markSecretsExpired(registration.scope, reason: "every client secret was rejected as expired (AADSTS7000222)")
        }
        throw rejected.last!.1
    }

    private func recordSecretOutcome(_ scope: BaseScope, used: ClientCredential?, rejected: [(ClientCredential, EntraFailure)]) throws {
        let now = clock.now()
        let needsUseRecord = used.map { $0.lastErrorCode != nil || ($0.lastUsedAt.map { now.timeIntervalSince($0) > 3600 } ?? true) } ?? false
        let newRejections = rejected.filter { $0.0.lastErrorCode != $0.1.codeText }
        guard needsUseRecord || !newRejections.isEmpty else { return }
        try withMutation(by: .system("entra"), requestID: nil) { mutation in
            if let used, needsUseRecord {
                try mutation.connection.query("""
                    UPDATE client_credentials SET last_used_at = \(mutation.now), last_error_code = NULL WHERE base_id = \(scope.id) AND id = \(used.id)
                    """)
                try mutation.connection.query("""
                    UPDATE bases SET status = 'active', updated_at = \(mutation.now), version = version + 1
                    WHERE id = \(scope.id) AND status = 'secret_expired'
                    """)
            }
            for (credential, failure) in newRejections {
                try mutation.connection.query("""
                    UPDATE client_credentials SET last_error_code = \(failure.codeText) WHERE base_id = \(scope.id) AND id = \(credential.id)
                    """)
                mutation.record(AuditEvent(action: "client_credential.rejected", targetType: "client_credential",
                                           targetID: credential.id.uuidString.lowercased(), baseID: scope.id,
                                           details: ["hint": .string(credential.hint), "code": .string(failure.codeText),
                                                     "next_secret_used": .bool(used != nil)]))
                logger.warning("Microsoft rejected a client secret", ["base.slug": scope.slug, "credential.hint": credential.hint,
                                                                      "entra.code": failure.codeText])
            }
        }
    }

    private func markSecretsExpired(_ scope: BaseScope, reason: String) throws {
        try withMutation(by: .system("entra"), requestID: nil) { mutation in
            let changed = try mutation.connection.query("""
                UPDATE bases SET status = 'secret_expired', updated_at = \(mutation.now), version = version + 1
                WHERE id = \(scope.id) AND status <> 'secret_expired' AND deleted_at IS NULL
                """).affectedRows
            if changed > 0 {
                mutation.record(AuditEvent(action: "base.secret_expired", targetType: "base", targetID: scope.id.uuidString.lowercased(),
                                           baseID: scope.id, details: ["reason": .string(reason)]))
            }
        }
    }
}

extension EntraFailure {
    /// The error a caller sees when a call to Microsoft failed.
    func vaultError(context: String, retryAfter backoff: Int? = nil) -> VaultError {
        switch kind {
        case .transient:
            return VaultError(.upstreamUnavailable, "\(context): Microsoft is unavailable (\(codeText)).", reason: "entra_unavailable",
                              remediation: remediation, upstreamCode: codeText, retryAfter: backoff ?? retryAfter ?? 30)
        case .reauthorize:
            return VaultError(.dependencyFailed, "\(context): the mailbox needs a new sign-in (\(codeText)).", reason: "needs_reauthorization",
                              remediation: remediation, upstreamCode: codeText)
        case .clientCredential:
            return VaultError(.dependencyFailed, "\(context): Microsoft rejected the client secret(s) (\(codeText)).",
                              reason: code == 7000222 ? "secret_expired" : "client_secret_rejected", remediation: remediation, upstreamCode: codeText)
        case .configuration:
            return VaultError(.dependencyFailed, "\(context): the app registration was refused (\(codeText)).", reason: "app_registration_rejected",
                              remediation: remediation, upstreamCode: codeText)
        case .request:
            return VaultError(.dependencyFailed, "\(context): Microsoft refused the request (\(codeText)).", reason: "token_request_rejected",
                              remediation: remediation, upstreamCode: codeText)
        }
    }
}
