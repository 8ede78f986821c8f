/// An error that knows its HTTP answer: an `application/problem+json` body (RFC 9457) with a stable code.
///
/// Lower layers have their own error types; the API layer maps them to this one.
public struct HTTPError: Error, Sendable {
    /// One problem with one field of the input.
    public struct FieldProblem: Sendable, Encodable, Equatable {
        /// The field's path (`client_secrets[0].expires_at`).
        public let field: String
        /// What is wrong with it.
        public let message: String

        /// A field problem.
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    /// The status code.
    public let status: Int
    /// The stable machine-readable code (`validation_failed`); the problem `type` is derived from it.
    public let code: String
    /// The human-readable explanation, free of secrets.
    public let detail: String
    /// Problems with individual fields, if any.
    public let fieldProblems: [FieldProblem]
    /// Extra headers (`Retry-After`, `Allow`, `WWW-Authenticate`).
    public let headers: [(String, String)]
    /// Extension members of the problem (`remediation`, `upstream_code`), added to the body.
    public let extensions: [String: String]

    /// An error.
    public init(_ status: Int, code: String, detail: String, fieldProblems: [FieldProblem] = [], headers: [(String, String)] = [],
                extensions: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.fieldProblems = fieldProblems
        self.headers = headers
        self.extensions = extensions
    }

    /// The problem `type` URI.
    public var type: String { "urn:tokenvault:problem:" + code.replacingOccurrences(of: "_", with: "-") }

    /// The problem+json response, carrying the request id.
    public func response(requestID: String) -> HTTPResponse {
        let body = ProblemBody(type: type, title: HTTPStatus.reason(status), status: status, code: code, detail: detail,
                               requestID: requestID, errors: fieldProblems.isEmpty ? nil : fieldProblems, extensions: extensions)
        let bytes = (try? JSONCoding.encode(body)) ?? Array("{}".utf8)
        var headers = HTTPHeaders([("Content-Type", "application/problem+json")])
        for (name, value) in self.headers { headers.add(name, value) }
        return HTTPResponse(status: status, headers: headers, body: bytes)
    }

    /// 400: the request cannot be parsed.
    public static func badRequest(_ detail: String, code: String = "bad_request") -> HTTPError {
        HTTPError(400, code: code, detail: detail)
    }

    /// 404: nothing here (or not visible to the caller).
    public static func notFound(_ detail: String = "No such resource.") -> HTTPError {
        HTTPError(404, code: "not_found", detail: detail)
    }

    /// 422: valid JSON that breaks a rule.
    public static func validation(_ problems: [FieldProblem]) -> HTTPError {
        let summary = problems.prefix(3).map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return HTTPError(422, code: "validation_failed", detail: "The request is invalid: \(summary).", fieldProblems: problems)
    }
}

private struct ProblemBody: Encodable {
    let type: String
    let title: String
    let status: Int
    let code: String
    let detail: String
    let requestID: String
    let errors: [HTTPError.FieldProblem]?
    let extensions: [String: String]

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(type, forKey: Key("type"))
        try container.encode(title, forKey: Key("title"))
        try container.encode(status, forKey: Key("status"))
        try container.encode(code, forKey: Key("code"))
        try container.encode(detail, forKey: Key("detail"))
        try container.encode(requestID, forKey: Key("requestId"))
        if let errors { try container.encode(errors, forKey: Key("errors")) }
        for (name, value) in extensions { try container.encode(value, forKey: Key(name)) }
    }
}

/// Reason phrases.
public enum HTTPStatus {
    /// The standard reason phrase of a status code.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 424: "Failed Dependency"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status \(status)"
        }
    }
}
