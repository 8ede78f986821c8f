import Testing

@Suite struct RateLimitTests {
    @Test("a key over its rate gets 429 with Retry-After; other keys are not affected")
    func perKeyLimit() throws {
        let service = try TestService { configuration in
            configuration.rateLimitPerSecond = 1
            configuration.rateLimitBurst = 3
        }
        let auditor = try service.createKey(role: "auditor")  // the admin key spent one token here
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try service.call("GET", "/v1/bases", key: auditor).status) }
        #expect(statuses.prefix(3).allSatisfy { $0 == 200 })
        let limited = try service.call("GET", "/v1/bases", key: auditor)
        #expect(limited.status == 429 && limited.isProblem)
        #expect(Int(limited.header("retry-after") ?? "") ?? 0 >= 1)
        #expect(try service.call("GET", "/v1/bases").status == 200, "the admin key has its own bucket")
    }
}
