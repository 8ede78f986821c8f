import HTTPServer
import Logging
import VaultCore

extension Middleware where Context == AppContext {
    /// Outermost: echoes the request id, logs one line per request, and feeds the metrics.
    static func observe(logger: Logger, metrics: Metrics, accessLog: Bool) -> Middleware {
        Middleware { request, context, next in
            var response = next(request, context)
            response.headers.set("X-Request-Id", context.requestID)
            response.headers.set("Cache-Control", "no-store")
            response.headers.set("X-Content-Type-Options", "nosniff")
            let seconds = (ContinuousClock.now - context.startedAt).inSeconds
            let route = context.route
            metrics.observe(route: route, method: request.method, status: response.status, seconds: seconds)
            if accessLog {
                logger.info("request", ["request.id": context.requestID, "http.method": request.method, "http.route": route,
                                        "http.status": String(response.status), "http.duration_ms": String(format: "%.2f", seconds * 1000),
                                        "client.address": request.remoteAddress])
            }
            return response
        }
    }

    /// Requires an API key of one of `roles`; sets the caller in the context; applies the per-key rate limit.
    static func authenticate(_ roles: Set<Role>, vault: Vault, limiter: RateLimiter, failureLimiter: RateLimiter) -> Middleware {
        Middleware { request, context, next in
            guard let header = request.headers["authorization"] else {
                throw VaultError(.unauthenticated, "Send an API key: Authorization: Bearer <key>.")
            }
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw VaultError(.unauthenticated, "The Authorization header must be: Bearer <key>.")
            }
            guard let principal = try vault.authenticate(apiKey: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
                if let wait = failureLimiter.take("address:" + request.remoteAddress) {
                    throw HTTPError(429, code: "rate_limited", detail: "Too many failed authentications; retry in \(wait) s.",
                                    headers: [("Retry-After", String(wait))])
                }
                throw VaultError(.unauthenticated, "The API key is unknown, revoked or expired.")
            }
            if let wait = limiter.take("key:" + principal.id) {
                throw HTTPError(429, code: "rate_limited", detail: "Rate limit of this API key reached; retry in \(wait) s.",
                                headers: [("Retry-After", String(wait))])
            }
            // An instance key sees nothing of another base, not even that a route would be forbidden: 404 first.
            if principal.role == .instance, let slug = context.parameters["slug"] {
                guard let id = try vault.baseID(forSlug: slug), id == principal.baseID else {
                    throw VaultError.notFound("Base \(slug)")
                }
            }
            guard roles.contains(principal.role) else {
                throw VaultError(.forbidden, "An \(principal.role.rawValue) key may not do this.")
            }
            var context = context
            context.principal = principal
            return next(request, context)
        }
    }
}
