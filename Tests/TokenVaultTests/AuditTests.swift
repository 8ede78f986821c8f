import Foundation
import Postgres
import Testing

@Suite struct AuditTests {
    @Test("the audit table refuses UPDATE, DELETE and TRUNCATE, even from a superuser")
    func appendOnly() throws {
        let service = try TestService()
        try service.createBase("audited")
        let connection = try TestDatabase.connect(service.databaseURL)
        for statement in ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
            do {
                try connection.execute(unsafeSQL: statement)
                Issue.record("\(statement) was accepted")
            } catch {
                #expect(error.sqlState == "42501", "\(statement): \(error.debugDescription)")
            }
        }
        #expect(try service.call("GET", "/v1/audit-events/verify").json["ok"]?.bool == true)
    }

    @Test("every mutation is recorded with actor, action, target, base and request id; the chain verifies")
    func recordsAndVerifies() throws {
        let service = try TestService()
        try service.call("POST", "/v1/bases", json: #"{"slug":"rec","display_name":"R","base_url":"https://rec.openfire.fr","tenant":"organizations"}"#,
                         headers: [("X-Request-Id", "create-rec")])
        let etag = try service.call("GET", "/v1/bases/rec").header("etag")!
        try service.call("PATCH", "/v1/bases/rec", json: #"{"display_name":"R2"}"#, headers: [("If-Match", etag)])
        try service.createKey(role: "instance", base: "rec")
        // A refused mutation records nothing.
        try service.call("POST", "/v1/bases", json: #"{"slug":"rec","display_name":"dup","base_url":"https://rec.openfire.fr","tenant":"organizations"}"#)

        let events = try service.call("GET", "/v1/audit-events?base=rec").json["items"]!.array
        #expect(events.map { $0["action"]!.string! } == ["api_key.created", "base.updated", "base.created"])
        let created = events.last!
        #expect(created["request_id"]?.string == "create-rec")
        #expect(created["actor"]?.string?.hasPrefix("api_key:tvk_") == true)
        #expect(created["target_type"]?.string == "base")
        #expect(created["details"]?["slug"]?.string == "rec")
        #expect(events[1]["details"]?["display_name"]?.string == "R2")

        let verify = try service.call("GET", "/v1/audit-events/verify").json
        #expect(verify["ok"]?.bool == true)
        #expect(verify["checked"]?.int == 4)  // three for the base, one for the admin key of the test service
        #expect(verify["first_broken_id"]?.isNull == true)
    }

    @Test("a row altered behind the service's back is found by verify")
    func tamperingIsDetected() throws {
        let service = try TestService()
        for slug in ["one", "two", "three"] { try service.createBase(slug) }
        let target = try service.call("GET", "/v1/audit-events?base=two").json["items"]![0]!["id"]!.int!
        let connection = try TestDatabase.connect(service.databaseURL)
        try connection.execute(unsafeSQL: "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        try connection.query("UPDATE audit_events SET details = '{\"slug\":\"evil\"}' WHERE id = \(target)")
        try connection.execute(unsafeSQL: "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        let verify = try service.call("GET", "/v1/audit-events/verify").json
        #expect(verify["ok"]?.bool == false)
        #expect(verify["first_broken_id"]?.int == target)
    }

    @Test("a row removed behind the service's back is found by verify")
    func deletionIsDetected() throws {
        let service = try TestService()
        try service.createBase("gone")
        let etag = try service.call("GET", "/v1/bases/gone").header("etag")!
        try service.call("PATCH", "/v1/bases/gone", json: #"{"display_name":"G"}"#, headers: [("If-Match", etag)])
        let first = try service.call("GET", "/v1/audit-events?base=gone").json["items"]!.array.last!["id"]!.int!
        let connection = try TestDatabase.connect(service.databaseURL)
        try connection.execute(unsafeSQL: "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        try connection.query("DELETE FROM audit_events WHERE id = \(first)")
        try connection.execute(unsafeSQL: "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        #expect(try service.call("GET", "/v1/audit-events/verify").json["ok"]?.bool == false)
    }

    @Test("the listing filters, pages with a cursor, and exports CSV safe for spreadsheets")
    func listing() throws {
        let service = try TestService()
        for slug in ["p1", "p2", "p3", "p4"] { try service.createBase(slug) }
        let page1 = try service.call("GET", "/v1/audit-events?action=base.created&limit=3").json
        #expect(page1["items"]?.array.count == 3)
        let cursor = page1["next_cursor"]!.string!
        let page2 = try service.call("GET", "/v1/audit-events?action=base.created&limit=3&cursor=\(cursor)").json
        #expect(page2["items"]?.array.count == 1)
        #expect(page2["items"]?[0]?["base"]?.string == "p1")
        let since = try service.call("GET", "/v1/audit-events?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z").json
        #expect(since["items"]?.array.isEmpty == true)
        let csv = try service.call("GET", "/v1/audit-events?base=p2", headers: [("Accept", "text/csv")])
        #expect(csv.contentType?.hasPrefix("text/csv") == true)
        let lines = csv.text.split(separator: "\r\n")
        #expect(lines.first == "id,occurred_at,base,actor,action,target_type,target_id,request_id,details")
        #expect(lines.count == 2)
        #expect(lines[1].contains(",p2,api_key:tvk_"))
        #expect(AuditCSVProbe.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
    }
}

@testable import VaultAPI
typealias AuditCSVProbe = AuditCSV
