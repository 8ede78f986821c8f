/// Why the identity platform refused, sorted by what the vault must do about it.
public struct EntraFailure: Error, Sendable, CustomStringConvertible {
    /// What must happen next.
    public enum Kind: String, Sendable {
        /// The mailbox's grant is gone (expired, revoked, MFA, consent): a person must sign in with it again.
        case reauthorize
        /// The client secret was refused (expired or wrong): try another one, then a new secret must be stored.
        case clientCredential = "client_credential"
        /// The app registration, tenant or redirect URI is wrong: an administrator must fix the registration.
        case configuration
        /// The platform is throttling or failing, or unreachable: retry later (see `retryAfter`).
        case transient
        /// The request itself was wrong (an expired or reused code, a PKCE mismatch): start the flow again.
        case request
    }

    /// What to do.
    public let kind: Kind
    /// The AADSTS code, if any (`700082`).
    public let code: Int?
    /// The OAuth `error` (`invalid_grant`), or a transport failure's name.
    public let error: String
    /// The first line of the AADSTS text (it names no secret), or a transport description.
    public let message: String
    /// What a person must do, in plain words.
    public let remediation: String
    /// Seconds to wait before retrying, when Microsoft said so (`Retry-After`).
    public let retryAfter: Int?
    /// The HTTP status the platform answered (0 when unreachable).
    public let httpStatus: Int

    /// `AADSTS700082` or the `error` when there is no code.
    public var codeText: String { code.map { "AADSTS\($0)" } ?? error }

    /// The text for logs and errors.
    public var description: String { "\(codeText) (\(kind.rawValue)): \(message)" }
}
