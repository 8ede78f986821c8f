import Foundation
import Testing

/// Every route with no key, a revoked key, a wrong-role key and the right key; and an instance key against another base.
@Suite struct RoleMatrixTests {
    struct Keys {
        let admin: String
        let auditor: String
        let instanceAlpha: String
        let instanceBeta: String
        let revokedAdmin: String
    }

    /// A route, the roles allowed on it, and how to call it (a fresh call each time, so that mutations succeed).
    struct Route {
        let name: String
        let roles: Set<String>
        let onAlpha: Bool
        let call: (TestService, String) throws -> TestResponse
    }

    static func setUp() throws -> (TestService, Keys) {
        let service = try TestService()
        try service.createBase("alpha")
        try service.createBase("beta")
        for slug in ["alpha", "beta"] {
            let put = try service.call("PUT", "/v1/bases/\(slug)/app-registration", json: """
                {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Role~Matrix.Secret_000000000000","expires_at":"2027-06-30T00:00:00Z"}]}
                """)
            guard put.status == 201 else { throw TestFailure("registration: \(put.text)") }
        }
        let revoked = try service.createKey(role: "admin")
        let revokedID = try service.call("GET", "/v1/api-keys").json["items"]!.array.last!["id"]!.string!
        #expect(try service.call("DELETE", "/v1/api-keys/\(revokedID)").status == 200)
        let keys = Keys(admin: service.adminKey, auditor: try service.createKey(role: "auditor"),
                        instanceAlpha: try service.createKey(role: "instance", base: "alpha"),
                        instanceBeta: try service.createKey(role: "instance", base: "beta"), revokedAdmin: revoked)
        return (service, keys)
    }

    nonisolated(unsafe) static var counter = 0
    static func unique() -> String {
        counter += 1
        return "t\(counter)-\(UInt32.random(in: 0...UInt32.max))"
    }

    nonisolated(unsafe) static let routes: [Route] = [
        Route(name: "POST /v1/api-keys", roles: ["admin"], onAlpha: false) { s, k in
            try s.call("POST", "/v1/api-keys", key: k, json: #"{"role":"auditor","name":"matrix"}"#)
        },
        Route(name: "GET /v1/api-keys", roles: ["admin"], onAlpha: false) { s, k in try s.call("GET", "/v1/api-keys", key: k) },
        Route(name: "DELETE /v1/api-keys/{id}", roles: ["admin"], onAlpha: false) { s, k in
            let created = try s.call("POST", "/v1/api-keys", json: #"{"role":"auditor","name":"to revoke"}"#)
            return try s.call("DELETE", "/v1/api-keys/\(created.json["id"]!.string!)", key: k)
        },
        Route(name: "POST /v1/bases", roles: ["admin"], onAlpha: false) { s, k in
            let slug = unique()
            return try s.call("POST", "/v1/bases", key: k, json: """
                {"slug":"\(slug)","display_name":"x","base_url":"https://\(slug).openfire.fr","tenant":"organizations"}
                """)
        },
        Route(name: "GET /v1/bases", roles: ["admin", "auditor", "instance"], onAlpha: false) { s, k in try s.call("GET", "/v1/bases", key: k) },
        Route(name: "GET /v1/bases/{slug}", roles: ["admin", "auditor", "instance"], onAlpha: true) { s, k in try s.call("GET", "/v1/bases/alpha", key: k) },
        Route(name: "PATCH /v1/bases/{slug}", roles: ["admin"], onAlpha: true) { s, k in
            let etag = try s.call("GET", "/v1/bases/alpha").header("etag")!
            return try s.call("PATCH", "/v1/bases/alpha", key: k, json: #"{"display_name":"\#(unique())"}"#, headers: [("If-Match", etag)])
        },
        Route(name: "DELETE /v1/bases/{slug}", roles: ["admin"], onAlpha: false) { s, k in
            let slug = unique()
            try s.createBase(slug)
            return try s.call("DELETE", "/v1/bases/\(slug)", key: k)
        },
        Route(name: "PUT /v1/bases/{slug}/app-registration", roles: ["admin"], onAlpha: true) { s, k in
            try s.call("PUT", "/v1/bases/alpha/app-registration", key: k, json: #"{"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}"#)
        },
        Route(name: "GET /v1/bases/{slug}/app-registration", roles: ["admin", "auditor"], onAlpha: true) { s, k in
            try s.call("GET", "/v1/bases/alpha/app-registration", key: k)
        },
        Route(name: "POST /v1/bases/{slug}/app-registration/credentials", roles: ["admin"], onAlpha: true) { s, k in
            try s.call("POST", "/v1/bases/alpha/app-registration/credentials", key: k,
                       json: #"{"secret":"Another~Secret.Value_11111111111","expires_at":"2027-01-31T00:00:00Z"}"#)
        },
        Route(name: "DELETE /v1/bases/{slug}/app-registration/credentials/{id}", roles: ["admin"], onAlpha: true) { s, k in
            let created = try s.call("POST", "/v1/bases/alpha/app-registration/credentials",
                                     json: #"{"secret":"Retire~Me.Secret_Value_22222222222","expires_at":"2027-01-31T00:00:00Z"}"#)
            return try s.call("DELETE", "/v1/bases/alpha/app-registration/credentials/\(created.json["id"]!.string!)", key: k)
        },
        Route(name: "GET /v1/audit-events", roles: ["admin", "auditor"], onAlpha: false) { s, k in try s.call("GET", "/v1/audit-events", key: k) },
        Route(name: "GET /v1/audit-events/verify", roles: ["admin", "auditor"], onAlpha: false) { s, k in try s.call("GET", "/v1/audit-events/verify", key: k) },
    ]

    @Test("each route: 401 without a key or with a revoked one, 403 for a wrong role, success for the right role")
    func matrix() throws {
        let (service, keys) = try Self.setUp()
        let keyOf = ["admin": keys.admin, "auditor": keys.auditor, "instance": keys.instanceAlpha]
        for route in Self.routes {
            let none = try route.call(service, "")
            #expect(none.status == 401 && none.isProblem, "\(route.name) without a key: \(none.status)")
            #expect(none.header("www-authenticate")?.hasPrefix("Bearer") == true, "\(route.name)")
            let revoked = try route.call(service, keys.revokedAdmin)
            #expect(revoked.status == 401 && revoked.isProblem, "\(route.name) with a revoked key: \(revoked.status)")
            let garbage = try route.call(service, "tvk_0000000000_" + String(repeating: "A", count: 43))
            #expect(garbage.status == 401, "\(route.name) with an unknown key: \(garbage.status)")
            for role in ["admin", "auditor", "instance"] {
                let response = try route.call(service, keyOf[role]!)
                if route.roles.contains(role) {
                    #expect((200...201).contains(response.status), "\(route.name) as \(role): \(response.status) \(response.text)")
                } else if role == "instance" && route.name == "DELETE /v1/bases/{slug}" {
                    // The base deleted here is not the instance's own: it does not exist for that key.
                    #expect(response.status == 404 && response.isProblem, "\(route.name) as \(role): \(response.status)")
                } else {
                    #expect(response.status == 403 && response.isProblem, "\(route.name) as \(role): \(response.status)")
                }
            }
        }
    }

    @Test("an instance key of base A gets 404 for everything of base B, whatever the route's roles")
    func instanceSeesOnlyItsBase() throws {
        let (service, keys) = try Self.setUp()
        let credential = try service.call("GET", "/v1/bases/beta/app-registration").json["credentials"]![0]!["id"]!.string!
        let etag = try service.call("GET", "/v1/bases/beta").header("etag")!
        let requests: [(String, String, String?, [(String, String)])] = [
            ("GET", "/v1/bases/beta", nil, []),
            ("PATCH", "/v1/bases/beta", #"{"display_name":"taken over"}"#, [("If-Match", etag)]),
            ("DELETE", "/v1/bases/beta", nil, []),
            ("GET", "/v1/bases/beta/app-registration", nil, []),
            ("PUT", "/v1/bases/beta/app-registration", #"{"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}"#, []),
            ("POST", "/v1/bases/beta/app-registration/credentials", #"{"secret":"Sneaky~Secret.Value_33333333333","expires_at":"2027-01-31T00:00:00Z"}"#, []),
            ("DELETE", "/v1/bases/beta/app-registration/credentials/\(credential)", nil, []),
        ]
        for (method, path, body, headers) in requests {
            let response = try service.call(method, path, key: keys.instanceAlpha, json: body, headers: headers)
            #expect(response.status == 404 && response.isProblem, "\(method) \(path): \(response.status)")
        }
        // The same key sees its own base, and only it in listings.
        #expect(try service.call("GET", "/v1/bases/alpha", key: keys.instanceAlpha).status == 200)
        let listed = try service.call("GET", "/v1/bases", key: keys.instanceAlpha).json["items"]!.array.map { $0["slug"]!.string! }
        #expect(listed == ["alpha"])
        #expect(try service.call("GET", "/v1/bases/beta", key: keys.instanceBeta).status == 200)
        // Nothing of beta changed.
        #expect(try service.call("GET", "/v1/bases/beta").json["display_name"]?.string == "Base beta")
    }
}
