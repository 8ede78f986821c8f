import Foundation
import Testing

/// Bad input gets the right 4xx, as problem+json, and changes nothing.
@Suite struct BadInputTests {
    /// The database without api_keys (whose last_used_at is written in the background).
    private func state(_ service: TestService) throws -> String {
        try service.dumpDatabase().split(separator: "\n").filter { !$0.hasPrefix("api_keys:") }.joined(separator: "\n")
    }

    private func expectRejected(_ service: TestService, _ status: Int, code: String? = nil, field: String? = nil,
                                _ send: () throws -> TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try state(service)
        let response = try send()
        #expect(response.status == status, "\(response.status) \(response.text)", sourceLocation: sourceLocation)
        #expect(response.isProblem, "not problem+json: \(response.contentType ?? "-") \(response.text)", sourceLocation: sourceLocation)
        #expect(response.json["request_id"]?.string?.isEmpty == false, sourceLocation: sourceLocation)
        if let code { #expect(response.json["code"]?.string == code, sourceLocation: sourceLocation) }
        if let field {
            let fields = response.json["errors"]?.array.compactMap { $0["field"]?.string } ?? []
            #expect(fields.contains(field), "fields at fault: \(fields)", sourceLocation: sourceLocation)
        }
        #expect(try state(service) == before, "the rejected request changed the database", sourceLocation: sourceLocation)
    }

    private func makeService() throws -> TestService {
        let service = try TestService()
        try service.createBase("target")
        return service
    }

    @Test("malformed JSON is 400")
    func malformedJSON() throws {
        let service = try makeService()
        try expectRejected(service, 400, code: "malformed_json") { try service.call("POST", "/v1/bases", json: #"{"slug": "x","#) }
        try expectRejected(service, 400, code: "malformed_json") { try service.call("POST", "/v1/bases", json: #"["not","an","object"]"#) }
        try expectRejected(service, 400) { try service.call("PUT", "/v1/bases/target/app-registration", json: "") }
    }

    @Test("wrong types are 422 naming the field")
    func wrongTypes() throws {
        let service = try makeService()
        try expectRejected(service, 422, code: "validation_failed", field: "display_name") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"typed","display_name":42,"base_url":"https://typed.openfire.fr","tenant":"organizations"}"#)
        }
        try expectRejected(service, 422, field: "client_secrets[0].expires_at") {
            try service.call("PUT", "/v1/bases/target/app-registration", json: """
                {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Typed~Secret.Value_444444444","expires_at":1790000000}]}
                """)
        }
        try expectRejected(service, 422, field: "slug") {
            try service.call("POST", "/v1/bases", json: #"{"slug":null,"display_name":"x","base_url":"https://x.openfire.fr","tenant":"organizations"}"#)
        }
        try expectRejected(service, 422, field: "tenant") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"missing","display_name":"x","base_url":"https://x.openfire.fr"}"#)
        }
    }

    @Test("unknown fields are 422, nested ones too")
    func unknownFields() throws {
        let service = try makeService()
        try expectRejected(service, 422, field: "is_admin") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"unk","display_name":"x","base_url":"https://unk.openfire.fr","tenant":"organizations","is_admin":true}"#)
        }
        try expectRejected(service, 422, field: "client_secrets[0].value") {
            try service.call("PUT", "/v1/bases/target/app-registration", json: """
                {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","client_secrets":[{"secret":"Nested~Secret.Value_55555555","value":"x","expires_at":"2027-06-30T00:00:00Z"}]}
                """)
        }
    }

    @Test("a body over the limit is 413, whether announced or streamed")
    func oversizedBody() throws {
        let service = try makeService()
        let huge = #"{"slug":"big","display_name":""# + String(repeating: "a", count: 70_000) + #"","base_url":"https://big.openfire.fr","tenant":"organizations"}"#
        try expectRejected(service, 413, code: "body_too_large") { try service.call("POST", "/v1/bases", json: huge) }
        try expectRejected(service, 413, code: "body_too_large") {
            try service.call("POST", "/v1/bases", json: huge, headers: [("Transfer-Encoding", "chunked")])
        }
    }

    @Test("a slug with path characters is refused, and an encoded slash in a path finds nothing")
    func slugWithPathCharacters() throws {
        let service = try makeService()
        for slug in ["a/b", "../etc", "UPPER", "-lead", "trail-", "sp ace", "é", String(repeating: "a", count: 64), ""] {
            try expectRejected(service, 422, field: "slug") {
                try service.call("POST", "/v1/bases", json: #"{"slug":"\#(slug)","display_name":"x","base_url":"https://x.openfire.fr","tenant":"organizations"}"#)
            }
        }
        try expectRejected(service, 404) { try service.call("GET", "/v1/bases/target%2F..%2Ftarget") }
        try expectRejected(service, 404) { try service.call("GET", "/v1/bases/..%2Fapi-keys") }
        try expectRejected(service, 400) { try service.call("GET", "/v1/bases/%ff%fe") }
    }

    @Test("a huge header is 431")
    func hugeHeader() throws {
        let service = try makeService()
        try expectRejected(service, 431, code: "headers_too_large") {
            try service.call("GET", "/v1/bases", headers: [("X-Padding", String(repeating: "p", count: 20_000))])
        }
    }

    @Test("a wrong If-Match is 412 and a missing one 428")
    func ifMatch() throws {
        let service = try makeService()
        let etag = try service.call("GET", "/v1/bases/target").header("etag")!
        try expectRejected(service, 412, code: "precondition_failed") {
            try service.call("PATCH", "/v1/bases/target", json: #"{"display_name":"new"}"#, headers: [("If-Match", "\"999\"")])
        }
        try expectRejected(service, 412) {
            try service.call("PATCH", "/v1/bases/target", json: #"{"display_name":"new"}"#, headers: [("If-Match", "garbage")])
        }
        try expectRejected(service, 428, code: "precondition_required") {
            try service.call("PATCH", "/v1/bases/target", json: #"{"display_name":"new"}"#)
        }
        let ok = try service.call("PATCH", "/v1/bases/target", json: #"{"display_name":"new"}"#, headers: [("If-Match", etag)])
        #expect(ok.status == 200)
        #expect(ok.header("etag") != etag)
        try expectRejected(service, 412) {
            try service.call("PATCH", "/v1/bases/target", json: #"{"display_name":"newer"}"#, headers: [("If-Match", etag)])
        }
    }

    @Test("values that break a rule are 422 with a message that says what to do")
    func rules() throws {
        let service = try makeService()
        let registration = { (clientID: String, secret: String, expiry: String) in
            try service.call("PUT", "/v1/bases/target/app-registration", json: """
                {"client_id":"\(clientID)","client_secrets":[{"secret":"\(secret)","expires_at":"\(expiry)"}]}
                """)
        }
        try expectRejected(service, 422, field: "client_id") { try registration("my-app", "Good~Secret.Value_666666666", "2027-06-30T00:00:00Z") }
        try expectRejected(service, 422, field: "client_secrets[0].secret") {
            try registration("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "6c0a8d7e-3c2b-4f3e-9a1d-2b7f0c9e8d11", "2027-06-30T00:00:00Z")
        }
        try expectRejected(service, 422, field: "client_secrets[0].expires_at") {
            try registration("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "Good~Secret.Value_666666666", "2021-01-01T00:00:00Z")
        }
        try expectRejected(service, 422, field: "client_secrets[0].expires_at") {
            try registration("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "Good~Secret.Value_666666666", "2031-01-01T00:00:00Z")
        }
        try expectRejected(service, 422, field: "client_secrets") {
            try service.call("PUT", "/v1/bases/target/app-registration", json: #"{"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}"#)
        }
        try expectRejected(service, 422, field: "base_url") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"plain","display_name":"x","base_url":"http://plain.openfire.fr/path?q=1","tenant":"organizations"}"#)
        }
        try expectRejected(service, 422, field: "tenant") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"plain","display_name":"x","base_url":"https://plain.openfire.fr","tenant":"common"}"#)
        }
        try expectRejected(service, 422, field: "role") { try service.call("POST", "/v1/api-keys", json: #"{"role":"root","name":"x"}"#) }
        try expectRejected(service, 422, field: "base") { try service.call("POST", "/v1/api-keys", json: #"{"role":"instance","name":"x"}"#) }
        try expectRejected(service, 422, field: "base") { try service.call("POST", "/v1/api-keys", json: #"{"role":"instance","name":"x","base":"nope"}"#) }
    }

    @Test("a body that is not JSON is 415, and bad query parameters are 400")
    func mediaTypeAndParameters() throws {
        let service = try makeService()
        try expectRejected(service, 415) {
            try service.call("POST", "/v1/bases", body: Array("slug=x".utf8), headers: [("Content-Type", "application/x-www-form-urlencoded")])
        }
        try expectRejected(service, 400, code: "invalid_parameter") { try service.call("GET", "/v1/bases?limit=0") }
        try expectRejected(service, 400, code: "invalid_parameter") { try service.call("GET", "/v1/bases?limit=abc") }
        try expectRejected(service, 400, code: "invalid_parameter") { try service.call("GET", "/v1/bases?cursor=%25%25%25") }
        try expectRejected(service, 400, code: "invalid_parameter") { try service.call("GET", "/v1/audit-events?since=yesterday") }
    }

    @Test("a duplicate slug is 409 and changes nothing")
    func duplicate() throws {
        let service = try makeService()
        try expectRejected(service, 409, code: "conflict") {
            try service.call("POST", "/v1/bases", json: #"{"slug":"target","display_name":"again","base_url":"https://target.openfire.fr","tenant":"organizations"}"#)
        }
    }
}
