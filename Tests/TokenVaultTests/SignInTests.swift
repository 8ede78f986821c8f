import Crypto
import EntraSimulator
import Foundation
import HTTPClient
import Testing

@Suite struct SignInTests {
    @Test("the seed procedure end to end: registration, mailbox, sign-in, token, and SMTP AUTH XOAUTH2 answers 235")
    func seedProcedure() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        // Step 1: the hosting team creates the base and stores the app registration; the checklist says what to do.
        try service.createBase("mabase")
        let checklist = try service.call("GET", "/v1/bases/mabase/onboarding").json
        #expect(checklist["redirect_uri"]?.string == "https://mabase.openfire.fr/microsoft_outlook/confirm")
        #expect(checklist["delegated_permissions"]?.array.contains { $0["name"]?.string == "SMTP.Send" } == true)
        #expect(checklist["application_permissions"]?.array.contains { $0["name"]?.string == "SMTP.SendAsApp" } == true)
        #expect(checklist["steps"]?.array.first?["done"]?.bool == false)
        let id = try service.onboard("mabase", entra)
        let instanceKey = try service.createKey(role: "instance", base: "mabase")
        let consentURL = try service.call("GET", "/v1/bases/mabase/onboarding").json["admin_consent_url"]?.string ?? ""
        #expect(consentURL.hasPrefix(entra.simulator.authorityURL + "/organizations/v2.0/adminconsent?client_id=\(entra.clientID)"))

        // Step 4: OpenFire's arrow; Microsoft redirects to the base, which forwards code and state to the vault.
        let answer = try service.startAndFollow("mabase", mailbox: id, key: instanceKey)
        #expect(answer.location.hasPrefix("https://mabase.openfire.fr/microsoft_outlook/confirm?code="))
        let confirmed = try service.confirm(answer, key: instanceKey)
        #expect(confirmed.status == 200, "\(confirmed.text)")
        #expect(confirmed.json["status"]?.string == "active")
        #expect(confirmed.json["tenant_id"]?.string == entra.tenant.id)
        #expect(confirmed.json["granted_scopes"]?.array.contains { $0.string == "https://outlook.office.com/SMTP.Send" } == true)
        #expect(try service.call("GET", "/v1/bases/mabase").json["status"]?.string == "active")

        // The instance fetches a token and sends mail with it.
        let token = try service.token("mabase", id, key: instanceKey)
        #expect(token.status == 200, "\(token.text)")
        let accessToken = token.json["access_token"]!.string!
        #expect(token.json["token_type"]?.string == "Bearer")
        #expect(token.json["username"]?.string == "admin@contoso.example")
        #expect(token.json["resource"]?.string == "outlook")
        #expect(token.json["refresh_token"] == nil)
        let xoauth2 = Data(base64Encoded: token.json["xoauth2"]!.string!).map { String(decoding: $0, as: UTF8.self) }
        #expect(xoauth2 == "user=admin@contoso.example\u{1}auth=Bearer \(accessToken)\u{1}\u{1}")
        let sent = SMTPSubmission.send(host: entra.simulator.smtpHost, port: entra.simulator.smtpPort, username: "admin@contoso.example",
                                       accessToken: accessToken, from: "admin@contoso.example", recipients: ["client@example.com"],
                                       message: "From: admin@contoso.example\r\nTo: client@example.com\r\nSubject: Facture\r\n\r\nBonjour\r\n")
        #expect(sent.accepted, "\(sent.replies)")
        #expect(sent.replies.contains("235 2.7.0 Authentication successful"))
        #expect(entra.simulator.smtpLog.contains { $0.kind == "message" && $0.replyCode == 250 })

        // Each disclosure is in the trail, with a hash of the token that support can match.
        let disclosed = try service.call("GET", "/v1/audit-events?action=access_token.disclosed").json["items"]!.array
        #expect(disclosed.count == 1)
        #expect(disclosed.first?["details"]?["token_sha256"]?.string == Hex.encode(SHA256.hash(accessToken)))
        #expect(disclosed.first?["actor"]?.string?.hasPrefix("api_key:") == true)
        let steps = try service.call("GET", "/v1/bases/mabase/onboarding").json["steps"]!.array
        #expect(steps.filter { $0["id"]?.string != "send_as" }.allSatisfy { $0["done"]?.bool == true }, "\(steps)")
    }

    @Test("the public confirm page validates the token and says so in HTML (Outlook Token Validé)")
    func confirmPage() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.onboard("page", entra)
        let answer = try service.startAndFollow("page", mailbox: id)
        let path = "/microsoft_outlook/confirm?" + FormEncoding.encode([("code", answer.code!), ("state", answer.state!)])
        let page = try service.call("GET", path, key: "")
        #expect(page.status == 200)
        #expect(page.contentType?.hasPrefix("text/html") == true)
        #expect(page.text.contains("Outlook token validated") && page.text.contains("Outlook Token Validé"))
        #expect(page.header("content-security-policy")?.contains("default-src 'none'") == true)
        #expect(try service.call("GET", "/v1/bases/page/mailboxes/\(id)").json["status"]?.string == "active")
        // The same state again: refused, explained, and escaped.
        let again = try service.call("GET", path, key: "")
        #expect(again.status == 422)
        #expect(again.text.contains("already completed"))
        let hostile = try service.call("GET", "/microsoft_outlook/confirm?state=x&error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E", key: "")
        #expect(!hostile.text.contains("<script>"))
    }

    @Test("application mode: client-credential tokens (SMTP.SendAsApp) authenticate the mailbox over SMTP")
    func applicationMode() throws {
        let entra = try EntraFixture { app in app.mailboxAccess = ["contact@contoso.example"] }
        let service = try entra.makeService()
        let id = try service.onboard("appmode", entra, mailbox: "contact@contoso.example", mode: "application", tenant: entra.tenant.id)
        let token = try service.token("appmode", id)
        #expect(token.status == 200, "\(token.text)")
        #expect(entra.simulator.statistics.clientCredentialGrants[entra.clientID] == 1)
        let sent = SMTPSubmission.send(host: entra.simulator.smtpHost, port: entra.simulator.smtpPort, username: "contact@contoso.example",
                                       accessToken: token.json["access_token"]!.string!, from: "contact@contoso.example",
                                       recipients: ["client@example.com"], message: "From: contact@contoso.example\r\n\r\nhi\r\n")
        #expect(sent.accepted, "\(sent.replies)")
        #expect(try service.call("GET", "/v1/bases/appmode/mailboxes/\(id)").json["status"]?.string == "active")
        // Application mode does not sign in.
        #expect(try service.call("POST", "/v1/bases/appmode/mailboxes/\(id)/authorizations", json: "{}").status == 409)
    }

    @Test("a Graph token is separate from the Outlook token and does not open SMTP")
    func graphToken() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("graphy", entra)
        let graph = try service.token("graphy", id, resource: "graph")
        #expect(graph.status == 200, "\(graph.text)")
        #expect(graph.json["resource"]?.string == "graph")
        let outlook = try service.token("graphy", id)
        #expect(graph.json["access_token"] != outlook.json["access_token"])
        let sent = SMTPSubmission.send(host: entra.simulator.smtpHost, port: entra.simulator.smtpPort, username: "admin@contoso.example",
                                       accessToken: graph.json["access_token"]!.string!, from: "admin@contoso.example",
                                       recipients: ["client@example.com"], message: "\r\nhi\r\n")
        #expect(!sent.accepted)
        #expect(sent.replies.last?.hasPrefix("535 5.7.3") == true)
        #expect(try service.token("graphy", id, resource: "exchange").status == 422)
        #expect(try service.token("graphy", id, minValidity: 99999).status == 422)
    }
}
