/// What every request context carries; applications add their own fields (the authenticated identity, …).
public protocol RequestContext: Sendable {
    /// The request's identifier (echoed in `X-Request-Id` and in problem bodies).
    var requestID: String { get }
    /// The matched route pattern (`/v1/bases/{slug}`), or `unmatched`; metrics use it as a label.
    var route: String { get set }
    /// Path parameters by name.
    var parameters: [String: String] { get set }
}

/// The next step of a chain; it never throws (errors have already become responses).
public typealias Next<Context> = (HTTPRequest, Context) -> HTTPResponse

/// A plain function around the rest of the chain: it may answer itself, change the context, or call `next`.
public struct Middleware<Context: RequestContext>: Sendable {
    let body: @Sendable (HTTPRequest, Context, Next<Context>) throws -> HTTPResponse

    /// A middleware from a function.
    public init(_ body: @escaping @Sendable (HTTPRequest, Context, Next<Context>) throws -> HTTPResponse) {
        self.body = body
    }
}

/// A route's handler.
public typealias RouteHandler<Context> = @Sendable (HTTPRequest, Context) throws -> HTTPResponse

/// Routes requests by method and path pattern (`/v1/bases/{slug}/mailboxes/{id}`) through middleware to handlers.
public struct Router<Context: RequestContext>: HTTPResponder {
    /// One registered route.
    public struct Route: Sendable {
        /// The method.
        public let method: String
        /// The pattern.
        public let pattern: String
        let segments: [Segment]
        let middleware: [Middleware<Context>]
        let handler: RouteHandler<Context>
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private let makeContext: @Sendable (HTTPRequest) -> Context
    private let errorResponse: @Sendable (any Error, Context) -> HTTPResponse
    private var globalMiddleware: [Middleware<Context>] = []
    /// The routes, in registration order.
    public private(set) var routes: [Route] = []

    /// A router. `makeContext` builds the context of each request; `errorResponse` turns any thrown error into
    /// an answer (the application maps its own error types there).
    public init(makeContext: @escaping @Sendable (HTTPRequest) -> Context,
                errorResponse: @escaping @Sendable (any Error, Context) -> HTTPResponse) {
        self.makeContext = makeContext
        self.errorResponse = errorResponse
    }

    /// Adds middleware that runs for every request, matched or not, in the order added (first is outermost).
    public mutating func use(_ middleware: Middleware<Context>) {
        globalMiddleware.append(middleware)
    }

    /// Adds a route; `middleware` runs only for it, after the global middleware.
    public mutating func add(_ method: String, _ pattern: String, middleware: [Middleware<Context>] = [],
                             _ handler: @escaping RouteHandler<Context>) {
        let segments: [Segment] = pattern.split(separator: "/").map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        precondition(!routes.contains { $0.method == method && $0.segments == segments }, "duplicate route \(method) \(pattern)")
        routes.append(Route(method: method, pattern: pattern, segments: segments, middleware: middleware, handler: handler))
    }

    /// Answers a request; never throws. The route is resolved first, so that global middleware already sees
    /// `context.route` (for metrics and logs).
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        var context = makeContext(request)
        let resolution = resolve(request)
        if case .found(let route, let parameters) = resolution {
            context.route = route.pattern
            context.parameters = parameters
        }
        return run(globalMiddleware[...], request, context) { request, context in
            switch resolution {
            case .found(let route, _):
                return run(route.middleware[...], request, context) { request, context in
                    do {
                        return try route.handler(request, context)
                    } catch {
                        return errorResponse(error, context)
                    }
                }
            case .failed(let error):
                return errorResponse(error, context)
            }
        }
    }

    private enum Resolution {
        case found(Route, [String: String])
        case failed(HTTPError)
    }

    private func run(_ chain: ArraySlice<Middleware<Context>>, _ request: HTTPRequest, _ context: Context,
                     _ last: Next<Context>) -> HTTPResponse {
        guard let first = chain.first else { return last(request, context) }
        do {
            return try first.body(request, context) { request, context in
                run(chain.dropFirst(), request, context, last)
            }
        } catch {
            return errorResponse(error, context)
        }
    }

    private func resolve(_ request: HTTPRequest) -> Resolution {
        guard let path = request.pathSegments else {
            return .failed(HTTPError.badRequest("The path is not valid percent-encoded UTF-8."))
        }
        let method = request.method == "HEAD" ? "GET" : request.method
        var allowed: [String] = []
        for route in routes {
            guard let parameters = match(route.segments, path) else { continue }
            if route.method == method { return .found(route, parameters) }
            allowed.append(route.method)
        }
        if !allowed.isEmpty {
            let allow = (allowed + (allowed.contains("GET") ? ["HEAD"] : [])).joined(separator: ", ")
            return .failed(HTTPError(405, code: "method_not_allowed", detail: "\(request.method) is not allowed here; use \(allow).",
                                     headers: [("Allow", allow)]))
        }
        return .failed(HTTPError.notFound())
    }

    private func match(_ segments: [Segment], _ path: [String]) -> [String: String]? {
        guard segments.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, value) in zip(segments, path) {
            switch segment {
            case .literal(let text): if text != value { return nil }
            case .parameter(let name): parameters[name] = value
            }
        }
        return parameters
    }
}
