/// The one error shape of VaultCore. Only the API layer turns it into HTTP; its texts never carry a secret.
public struct VaultError: Error, Sendable, CustomStringConvertible {
    /// Stable codes; the API maps each to a status.
    public enum Code: String, Sendable {
        /// Nothing by that name, or not visible to the caller (404).
        case notFound = "not_found"
        /// A duplicate or a state that forbids the change (409).
        case conflict
        /// Input that breaks a rule (422).
        case invalidInput = "validation_failed"
        /// The `If-Match` version is stale (412).
        case versionMismatch = "version_mismatch"
        /// The change needs an `If-Match` (428).
        case versionRequired = "version_required"
        /// No or bad credential (401).
        case unauthenticated
        /// The caller's role may not do this (403).
        case forbidden
        /// The database cannot be reached (503).
        case unavailable
        /// A dependency refused for good: the mailbox needs a new sign-in, the client secret was rejected, the app
        /// registration is wrong (424).
        case dependencyFailed = "dependency_failed"
        /// The Microsoft identity platform is throttling, failing or unreachable: retry later (503).
        case upstreamUnavailable = "upstream_unavailable"
        /// The sign-in could not be completed (bad, used or expired state; another account; refused consent) (422).
        case authorizationFailed = "authorization_failed"
        /// Configuration that prevents starting (CLI only).
        case configuration
        /// A bug or an impossible state (500).
        case internalFailure = "internal_error"
    }

    /// One problem with one input field.
    public struct FieldProblem: Sendable, Equatable {
        /// The field (`client_secrets[0].expires_at`).
        public let field: String
        /// What is wrong.
        public let message: String

        /// A field problem.
        public init(_ field: String, _ message: String) {
            self.field = field
            self.message = message
        }
    }

    /// What went wrong.
    public let code: Code
    /// A human text, free of secrets.
    public let message: String
    /// Field-level problems for `invalidInput`.
    public let fieldProblems: [FieldProblem]
    /// A finer machine-readable reason (`needs_reauthorization`, `state_expired`, …) that clients can switch on.
    public let reason: String?
    /// What a person must do (from the AADSTS taxonomy), when known.
    public let remediation: String?
    /// The AADSTS code behind the error, if any (`AADSTS700082`).
    public let upstreamCode: String?
    /// Seconds after which a retry makes sense.
    public let retryAfter: Int?

    /// An error.
    public init(_ code: Code, _ message: String, fieldProblems: [FieldProblem] = [], reason: String? = nil,
                remediation: String? = nil, upstreamCode: String? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.fieldProblems = fieldProblems
        self.reason = reason
        self.remediation = remediation
        self.upstreamCode = upstreamCode
        self.retryAfter = retryAfter
    }

    /// Invalid input listing the problems.
    public static func invalid(_ problems: [FieldProblem]) -> VaultError {
        VaultError(.invalidInput, problems.map { "\($0.field): \($0.message)" }.joined(separator: "; "), fieldProblems: problems)
    }

    /// Invalid input in one field.
    public static func invalid(_ field: String, _ message: String) -> VaultError {
        invalid([FieldProblem(field, message)])
    }

    /// Not found.
    public static func notFound(_ what: String) -> VaultError { VaultError(.notFound, "\(what) was not found.") }

    /// The text.
    public var description: String { "\(code.rawValue): \(message)" }
}
