import EntraSimulator
import Foundation
import Testing
import VaultCore

/// Sign-ins that must be refused, each with its reason and what to do, and none leaving tokens behind.
@Suite struct SignInRefusalTests {
    @Test("a state works once")
    func reusedState() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("once", entra)
        let answer = try service.startAndFollow("once", mailbox: id)
        #expect(try service.confirm(answer).status == 200)
        let again = try service.confirm(answer)
        #expect(again.status == 422 && again.isProblem)
        #expect(again.json["code"]?.string == "state_used")
    }

    @Test("a state older than 10 minutes is refused")
    func expiredState() throws {
        let entra = try EntraFixture()
        let clock = MovableClock()
        let service = try entra.makeService(clock: clock.wallClock)
        let id = try service.onboard("late", entra)
        let answer = try service.startAndFollow("late", mailbox: id)
        clock.advance(by: 601)
        let late = try service.confirm(answer)
        #expect(late.status == 422)
        #expect(late.json["code"]?.string == "state_expired")
        #expect(late.json["remediation"]?.string?.contains("10 minutes") == true)
        #expect(try service.call("GET", "/v1/bases/late/mailboxes/\(id)").json["status"]?.string == "pending")
    }

    @Test("a state of another base is refused for that base's instance key, and unknown states too")
    func stateOfAnotherBase() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("alpha", entra)
        try service.createBase("beta")
        let betaKey = try service.createKey(role: "instance", base: "beta")
        let answer = try service.startAndFollow("alpha", mailbox: id)
        let refused = try service.confirm(answer, key: betaKey)
        #expect(refused.status == 422)
        #expect(refused.json["code"]?.string == "invalid_state")
        // The state was not consumed by the refused attempt: alpha itself can still complete it.
        let alphaKey = try service.createKey(role: "instance", base: "alpha")
        #expect(try service.confirm(answer, key: alphaKey).status == 200)
        let forged = try service.call("POST", "/v1/oauth/confirm", json: #"{"code":"x","state":"not-a-state"}"#)
        #expect(forged.json["code"]?.string == "invalid_state")
    }

    @Test("another account signing in is refused, naming both addresses; the mailbox keeps no token")
    func anotherAccount() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("who", entra, mailbox: "contact@contoso.example")
        let answer = try service.startAndFollow("who", mailbox: id, loginHint: "admin@contoso.example")
        let refused = try service.confirm(answer)
        #expect(refused.status == 422)
        #expect(refused.json["code"]?.string == "account_mismatch")
        #expect(refused.json["detail"]?.string?.contains("admin@contoso.example") == true)
        #expect(refused.json["detail"]?.string?.contains("contact@contoso.example") == true)
        let mailbox = try service.call("GET", "/v1/bases/who/mailboxes/\(id)").json
        #expect(mailbox["status"]?.string == "pending")
        #expect(mailbox["last_error"]?["code"]?.string == "account_mismatch")
        #expect(mailbox["access_tokens"]?.array.isEmpty == true)
        #expect(try service.token("who", id).status == 424)
    }

    @Test("a denied consent comes back as an error and is recorded with what to do")
    func deniedConsent() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("deny", entra)
        entra.simulator.setFault(.denyConsent, for: "admin@contoso.example")
        let answer = try service.startAndFollow("deny", mailbox: id)
        #expect(answer.query["error"] == "access_denied")
        #expect(answer.query["error_description"]?.hasPrefix("AADSTS65004") == true)
        let refused = try service.confirm(answer)
        #expect(refused.status == 422)
        #expect(refused.json["code"]?.string == "consent_denied")
        #expect(refused.json["upstream_code"]?.string == "AADSTS65004")
        #expect(refused.json["remediation"]?.string?.contains("accept") == true)
        #expect(try service.call("GET", "/v1/bases/deny/mailboxes/\(id)").json["last_error"]?["code"]?.string == "AADSTS65004")
    }

    @Test("a sign-in from another tenant than the base's is refused, even through an altered authorize URL")
    func otherTenant() throws {
        let entra = try EntraFixture()
        let other = SimTenant(name: "Fabrikam")
        entra.simulator.add(other)
        entra.simulator.add(SimAccount(address: "admin@fabrikam.example", tenantID: other.id))
        entra.simulator.updateApp(entra.clientID) { $0.consentedTenants.append(other.id) }
        let service = try entra.makeService()
        try service.createBase("pinned", tenant: entra.tenant.id)
        let id = try service.onboard("pinned", entra, mailbox: "admin@fabrikam.example", tenant: entra.tenant.id)
        let start = try service.call("POST", "/v1/bases/pinned/mailboxes/\(id)/authorizations", json: "{}").json["authorize_url"]!.string!
        // With the base's tenant in the URL, Microsoft does not even offer the foreign account.
        #expect(start.contains("/\(entra.tenant.id)/oauth2/v2.0/authorize"))
        let altered = start.replacingOccurrences(of: "/\(entra.tenant.id)/", with: "/organizations/")
        let refused = try service.confirm(try service.follow(altered))
        #expect(refused.status == 422)
        #expect(refused.json["code"]?.string == "tenant_mismatch")
        #expect(try service.call("GET", "/v1/bases/pinned/mailboxes/\(id)").json["access_tokens"]?.array.isEmpty == true)
    }

    @Test("a sign-in without SMTP.Send granted is refused and says which permission to add")
    func missingScopes() throws {
        let entra = try EntraFixture { app in app.delegatedPermissions.removeAll { $0.hasSuffix("SMTP.Send") } }
        let service = try entra.makeService()
        let id = try service.onboard("scopes", entra)
        let refused = try service.confirm(try service.startAndFollow("scopes", mailbox: id))
        #expect(refused.status == 422)
        #expect(refused.json["code"]?.string == "missing_scopes")
        #expect(refused.json["remediation"]?.string?.contains("SMTP.Send") == true)
    }

    @Test("optional scopes that are missing are reported, not refused")
    func optionalScopes() throws {
        let entra = try EntraFixture { app in app.delegatedPermissions.removeAll { $0.hasSuffix("POP.AccessAsUser.All") } }
        let service = try entra.makeService()
        let id = try service.onboard("optional", entra)
        let confirmed = try service.confirm(try service.startAndFollow("optional", mailbox: id))
        #expect(confirmed.status == 200)
        #expect(confirmed.json["missing_scopes"]?.array.map { $0.string } == ["https://outlook.office.com/POP.AccessAsUser.All"])
    }

    @Test("a sign-in needs the app registration, and only a delegated mailbox signs in")
    func preconditions() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        try service.createBase("bare")
        let mailbox = try service.call("POST", "/v1/bases/bare/mailboxes", json: #"{"address":"admin@contoso.example"}"#)
        let start = try service.call("POST", "/v1/bases/bare/mailboxes/\(mailbox.json["id"]!.string!)/authorizations", json: "{}")
        #expect(start.status == 424)
        #expect(start.json["code"]?.string == "no_app_registration")
        #expect(try service.call("POST", "/v1/bases/bare/mailboxes", json: #"{"address":"admin@contoso.example"}"#).status == 409)
        #expect(try service.call("POST", "/v1/bases/bare/mailboxes", json: #"{"address":"not an address"}"#).status == 422)
        #expect(try service.call("POST", "/v1/bases/bare/mailboxes", json: #"{"address":"x@contoso.example","mode":"application"}"#).status == 422,
                "application mode needs a tenant id, not organizations")
    }
}
