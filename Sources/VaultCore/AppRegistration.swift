import Foundation
import Postgres

/// Whether a credential can be used.
public enum CredentialStatus: String, Sendable, Codable {
    /// Usable.
    case active
    /// Past its expiry date.
    case expired
    /// Retired by the hosting team (or by a newer registration).
    case retired
}

/// A client secret (or certificate) of an app registration. The secret itself is never part of this value.
public struct ClientCredential: Sendable, Equatable {
    /// Identifier.
    public let id: UUID
    /// The app registration's client id it belongs to.
    public let clientID: String
    /// `secret` (certificates are planned).
    public let kind: String
    /// The secret's first 4 characters, to match it with what Entra ID shows.
    public let hint: String
    /// Expiry.
    public let expiresAt: Date
    /// Stored at.
    public let createdAt: Date
    /// Retired at.
    public let retiredAt: Date?
    /// Last used successfully with Entra ID.
    public let lastUsedAt: Date?
    /// Last AADSTS code Entra ID answered for it, if it failed.
    public let lastErrorCode: String?

    /// The status at a time.
    public func status(at now: Date) -> CredentialStatus {
        if retiredAt != nil { return .retired }
        return expiresAt <= now ? .expired : .active
    }

    static let columns = "id, client_id, kind, hint, expires_at, created_at, retired_at, last_used_at, last_error_code"

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        clientID = try row.decode("client_id")
        kind = try row.decode("kind")
        hint = try row.decode("hint")
        expiresAt = try row.decode("expires_at")
        createdAt = try row.decode("created_at")
        retiredAt = try row.decode("retired_at")
        lastUsedAt = try row.decode("last_used_at")
        lastErrorCode = try row.decode("last_error_code")
    }
}

/// A base's Entra ID app registration.
public struct AppRegistration: Sendable {
    /// The base.
    public let baseID: UUID
    /// Application (client) id.
    public let clientID: String
    /// Tenant used as the authority.
    public let tenant: String
    /// The redirect URI to register.
    public let redirectURI: String
    /// The credentials of this client id, newest first (retired and expired ones included, for the record).
    public let credentials: [ClientCredential]
    /// Created.
    public let createdAt: Date
    /// Last changed.
    public let updatedAt: Date
}

/// A client secret as entered by the hosting team.
public struct NewClientSecret: Sendable {
    /// The secret's value.
    public let secret: Secret
    /// When Entra ID expires it.
    public let expiresAt: Date

    /// Input.
    public init(secret: Secret, expiresAt: Date) {
        self.secret = secret
        self.expiresAt = expiresAt
    }
}
