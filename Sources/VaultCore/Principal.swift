import Foundation

/// API-key roles.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// The hosting team: everything.
    case admin
    /// An OpenFire instance: its own base only.
    case instance
    /// The support desk: reads grants, health and the audit trail; never secrets or tokens.
    case auditor
}

/// Who is acting: an API key, an operator on the command line, or the service itself.
public struct Principal: Sendable, Equatable {
    /// The kinds of principal.
    public enum Kind: String, Sendable {
        /// A request authenticated by an API key.
        case apiKey = "api_key"
        /// An operator running the CLI on the host.
        case cli
        /// The service itself (scheduler, start-up).
        case system
    }

    /// The kind.
    public let kind: Kind
    /// The API key's id, the operator's user name, or the component's name.
    public let id: String
    /// The key's role (operators and the system act as admin).
    public let role: Role
    /// The base an `instance` key is bound to.
    public let baseID: UUID?
    /// How the audit trail names the principal (`api_key:tvk_ab12cd34ef`, `cli:root`, `system:scheduler`).
    public let auditName: String

    /// An API-key principal.
    public static func apiKey(id: UUID, prefix: String, role: Role, baseID: UUID?) -> Principal {
        Principal(kind: .apiKey, id: id.uuidString.lowercased(), role: role, baseID: baseID, auditName: "api_key:\(prefix)")
    }

    /// An operator on the command line.
    public static func cli(user: String) -> Principal {
        Principal(kind: .cli, id: user, role: .admin, baseID: nil, auditName: "cli:\(user)")
    }

    /// The service itself.
    public static func system(_ component: String) -> Principal {
        Principal(kind: .system, id: component, role: .admin, baseID: nil, auditName: "system:\(component)")
    }

    /// The browser that Microsoft redirected to `/microsoft_outlook/confirm`: the OAuth state is its only credential, and
    /// it can do nothing but complete the sign-in that state names.
    public static let oauthRedirect = Principal(kind: .system, id: "oauth-redirect", role: .admin, baseID: nil, auditName: "oauth_redirect")

    /// True when the principal may see this base at all (an instance key sees only its own).
    public func canSee(baseID: UUID) -> Bool {
        role != .instance || self.baseID == baseID
    }
}
