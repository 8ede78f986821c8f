import Crypto
import Foundation
import HTTPClient

/// Where the identity platform is, and how long to wait for it.
public struct EntraConfiguration: Sendable {
    /// `https://login.microsoftonline.com` (tests and `tokenvault dev --simulate-entra` point it at EntraSimulator).
    public var authorityURL: String
    /// Time allowed for one token request.
    public var timeout: Duration

    /// Settings.
    public init(authorityURL: String = "https://login.microsoftonline.com", timeout: Duration = .seconds(10)) {
        self.authorityURL = authorityURL.hasSuffix("/") ? String(authorityURL.dropLast()) : authorityURL
        self.timeout = timeout
    }
}

/// Tokens the platform granted.
public struct TokenGrant: Sendable {
    /// The access token.
    public let accessToken: Secret
    /// `Bearer`.
    public let tokenType: String
    /// Lifetime in seconds, as the platform says (always trusted over any assumption).
    public let expiresIn: Int
    /// The scopes the access token carries.
    public let scopes: [String]
    /// A new refresh token (delegated grants with `offline_access`).
    public let refreshToken: Secret?
    /// The id_token's claims (with `openid`).
    public let idToken: IDTokenClaims?
}

/// A client of the Microsoft identity platform v2.0 endpoints, on libcurl (connections are reused).
public final class EntraClient: Sendable {
    /// The settings.
    public let configuration: EntraConfiguration
    private let http: HTTPClient

    /// A client.
    public init(configuration: EntraConfiguration, http: HTTPClient = HTTPClient()) {
        self.configuration = configuration
        self.http = http
    }

    /// The authorize URL a person opens to sign in and consent (authorization code flow with PKCE S256).
    public func authorizeURL(tenant: String, clientID: String, redirectURI: String, scopes: [String], state: String,
                             codeChallenge: String, loginHint: String?) -> String {
        var query: [(String, String)] = [
            ("client_id", clientID), ("response_type", "code"), ("redirect_uri", redirectURI), ("response_mode", "query"),
            ("scope", scopes.joined(separator: " ")), ("state", state), ("code_challenge", codeChallenge),
            ("code_challenge_method", "S256"),
        ]
        if let loginHint { query.append(("login_hint", loginHint)) }
        return "\(configuration.authorityURL)/\(FormEncoding.escape(tenant))/oauth2/v2.0/authorize?" + FormEncoding.encode(query)
    }

    /// The v2 admin-consent URL (`organizations` or the tenant id, never `common`).
    public func adminConsentURL(tenant: String, clientID: String, redirectURI: String, scope: String, state: String? = nil) -> String {
        var query: [(String, String)] = [("client_id", clientID), ("scope", scope), ("redirect_uri", redirectURI)]
        if let state { query.append(("state", state)) }
        return "\(configuration.authorityURL)/\(FormEncoding.escape(tenant))/v2.0/adminconsent?" + FormEncoding.encode(query)
    }

    /// Redeems an authorization code.
    public func redeemCode(tenant: String, clientID: String, clientSecret: Secret, code: Secret, redirectURI: String,
                           codeVerifier: Secret, scopes: [String]) throws(EntraFailure) -> TokenGrant {
        try token(tenant: tenant, [
            ("client_id", clientID), ("client_secret", clientSecret.revealed()), ("grant_type", "authorization_code"),
            ("code", code.revealed()), ("redirect_uri", redirectURI), ("code_verifier", codeVerifier.revealed()),
            ("scope", scopes.joined(separator: " ")),
        ])
    }

    /// Redeems a refresh token for an access token to one resource (and a new refresh token).
    public func refresh(tenant: String, clientID: String, clientSecret: Secret, refreshToken: Secret,
                        scopes: [String]) throws(EntraFailure) -> TokenGrant {
        try token(tenant: tenant, [
            ("client_id", clientID), ("client_secret", clientSecret.revealed()), ("grant_type", "refresh_token"),
            ("refresh_token", refreshToken.revealed()), ("scope", scopes.joined(separator: " ")),
        ])
    }

    /// An app-only token (client credentials; `scope` is `{resource}/.default`).
    public func clientCredentials(tenant: String, clientID: String, clientSecret: Secret, scope: String) throws(EntraFailure) -> TokenGrant {
        try token(tenant: tenant, [
            ("client_id", clientID), ("client_secret", clientSecret.revealed()), ("grant_type", "client_credentials"), ("scope", scope),
        ])
    }

    private func token(tenant: String, _ form: [(String, String)]) throws(EntraFailure) -> TokenGrant {
        let request = HTTPClientRequest(
            method: "POST", url: "\(configuration.authorityURL)/\(FormEncoding.escape(tenant))/oauth2/v2.0/token",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(FormEncoding.encode(form).utf8), timeout: configuration.timeout)
        let response: HTTPClientResponse
        do {
            response = try http.send(request)
        } catch {
            throw EntraErrorTaxonomy.unreachable(error.description)
        }
        guard response.status == 200 else {
            throw EntraErrorTaxonomy.failure(httpStatus: response.status, body: response.body, retryAfterHeader: response.header("retry-after"))
        }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any],
              let accessToken = json["access_token"] as? String, !accessToken.isEmpty,
              let expiresIn = (json["expires_in"] as? NSNumber)?.intValue ?? (json["expires_in"] as? String).flatMap(Int.init) else {
            throw EntraFailure(kind: .transient, code: nil, error: "malformed_response", message: "The token endpoint answered 200 without a usable token.",
                               remediation: "The request will be retried.", retryAfter: nil, httpStatus: 200)
        }
        return TokenGrant(accessToken: Secret(accessToken), tokenType: json["token_type"] as? String ?? "Bearer", expiresIn: expiresIn,
                          scopes: (json["scope"] as? String ?? "").split(separator: " ").map(String.init),
                          refreshToken: (json["refresh_token"] as? String).map(Secret.init),
                          idToken: (json["id_token"] as? String).flatMap { IDTokenClaims.parse(Secret($0)) })
    }
}

/// PKCE (RFC 7636) with S256.
public enum PKCE {
    /// A verifier of 43 characters (256 random bits) and its S256 challenge.
    public static func make() -> (verifier: Secret, challenge: String) {
        let verifier = Base64URL.encode(SecureRandom.bytes(32))
        return (Secret(verifier), challenge(for: verifier))
    }

    /// `BASE64URL(SHA256(verifier))`.
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(verifier))
    }
}
