import EntraSimulator
import Foundation
import Testing
@testable import VaultCore

/// Tokens for instances: refreshes, faults of the identity platform, client-secret failover, and one refresh at a time.
@Suite struct TokenRefreshTests {
    /// Makes the stored Outlook token look expired, so that the next fetch must refresh.
    static func expireTokens(_ service: TestService) throws {
        try TestDatabase.connect(service.databaseURL).execute(unsafeSQL: "UPDATE access_tokens SET expires_at = now() - interval '1 minute'")
    }

    @Test("a stored token is served until it nears expiry; then it is refreshed and the newest refresh token kept")
    func refresh() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("fresh", entra)
        let first = try service.token("fresh", id).json["access_token"]?.string
        #expect(try service.token("fresh", id).json["access_token"]?.string == first)
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == nil)
        let version = { try TestDatabase.connect(service.databaseURL).query("SELECT refresh_token_version AS v FROM mailboxes").first!.decode("v", as: Int.self) }
        let before = try version()
        try Self.expireTokens(service)
        let refreshed = try service.token("fresh", id)
        #expect(refreshed.status == 200)
        #expect(refreshed.json["access_token"]?.string != first)
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 1)
        #expect(try version() == before + 1)
        // A fresh token (3599 s) satisfies a min_validity of 3000 without another refresh.
        #expect(try service.token("fresh", id, minValidity: 3000).status == 200)
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 1)
    }

    @Test("tokens shorter than min_validity (a tenant policy) are handed out after at most two refreshes, not refreshed in a loop")
    func shortTokens() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("short", entra)
        entra.simulator.setAccessTokenLifetime(600)
        try Self.expireTokens(service)
        let token = try service.token("short", id, minValidity: 3000)
        #expect(token.status == 200)
        #expect((590...600).contains(token.json["expires_in"]?.int ?? 0))
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 2)
    }

    @Test("strict rotation: the vault always redeems the newest refresh token")
    func strictRotation() throws {
        let entra = try EntraFixture()
        entra.simulator.setStrictRotation(true)
        let service = try entra.makeService()
        let id = try service.authorize("strict", entra)
        for _ in 0..<3 {
            try Self.expireTokens(service)
            #expect(try service.token("strict", id).status == 200)
        }
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 3)
        #expect(try service.call("GET", "/v1/bases/strict/mailboxes/\(id)").json["status"]?.string == "active")
    }

    @Test("50 concurrent requests for an expired token make exactly one refresh")
    func concurrentRequestsRefreshOnce() throws {
        let entra = try EntraFixture()
        entra.simulator.setFault(.latency(milliseconds: 200), for: entra.clientID)
        let service = try entra.makeService()
        let id = try service.authorize("busy", entra)
        try Self.expireTokens(service)
        let tokens = try Self.concurrently(50) { try service.token("busy", id) }
        #expect(tokens.allSatisfy { $0.status == 200 }, "\(tokens.map(\.status))")
        #expect(Set(tokens.compactMap { $0.json["access_token"]?.string }).count == 1)
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 1)
    }

    @Test("two replicas on one database, 25 requests each: still exactly one refresh")
    func replicasRefreshOnce() throws {
        let entra = try EntraFixture()
        entra.simulator.setFault(.latency(milliseconds: 200), for: entra.clientID)
        let one = try entra.makeService()
        let id = try one.authorize("shared", entra)
        let two = try entra.makeService(databaseURL: one.databaseURL)
        try Self.expireTokens(one)
        let results = try Self.concurrently(50) { index in try (index % 2 == 0 ? one : two).token("shared", id, key: one.adminKey) }
        #expect(results.allSatisfy { $0.status == 200 }, "\(results.map(\.status))")
        #expect(entra.simulator.statistics.refreshesByAccount["admin@contoso.example"] == 1)
    }

    @Test("each grant fault moves the mailbox to needs_reauthorization and answers 424 with what to do", arguments: [700082, 50173, 65001, 50076])
    func grantFaults(code: Int) throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("fault\(code)", entra)
        entra.simulator.setFault(.aadsts(code), for: "admin@contoso.example")
        try Self.expireTokens(service)
        let failed = try service.token("fault\(code)", id)
        #expect(failed.status == 424 && failed.isProblem)
        #expect(failed.json["code"]?.string == "needs_reauthorization")
        #expect(failed.json["upstream_code"]?.string == "AADSTS\(code)")
        #expect(failed.json["remediation"]?.string?.isEmpty == false)
        let mailbox = try service.call("GET", "/v1/bases/fault\(code)/mailboxes/\(id)").json
        #expect(mailbox["status"]?.string == "needs_reauthorization")
        #expect(mailbox["last_error"]?["code"]?.string == "AADSTS\(code)")
        #expect(mailbox["last_error"]?["remediation"]?.string?.contains("ign in again") == true || code == 65001)
        // Without calling Microsoft again, until a person signs in again; then it works.
        let before = entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0
        #expect(try service.token("fault\(code)", id).status == 424)
        #expect(entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0 == before)
        entra.simulator.clearFaults()
        #expect(try service.confirm(try service.startAndFollow("fault\(code)", mailbox: id)).status == 200)
        #expect(try service.token("fault\(code)", id).status == 200)
        let trail = try service.call("GET", "/v1/audit-events?action=mailbox.status_changed").json["items"]!.array
        #expect(trail.contains { $0["details"]?["to"]?.string == "needs_reauthorization" })
    }

    @Test("an expired client secret (7000222) is reported and marks the base secret_expired")
    func expiredSecret() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("expired", entra)
        entra.simulator.updateApp(entra.clientID) { $0.secrets = $0.secrets.map { SimSecret(value: $0.value, expiresAt: Date().addingTimeInterval(-60)) } }
        try Self.expireTokens(service)
        let failed = try service.token("expired", id)
        #expect(failed.status == 424)
        #expect(failed.json["code"]?.string == "secret_expired")
        #expect(failed.json["upstream_code"]?.string == "AADSTS7000222")
        #expect(try service.call("GET", "/v1/bases/expired").json["status"]?.string == "secret_expired")
        #expect(try service.call("GET", "/v1/bases/expired/app-registration").json["credentials"]?[0]?["last_error_code"]?.string == "AADSTS7000222")
        #expect(try service.call("GET", "/v1/bases/expired/mailboxes/\(id)").json["status"]?.string == "failing")
    }

    @Test("when Microsoft rejects one secret, the next active one is tried and the rejection reported")
    func secretFailover() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("failover", entra)
        // A newer secret that Entra does not know (its ID was pasted, say): it is tried first and rejected.
        #expect(try service.call("POST", "/v1/bases/failover/app-registration/credentials",
                                 json: #"{"secret":"Wrong~Secret.Value_0123456789ab","expires_at":"2027-06-30T00:00:00Z"}"#).status == 201)
        try Self.expireTokens(service)
        let token = try service.token("failover", id)
        #expect(token.status == 200, "\(token.text)")
        let credentials = try service.call("GET", "/v1/bases/failover/app-registration").json["credentials"]!.array
        #expect(credentials.first { $0["hint"]?.string == "Wron" }?["last_error_code"]?.string == "AADSTS7000215")
        #expect(credentials.first { $0["hint"]?.string != "Wron" }?["last_used_at"]?.isNull == false)
        let rejected = try service.call("GET", "/v1/audit-events?action=client_credential.rejected").json["items"]!.array
        #expect(rejected.first?["details"]?["code"]?.string == "AADSTS7000215")
        #expect(rejected.first?["details"]?["next_secret_used"]?.bool == true)
    }

    @Test("an app unknown to the tenant (700016) marks the mailbox failing with what to check")
    func appNotInTenant() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("noapp", entra)
        entra.simulator.setFault(.aadsts(700016), for: entra.clientID)
        try Self.expireTokens(service)
        let failed = try service.token("noapp", id)
        #expect(failed.status == 424)
        #expect(failed.json["code"]?.string == "app_registration_rejected")
        #expect(failed.json["remediation"]?.string?.contains("client id") == true)
        #expect(try service.call("GET", "/v1/bases/noapp/mailboxes/\(id)").json["status"]?.string == "failing")
    }

    @Test("throttling (429) and outages (5xx) answer 503 with Retry-After, honoured before calling again; the mailbox fails only after repeated failures")
    func transientFaults() throws {
        let entra = try EntraFixture()
        let clock = MovableClock()
        let service = try entra.makeService(clock: clock.wallClock)
        let id = try service.authorize("flaky", entra)
        try Self.expireTokens(service)
        entra.simulator.setFault(.throttle(retryAfter: 42), for: entra.clientID)
        let throttled = try service.token("flaky", id)
        #expect(throttled.status == 503 && throttled.isProblem)
        #expect(throttled.json["code"]?.string == "entra_unavailable")
        #expect(throttled.header("retry-after") == "42")
        #expect(try service.call("GET", "/v1/bases/flaky/mailboxes/\(id)").json["status"]?.string == "active")
        // Within the 42 seconds Microsoft asked for, no new call is made.
        let calls = entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0
        clock.advance(by: 20)
        let waiting = try service.token("flaky", id)
        #expect(waiting.status == 503)
        #expect(Int(waiting.header("retry-after") ?? "0")! <= 22)
        #expect(entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0 == calls)
        // Outages: after three failed attempts in a row the mailbox shows as failing.
        entra.simulator.clearFaults()
        entra.simulator.setFault(.serverError(status: 503), for: entra.clientID)
        for _ in 0..<2 {
            clock.advance(by: 61)
            #expect(try service.token("flaky", id).status == 503)
        }
        #expect(try service.call("GET", "/v1/bases/flaky/mailboxes/\(id)").json["status"]?.string == "failing")
        entra.simulator.clearFaults()
        clock.advance(by: 61)
        #expect(try service.token("flaky", id).status == 200)
        #expect(try service.call("GET", "/v1/bases/flaky/mailboxes/\(id)").json["status"]?.string == "active")
    }

    @Test("the backoff after transient failures follows Retry-After, else doubles from 1 s to 60 s with jitter")
    func backoffRule() {
        #expect(Vault.backoff(consecutiveFailures: 1, retryAfter: 42, jitter: 0.5) == 42)
        #expect(Vault.backoff(consecutiveFailures: 1, retryAfter: nil, jitter: 0.5) == 1)
        #expect(Vault.backoff(consecutiveFailures: 4, retryAfter: nil, jitter: 0.5) == 8)
        #expect(Vault.backoff(consecutiveFailures: 30, retryAfter: nil, jitter: 0.5) == 60)
        #expect(Vault.backoff(consecutiveFailures: 30, retryAfter: nil, jitter: 0) == 48)
        #expect(Vault.backoff(consecutiveFailures: 30, retryAfter: nil, jitter: 1) == 72)
    }

    @Test("while Microsoft throttles, concurrent callers share one failed attempt instead of each retrying")
    func noHerdOnFailure() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("herd", entra)
        try Self.expireTokens(service)
        entra.simulator.setFault(.latency(milliseconds: 300), for: entra.clientID)
        entra.simulator.setFault(.throttle(retryAfter: 20), for: entra.clientID)
        let before = entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0
        let results = try Self.concurrently(20) { try service.token("herd", id) }
        #expect(results.allSatisfy { $0.status == 503 && (1...20).contains(Int($0.header("retry-after") ?? "") ?? 0) }, "\(results.map(\.status))")
        #expect((entra.simulator.statistics.tokenRequests["refresh_token"] ?? 0) - before == 1)
    }

    @Test("a hung token endpoint times out into 503, and added latency is just slower")
    func hungEndpoint() throws {
        let entra = try EntraFixture()
        let clock = MovableClock()
        let service = try entra.makeService(clock: clock.wallClock, timeout: .seconds(1))
        let id = try service.authorize("hung", entra)
        try Self.expireTokens(service)
        entra.simulator.setFault(.hang, for: entra.clientID)
        let hung = try service.token("hung", id)
        #expect(hung.status == 503)
        #expect(hung.json["upstream_code"]?.string == "unreachable")
        entra.simulator.clearFaults()
        entra.simulator.setFault(.latency(milliseconds: 300), for: entra.clientID)
        clock.advance(by: 5)
        #expect(try service.token("hung", id).status == 200)
    }

    @Test("a refresh token unused for 90 days (simulated) is refused with AADSTS700082")
    func inactivity() throws {
        let entra = try EntraFixture()
        let service = try entra.makeService()
        let id = try service.authorize("idle", entra)
        entra.simulator.advanceClock(by: 91 * 86_400)
        try Self.expireTokens(service)
        let failed = try service.token("idle", id)
        #expect(failed.status == 424)
        #expect(failed.json["upstream_code"]?.string == "AADSTS700082")
    }

    /// Runs `count` calls on separate threads and returns their results in order.
    static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = ResultsBox<T>(count)
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread {
                defer { group.leave() }
                results.set(index, Result { try body(index) })
            }.start()
        }
        group.wait()
        return try results.values.map { try $0!.get() }
    }

    static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable () throws -> T) throws -> [T] {
        try concurrently(count) { (_: Int) in try body() }
    }
}

final class ResultsBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<T, any Error>?]
    init(_ count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<T, any Error>) { lock.lock(); items[index] = value; lock.unlock() }
    var values: [Result<T, any Error>?] { lock.lock(); defer { lock.unlock() }; return items }
}
