import Foundation
import HTTPServer
import Logging
import Postgres
import VaultCore

/// The HTTP API: routes, their roles, and their handlers. `makeRouter()` builds the router that the server and the
/// tests use.
struct API: Sendable {
    let vault: Vault
    let configuration: ServiceConfiguration
    let metrics: Metrics
    let logger: Logger
    let limiter: RateLimiter
    let failureLimiter: RateLimiter
    let serverStatistics: @Sendable () -> (inFlight: Int, connections: Int)

    func makeRouter() -> Router<AppContext> {
        let errors = ErrorMapping(logger: logger)
        var router = Router<AppContext>(makeContext: AppContext.init(request:),
                                        errorResponse: { error, context in errors.response(for: error, context: context) })
        router.use(.observe(logger: logger, metrics: metrics, accessLog: configuration.accessLog))

        let admin = [allow(.admin)]
        let readers = [allow(.admin, .auditor, .instance)]
        let staff = [allow(.admin, .auditor)]
        let adminOrInstance = [allow(.admin, .instance)]

        router.add("GET", "/healthz") { _, _ in .json(bytes: Array(#"{"status":"ok"}"#.utf8)) }
        router.add("GET", "/readyz", readiness)
        router.add("GET", "/metrics", metricsText)
        router.add("GET", "/v1/openapi.json") { _, _ in .json(bytes: OpenAPIDocument.bytes) }

        router.add("POST", "/v1/api-keys", middleware: admin, createAPIKey)
        router.add("GET", "/v1/api-keys", middleware: admin, listAPIKeys)
        router.add("DELETE", "/v1/api-keys/{id}", middleware: admin, revokeAPIKey)

        router.add("POST", "/v1/bases", middleware: admin, createBase)
        router.add("GET", "/v1/bases", middleware: readers, listBases)
        router.add("GET", "/v1/bases/{slug}", middleware: readers, getBase)
        router.add("PATCH", "/v1/bases/{slug}", middleware: admin, patchBase)
        router.add("DELETE", "/v1/bases/{slug}", middleware: admin, deleteBase)

        router.add("PUT", "/v1/bases/{slug}/app-registration", middleware: admin, putAppRegistration)
        router.add("GET", "/v1/bases/{slug}/app-registration", middleware: staff, getAppRegistration)
        router.add("POST", "/v1/bases/{slug}/app-registration/credentials", middleware: admin, addCredential)
        router.add("DELETE", "/v1/bases/{slug}/app-registration/credentials/{id}", middleware: admin, retireCredential)

        router.add("GET", "/v1/bases/{slug}/onboarding", middleware: staff, onboarding)
        router.add("POST", "/v1/bases/{slug}/mailboxes", middleware: admin, createMailbox)
        router.add("GET", "/v1/bases/{slug}/mailboxes", middleware: readers, listMailboxes)
        router.add("GET", "/v1/bases/{slug}/mailboxes/{id}", middleware: readers, getMailbox)
        router.add("DELETE", "/v1/bases/{slug}/mailboxes/{id}", middleware: admin, deleteMailbox)
        router.add("POST", "/v1/bases/{slug}/mailboxes/{id}/authorizations", middleware: adminOrInstance, startAuthorization)
        router.add("GET", "/v1/bases/{slug}/mailboxes/{id}/access-token", middleware: adminOrInstance, accessToken)
        router.add("POST", "/v1/oauth/confirm", middleware: adminOrInstance, confirm)
        router.add("GET", "/microsoft_outlook/confirm", confirmPage)

        router.add("GET", "/v1/audit-events", middleware: staff, listAuditEvents)
        router.add("GET", "/v1/audit-events/verify", middleware: staff, verifyAudit)
        return router
    }

    private func allow(_ roles: Role...) -> Middleware<AppContext> {
        .authenticate(Set(roles), vault: vault, limiter: limiter, failureLimiter: failureLimiter)
    }

    // MARK: Operations

    func readiness(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        var checks: [String: String] = ["master_key": "ok"]
        do {
            let status = try vault.pool.withConnection { connection in try Migrations.status(on: connection) }
            checks["database"] = "ok"
            // Newer migrations than this build knows are fine (rolling upgrades); missing or edited ones are not.
            checks["migrations"] = status.pending.isEmpty && status.edited.isEmpty
                ? "ok" : "pending: \(status.pending.map(String.init).joined(separator: ","))"
            try vault.prepare()
        } catch {
            if checks["database"] == nil { checks["database"] = "unreachable" }
            if checks["migrations"] == nil { checks["migrations"] = "unknown" }
            if vault.barrier.cachedSystemKeys == nil { checks["master_key"] = "cannot open the system key" }
        }
        let ready = checks.values.allSatisfy { $0 == "ok" }
        var response = try HTTPResponse.json(ReadinessDTO(status: ready ? "ready" : "not_ready", checks: checks), status: ready ? 200 : 503)
        if !ready { response.headers.set("Retry-After", "5") }
        return response
    }

    func metricsText(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let pool = vault.pool.statistics
        let server = serverStatistics()
        let text = metrics.render(gauges: [
            ("tokenvault_db_pool_connections", "Database connections by state.", "state=\"open\"", Double(pool.open)),
            ("tokenvault_db_pool_connections", "Database connections by state.", "state=\"in_use\"", Double(pool.inUse)),
            ("tokenvault_db_pool_connections", "Database connections by state.", "state=\"waiting\"", Double(pool.waiting)),
            ("tokenvault_db_pool_max", "Upper bound of database connections.", "", Double(pool.max)),
            ("tokenvault_db_pool_timeouts", "Acquisitions that timed out since start.", "", Double(pool.timeouts)),
            ("tokenvault_http_requests_in_flight", "Requests being handled.", "", Double(server.inFlight)),
            ("tokenvault_http_connections", "Open HTTP connections.", "", Double(server.connections)),
        ])
        return .text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: API keys

    func createAPIKey(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(CreateAPIKeyBody.self)
        guard let role = Role(rawValue: body.role) else {
            throw VaultError.invalid("role", "must be admin, instance or auditor")
        }
        let issued = try vault.createAPIKey(role: role, name: body.name, baseSlug: body.base, expiresAt: body.expiresAt,
                                            by: context.caller, requestID: context.requestID)
        return try .json(APIKeyDTO(issued.record, baseSlug: body.base, now: vault.clock.now(), key: issued.key), status: 201)
    }

    func listAPIKeys(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let cursor = try request.cursor().map { text throws(HTTPError) -> UUID in
            guard let id = UUID(uuidString: text) else { throw HTTPError.badRequest("cursor is not one this service issued.", code: "invalid_parameter") }
            return id
        }
        let page = try vault.listAPIKeys(limit: try request.limit(), after: cursor)
        let slugs = try vault.slugs(of: Set(page.items.compactMap(\.baseID)))
        let now = vault.clock.now()
        return try .json(ListDTO(items: page.items.map { APIKeyDTO($0, baseSlug: $0.baseID.flatMap { slugs[$0] }, now: now) },
                                 nextCursor: Cursor.encode(page.nextCursor)))
    }

    func revokeAPIKey(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        guard let id = UUID(uuidString: context.parameter("id")) else { throw VaultError.notFound("API key") }
        let record = try vault.revokeAPIKey(id: id, by: context.caller, requestID: context.requestID)
        let slugs = try vault.slugs(of: Set([record.baseID].compactMap { $0 }))
        return try .json(APIKeyDTO(record, baseSlug: record.baseID.flatMap { slugs[$0] }, now: vault.clock.now()))
    }

    // MARK: Bases

    func createBase(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(CreateBaseBody.self)
        let base = try vault.createBase(NewBase(slug: body.slug, displayName: body.displayName, baseURL: body.baseURL, tenant: body.tenant),
                                        by: context.caller, requestID: context.requestID)
        var response = try HTTPResponse.json(BaseDTO(base), status: 201)
        response.headers.set("ETag", etag(base.version))
        response.headers.set("Location", "/v1/bases/\(base.slug)")
        return response
    }

    func listBases(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let page = try vault.listBases(limit: try request.limit(), after: try request.cursor(), by: context.caller)
        return try .json(ListDTO(items: page.items.map(BaseDTO.init), nextCursor: Cursor.encode(page.nextCursor)))
    }

    func getBase(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let base = try vault.base(slug: context.parameter("slug"), by: context.caller)
        var response = try HTTPResponse.json(BaseDTO(base))
        response.headers.set("ETag", etag(base.version))
        return response
    }

    func patchBase(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let version = try request.ifMatchVersion()
        let body = try request.decode(PatchBaseBody.self)
        let base = try vault.updateBase(slug: context.parameter("slug"),
                                        changes: BaseChanges(displayName: body.displayName, baseURL: body.baseURL, tenant: body.tenant),
                                        expectedVersion: version, by: context.caller, requestID: context.requestID)
        var response = try HTTPResponse.json(BaseDTO(base))
        response.headers.set("ETag", etag(base.version))
        return response
    }

    func deleteBase(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let base = try vault.deleteBase(slug: context.parameter("slug"), by: context.caller, requestID: context.requestID)
        return try .json(BaseDTO(base))
    }

    // MARK: App registrations

    func putAppRegistration(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(PutAppRegistrationBody.self)
        let (registration, created) = try vault.putAppRegistration(
            base: context.parameter("slug"), clientID: body.clientID, tenant: body.tenant,
            secrets: body.clientSecrets?.map(\.input), by: context.caller, requestID: context.requestID)
        return try .json(AppRegistrationDTO(registration, now: vault.clock.now()), status: created ? 201 : 200)
    }

    func getAppRegistration(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let registration = try vault.appRegistration(base: context.parameter("slug"), by: context.caller)
        return try .json(AppRegistrationDTO(registration, now: vault.clock.now()))
    }

    func addCredential(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(SecretBody.self)
        let credential = try vault.addClientSecret(base: context.parameter("slug"), body.input, by: context.caller, requestID: context.requestID)
        return try .json(CredentialDTO(credential, now: vault.clock.now()), status: 201)
    }

    func retireCredential(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        guard let id = UUID(uuidString: context.parameter("id")) else { throw VaultError.notFound("Credential") }
        let credential = try vault.retireClientCredential(base: context.parameter("slug"), id: id, by: context.caller,
                                                          requestID: context.requestID)
        return try .json(CredentialDTO(credential, now: vault.clock.now()))
    }

    // MARK: Mailboxes and sign-in

    func mailboxID(_ context: AppContext) throws(VaultError) -> UUID {
        guard let id = UUID(uuidString: context.parameter("id")) else { throw VaultError.notFound("Mailbox") }
        return id
    }

    func onboarding(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        try .json(OnboardingDTO(try vault.onboarding(base: context.parameter("slug"), by: context.caller)))
    }

    func createMailbox(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(CreateMailboxBody.self)
        let mailbox = try vault.createMailbox(base: context.parameter("slug"), address: body.address, mode: body.mode, by: context.caller,
                                              requestID: context.requestID)
        var response = try HTTPResponse.json(MailboxDTO(mailbox), status: 201)
        response.headers.set("Location", "/v1/bases/\(context.parameter("slug"))/mailboxes/\(mailbox.id.uuidString.lowercased())")
        return response
    }

    func listMailboxes(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let page = try vault.listMailboxes(base: context.parameter("slug"), limit: try request.limit(), after: try request.cursor(), by: context.caller)
        return try .json(ListDTO(items: page.items.map(MailboxDTO.init), nextCursor: Cursor.encode(page.nextCursor)))
    }

    func getMailbox(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        try .json(MailboxDTO(try vault.mailbox(base: context.parameter("slug"), id: try mailboxID(context), by: context.caller)))
    }

    func deleteMailbox(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        try .json(MailboxDTO(try vault.deleteMailbox(base: context.parameter("slug"), id: try mailboxID(context), by: context.caller,
                                                     requestID: context.requestID)))
    }

    func startAuthorization(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        if !request.body.isEmpty { _ = try request.decode(EmptyBody.self) }
        let start = try vault.startAuthorization(base: context.parameter("slug"), mailbox: try mailboxID(context), by: context.caller,
                                                 requestID: context.requestID)
        return try .json(AuthorizationDTO(authorizeURL: start.authorizeURL, expiresAt: start.expiresAt,
                                          mailboxID: start.mailbox.id.uuidString.lowercased()), status: 201)
    }

    func confirm(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let body = try request.decode(ConfirmBody.self)
        let result = try vault.confirmAuthorization(code: body.code, state: body.state, error: body.error, errorDescription: body.errorDescription,
                                                    by: context.caller, requestID: context.requestID)
        return try .json(MailboxDTO(result.mailbox))
    }

    /// Where Microsoft sends the browser back, when the base's reverse proxy routes the path to the vault.
    func confirmPage(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        if request.query("admin_consent") != nil {
            return ConfirmPage.adminConsent(tenant: request.query("tenant"), error: request.query("error_description") ?? request.query("error"))
        }
        guard let state = request.query("state"), !state.isEmpty else {
            return ConfirmPage.failure(HTTPError(400, code: "missing_state", detail: "This page expects the answer of a Microsoft sign-in (code and state)."))
        }
        do {
            let result = try vault.confirmAuthorization(code: request.query("code"), state: state, error: request.query("error"),
                                                        errorDescription: request.query("error_description"), by: .oauthRedirect,
                                                        requestID: context.requestID)
            return ConfirmPage.success(result)
        } catch {
            return ConfirmPage.failure(ErrorMapping.map(error))
        }
    }

    func accessToken(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let resource = request.query("resource") ?? "outlook"
        let minValidity = try request.query("min_validity").map { text throws(HTTPError) -> Int in
            guard let value = Int(text) else { throw HTTPError.badRequest("min_validity must be a number of seconds.", code: "invalid_parameter") }
            return value
        } ?? 300
        let token = try vault.accessToken(base: context.parameter("slug"), mailbox: try mailboxID(context), resource: resource,
                                          minValidity: minValidity, by: context.caller, requestID: context.requestID)
        return try .json(AccessTokenDTO(token, now: vault.clock.now()))
    }

    // MARK: Audit

    func listAuditEvents(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        var filter = AuditFilter(limit: try request.limit())
        if let slug = request.query("base") { filter.baseIDs = try vault.baseIDs(everNamed: slug) }
        filter.actor = request.query("actor")
        filter.action = request.query("action")
        filter.targetID = request.query("target")
        filter.since = try request.time("since")
        filter.until = try request.time("until")
        if let cursor = try request.cursor() {
            guard let id = Int64(cursor) else { throw HTTPError.badRequest("cursor is not one this service issued.", code: "invalid_parameter") }
            filter.beforeID = id
        }
        let records = try vault.auditEvents(filter)
        let slugs = try vault.slugs(of: Set(records.compactMap(\.baseID)))
        let items = records.map { AuditEventDTO($0, slug: $0.baseID.flatMap { slugs[$0] }) }
        let next = records.count == filter.limit ? records.last.map { String($0.id) } : nil
        if request.headers["accept"]?.lowercased().contains("text/csv") == true {
            var response = HTTPResponse.text(AuditCSV.render(items), contentType: "text/csv; charset=utf-8")
            if let next = Cursor.encode(next) { response.headers.set("Link", "<?cursor=\(next)>; rel=\"next\"") }
            return response
        }
        return try .json(ListDTO(items: items, nextCursor: Cursor.encode(next)))
    }

    func verifyAudit(_ request: HTTPRequest, _ context: AppContext) throws -> HTTPResponse {
        let result = try vault.verifyAuditTrail()
        return try .json(AuditVerificationDTO(ok: result.ok, checked: result.checked, firstBrokenID: result.firstBrokenID))
    }
}

struct ReadinessDTO: Encodable {
    let status: String
    let checks: [String: String]
}

/// CSV export of audit events for the support desk's spreadsheets.
enum AuditCSV {
    static func render(_ items: [AuditEventDTO]) -> String {
        var out = "id,occurred_at,base,actor,action,target_type,target_id,request_id,details\r\n"
        for item in items {
            let details = (try? JSONCoding.encode(item.details)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            let cells = [String(item.id), RFC3339.format(item.occurredAt), item.base ?? "", item.actor, item.action,
                         item.targetType, item.targetID, item.requestID ?? "", details]
            out += cells.map(cell).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// Quotes a cell, and defuses text that a spreadsheet would run as a formula.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
