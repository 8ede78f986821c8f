import HTTPServer
import VaultCore

/// The context of one API request: its id, its route, and once authenticated, who is calling.
public struct AppContext: RequestContext {
    /// The request id.
    public let requestID: String
    /// The matched route pattern.
    public var route = "unmatched"
    /// Path parameters.
    public var parameters: [String: String] = [:]
    /// The authenticated caller (nil on public routes).
    public var principal: Principal?
    /// When the request started (for the latency histogram).
    public let startedAt = ContinuousClock.now

    /// A context for a request, keeping a well-formed caller-supplied `X-Request-Id`.
    init(request: HTTPRequest) {
        requestID = request.headers["x-request-id"].flatMap(RequestID.accept) ?? RequestID.make()
    }

    /// The caller; only call on authenticated routes.
    var caller: Principal {
        guard let principal else { preconditionFailure("route \(route) used the caller without authentication") }
        return principal
    }

    /// A path parameter the route pattern declares.
    func parameter(_ name: String) -> String {
        guard let value = parameters[name] else { preconditionFailure("route \(route) has no parameter \(name)") }
        return value
    }
}
