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
        switch error.code {
        case .notFound: return HTTPError(404, code: "not_found", detail: error.message)
        case .conflict: return HTTPError(409, code: "conflict", detail: error.message)
        case .invalidInput:
            return HTTPError(422, code: "validation_failed", detail: "The request is invalid: \(error.message).",
                             fieldProblems: error.fieldProblems.map { .init(field: $0.field, message: $0.message) })
        case .versionMismatch: return HTTPError(412, code: "precondition_failed", detail: error.message)
        case .versionRequired: return HTTPError(428, code: "precondition_required", detail: error.message)
        case .unauthenticated:
            return HTTPError(401, code: "unauthenticated", detail: error.message, headers: [("WWW-Authenticate", "Bearer realm=\"tokenvault\"")])
        case .forbidden: return HTTPError(403, code: "forbidden", detail: error.message)
        case .unavailable: return HTTPError(503, code: "unavailable", detail: error.message, headers: [("Retry-After", "5")])
        case .configuration, .internalFailure: return HTTPError(500, code: "internal_error", detail: "An internal error occurred; see the service log.")
        }
    }
}
