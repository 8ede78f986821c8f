import Foundation
import Testing

@Suite struct SecretLeakTests {
    @Test("a client secret appears nowhere: not in any table, not in the logs, not in any response")
    func clientSecretIsNowhere() throws {
        let service = try TestService()
        let secret = "Zq8~Sx1LeakCanary.Value_0123456789abcdEFG"
        let second = "Wy4~OtherCanary.Secret_9876543210zyxwvUTS"
        try service.createBase("leaky")
        let put = try service.call("PUT", "/v1/bases/leaky/app-registration", json: """
            {"client_id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","tenant":"organizations",
             "client_secrets":[{"secret":"\(secret)","expires_at":"2027-06-30T00:00:00Z"}]}
            """)
        #expect(put.status == 201)
        #expect(put.json["credentials"]?[0]?["hint"]?.string == "Zq8~")
        let added = try service.call("POST", "/v1/bases/leaky/app-registration/credentials",
                                     json: #"{"secret":"\#(second)","expires_at":"2027-09-30T00:00:00Z"}"#)
        #expect(added.status == 201)
        // Also exercise errors and listings that mention the registration.
        try service.call("PUT", "/v1/bases/leaky/app-registration", json: """
            {"client_id":"not-a-guid","client_secrets":[{"secret":"\(secret)","expires_at":"2020-01-01T00:00:00Z"}]}
            """)
        try service.call("GET", "/v1/bases/leaky/app-registration")
        try service.call("GET", "/v1/audit-events")
        try service.call("GET", "/v1/audit-events", headers: [("Accept", "text/csv")])
        try service.call("DELETE", "/v1/bases/leaky/app-registration/credentials/\(added.json["id"]?.string ?? "")")

        for value in [secret, second] {
            let forms = [value, Array(value.utf8).hex, Data(value.utf8).base64EncodedString()]
            let dump = try service.dumpDatabase()
            #expect(dump.contains("client_credentials"), "the dump must cover the credentials table")
            for form in forms {
                #expect(!dump.contains(form), "the database holds the secret in plaintext")
                #expect(!service.logText.contains(form), "a log line holds the secret")
                for response in service.responses {
                    #expect(!response.text.contains(form), "a response holds the secret")
                }
            }
        }
        // The active secret is still usable by the vault itself (sealed, not lost); the retired one is not offered.
        let scope = try service.vault.scope(ofBase: "leaky", by: .system("test"))
        let opened = try service.vault.withConnection { try service.vault.activeClientSecrets(of: scope, on: $0) }
        #expect(opened.map { $0.1.revealed() } == [secret])
    }

    @Test("an API key is stored only as a keyed hash and never logged")
    func apiKeysAreNotStored() throws {
        let service = try TestService()
        let key = try service.createKey(role: "auditor")
        try service.call("GET", "/v1/audit-events", key: key)
        try service.call("GET", "/v1/audit-events", key: key + "x")
        let dump = try service.dumpDatabase()
        for text in [key, service.adminKey] {
            let secretPart = String(text.dropFirst(15))  // after tvk_<prefix>_
            #expect(!dump.contains(secretPart))
            #expect(!service.logText.contains(secretPart))
        }
        let listing = try service.call("GET", "/v1/api-keys")
        #expect(!listing.text.contains(String(key.dropFirst(15))))
        #expect(listing.json["items"]?.array.allSatisfy { $0["key"] == nil } == true)
    }

    @Test("secrets print as <redacted> in every Swift rendering")
    func secretTypeRedacts() {
        let secret = Secret("hunter2-hunter2-hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(describing: secret) == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }
}

import VaultCore
