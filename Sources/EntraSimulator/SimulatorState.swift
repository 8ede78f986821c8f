import Crypto
import Foundation
import Synchronization

/// Everything the simulator knows, and the protocol rules, without sockets.
final class SimulatorState: Sendable {
    struct Settings: Sendable {
        var strictRotation = false
        var accessTokenLifetime = 3599
        var codeLifetime: TimeInterval = 600
        var refreshInactivityLimit: TimeInterval = 90 * 86_400
    }

    struct Inner {
        var tenants: [String: SimTenant] = [:]
        var apps: [String: SimApp] = [:]
        var accounts: [String: SimAccount] = [:]
        var faults: [String: [SimFault]] = [:]
        var codes: [String: AuthorizationCode] = [:]
        var refreshTokens: [String: RefreshGrant] = [:]
        var accessTokens: [String: IssuedAccessToken] = [:]
        var statistics = SimStatistics()
        var smtpLog: [SMTPRecord] = []
        var settings = Settings()
        var hangGeneration = 0
    }

    let inner = Mutex(Inner())
    let signingKey = SecureRandom.bytes(32)
    let hangCondition = NSCondition()
    var authority: String { authorityBox.withLock { $0 } }
    let authorityBox = Mutex("http://127.0.0.1")

    /// The simulator's time (tests move it forward). Its own lock: it is read while `inner` is held.
    let clockOffset = Mutex<TimeInterval>(0)
    var now: Date { Date().addingTimeInterval(clockOffset.withLock { $0 }) }

    // MARK: Tenants

    /// Resolves a tenant path segment: a GUID or a domain gives a tenant; `common`, `organizations`, `consumers` give nil.
    enum TenantPath {
        case common, organizations, consumers
        case tenant(String)
        case unknown(String)
    }

    func resolve(tenantPath: String) -> TenantPath {
        let lower = tenantPath.lowercased()
        switch lower {
        case "common": return .common
        case "organizations": return .organizations
        case "consumers": return .consumers
        default:
            return inner.withLock { inner in
                if inner.tenants[lower] != nil { return .tenant(lower) }
                if let tenant = inner.tenants.values.first(where: { $0.domains.contains(lower) }) { return .tenant(tenant.id) }
                return .unknown(lower)
            }
        }
    }

    // MARK: Errors in the platform's shape

    struct ErrorAnswer: Error, Sendable {
        let status: Int
        let body: [String: String]
        let codes: [Int]
        let headers: [(String, String)]
    }

    func errorAnswer(_ error: String, _ code: Int, _ text: String, status: Int = 400, suberror: String? = nil,
                     headers: [(String, String)] = []) -> ErrorAnswer {
        let trace = UUID().uuidString.lowercased()
        let correlation = UUID().uuidString.lowercased()
        let timestamp = now.formatted(.iso8601)
        var body = [
            "error": error,
            "error_description": "AADSTS\(code): \(text)\r\nTrace ID: \(trace)\r\nCorrelation ID: \(correlation)\r\nTimestamp: \(timestamp)",
            "timestamp": timestamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=\(code)",
        ]
        if let suberror { body["suberror"] = suberror }
        return ErrorAnswer(status: status, body: body, codes: [code], headers: headers)
    }

    /// The answer for a fault switched on with an AADSTS code.
    func faultAnswer(_ code: Int, clientID: String, account: String?) -> ErrorAnswer {
        switch code {
        case 700082:
            return errorAnswer("invalid_grant", code, "The refresh token has expired due to inactivity. The token was issued on \(now.addingTimeInterval(-100 * 86_400).formatted(.iso8601)) and was inactive for 90.00:00:00.")
        case 50173:
            return errorAnswer("invalid_grant", code, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '\(now.addingTimeInterval(-86_400).formatted(.iso8601))' and the TokensValidFrom date (before which tokens are not valid) for this user is '\(now.formatted(.iso8601))'.")
        case 65001:
            return errorAnswer("invalid_grant", code, "The user or administrator has not consented to use the application with ID '\(clientID)' named 'OpenFire'. Send an interactive authorization request for this user and resource.", suberror: "consent_required")
        case 50076:
            return errorAnswer("invalid_grant", code, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.", suberror: "basic_action")
        case 7000222:
            return errorAnswer("invalid_client", code, "The provided client secret keys for app '\(clientID)' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", status: 401)
        case 7000215:
            return errorAnswer("invalid_client", code, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'.", status: 401)
        case 700016:
            return errorAnswer("unauthorized_client", code, "Application with identifier '\(clientID)' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
        default:
            return errorAnswer("invalid_grant", code, "Simulated failure \(code).")
        }
    }

    // MARK: Faults

    func faults(for targets: [String?]) -> [SimFault] {
        inner.withLock { inner in targets.compactMap { $0 }.flatMap { inner.faults[$0.lowercased()] ?? [] } }
    }

    // MARK: Tokens

    func makeJWT(_ claims: [String: Any]) -> String {
        let header = Base64URL.encode(Array(#"{"typ":"JWT","alg":"HS256","kid":"entra-sim"}"#.utf8))
        let payload = Base64URL.encode(Array((try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()))
        let signature = Base64URL.encode(HMACSHA256.authenticate(Array("\(header).\(payload)".utf8), key: signingKey))
        return "\(header).\(payload).\(signature)"
    }

    func randomToken(_ prefix: String) -> String { prefix + Base64URL.encode(SecureRandom.bytes(32)) }

    /// Issues an access token (under the lock held by the caller).
    func issueAccessToken(_ inner: inout Inner, clientID: String, account: String?, tenantID: String, resource: String,
                          permissions: [String]) -> (String, Int) {
        let lifetime = inner.settings.accessTokenLifetime
        let issued = now
        var claims: [String: Any] = ["aud": resource, "iss": "https://sts.windows.net/\(tenantID)/", "tid": tenantID, "appid": clientID,
                                     "iat": Int(issued.timeIntervalSince1970), "nbf": Int(issued.timeIntervalSince1970),
                                     "exp": Int(issued.timeIntervalSince1970) + lifetime, "uti": Base64URL.encode(SecureRandom.bytes(16))]
        if let account, let record = inner.accounts[account] {
            claims["upn"] = account
            claims["oid"] = record.objectID
            claims["scp"] = permissions.joined(separator: " ")
        } else {
            claims["roles"] = permissions
        }
        let token = makeJWT(claims)
        inner.accessTokens[token] = IssuedAccessToken(clientID: clientID, account: account, tenantID: tenantID, resource: resource,
                                                      permissions: permissions, expiresAt: issued.addingTimeInterval(TimeInterval(lifetime)))
        return (token, lifetime)
    }

    func idToken(_ inner: Inner, clientID: String, account: String, tenantID: String) -> String {
        let record = inner.accounts[account]
        let issued = Int(now.timeIntervalSince1970)
        return makeJWT(["aud": clientID, "iss": "\(authority)/\(tenantID)/v2.0", "tid": tenantID, "oid": record?.objectID ?? "",
                        "sub": Base64URL.encode(SHA256.hash(account + clientID)), "preferred_username": account, "email": account,
                        "name": account, "ver": "2.0", "iat": issued, "nbf": issued, "exp": issued + 3600])
    }

    // MARK: SMTP

    /// Checks an XOAUTH2 `user=` and bearer token; returns the SMTP reply.
    func smtpAuthenticate(user rawUser: String, token: String) -> (code: Int, line: String, user: String?) {
        let user = rawUser.lowercased()
        let unsuccessful = (535, "535 5.7.3 Authentication unsuccessful [sim.outlook.office365.com]", nil as String?)
        return inner.withLock { inner in
            guard let issued = inner.accessTokens[token], issued.expiresAt > now,
                  issued.resource == Scopes.outlook || issued.resource == Scopes.outlookApp else { return unsuccessful }
            if let account = issued.account {
                guard account == user, issued.permissions.contains("SMTP.Send") else { return unsuccessful }
            } else {
                guard issued.permissions.contains("SMTP.SendAsApp"),
                      inner.apps[issued.clientID]?.mailboxAccess.contains(user) == true,
                      inner.accounts[user]?.tenantID == issued.tenantID else { return unsuccessful }
            }
            guard let mailbox = inner.accounts[user] else { return unsuccessful }
            guard mailbox.smtpAuthEnabled else {
                return (535, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [sim.outlook.office365.com]", nil)
            }
            return (235, "235 2.7.0 Authentication successful", user)
        }
    }

    /// True when the authenticated user may send as `address`.
    func maySend(_ user: String, as address: String) -> Bool {
        let address = address.lowercased()
        if address == user { return true }
        return inner.withLock { $0.accounts[user]?.sendAs.contains(address) ?? false }
    }

    func recordSMTP(_ record: SMTPRecord) {
        inner.withLock { $0.smtpLog.append(record) }
    }
}
