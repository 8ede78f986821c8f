import HTTPServer
import Logging
import VaultCore

/// Turns any error into its problem+json answer. The only place where core errors meet HTTP statuses.
struct ErrorMapping: Sendable {
    let logger: Logger

    func response(for error: any Error, context: AppContext) -> HTTPResponse {
        let httpError: HTTPError
        switch error {
        case let error as HTTPError:
            httpError = error
        case let error as VaultError:
            httpError = Self.map(error)
            if error.code == .internalFailure {
                logger.error("request failed", ["request.id": context.requestID, "error": error.message])
            }
        default:
            logger.error("request failed", ["request.id": context.requestID, "error": String(describing: type(of: error))])
            httpError = HTTPError(500, code: "internal_error", detail: "An unexpected failure occurred.")
        }
        var response = httpError.response(requestID: context.requestID)
        response.headers.set("X-Request-Id", context.requestID)
        return response
    }

    static func map(_ error: VaultError) -> HTTPError {
        var extensions: [String: String] = [:]
        if let remediation = error.remediation { extensions["remediation"] = remediation }
        if let upstream = error.upstreamCode { extensions["upstream_code"] = upstream }
        let retry = error.retryAfter.map { [("Retry-After", String($0))] } ?? []
        func problem(_ status: Int, _ code: String, headers: [(String, String)] = []) -> HTTPError {
            HTTPError(status, code: error.reason ?? code, detail: error.message, headers: headers + retry, extensions: extensions)
        }
        switch error.code {
        case .notFound: return problem(404, "not_found")
        case .conflict: return problem(409, "conflict")
        case .invalidInput:
            return HTTPError(422, code: "validation_failed", detail: "The request is invalid: \(error.message).",
                             fieldProblems: error.fieldProblems.map { .init(field: $0.field, message: $0.message) })
        case .versionMismatch: return problem(412, "precondition_failed")
        case .versionRequired: return problem(428, "precondition_required")
        case .unauthenticated: return problem(401, "unauthenticated", headers: [("WWW-Authenticate", "Bearer realm=\"tokenvault\"")])
        case .forbidden: return problem(403, "forbidden")
        case .authorizationFailed: return problem(422, "authorization_failed")
        case .dependencyFailed: return problem(424, "dependency_failed")
        case .upstreamUnavailable: return problem(503, "upstream_unavailable", headers: error.retryAfter == nil ? [("Retry-After", "30")] : [])
        case .unavailable: return HTTPError(503, code: "unavailable", detail: error.message, headers: [("Retry-After", "5")])
        case .configuration, .internalFailure: return HTTPError(500, code: "internal_error", detail: "An internal error occurred; see the service log.")
        }
    }
}
