import Crypto
import Foundation
import HTTPServer
import Logging

/// A faithful stand-in for `login.microsoftonline.com` and `smtp.office365.com` (see ENTRA.md), for tests,
/// benchmarks and `tokenvault dev --simulate-entra`. Never part of `tokenvault serve`.
///
/// Configure it in Swift (`add(_:)`, `setFault(_:for:)`, …) or over HTTP under `/_sim/` (unauthenticated:
/// loopback only).
public final class EntraSimulator: Sendable {
    /// Where it listens.
    public struct Configuration: Sendable {
        /// IPv4 address.
        public var host: String
        /// HTTP port (0: any free port).
        public var httpPort: Int
        /// SMTP port (0: any free port).
        public var smtpPort: Int

        /// Settings.
        public init(host: String = "127.0.0.1", httpPort: Int = 0, smtpPort: Int = 0) {
            self.host = host
            self.httpPort = httpPort
            self.smtpPort = smtpPort
        }
    }

    let state = SimulatorState()
    private let http: HTTPServer
    private let smtp: SMTPServer
    /// The settings.
    public let configuration: Configuration

    /// A simulator; call `start()`.
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "entra-sim", level: .warning)) {
        self.configuration = configuration
        smtp = SMTPServer(state: state)
        let endpoints = SimulatorEndpoints(state: state)
        var router = Router<SimContext>(makeContext: { _ in SimContext() }, errorResponse: { error, context in
            (error as? HTTPError ?? HTTPError(500, code: "internal_error", detail: "\(error)")).response(requestID: context.requestID)
        })
        router.add("GET", "/{tenant}/oauth2/v2.0/authorize", endpoints.authorize)
        router.add("POST", "/{tenant}/oauth2/v2.0/authorize", endpoints.authorize)
        router.add("POST", "/{tenant}/oauth2/v2.0/token", endpoints.token)
        router.add("GET", "/{tenant}/v2.0/adminconsent", endpoints.adminConsent)
        SimulatorAdminAPI(state: state).register(in: &router)
        http = HTTPServer(configuration: HTTPServerConfiguration(host: configuration.host, port: configuration.httpPort, pollingThreads: 1,
                                                                 workerThreads: 32),
                          responder: router, logger: logger)
    }

    /// Starts the HTTP and SMTP listeners.
    public func start() throws {
        try http.start()
        try smtp.start(host: configuration.host, port: configuration.smtpPort)
        state.authorityBox.withLock { $0 = "http://\(configuration.host):\(http.port)" }
    }

    /// Stops both listeners (a hung request is released).
    public func stop() {
        releaseHangs()
        smtp.stop()
        http.shutdown(gracePeriod: .seconds(2))
    }

    /// `http://127.0.0.1:<port>`: the vault's authority URL.
    public var authorityURL: String { state.authority }
    /// The SMTP host.
    public var smtpHost: String { configuration.host }
    /// The SMTP port.
    public var smtpPort: Int { smtp.port }

    // MARK: Configuration

    /// Adds or replaces a tenant.
    public func add(_ tenant: SimTenant) { state.inner.withLock { $0.tenants[tenant.id] = tenant } }
    /// Adds or replaces an app registration.
    public func add(_ app: SimApp) { state.inner.withLock { $0.apps[app.clientID] = app } }
    /// Adds or replaces an account.
    public func add(_ account: SimAccount) { state.inner.withLock { $0.accounts[account.address] = account } }
    /// Changes an app registration in place.
    public func updateApp(_ clientID: String, _ change: (inout SimApp) -> Void) {
        state.inner.withLock { inner in if var app = inner.apps[clientID.lowercased()] { change(&app); inner.apps[app.clientID] = app } }
    }
    /// Changes an account in place.
    public func updateAccount(_ address: String, _ change: (inout SimAccount) -> Void) {
        state.inner.withLock { inner in if var account = inner.accounts[address.lowercased()] { change(&account); inner.accounts[account.address] = account } }
    }

    /// Switches a fault on for an account (address) or an app (client id).
    public func setFault(_ fault: SimFault, for target: String) {
        state.inner.withLock { $0.faults[target.lowercased(), default: []].append(fault) }
    }

    /// Switches faults off (all of them, or those of one target); releases hung requests.
    public func clearFaults(for target: String? = nil) {
        state.inner.withLock { inner in
            if let target { inner.faults[target.lowercased()] = nil } else { inner.faults.removeAll() }
        }
        releaseHangs()
    }

    /// Strict refresh-token rotation (a used refresh token is revoked; reuse is reported) instead of Entra's default.
    public func setStrictRotation(_ strict: Bool) { state.inner.withLock { $0.settings.strictRotation = strict } }
    /// The lifetime of issued access tokens in seconds (Entra: 60–90 minutes).
    public func setAccessTokenLifetime(_ seconds: Int) { state.inner.withLock { $0.settings.accessTokenLifetime = seconds } }
    /// Moves the simulator's clock forward (codes and refresh tokens age; access tokens expire).
    public func advanceClock(by seconds: TimeInterval) { state.clockOffset.withLock { $0 += seconds } }
    /// Revokes every refresh token of an account (what "revoke sessions" does in Entra).
    public func revokeRefreshTokens(of address: String) {
        state.inner.withLock { inner in
            for (token, grant) in inner.refreshTokens where grant.account == address.lowercased() { inner.refreshTokens[token]?.revoked = true }
        }
    }

    /// Counters.
    public var statistics: SimStatistics { state.inner.withLock { $0.statistics } }
    /// Every code, refresh token and access token issued so far (tests search for them where they must not be).
    public var issuedSecrets: [String] {
        state.inner.withLock { Array($0.codes.keys) + Array($0.refreshTokens.keys) + Array($0.accessTokens.keys) }
    }

    /// What the SMTP server received.
    public var smtpLog: [SMTPRecord] { state.inner.withLock { $0.smtpLog } }

    private func releaseHangs() {
        state.inner.withLock { $0.hangGeneration += 1 }
        state.hangCondition.lock()
        state.hangCondition.broadcast()
        state.hangCondition.unlock()
    }

    // MARK: Development

    /// What `seedDemo()` created.
    public struct DemoSeed: Sendable, Codable {
        /// The authority URL for the vault.
        public let authorityURL: String
        /// The demo tenant.
        public let tenantID: String
        /// The demo app's client id.
        public let clientID: String
        /// The demo app's secret (simulated; not a real credential).
        public let clientSecret: String
        /// The demo accounts.
        public let accounts: [Account]
        /// The SMTP endpoint.
        public let smtp: SMTP

        /// An account.
        public struct Account: Sendable, Codable { public let address: String }
        /// The SMTP endpoint.
        public struct SMTP: Sendable, Codable { public let host: String; public let port: Int }

        enum CodingKeys: String, CodingKey { case authorityURL = "authority_url", tenantID = "tenant_id", clientID = "client_id", clientSecret = "client_secret", accounts, smtp }
    }

    /// Seeds a demo tenant, an OpenFire app registration that accepts the redirect URI of any
    /// `https://<slug>.openfire.fr` base, and accounts with SMTP AUTH enabled and consent granted.
    public func seedDemo() -> DemoSeed {
        let tenant = SimTenant(id: "8d3c2a1e-5b7f-4c9d-a0e1-2f3b4c5d6e7f", name: "Contoso (simulated)", domains: ["contoso.example"])
        let secret = "sim~" + Base64URL.encode(SecureRandom.bytes(27))
        let addresses = ["admin@contoso.example", "contact@contoso.example", "facturation@contoso.example"]
        let app = SimApp(clientID: "3e5f7a9c-1b2d-4e6f-8a0b-c1d2e3f4a5b6", homeTenant: tenant.id,
                         secrets: [SimSecret(value: secret, expiresAt: Date().addingTimeInterval(730 * 86_400))], redirectURIs: [],
                         acceptsAnyOpenFireRedirect: true, consentedTenants: [tenant.id], mailboxAccess: addresses)
        add(tenant)
        add(app)
        for address in addresses {
            add(SimAccount(address: address, tenantID: tenant.id, sendAs: address == addresses[0] ? Array(addresses.dropFirst()) : []))
        }
        return DemoSeed(authorityURL: authorityURL, tenantID: tenant.id, clientID: app.clientID, clientSecret: secret,
                        accounts: addresses.map(DemoSeed.Account.init), smtp: .init(host: smtpHost, port: smtpPort))
    }
}
