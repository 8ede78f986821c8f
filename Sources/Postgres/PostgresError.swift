/// The one error shape of the Postgres module.
///
/// Its `description` is deliberately vague (it may end up in a response); the server's own words, which can quote
/// values, are only in `debugDescription`, for operators' logs.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// Could not connect, or the connection broke.
        case connectionFailed = "connection_failed"
        /// The server refused the statement (see `sqlState`).
        case statementFailed = "statement_failed"
        /// No pooled connection became free in time.
        case poolTimeout = "pool_timeout"
        /// The pool was closed.
        case poolClosed = "pool_closed"
        /// A column could not be decoded into the requested type.
        case decodingFailed = "decoding_failed"
    }

    /// What went wrong.
    public let code: Code
    /// The SQLSTATE of a server error (`23505` unique violation, `40001` serialization failure, …).
    public let sqlState: String?
    /// The constraint named by the server, if any (safe: it is schema, not data).
    public let constraint: String?
    let serverMessage: String

    init(_ code: Code, sqlState: String? = nil, constraint: String? = nil, serverMessage: String = "") {
        self.code = code
        self.sqlState = sqlState
        self.constraint = constraint
        self.serverMessage = serverMessage
    }

    /// True for a unique-constraint violation.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// True for a foreign-key violation.
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// True when the database is unreachable rather than the statement wrong.
    public var isUnavailable: Bool { code == .connectionFailed || code == .poolTimeout || code == .poolClosed }

    /// A vague text, safe anywhere.
    public var description: String {
        switch code {
        case .connectionFailed: return "database connection failed"
        case .statementFailed: return "database statement failed (SQLSTATE \(sqlState ?? "?"))"
        case .poolTimeout: return "no database connection available"
        case .poolClosed: return "database pool closed"
        case .decodingFailed: return "database value could not be decoded"
        }
    }

    /// The full text, for operators only.
    public var debugDescription: String { "\(description): \(serverMessage)" }
}
