import Crypto
import EntraSimulator
import Foundation
import Testing

@Suite struct TokenLeakTests {
    @Test("no code, token or refresh token appears in the database, the logs, the audit trail, or any answer but the token's own")
    func tokensAreNowhere() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("leak", entra)
        let instance = try service.createKey(role: "instance", base: "leak")
        try service.token("leak", id, key: instance)
        try TokenRefreshTests.expireTokens(service)
        try service.token("leak", id, key: instance)
        try service.token("leak", id, resource: "graph")
        entra.simulator.setFault(.aadsts(50173), for: "admin@contoso.example")
        try TokenRefreshTests.expireTokens(service)
        try service.token("leak", id)
        entra.simulator.clearFaults()
        let answer = try service.startAndFollow("leak", mailbox: id)
        try service.confirm(answer)
        try service.confirm(answer)  // refused: state used
        try service.call("GET", "/v1/bases/leak/mailboxes/\(id)")
        try service.call("GET", "/v1/audit-events?limit=500")
        try service.call("GET", "/v1/audit-events?limit=500", headers: [("Accept", "text/csv")])

        let secrets = entra.simulator.issuedSecrets + [entra.secret]
        #expect(secrets.count >= 8)
        let dump = try service.dumpDatabase()
        #expect(dump.contains("mailboxes:") && dump.contains("access_tokens:"))
        let logs = service.logText
        let others = service.responses.filter { !$0.text.contains("\"access_token\"") }
        for secret in secrets {
            // Tokens are long: their middle part is enough to find any copy.
            let probe = String(secret.dropFirst(secret.count / 3).prefix(24))
            #expect(!dump.contains(probe), "a token or code is stored in plaintext")
            #expect(!dump.contains(Array(probe.utf8).hex), "a token or code is stored as bytes")
            #expect(!logs.contains(probe), "a token or code reached the logs")
            for response in others { #expect(!response.text.contains(probe), "a token or code is in an answer: \(response.text.prefix(120))") }
        }
        // The state is stored only as a hash.
        #expect(!dump.contains(String(answer.state!.suffix(30))))
    }
}

@Suite struct EntraSimulatorTests {
    @Test("authorize refuses an unknown client and a redirect URI that does not match exactly, without redirecting")
    func authorizeErrorPages() throws {
        let entra = try EntraFixture { $0.acceptsAnyOpenFireRedirect = false; $0.redirectURIs = ["https://exact.openfire.fr/microsoft_outlook/confirm"] }
        let client = HTTPClient()
        let base = entra.simulator.authorityURL + "/organizations/oauth2/v2.0/authorize?response_type=code&scope=openid&"
        let unknown = try client.send(HTTPClientRequest(url: base + "client_id=00000000-0000-0000-0000-000000000000&redirect_uri=https%3A%2F%2Fexact.openfire.fr%2Fmicrosoft_outlook%2Fconfirm"))
        #expect(unknown.status == 400 && unknown.text.contains("AADSTS700016"))
        let wrongRedirect = try client.send(HTTPClientRequest(url: base + "client_id=\(entra.clientID)&redirect_uri=https%3A%2F%2Fexact.openfire.fr%2Fmicrosoft_outlook%2Fconfirm%2F"))
        #expect(wrongRedirect.status == 400 && wrongRedirect.text.contains("AADSTS50011"))
        let badScope = try client.send(HTTPClientRequest(url: base.replacingOccurrences(of: "scope=openid", with: "scope=https%3A%2F%2Fevil.example%2Fx")
                                                         + "client_id=\(entra.clientID)&redirect_uri=https%3A%2F%2Fexact.openfire.fr%2Fmicrosoft_outlook%2Fconfirm&state=s"))
        #expect(badScope.status == 302)
        #expect(badScope.header("location")?.contains("error=invalid_scope") == true)
        #expect(badScope.header("location")?.contains("AADSTS70011") == true)
        #expect(badScope.header("location")?.contains("state=s") == true)
    }

    @Test("without login_hint the authorize endpoint shows an account picker; picking an account redirects with a code")
    func accountPicker() throws {
        let entra = try EntraFixture()
        let client = HTTPClient()
        let query = "client_id=\(entra.clientID)&response_type=code&redirect_uri=https%3A%2F%2Fpick.openfire.fr%2Fmicrosoft_outlook%2Fconfirm&scope=openid+offline_access+https%3A%2F%2Foutlook.office.com%2FSMTP.Send&state=st"
        let url = entra.simulator.authorityURL + "/organizations/oauth2/v2.0/authorize?" + query
        let picker = try client.send(HTTPClientRequest(url: url))
        #expect(picker.status == 200 && picker.text.contains("admin@contoso.example") && picker.text.contains("<form method=\"post\">"))
        let chosen = try client.send(HTTPClientRequest(method: "POST", url: url, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                       body: Array("account=contact%40contoso.example".utf8)))
        #expect(chosen.status == 302)
        #expect(chosen.header("location")?.hasPrefix("https://pick.openfire.fr/microsoft_outlook/confirm?code=") == true)
    }

    @Test("the token endpoint checks PKCE, code expiry and single use, with the platform's error shape")
    func codeRules() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("rules", entra)
        let answer = try service.startAndFollow("rules", mailbox: id)
        let client = HTTPClient()
        func redeem(_ verifier: String) throws -> HTTPClientResponse {
            try client.send(HTTPClientRequest(method: "POST", url: entra.simulator.authorityURL + "/organizations/oauth2/v2.0/token",
                                              headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                              body: Array(FormEncoding.encode([("client_id", entra.clientID), ("client_secret", entra.secret),
                                                                               ("grant_type", "authorization_code"), ("code", answer.code!),
                                                                               ("redirect_uri", "https://rules.openfire.fr/microsoft_outlook/confirm"),
                                                                               ("code_verifier", verifier)]).utf8)))
        }
        let wrongVerifier = try redeem("not-the-verifier-not-the-verifier-not-the-verifier")
        #expect(wrongVerifier.status == 400)
        let body = try JSONSerialization.jsonObject(with: Data(wrongVerifier.body)) as! [String: Any]
        #expect(body["error"] as? String == "invalid_grant")
        #expect(body["error_codes"] as? [Int] == [501481])
        #expect((body["error_description"] as? String)?.hasPrefix("AADSTS501481:") == true)
        for key in ["trace_id", "correlation_id", "timestamp", "error_uri"] { #expect(body[key] != nil, "\(key)") }
        // Expired: 10 minutes.
        let second = try service.startAndFollow("rules", mailbox: id)
        entra.simulator.advanceClock(by: 601)
        let late = try service.confirm(second)
        #expect(late.status == 422)
        #expect(late.json["upstream_code"]?.string == "AADSTS70008")
    }

    @Test("SMTP: SMTP AUTH disabled answers 535 5.7.139; sending as someone else answers 554 5.2.252 SendAsDenied; Send As grants allow it")
    func smtpRules() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let adminID = try service.authorize("smtp", entra)
        let token = try service.token("smtp", adminID).json["access_token"]!.string!
        let simulator = entra.simulator
        func send(from: String, header: String) -> SMTPResult {
            SMTPSubmission.send(host: simulator.smtpHost, port: simulator.smtpPort, username: "admin@contoso.example", accessToken: token,
                                from: from, recipients: ["x@example.com"], message: "From: \(header)\r\nSubject: t\r\n\r\nbody\r\n")
        }
        #expect(send(from: "admin@contoso.example", header: "contact@contoso.example").accepted, "admin has Send As on contact")
        let denied = send(from: "admin@contoso.example", header: "boss@contoso.example")
        #expect(!denied.accepted)
        #expect(denied.replies.last?.hasPrefix("554 5.2.252 SendAsDenied; admin@contoso.example not allowed to send as boss@contoso.example") == true)
        simulator.updateAccount("admin@contoso.example") { $0.smtpAuthEnabled = false }
        let disabled = send(from: "admin@contoso.example", header: "admin@contoso.example")
        #expect(disabled.replies.last?.hasPrefix("535 5.7.139") == true)
        #expect(simulator.smtpLog.contains { $0.kind == "auth" && $0.replyCode == 535 && $0.user == "admin@contoso.example" })
    }

    @Test("admin consent redirects with admin_consent=True and the tenant, and the vault's page says so")
    func adminConsent() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        try service.onboard("consent", entra)
        let url = try service.call("GET", "/v1/bases/consent/onboarding").json["admin_consent_url"]!.string!
        let answer = try service.follow(url)
        #expect(answer.query["admin_consent"] == "True")
        #expect(answer.query["tenant"] == entra.tenant.id)
        let page = try service.call("GET", "/microsoft_outlook/confirm?admin_consent=True&tenant=\(entra.tenant.id)", key: "")
        #expect(page.status == 200 && page.text.contains("Admin consent granted"))
    }
}

import HTTPClient

@Suite struct EntraClientTests {
    /// Signs `admin@contoso.example` in directly against the simulator and redeems the code with EntraClient.
    func grant(_ entra: EntraFixture, client: EntraClient) throws -> TokenGrant {
        let pkce = PKCE.make()
        let url = client.authorizeURL(tenant: "organizations", clientID: entra.clientID, redirectURI: "https://direct.openfire.fr/microsoft_outlook/confirm",
                                      scopes: MicrosoftScopes.signIn, state: "s", codeChallenge: pkce.challenge, loginHint: "admin@contoso.example")
        let location = try HTTPClient().send(HTTPClientRequest(url: url)).header("location") ?? ""
        let code = FormEncoding.decode(String(location.split(separator: "?").last ?? ""))?.first { $0.0 == "code" }?.1 ?? ""
        return try client.redeemCode(tenant: "organizations", clientID: entra.clientID, clientSecret: Secret(entra.secret), code: Secret(code),
                                     redirectURI: "https://direct.openfire.fr/microsoft_outlook/confirm", codeVerifier: pkce.verifier,
                                     scopes: ["offline_access", "openid", "email", MicrosoftScopes.smtpSend])
    }

    @Test("by default an old refresh token stays valid after use; strict mode revokes it and reports the reuse")
    func rotation() throws {
        let entra = try EntraFixture()
        let client = EntraClient(configuration: EntraConfiguration(authorityURL: entra.simulator.authorityURL))
        let first = try grant(entra, client: client)
        #expect(first.idToken?.address == "admin@contoso.example" && first.idToken?.tenantID == entra.tenant.id)
        #expect(first.scopes.contains(MicrosoftScopes.smtpSend) && first.expiresIn == 3599)
        let refreshToken = try #require(first.refreshToken)
        let refresh = { try client.refresh(tenant: "organizations", clientID: entra.clientID, clientSecret: Secret(entra.secret),
                                           refreshToken: refreshToken, scopes: ["offline_access", MicrosoftScopes.smtpSend]) }
        let second = try refresh()
        #expect(second.refreshToken != nil && second.refreshToken != refreshToken)
        #expect(try refresh().accessToken != second.accessToken, "non-strict: the old refresh token still works")

        entra.simulator.setStrictRotation(true)
        let strict = try grant(entra, client: client)
        let strictToken = try #require(strict.refreshToken)
        let redeem = { try client.refresh(tenant: "organizations", clientID: entra.clientID, clientSecret: Secret(entra.secret),
                                          refreshToken: strictToken, scopes: ["offline_access", MicrosoftScopes.smtpSend]) }
        _ = try redeem()
        #expect { try redeem() } throws: { error in
            guard let failure = error as? EntraFailure else { return false }
            return failure.code == 70000 && failure.kind == .reauthorize && failure.message.contains("reuse detected")
        }
    }

    @Test("client credentials give an app-only token without refresh token; a wrong secret is a client-credential failure")
    func clientCredentials() throws {
        let entra = try EntraFixture()
        let client = EntraClient(configuration: EntraConfiguration(authorityURL: entra.simulator.authorityURL))
        let grant = try client.clientCredentials(tenant: entra.tenant.id, clientID: entra.clientID, clientSecret: Secret(entra.secret),
                                                 scope: MicrosoftScopes.exchangeAppOnly)
        #expect(grant.refreshToken == nil && grant.idToken == nil && grant.tokenType == "Bearer")
        #expect { try client.clientCredentials(tenant: entra.tenant.id, clientID: entra.clientID, clientSecret: Secret("wrong-secret-value-000"),
                                               scope: MicrosoftScopes.exchangeAppOnly) } throws: { error in
            (error as? EntraFailure)?.code == 7000215 && (error as? EntraFailure)?.kind == .clientCredential && (error as? EntraFailure)?.httpStatus == 401
        }
        #expect { try client.clientCredentials(tenant: "organizations", clientID: entra.clientID, clientSecret: Secret(entra.secret),
                                               scope: MicrosoftScopes.exchangeAppOnly) } throws: { ($0 as? EntraFailure)?.code == 9001023 }
        let unreachable = EntraClient(configuration: EntraConfiguration(authorityURL: "http://127.0.0.1:1", timeout: .seconds(2)))
        #expect { try unreachable.clientCredentials(tenant: entra.tenant.id, clientID: entra.clientID, clientSecret: Secret(entra.secret),
                                                    scope: MicrosoftScopes.exchangeAppOnly) } throws: { ($0 as? EntraFailure)?.kind == .transient }
    }
}

import EntraClient
import VaultCore
