import EntraSimulator
import Foundation
import HTTPClient
import Testing

@Suite struct MailboxRoleTests {
    @Test("mailbox and sign-in routes: 401 without a key, 403 for a wrong role, allowed roles pass, another base's instance key gets 404")
    func matrix() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let alpha = try service.authorize("alpha", entra)
        let beta = try service.authorize("beta", entra)
        let keys = ["admin": service.adminKey, "auditor": try service.createKey(role: "auditor"),
                    "instance": try service.createKey(role: "instance", base: "alpha")]
        struct Route { let name: String; let roles: Set<String>; let call: (String, String) throws -> TestResponse }
        let routes: [Route] = [
            Route(name: "GET onboarding", roles: ["admin", "auditor"]) { slug, key in try service.call("GET", "/v1/bases/\(slug)/onboarding", key: key) },
            Route(name: "POST mailboxes", roles: ["admin"]) { slug, key in
                try service.call("POST", "/v1/bases/\(slug)/mailboxes", key: key, json: #"{"address":"m\#(UInt32.random(in: 0...UInt32.max))@contoso.example"}"#)
            },
            Route(name: "GET mailboxes", roles: ["admin", "auditor", "instance"]) { slug, key in try service.call("GET", "/v1/bases/\(slug)/mailboxes", key: key) },
            Route(name: "GET mailbox", roles: ["admin", "auditor", "instance"]) { slug, key in
                try service.call("GET", "/v1/bases/\(slug)/mailboxes/\(slug == "alpha" ? alpha : beta)", key: key)
            },
            Route(name: "POST authorizations", roles: ["admin", "instance"]) { slug, key in
                try service.call("POST", "/v1/bases/\(slug)/mailboxes/\(slug == "alpha" ? alpha : beta)/authorizations", key: key, json: "{}")
            },
            Route(name: "GET access-token", roles: ["admin", "instance"]) { slug, key in
                try service.token(slug, slug == "alpha" ? alpha : beta, key: key)
            },
            Route(name: "DELETE mailbox", roles: ["admin"]) { slug, key in
                let created = try service.call("POST", "/v1/bases/\(slug)/mailboxes", json: #"{"address":"d\#(UInt32.random(in: 0...UInt32.max))@contoso.example"}"#)
                return try service.call("DELETE", "/v1/bases/\(slug)/mailboxes/\(created.json["id"]!.string!)", key: key)
            },
        ]
        for route in routes {
            #expect(try route.call("alpha", "").status == 401, "\(route.name) without a key")
            for (role, key) in keys {
                let status = try route.call("alpha", key).status
                if route.roles.contains(role) {
                    #expect((200...201).contains(status), "\(route.name) as \(role): \(status)")
                } else {
                    #expect(status == 403, "\(route.name) as \(role): \(status)")
                }
            }
            #expect(try route.call("beta", keys["instance"]!).status == 404, "\(route.name) of another base with an instance key")
        }
        let confirm = try service.call("POST", "/v1/oauth/confirm", key: keys["auditor"]!, json: #"{"state":"x"}"#)
        #expect(confirm.status == 403)
        #expect(try service.call("POST", "/v1/oauth/confirm", key: "", json: #"{"state":"x"}"#).status == 401)
    }

    @Test("deleting a mailbox erases its tokens and frees its address; its trail stays")
    func deletion() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("del", entra)
        #expect(try service.token("del", id).status == 200)
        let deleted = try service.call("DELETE", "/v1/bases/del/mailboxes/\(id)")
        #expect(deleted.status == 200)
        #expect(try service.token("del", id).status == 404)
        #expect(try service.call("GET", "/v1/bases/del/mailboxes/\(id)").status == 404)
        let connection = try TestDatabase.connect(service.databaseURL)
        #expect(try connection.query("SELECT 1 FROM access_tokens").isEmpty)
        #expect(try connection.query("SELECT 1 FROM mailboxes WHERE refresh_token_sealed IS NOT NULL").isEmpty)
        #expect(try service.call("POST", "/v1/bases/del/mailboxes", json: #"{"address":"admin@contoso.example"}"#).status == 201)
        #expect(try service.call("GET", "/v1/audit-events?action=mailbox.deleted").json["items"]?.array.count == 1)
    }

    @Test("offboarding a base closes its mailboxes and erases every token and pending sign-in")
    func offboarding() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("bye", entra)
        _ = try service.startAndFollow("bye", mailbox: id)  // a sign-in left pending
        #expect(try service.token("bye", id).status == 200)
        let deleted = try service.call("DELETE", "/v1/bases/bye")
        #expect(deleted.status == 200)
        let connection = try TestDatabase.connect(service.databaseURL)
        #expect(try connection.query("SELECT 1 FROM access_tokens").isEmpty)
        #expect(try connection.query("SELECT 1 FROM oauth_states").isEmpty)
        #expect(try connection.query("SELECT 1 FROM mailboxes WHERE deleted_at IS NULL OR refresh_token_sealed IS NOT NULL").isEmpty)
        let event = try service.call("GET", "/v1/audit-events?action=base.deleted").json["items"]?[0]
        #expect(event?["details"]?["mailboxes_closed"]?.int == 1)
    }

    @Test("a sole secret that Microsoft rejects (7000215) answers 424 client_secret_rejected and the mailbox fails")
    func soleWrongSecret() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("wrong", entra)
        entra.simulator.setFault(.aadsts(7000215), for: entra.clientID)
        try TokenRefreshTests.expireTokens(service)
        let failed = try service.token("wrong", id)
        #expect(failed.status == 424)
        #expect(failed.json["code"]?.string == "client_secret_rejected")
        #expect(failed.json["remediation"]?.string?.contains("Value") == true)
        #expect(try service.call("GET", "/v1/bases/wrong/mailboxes/\(id)").json["status"]?.string == "failing")
        #expect(try service.call("GET", "/v1/bases/wrong").json["status"]?.string == "active", "7000215 is not an expiry")
    }

    @Test("the simulator is configured over HTTP under /_sim/: tenants, apps, accounts, faults, settings, stats, SMTP log")
    func simulatorAdminAPI() throws {
        let simulator = EntraSimulator()
        try simulator.start()
        defer { simulator.stop() }
        let client = HTTPClient()
        func post(_ path: String, _ json: String) throws -> HTTPClientResponse {
            try client.send(HTTPClientRequest(method: "POST", url: simulator.authorityURL + path, headers: [("Content-Type", "application/json")], body: Array(json.utf8)))
        }
        let tenant = try post("/_sim/tenants", #"{"name":"Northwind","domains":["northwind.example"]}"#)
        #expect(tenant.status == 201)
        let tenantID = try JSONSerialization.jsonObject(with: Data(tenant.body)) as! [String: Any]
        let tid = tenantID["id"] as! String
        #expect(try post("/_sim/apps", #"{"client_id":"11111111-1111-1111-1111-111111111111","tenant_id":"\#(tid)","secrets":[{"value":"s3cr3t-value-0123456789","expires_at":"2030-01-01T00:00:00Z"}],"redirect_uris":["https://nw.openfire.fr/microsoft_outlook/confirm"],"consented_tenants":["\#(tid)"]}"#).status == 201)
        #expect(try post("/_sim/accounts", #"{"address":"ops@northwind.example","tenant_id":"\#(tid)","smtp_auth_enabled":false}"#).status == 201)
        #expect(try post("/_sim/faults", #"{"target":"ops@northwind.example","kind":"throttle","retry_after":7}"#).status == 201)
        #expect(try post("/_sim/faults", #"{"target":"x","kind":"meteor"}"#).status == 422)
        #expect(try post("/_sim/settings", #"{"strict_rotation":true,"access_token_lifetime":600}"#).status == 200)
        let redirect = try client.send(HTTPClientRequest(url: simulator.authorityURL + "/northwind.example/oauth2/v2.0/authorize?client_id=11111111-1111-1111-1111-111111111111&response_type=code&redirect_uri=https%3A%2F%2Fnw.openfire.fr%2Fmicrosoft_outlook%2Fconfirm&scope=openid&login_hint=ops%40northwind.example"))
        #expect(redirect.status == 302)
        #expect(redirect.header("location")?.contains("code=") == true, "a verified domain stands for the tenant")
        #expect(try client.send(HTTPClientRequest(method: "DELETE", url: simulator.authorityURL + "/_sim/faults")).status == 200)
        let stats = try client.send(HTTPClientRequest(url: simulator.authorityURL + "/_sim/stats"))
        #expect(stats.status == 200 && stats.text.contains("token_requests"))
        #expect(try client.send(HTTPClientRequest(url: simulator.authorityURL + "/_sim/smtp")).text == "[]")
    }
}
