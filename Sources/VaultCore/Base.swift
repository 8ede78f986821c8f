import Foundation
import Postgres

/// The life of a base.
public enum BaseStatus: String, Sendable, Codable {
    /// Created; not every onboarding step is done.
    case onboarding
    /// At least one mailbox sends mail.
    case active
    /// Every client secret has expired (AADSTS7000222): the customer must create a new one.
    case secretExpired = "secret_expired"
    /// Suspended by the hosting team.
    case disabled
    /// Deleted: its data key is destroyed.
    case offboarded
}

/// One OpenFire base (one customer instance at `https://<slug>.openfire.fr`).
public struct Base: Sendable, Equatable {
    /// Identifier.
    public let id: UUID
    /// Unique slug among live bases.
    public let slug: String
    /// Customer-facing name.
    public let displayName: String
    /// `https://<slug>.openfire.fr`.
    public let baseURL: String
    /// `organizations` or the customer's tenant id.
    public let tenant: String
    /// Status.
    public let status: BaseStatus
    /// Optimistic-concurrency version (the ETag).
    public let version: Int64
    /// Created.
    public let createdAt: Date
    /// Last changed.
    public let updatedAt: Date
    /// Offboarded at.
    public let deletedAt: Date?

    /// The redirect URI to register in Entra ID: `<base_url>/microsoft_outlook/confirm`.
    public var redirectURI: String { baseURL + "/microsoft_outlook/confirm" }

    /// The base's view for code that works for it alone.
    public var scope: BaseScope { BaseScope(id: id, slug: slug) }

    static let columns = "id, slug, display_name, base_url, tenant, status, version, created_at, updated_at, deleted_at"

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        slug = try row.decode("slug")
        displayName = try row.decode("display_name")
        baseURL = try row.decode("base_url")
        tenant = try row.decode("tenant")
        status = BaseStatus(rawValue: try row.decode("status")) ?? .onboarding
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        deletedAt = try row.decode("deleted_at")
    }
}

/// A base's view: what code working for one base receives, so that it cannot name another base's rows.
public struct BaseScope: Sendable, Equatable, Hashable {
    /// The base's id (every tenant query filters by it).
    public let id: UUID
    /// The base's slug.
    public let slug: String
}

/// Input of a new base.
public struct NewBase: Sendable {
    /// Slug.
    public var slug: String
    /// Display name.
    public var displayName: String
    /// Base URL.
    public var baseURL: String
    /// Entra tenant.
    public var tenant: String

    /// Input.
    public init(slug: String, displayName: String, baseURL: String, tenant: String) {
        self.slug = slug
        self.displayName = displayName
        self.baseURL = baseURL
        self.tenant = tenant
    }
}

/// Changes to a base; nil leaves a field as it is.
public struct BaseChanges: Sendable {
    /// New display name.
    public var displayName: String?
    /// New base URL.
    public var baseURL: String?
    /// New tenant.
    public var tenant: String?

    /// Changes.
    public init(displayName: String? = nil, baseURL: String? = nil, tenant: String? = nil) {
        self.displayName = displayName
        self.baseURL = baseURL
        self.tenant = tenant
    }
}
