import Foundation
import Testing
@testable import VaultCore

@Suite struct BaseLifecycleTests {
    @Test("a base is created with its fields, an ETag and a Location; a duplicate slug is 409")
    func create() throws {
        let service = try TestService()
        let created = try service.call("POST", "/v1/bases", json: """
            {"slug":"mabase","display_name":"Ma Base","base_url":"https://MaBase.openfire.fr/","tenant":"6C0A8D7E-3C2B-4F3E-9A1D-2B7F0C9E8D11"}
            """)
        #expect(created.status == 201)
        #expect(created.header("location") == "/v1/bases/mabase")
        #expect(created.header("etag") == "\"1\"")
        let body = created.json
        #expect(body["slug"]?.string == "mabase")
        #expect(body["base_url"]?.string == "https://mabase.openfire.fr")
        #expect(body["tenant"]?.string == "6c0a8d7e-3c2b-4f3e-9a1d-2b7f0c9e8d11")
        #expect(body["status"]?.string == "onboarding")
        #expect(body["redirect_uri"]?.string == "https://mabase.openfire.fr/microsoft_outlook/confirm")
        for field in ["id", "display_name", "created_at", "updated_at"] { #expect(body[field] != nil, "\(field)") }
        #expect(body["created_at"]?.string?.hasSuffix("Z") == true)
    }

    @Test("bases are listed by slug, page by page")
    func pagination() throws {
        let service = try TestService()
        for slug in ["e", "a", "d", "b", "c"] { try service.createBase(slug) }
        var seen: [String] = []
        var path = "/v1/bases?limit=2"
        while true {
            let page = try service.call("GET", path).json
            seen += page["items"]!.array.map { $0["slug"]!.string! }
            guard let cursor = page["next_cursor"]?.string else { break }
            path = "/v1/bases?limit=2&cursor=\(cursor)"
        }
        #expect(seen == ["a", "b", "c", "d", "e"])
    }

    @Test("offboarding destroys the data key, revokes instance keys, keeps the trail and frees the slug")
    func offboarding() throws {
        let service = try TestService()
        try service.createBase("leaving")
        try service.call("PUT", "/v1/bases/leaving/app-registration", json: """
            {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Leaving~Secret.Value_7777777","expires_at":"2027-06-30T00:00:00Z"}]}
            """)
        let instanceKey = try service.createKey(role: "instance", base: "leaving")
        #expect(try service.call("GET", "/v1/bases/leaving", key: instanceKey).status == 200)
        let scope = try service.vault.scope(ofBase: "leaving", by: .system("test"))

        let deleted = try service.call("DELETE", "/v1/bases/leaving")
        #expect(deleted.status == 200)
        #expect(deleted.json["status"]?.string == "offboarded")
        #expect(try service.call("GET", "/v1/bases/leaving").status == 404)
        #expect(try service.call("GET", "/v1/bases/leaving", key: instanceKey).status == 401)

        let connection = try TestDatabase.connect(service.databaseURL)
        #expect(try connection.query("SELECT 1 FROM base_keys WHERE base_id = \(scope.id)").isEmpty)
        #expect(throws: VaultError.self) {
            try service.vault.withConnection { try service.vault.activeClientSecrets(of: scope, on: $0) }
        }
        let trail = try service.call("GET", "/v1/audit-events?base=leaving").json["items"]!.array
        #expect(trail.first?["action"]?.string == "base.deleted")
        #expect(trail.first?["details"]?["data_key_destroyed"]?.bool == true)
        #expect(trail.first?["details"]?["api_keys_revoked"]?.int == 1)

        try service.createBase("leaving")
        #expect(try service.call("GET", "/v1/bases/leaving").json["status"]?.string == "onboarding")
    }

    @Test("a registration is replaced by PUT, rotated by adding a credential, and a credential is retired for the record")
    func appRegistrationLifecycle() throws {
        let service = try TestService()
        try service.createBase("rot")
        let first = try service.call("PUT", "/v1/bases/rot/app-registration", json: """
            {"client_id":"3F2504E0-4F89-11D3-9A0C-0305E82C3301","client_secrets":[{"secret":"First~Secret.Value_88888888","expires_at":"2027-06-30T00:00:00Z"}]}
            """)
        #expect(first.status == 201)
        #expect(first.json["client_id"]?.string == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        #expect(first.json["tenant"]?.string == "organizations")
        #expect(first.json["redirect_uri"]?.string == "https://rot.openfire.fr/microsoft_outlook/confirm")

        let added = try service.call("POST", "/v1/bases/rot/app-registration/credentials",
                                     json: #"{"secret":"Second~Secret.Value_9999999","expires_at":"2027-12-31T00:00:00Z"}"#)
        #expect(added.status == 201)
        #expect(added.json["hint"]?.string == "Seco")
        #expect(added.json["status"]?.string == "active")
        var registration = try service.call("GET", "/v1/bases/rot/app-registration").json
        #expect(registration["credentials"]?.array.map { $0["status"]!.string! } == ["active", "active"])

        let retired = try service.call("DELETE", "/v1/bases/rot/app-registration/credentials/\(added.json["id"]!.string!)")
        #expect(retired.json["status"]?.string == "retired")
        #expect(retired.json["retired_at"]?.string != nil)

        // Same client id, no secrets: the active secret stays.
        let same = try service.call("PUT", "/v1/bases/rot/app-registration", json: #"{"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","tenant":"contoso.onmicrosoft.com"}"#)
        #expect(same.status == 200)
        #expect(same.json["tenant"]?.string == "contoso.onmicrosoft.com")
        // New secrets replace the active set; the old ones are retired, kept for the record.
        let replaced = try service.call("PUT", "/v1/bases/rot/app-registration", json: """
            {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Third~Secret.Value_0000000","expires_at":"2027-03-31T00:00:00Z"}]}
            """)
        registration = replaced.json
        #expect(registration["credentials"]?.array.map { $0["status"]!.string! } == ["active", "retired", "retired"])
        #expect(registration["credentials"]?[0]?["hint"]?.string == "Thir")
        // Another application: its secret is required.
        let otherApp = try service.call("PUT", "/v1/bases/rot/app-registration", json: #"{"client_id":"6c0a8d7e-3c2b-4f3e-9a1d-2b7f0c9e8d11"}"#)
        #expect(otherApp.status == 422)
    }
}
