import Foundation
import Testing

@Suite struct OperationsTests {
    @Test("/healthz and /readyz answer without a key; readyz reports its checks")
    func healthAndReadiness() throws {
        let service = try TestService()
        let health = try service.call("GET", "/healthz", key: "")
        #expect(health.status == 200)
        let ready = try service.call("GET", "/readyz", key: "")
        #expect(ready.status == 200)
        #expect(ready.json["status"]?.string == "ready")
        #expect(ready.json["checks"]?["database"]?.string == "ok")
        #expect(ready.json["checks"]?["migrations"]?.string == "ok")
        #expect(ready.json["checks"]?["master_key"]?.string == "ok")
    }

    @Test("/metrics counts requests by route and status, with latency and pool gauges")
    func metrics() throws {
        let service = try TestService()
        try service.call("GET", "/v1/bases")
        try service.call("GET", "/v1/bases/nope")
        let text = try service.call("GET", "/metrics", key: "").text
        #expect(text.contains(#"tokenvault_http_requests_total{route="/v1/bases",method="GET",status="200"} 1"#))
        #expect(text.contains(#"tokenvault_http_requests_total{route="/v1/bases/{slug}",method="GET",status="404"} 1"#))
        #expect(text.contains(#"tokenvault_http_request_duration_seconds_bucket{route="/v1/bases",le="+Inf"} 1"#))
        #expect(text.contains(#"tokenvault_db_pool_connections{state="open"}"#))
    }

    @Test("every response carries a request id; a caller's well-formed X-Request-Id is kept and logged")
    func requestIDs() throws {
        let service = try TestService()
        let response = try service.call("GET", "/v1/bases", headers: [("X-Request-Id", "trace-123.abc")])
        #expect(response.header("x-request-id") == "trace-123.abc")
        #expect(response.header("cache-control") == "no-store")
        #expect(response.header("x-content-type-options") == "nosniff")
        let generated = try service.call("GET", "/v1/bases", headers: [("X-Request-Id", "bad id with spaces")])
        #expect(generated.header("x-request-id")?.hasPrefix("req_") == true)
        let line = service.logs.contents.first { $0.contains("\"request.id\":\"trace-123.abc\"") }
        #expect(line != nil)
        let parsed = try JSONSerialization.jsonObject(with: Data((line ?? "{}").utf8)) as? [String: Any]
        #expect(parsed?["http.route"] as? String == "/v1/bases")
        #expect(parsed?["http.status"] as? String == "200")
    }

    @Test("an unknown route is a problem+json 404 and a wrong method a 405 with Allow")
    func routing() throws {
        let service = try TestService()
        let missing = try service.call("GET", "/v1/nothing-here")
        #expect(missing.status == 404 && missing.isProblem)
        let wrongMethod = try service.call("PUT", "/v1/bases", json: "{}")
        #expect(wrongMethod.status == 405 && wrongMethod.isProblem)
        #expect(wrongMethod.header("allow")?.contains("GET") == true)
    }
}

@Suite struct DatabaseResilienceTests {
    @Test("pooled connections whose backends were terminated are replaced before use: no request fails")
    func terminatedBackendsAreReplaced() throws {
        let service = try TestService()
        for _ in 0..<4 { #expect(try service.call("GET", "/v1/bases").status == 200) }
        let admin = try TestDatabase.connect(service.databaseURL)
        let killed = try admin.query("""
            SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'tokenvault'
            """)
        #expect(killed.count >= 1)
        Thread.sleep(forTimeInterval: 0.05)
        for _ in 0..<8 { #expect(try service.call("GET", "/v1/bases").status == 200) }
        #expect(try service.call("GET", "/readyz", key: "").status == 200)
    }

    @Test("while the database refuses connections, requests get 503 with Retry-After and readyz says not ready; then it recovers")
    func databaseOutage() throws {
        let service = try TestService()
        #expect(try service.call("GET", "/v1/bases").status == 200)
        let admin = try TestDatabase.connect(try TestDatabase.url("postgres"))
        let name = try TestDatabase.connect(service.databaseURL).query("SELECT current_database() AS name").first!.decode("name", as: String.self)
        try admin.execute(unsafeSQL: "ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(name)")
        Thread.sleep(forTimeInterval: 0.05)
        let down = try service.call("GET", "/v1/bases/anything")
        #expect(down.status == 503 && down.isProblem, "\(down.status) \(down.text)")
        #expect(down.header("retry-after") != nil)
        let ready = try service.call("GET", "/readyz", key: "")
        #expect(ready.status == 503)
        #expect(ready.json["checks"]?["database"]?.string == "unreachable")
        try admin.execute(unsafeSQL: "ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
        #expect(try service.call("GET", "/v1/bases").status == 200)
        #expect(try service.call("GET", "/readyz", key: "").status == 200)
    }
}
