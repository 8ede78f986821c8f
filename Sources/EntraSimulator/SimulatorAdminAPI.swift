import Foundation
import HTTPServer

/// `/_sim/`: configure the simulator over HTTP (tests in other processes, scripts, people trying the flow).
struct SimulatorAdminAPI: Sendable {
    let state: SimulatorState

    struct TenantBody: Decodable { let id: String?; let name: String; let domains: [String]? }
    struct SecretBody: Decodable { let value: String; let expiresAt: Date }
    struct AppBody: Decodable {
        let clientID: String?
        let tenantID: String
        let secrets: [SecretBody]
        let redirectURIs: [String]
        let multiTenant: Bool?
        let delegatedPermissions: [String]?
        let applicationPermissions: [String]?
        let consentedTenants: [String]?
        let mailboxAccess: [String]?
        let acceptsAnyOpenfireRedirect: Bool?

        enum CodingKeys: String, CodingKey {
            case clientID = "clientId", tenantID = "tenantId", secrets, redirectURIs = "redirectUris", multiTenant, delegatedPermissions,
                 applicationPermissions, consentedTenants, mailboxAccess, acceptsAnyOpenfireRedirect
        }
    }
    struct AccountBody: Decodable {
        let address: String
        let tenantID: String
        let smtpAuthEnabled: Bool?
        let sendAs: [String]?
        let consentedApps: [String]?

        enum CodingKeys: String, CodingKey { case address, tenantID = "tenantId", smtpAuthEnabled, sendAs, consentedApps }
    }
    struct FaultBody: Decodable {
        let target: String
        let kind: String
        let code: Int?
        let retryAfter: Int?
        let status: Int?
        let milliseconds: Int?
    }
    struct SettingsBody: Decodable { let strictRotation: Bool?; let accessTokenLifetime: Int?; let advanceClockSeconds: Double? }

    func register(in router: inout Router<SimContext>) {
        router.add("POST", "/_sim/tenants") { request, _ in
            let body = try JSONCoding.decodeStrict(TenantBody.self, from: request.body)
            let tenant = SimTenant(id: body.id ?? UUID().uuidString.lowercased(), name: body.name, domains: body.domains ?? [])
            state.inner.withLock { $0.tenants[tenant.id] = tenant }
            return try .json(["id": tenant.id], status: 201)
        }
        router.add("POST", "/_sim/apps") { request, _ in
            let body = try JSONCoding.decodeStrict(AppBody.self, from: request.body)
            let app = SimApp(clientID: body.clientID ?? UUID().uuidString.lowercased(), homeTenant: body.tenantID,
                             secrets: body.secrets.map { SimSecret(value: $0.value, expiresAt: $0.expiresAt) }, redirectURIs: body.redirectURIs,
                             acceptsAnyOpenFireRedirect: body.acceptsAnyOpenfireRedirect ?? false, multiTenant: body.multiTenant ?? true,
                             delegatedPermissions: body.delegatedPermissions ?? SimApp.openFireDelegated,
                             applicationPermissions: body.applicationPermissions ?? SimApp.openFireApplication,
                             consentedTenants: body.consentedTenants ?? [], mailboxAccess: body.mailboxAccess ?? [])
            state.inner.withLock { $0.apps[app.clientID] = app }
            return try .json(["client_id": app.clientID], status: 201)
        }
        router.add("POST", "/_sim/accounts") { request, _ in
            let body = try JSONCoding.decodeStrict(AccountBody.self, from: request.body)
            let account = SimAccount(address: body.address, tenantID: body.tenantID, smtpAuthEnabled: body.smtpAuthEnabled ?? true,
                                     sendAs: body.sendAs ?? [], consentedApps: body.consentedApps ?? [])
            state.inner.withLock { $0.accounts[account.address] = account }
            return try .json(["address": account.address, "object_id": account.objectID], status: 201)
        }
        router.add("POST", "/_sim/faults") { request, _ in
            let body = try JSONCoding.decodeStrict(FaultBody.self, from: request.body)
            let fault: SimFault
            switch body.kind {
            case "aadsts": fault = .aadsts(body.code ?? 700082)
            case "throttle": fault = .throttle(retryAfter: body.retryAfter ?? 30)
            case "server_error": fault = .serverError(status: body.status ?? 503)
            case "latency": fault = .latency(milliseconds: body.milliseconds ?? 1000)
            case "hang": fault = .hang
            case "deny_consent": fault = .denyConsent
            default: throw HTTPError.validation([.init(field: "kind", message: "must be aadsts, throttle, server_error, latency, hang or deny_consent")])
            }
            state.inner.withLock { $0.faults[body.target.lowercased(), default: []].append(fault) }
            return try .json(["target": body.target.lowercased(), "kind": body.kind], status: 201)
        }
        router.add("DELETE", "/_sim/faults") { request, _ in
            let target = request.query("target")?.lowercased()
            state.inner.withLock { inner in
                if let target { inner.faults[target] = nil } else { inner.faults.removeAll() }
                inner.hangGeneration += 1
            }
            state.hangCondition.lock()
            state.hangCondition.broadcast()
            state.hangCondition.unlock()
            return try .json(["cleared": target ?? "all"])
        }
        router.add("POST", "/_sim/settings") { request, _ in
            let body = try JSONCoding.decodeStrict(SettingsBody.self, from: request.body)
            state.inner.withLock { inner in
                if let strict = body.strictRotation { inner.settings.strictRotation = strict }
                if let lifetime = body.accessTokenLifetime { inner.settings.accessTokenLifetime = lifetime }
                if let seconds = body.advanceClockSeconds { state.clockOffset.withLock { $0 += seconds } }
            }
            return try .json(["ok": true])
        }
        router.add("GET", "/_sim/stats") { _, _ in try .json(state.inner.withLock { $0.statistics }) }
        router.add("GET", "/_sim/smtp") { _, _ in try .json(state.inner.withLock { $0.smtpLog }) }
    }
}
