import Crypto
import EntraSimulator
import Foundation
import HTTPClient
import Testing
import VaultCore

/// An EntraSimulator in-process with a customer tenant, the OpenFire app registration and accounts.
final class EntraFixture: @unchecked Sendable {
    let simulator: EntraSimulator
    let tenant = SimTenant(name: "Contoso", domains: ["contoso.example"])
    let clientID = UUID().uuidString.lowercased()
    let secret = "Sim~" + Base64URL.encode(SecureRandom.bytes(27))

    init(configureApp: (inout SimApp) -> Void = { _ in }) throws {
        simulator = EntraSimulator()
        try simulator.start()
        simulator.add(tenant)
        var app = SimApp(clientID: clientID, homeTenant: tenant.id, secrets: [SimSecret(value: secret, expiresAt: Date().addingTimeInterval(365 * 86_400))],
                         redirectURIs: [], acceptsAnyOpenFireRedirect: true, consentedTenants: [tenant.id])
        configureApp(&app)
        simulator.add(app)
        for address in ["admin@contoso.example", "contact@contoso.example"] {
            simulator.add(SimAccount(address: address, tenantID: tenant.id, sendAs: address.hasPrefix("admin") ? ["contact@contoso.example"] : []))
        }
    }

    deinit { simulator.stop() }

    /// A vault pointed at this simulator.
    func makeService(clock: WallClock = .system, databaseURL: String? = nil, timeout: Duration = .seconds(10)) throws -> TestService {
        try TestService(clock: clock, databaseURL: databaseURL) { configuration in
            configuration.entra.authorityURL = simulator.authorityURL
            configuration.entra.timeout = timeout
        }
    }
}

/// What Microsoft put on the redirect.
struct RedirectAnswer {
    let location: String
    let query: [String: String]
    var code: String? { query["code"] }
    var state: String? { query["state"] }
}

extension TestService {
    /// Creates a base with the fixture's app registration and one mailbox; returns the mailbox id.
    @discardableResult
    func onboard(_ slug: String, _ entra: EntraFixture, mailbox address: String = "admin@contoso.example", mode: String = "delegated",
                 tenant: String = "organizations") throws -> String {
        if try call("GET", "/v1/bases/\(slug)").status == 404 { try createBase(slug, tenant: tenant) }
        let put = try call("PUT", "/v1/bases/\(slug)/app-registration", json: """
            {"client_id":"\(entra.clientID)","client_secrets":[{"secret":"\(entra.secret)","expires_at":"\(Date().addingTimeInterval(300 * 86_400).formatted(.iso8601))"}]}
            """)
        guard (200...201).contains(put.status) else { throw TestFailure("registration: \(put.text)") }
        let mailbox = try call("POST", "/v1/bases/\(slug)/mailboxes", json: #"{"address":"\#(address)","mode":"\#(mode)"}"#)
        guard mailbox.status == 201, let id = mailbox.json["id"]?.string else { throw TestFailure("mailbox: \(mailbox.text)") }
        return id
    }

    /// Starts a sign-in and follows the authorize URL as a browser would, up to Microsoft's redirect.
    func startAndFollow(_ slug: String, mailbox id: String, key: String? = nil, loginHint: String? = nil) throws -> RedirectAnswer {
        let start = try call("POST", "/v1/bases/\(slug)/mailboxes/\(id)/authorizations", key: key, json: "{}")
        guard start.status == 201, var url = start.json["authorize_url"]?.string else { throw TestFailure("start: \(start.text)") }
        if let loginHint {
            url = url.replacingOccurrences(of: #"login_hint=[^&]*"#, with: "login_hint=" + FormEncoding.escape(loginHint), options: .regularExpression)
        }
        return try follow(url)
    }

    /// GETs a URL without following redirects and reads the Location's query.
    func follow(_ url: String) throws -> RedirectAnswer {
        let response = try client.send(HTTPClientRequest(url: url))
        guard response.status == 302, let location = response.header("location") else {
            throw TestFailure("expected a redirect from \(url), got \(response.status): \(response.text.prefix(300))")
        }
        let query = location.split(separator: "?", maxSplits: 1).last.map(String.init) ?? ""
        return RedirectAnswer(location: location, query: Dictionary((FormEncoding.decode(query) ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Posts what Microsoft sent to the base to /v1/oauth/confirm, as the base does.
    @discardableResult
    func confirm(_ answer: RedirectAnswer, key: String? = nil) throws -> TestResponse {
        var fields: [String] = []
        for name in ["code", "state", "error", "error_description"] {
            if let value = answer.query[name] { fields.append("\"\(name)\":\(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))") }
        }
        return try call("POST", "/v1/oauth/confirm", key: key, json: "{" + fields.joined(separator: ",") + "}")
    }

    /// Onboards and signs in; returns the mailbox id.
    @discardableResult
    func authorize(_ slug: String, _ entra: EntraFixture, mailbox address: String = "admin@contoso.example") throws -> String {
        let id = try onboard(slug, entra, mailbox: address)
        let confirmed = try confirm(try startAndFollow(slug, mailbox: id))
        guard confirmed.status == 200 else { throw TestFailure("confirm: \(confirmed.text)") }
        return id
    }

    /// Fetches a token.
    @discardableResult
    func token(_ slug: String, _ id: String, key: String? = nil, resource: String = "outlook", minValidity: Int = 300) throws -> TestResponse {
        try call("GET", "/v1/bases/\(slug)/mailboxes/\(id)/access-token?resource=\(resource)&min_validity=\(minValidity)", key: key)
    }
}
