import Crypto
import Foundation
import HTTPServer

struct SimContext: RequestContext {
    let requestID = RequestID.make()
    var route = "unmatched"
    var parameters: [String: String] = [:]
}

/// The identity platform's endpoints, as ENTRA.md describes them.
struct SimulatorEndpoints: Sendable {
    let state: SimulatorState

    // MARK: Answers

    static func json(_ object: [String: Any], status: Int = 200, headers: [(String, String)] = []) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var response = HTTPResponse.json(bytes: Array(data), status: status)
        for (name, value) in headers { response.headers.set(name, value) }
        response.headers.set("Cache-Control", "no-store")
        return response
    }

    static func error(_ answer: SimulatorState.ErrorAnswer) -> HTTPResponse {
        var object: [String: Any] = answer.body
        object["error_codes"] = answer.codes
        return json(object, status: answer.status, headers: answer.headers)
    }

    static func redirect(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 302, headers: HTTPHeaders([("Location", location), ("Cache-Control", "no-store")]))
    }

    static func page(_ title: String, _ body: String, status: Int = 200) -> HTTPResponse {
        .text("""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(html(title))</title>
            <style>body{font-family:sans-serif;max-width:34em;margin:3em auto}button{display:block;margin:.5em 0;padding:.6em 1em;width:100%}</style>
            </head><body><h1>\(html(title))</h1>\(body)<p><small>EntraSimulator: a stand-in for login.microsoftonline.com</small></p></body></html>
            """, status: status, contentType: "text/html; charset=utf-8")
    }

    static func html(_ text: String) -> String { HTMLText.escape(text) }

    static func appending(_ pairs: [(String, String)], to uri: String) -> String {
        uri + (uri.contains("?") ? "&" : "?") + FormEncoding.encode(pairs)
    }

    // MARK: Authorize

    func authorize(_ request: HTTPRequest, _ context: SimContext) -> HTTPResponse {
        var params = Dictionary(request.queryItems.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        var choice: (account: String, decision: String?)?
        if request.method == "POST" {
            let form = FormEncoding.decode(String(decoding: request.body, as: UTF8.self)) ?? []
            for (name, value) in form { params[name] = value }
            if let account = params.removeValue(forKey: "account") { choice = (account.lowercased(), params.removeValue(forKey: "decision")) }
        }
        let tenantPath = context.parameters["tenant"]!
        let clientID = (params["client_id"] ?? "").lowercased()
        guard let app = state.inner.withLock({ $0.apps[clientID] }) else {
            return Self.page("Sign in", "<p>AADSTS700016: Application with identifier '\(Self.html(clientID))' was not found in the directory.</p>", status: 400)
        }
        guard let redirectURI = params["redirect_uri"], app.accepts(redirectURI: redirectURI) else {
            return Self.page("Sign in", "<p>AADSTS50011: The redirect URI '\(Self.html(params["redirect_uri"] ?? ""))' specified in the request does not match the redirect URIs configured for the application '\(Self.html(clientID))'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.</p>", status: 400)
        }
        let stateParameter = params["state"]
        func fail(_ error: String, _ code: Int, _ text: String) -> HTTPResponse {
            var pairs = [("error", error), ("error_description", "AADSTS\(code): \(text)"), ("error_uri", "https://login.microsoftonline.com/error?code=\(code)")]
            if let stateParameter { pairs.append(("state", stateParameter)) }
            return Self.redirect(Self.appending(pairs, to: redirectURI))
        }

        let tenantFilter: String?
        switch state.resolve(tenantPath: tenantPath) {
        case .unknown(let name): return fail("invalid_request", 90002, "Tenant '\(name)' not found.")
        case .consumers: return fail("unauthorized_client", 700016, "The application is not available to personal Microsoft accounts.")
        case .common, .organizations:
            if !app.multiTenant {
                return fail("invalid_request", 50194, "Application '\(clientID)' is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.")
            }
            tenantFilter = nil
        case .tenant(let id): tenantFilter = id
        }
        guard params["response_type"] == "code" else {
            return fail("unsupported_response_type", 70005, "The app requested an unsupported response type '\(params["response_type"] ?? "")'.")
        }
        if let mode = params["response_mode"], mode != "query" {
            return fail("invalid_request", 900144, "This simulator supports response_mode=query only.")
        }
        let requested = (params["scope"] ?? "").split(separator: " ").map(String.init)
        guard !requested.isEmpty else { return fail("invalid_scope", 70011, "The provided request must include a 'scope' input parameter.") }
        for scope in requested where !Scopes.oidc.contains(scope) && Scopes.resource(of: scope) == nil {
            return fail("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope '\(scope)' does not exist.")
        }
        if params["code_challenge"] != nil, let method = params["code_challenge_method"], method != "S256" && method != "plain" {
            return fail("invalid_request", 501491, "Invalid code_challenge_method '\(method)'.")
        }

        // Who signs in.
        let hinted = (choice?.account ?? params["login_hint"]?.lowercased()).flatMap { address in state.inner.withLock { $0.accounts[address] } }
        guard let account = hinted, tenantFilter == nil || account.tenantID == tenantFilter else {
            return picker(params: params, tenant: tenantFilter, note: params["login_hint"].map { "No account \($0) here: pick one." })
        }
        if !app.multiTenant && account.tenantID != app.homeTenant {
            return fail("invalid_request", 50020, "User account '\(account.address)' from identity provider does not exist in tenant '\(app.homeTenant)' and cannot access the application.")
        }
        if choice?.decision == "cancel" || state.faults(for: [account.address]).contains(.denyConsent) {
            return fail("access_denied", 65004, "User declined to consent to access the app.")
        }
        var consented = app.consentedTenants.contains(account.tenantID) || account.consentedApps.contains(app.clientID)
        if !consented && choice?.decision == "accept" {
            state.inner.withLock { $0.accounts[account.address]?.consentedApps.append(app.clientID) }
            consented = true
        }
        guard consented else { return consentPage(params: params, account: account.address) }

        let granted = requested.filter { !Scopes.oidc.contains($0) }.map(Scopes.qualified).filter { app.delegatedPermissions.contains($0) }
        let code = state.randomToken("0.sim-code.")
        state.inner.withLock { inner in
            inner.codes[code] = AuthorizationCode(clientID: app.clientID, redirectURI: redirectURI, account: account.address,
                                                  tenantID: account.tenantID, grantedScopes: granted,
                                                  oidcScopes: Set(requested.filter { Scopes.oidc.contains($0) }),
                                                  codeChallenge: params["code_challenge"], codeChallengeMethod: params["code_challenge_method"] ?? (params["code_challenge"] == nil ? nil : "plain"),
                                                  issuedAt: state.now)
        }
        var pairs = [("code", code)]
        if let stateParameter { pairs.append(("state", stateParameter)) }
        pairs.append(("session_state", UUID().uuidString.lowercased()))
        return Self.redirect(Self.appending(pairs, to: redirectURI))
    }

    private func hiddenInputs(_ params: [String: String]) -> String {
        params.sorted { $0.key < $1.key }.map { "<input type=\"hidden\" name=\"\(Self.html($0.key))\" value=\"\(Self.html($0.value))\">" }.joined()
    }

    private func picker(params: [String: String], tenant: String?, note: String?) -> HTTPResponse {
        let accounts = state.inner.withLock { inner in inner.accounts.values.filter { tenant == nil || $0.tenantID == tenant }.map(\.address).sorted() }
        let buttons = accounts.map { "<button name=\"account\" value=\"\(Self.html($0))\">\(Self.html($0))</button>" }.joined()
        return Self.page("Pick an account", (note.map { "<p>\(Self.html($0))</p>" } ?? "")
                         + "<form method=\"post\">\(hiddenInputs(params))\(buttons.isEmpty ? "<p>No account is configured.</p>" : buttons)</form>")
    }

    private func consentPage(params: [String: String], account: String) -> HTTPResponse {
        let scopes = (params["scope"] ?? "").split(separator: " ").map { "<li>\(Self.html(String($0)))</li>" }.joined()
        return Self.page("Permissions requested", """
            <p>\(Self.html(account)): the app \(Self.html(params["client_id"] ?? "")) asks for:</p><ul>\(scopes)</ul>
            <form method="post">\(hiddenInputs(params))<input type="hidden" name="account" value="\(Self.html(account))">
            <button name="decision" value="accept">Accept</button><button name="decision" value="cancel">Cancel</button></form>
            """)
    }

    // MARK: Token

    func token(_ request: HTTPRequest, _ context: SimContext) -> HTTPResponse {
        let form = FormEncoding.decode(String(decoding: request.body, as: UTF8.self)) ?? []
        func field(_ name: String) -> String? { FormEncoding.value(name, in: form) }
        let grantType = field("grant_type") ?? ""
        let clientID = (field("client_id") ?? "").lowercased()
        state.inner.withLock { $0.statistics.tokenRequests[grantType, default: 0] += 1 }

        // The account concerned, for account faults.
        let account: String? = state.inner.withLock { inner in
            switch grantType {
            case "authorization_code": return field("code").flatMap { inner.codes[$0]?.account }
            case "refresh_token": return field("refresh_token").flatMap { inner.refreshTokens[$0]?.account }
            default: return nil
            }
        }
        for fault in state.faults(for: [clientID, account]) {
            switch fault {
            case .latency(let milliseconds): Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
            case .hang:
                waitWhileHanging()
                return Self.error(state.errorAnswer("temporarily_unavailable", 503, "The service is temporarily unavailable.", status: 503))
            case .throttle(let retryAfter):
                return Self.error(state.errorAnswer("temporarily_unavailable", 90055, "The request was throttled. Retry after \(retryAfter) seconds.",
                                                    status: 429, headers: [("Retry-After", String(retryAfter))]))
            case .serverError(let status):
                return Self.error(state.errorAnswer("server_error", 50000, "There was an error issuing a token.", status: status))
            case .aadsts(let code):
                return Self.error(state.faultAnswer(code, clientID: clientID, account: account))
            case .denyConsent:
                continue
            }
        }

        guard let app = state.inner.withLock({ $0.apps[clientID] }) else {
            return Self.error(state.errorAnswer("unauthorized_client", 700016, "Application with identifier '\(clientID)' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."))
        }
        guard let secret = field("client_secret") else {
            return Self.error(state.errorAnswer("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", status: 401))
        }
        guard let stored = app.secrets.first(where: { constantTimeEquals(Array($0.value.utf8), Array(secret.utf8)) }) else {
            return Self.error(state.faultAnswer(7000215, clientID: clientID, account: nil))
        }
        guard stored.expiresAt > state.now else { return Self.error(state.faultAnswer(7000222, clientID: clientID, account: nil)) }
        let tenantPath = context.parameters["tenant"]!
        if case .unknown(let name) = state.resolve(tenantPath: tenantPath) {
            return Self.error(state.errorAnswer("invalid_request", 90002, "Tenant '\(name)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))
        }
        switch grantType {
        case "authorization_code": return redeemCode(form: form, app: app)
        case "refresh_token": return refresh(form: form, app: app)
        case "client_credentials": return clientCredentials(form: form, app: app, tenantPath: tenantPath)
        default:
            return Self.error(state.errorAnswer("unsupported_grant_type", 70003, "The app requested an unsupported grant type '\(grantType)'."))
        }
    }

    private func waitWhileHanging() {
        let generation = state.inner.withLock { $0.hangGeneration }
        let deadline = Date().addingTimeInterval(300)
        state.hangCondition.lock()
        while state.inner.withLock({ $0.hangGeneration }) == generation && Date() < deadline {
            _ = state.hangCondition.wait(until: min(deadline, Date().addingTimeInterval(0.5)))
        }
        state.hangCondition.unlock()
    }

    /// The resource of a token request: the first resource scope asked for, else the first granted.
    private func resource(requested: [String], granted: [String]) -> String? {
        let resourceScopes = requested.filter { !Scopes.oidc.contains($0) }.map(Scopes.qualified)
        return (resourceScopes.first ?? granted.first).flatMap(Scopes.resource(of:))
    }

    private func tokenAnswer(_ inner: inout SimulatorState.Inner, app: SimApp, account: String, tenantID: String, granted: [String],
                             oidc: Set<String>, resource: String) -> [String: Any] {
        let forResource = granted.filter { Scopes.resource(of: $0) == resource }
        let (accessToken, lifetime) = state.issueAccessToken(&inner, clientID: app.clientID, account: account, tenantID: tenantID,
                                                             resource: resource, permissions: forResource.map(Scopes.permission(of:)))
        var answer: [String: Any] = ["token_type": "Bearer", "scope": forResource.joined(separator: " "), "expires_in": lifetime,
                                     "ext_expires_in": lifetime, "access_token": accessToken]
        if oidc.contains("offline_access") {
            let refreshToken = state.randomToken("0.sim-rt.")
            inner.refreshTokens[refreshToken] = RefreshGrant(clientID: app.clientID, account: account, tenantID: tenantID,
                                                             grantedScopes: granted, oidcScopes: oidc, lastUsedAt: state.now)
            answer["refresh_token"] = refreshToken
        }
        if oidc.contains("openid") { answer["id_token"] = state.idToken(inner, clientID: app.clientID, account: account, tenantID: tenantID) }
        return answer
    }

    private func redeemCode(form: [(String, String)], app: SimApp) -> HTTPResponse {
        func field(_ name: String) -> String? { FormEncoding.value(name, in: form) }
        let now = state.now
        let outcome: Result<[String: Any], SimulatorState.ErrorAnswer> = state.inner.withLock { inner in
            guard let codeText = field("code"), var code = inner.codes[codeText] else {
                return .failure(state.errorAnswer("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."))
            }
            guard !code.used else {
                return .failure(state.errorAnswer("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."))
            }
            guard now.timeIntervalSince(code.issuedAt) <= inner.settings.codeLifetime else {
                return .failure(state.errorAnswer("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."))
            }
            guard code.clientID == app.clientID else {
                return .failure(state.errorAnswer("invalid_grant", 70000, "The provided authorization code was issued to another client."))
            }
            guard field("redirect_uri") == code.redirectURI else {
                return .failure(state.errorAnswer("invalid_grant", 50011, "The redirect URI '\(field("redirect_uri") ?? "")' specified in the request does not match the redirect URI used to obtain the authorization code."))
            }
            if let challenge = code.codeChallenge {
                let verifier = field("code_verifier") ?? ""
                let computed = code.codeChallengeMethod == "S256" ? Base64URL.encode(SHA256.hash(verifier)) : verifier
                guard !verifier.isEmpty, computed == challenge else {
                    return .failure(state.errorAnswer("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."))
                }
            }
            code.used = true
            inner.codes[codeText] = code
            let requested = (field("scope") ?? "").split(separator: " ").map(String.init)
            guard let resource = resource(requested: requested, granted: code.grantedScopes) else {
                return .failure(state.errorAnswer("invalid_scope", 70011, "No scope of a resource was granted."))
            }
            return .success(tokenAnswer(&inner, app: app, account: code.account, tenantID: code.tenantID, granted: code.grantedScopes,
                                        oidc: code.oidcScopes, resource: resource))
        }
        switch outcome {
        case .success(let answer): return Self.json(answer)
        case .failure(let error): return Self.error(error)
        }
    }

    private func refresh(form: [(String, String)], app: SimApp) -> HTTPResponse {
        func field(_ name: String) -> String? { FormEncoding.value(name, in: form) }
        let now = state.now
        let outcome: Result<[String: Any], SimulatorState.ErrorAnswer> = state.inner.withLock { inner in
            guard let tokenText = field("refresh_token"), var grant = inner.refreshTokens[tokenText], grant.clientID == app.clientID else {
                return .failure(state.errorAnswer("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid: the refresh token is not valid."))
            }
            guard !grant.revoked else {
                return .failure(state.errorAnswer("invalid_grant", 70000, "The provided grant has been revoked: this refresh token was already used (strict rotation; reuse detected)."))
            }
            guard now.timeIntervalSince(grant.lastUsedAt) <= inner.settings.refreshInactivityLimit else {
                return .failure(state.faultAnswer(700082, clientID: app.clientID, account: grant.account))
            }
            let requested = (field("scope") ?? "").split(separator: " ").map(String.init)
            let asked = requested.filter { !Scopes.oidc.contains($0) }.map(Scopes.qualified)
            if let missing = asked.first(where: { !grant.grantedScopes.contains($0) }) {
                return .failure(state.errorAnswer("invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '\(app.clientID)' for '\(missing)'. Send an interactive authorization request for this user and resource.", suberror: "consent_required"))
            }
            guard let resource = resource(requested: requested, granted: grant.grantedScopes) else {
                return .failure(state.errorAnswer("invalid_scope", 70011, "No scope of a resource was granted."))
            }
            grant.lastUsedAt = now
            if inner.settings.strictRotation { grant.revoked = true }
            inner.refreshTokens[tokenText] = grant
            inner.statistics.refreshesByAccount[grant.account, default: 0] += 1
            return .success(tokenAnswer(&inner, app: app, account: grant.account, tenantID: grant.tenantID, granted: grant.grantedScopes,
                                        oidc: grant.oidcScopes.union(["offline_access"]), resource: resource))
        }
        switch outcome {
        case .success(let answer): return Self.json(answer)
        case .failure(let error): return Self.error(error)
        }
    }

    private func clientCredentials(form: [(String, String)], app: SimApp, tenantPath: String) -> HTTPResponse {
        guard case .tenant(let tenantID) = state.resolve(tenantPath: tenantPath) else {
            return Self.error(state.errorAnswer("invalid_request", 9001023, "The grant type is not supported over the /common, /organizations or /consumers endpoints. Please use a tenant-specific endpoint."))
        }
        let scope = FormEncoding.value("scope", in: form) ?? ""
        guard scope.hasSuffix("/.default"), !scope.contains(" "), let resource = Scopes.resource(of: scope) else {
            return Self.error(state.errorAnswer("invalid_scope", 1002012, "The provided value for scope \(scope) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
        }
        guard app.homeTenant == tenantID || app.consentedTenants.contains(tenantID) else {
            return Self.error(state.errorAnswer("unauthorized_client", 700016, "Application with identifier '\(app.clientID)' was not found in the directory '\(tenantID)'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."))
        }
        let answer: [String: Any] = state.inner.withLock { inner in
            inner.statistics.clientCredentialGrants[app.clientID, default: 0] += 1
            let (token, lifetime) = state.issueAccessToken(&inner, clientID: app.clientID, account: nil, tenantID: tenantID,
                                                           resource: resource, permissions: app.applicationPermissions)
            return ["token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token]
        }
        return Self.json(answer)
    }

    // MARK: Admin consent

    func adminConsent(_ request: HTTPRequest, _ context: SimContext) -> HTTPResponse {
        let params = Dictionary(request.queryItems.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let clientID = (params["client_id"] ?? "").lowercased()
        guard let app = state.inner.withLock({ $0.apps[clientID] }) else {
            return Self.page("Admin consent", "<p>AADSTS700016: Application with identifier '\(Self.html(clientID))' was not found in the directory.</p>", status: 400)
        }
        guard let redirectURI = params["redirect_uri"], app.accepts(redirectURI: redirectURI) else {
            return Self.page("Admin consent", "<p>AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.</p>", status: 400)
        }
        var base: [(String, String)] = [("admin_consent", "True")]
        if let state = params["state"] { base.append(("state", state)) }
        let tenantID: String
        switch state.resolve(tenantPath: context.parameters["tenant"]!) {
        case .tenant(let id): tenantID = id
        case .organizations: tenantID = app.homeTenant
        default:
            return Self.redirect(Self.appending(base + [("error", "invalid_request"), ("error_description", "AADSTS90014: Use the tenant id or 'organizations', not 'common'.")], to: redirectURI))
        }
        guard let scope = params["scope"], !scope.isEmpty else {
            return Self.redirect(Self.appending(base + [("error", "invalid_request"), ("error_description", "AADSTS90014: The required field 'scope' is missing.")], to: redirectURI))
        }
        if state.faults(for: [clientID]).contains(.denyConsent) {
            return Self.redirect(Self.appending(base + [("error", "consent_required"), ("error_description", "AADSTS65004: User declined to consent to access the app.")], to: redirectURI))
        }
        state.inner.withLock { inner in
            if inner.apps[clientID]?.consentedTenants.contains(tenantID) == false { inner.apps[clientID]?.consentedTenants.append(tenantID) }
        }
        return Self.redirect(Self.appending(base + [("tenant", tenantID), ("scope", scope)], to: redirectURI))
    }
}
