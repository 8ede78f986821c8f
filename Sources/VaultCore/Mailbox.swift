import Foundation
import Postgres

/// How a mailbox obtains its tokens.
public enum MailboxMode: String, Sendable, Codable {
    /// A person signs in with the mailbox (authorization code flow); the vault keeps its refresh token.
    case delegated
    /// App-only tokens (client credentials, `SMTP.SendAsApp`); the tenant's administrator grants the app access.
    case application
}

/// The life of a mailbox's authorization.
public enum MailboxStatus: String, Sendable, Codable {
    /// Added; nobody signed in yet.
    case pending
    /// Tokens are available.
    case active
    /// Microsoft no longer accepts the grant: a person must sign in again.
    case needsReauthorization = "needs_reauthorization"
    /// Token requests fail (the app registration or Microsoft); the vault keeps trying.
    case failing
    /// Switched off by the hosting team.
    case disabled

    /// What happened to a mailbox.
    public enum Event: Sendable, Equatable {
        /// A sign-in completed and tokens were stored.
        case authorized
        /// A sign-in was refused (another account, consent declined, missing scopes): the previous tokens, if any, stay.
        case authorizationRefused
        /// A token was obtained.
        case tokenObtained
        /// Microsoft refused the grant for good (AADSTS700082, 50173, MFA, consent…).
        case grantRefused
        /// The app registration or its secret was refused.
        case registrationRefused
        /// A transient failure; `consecutive` counts them, this one included.
        case transientFailure(consecutive: Int)
    }

    /// Transient failures in a row after which a mailbox shows as failing.
    public static let failingAfter = 3

    /// The status after an event (a pure rule, unit-tested).
    public func after(_ event: Event) -> MailboxStatus {
        if self == .disabled { return .disabled }
        switch event {
        case .authorized, .tokenObtained: return .active
        case .authorizationRefused: return self
        case .grantRefused: return .needsReauthorization
        case .registrationRefused: return self == .pending ? .pending : .failing
        case .transientFailure(let consecutive):
            guard self == .active || self == .failing else { return self }
            return consecutive >= Self.failingAfter ? .failing : self
        }
    }
}

/// The last error of a mailbox, with what to do.
public struct MailboxError: Sendable, Equatable {
    /// `AADSTS700082`, `account_mismatch`, …
    public let code: String
    /// What happened.
    public let message: String
    /// What a person must do.
    public let remediation: String?
    /// When.
    public let at: Date
}

/// An access token's state (never its value).
public struct AccessTokenState: Sendable, Equatable {
    /// `outlook` or `graph`.
    public let resource: String
    /// Expiry.
    public let expiresAt: Date
    /// Obtained at.
    public let obtainedAt: Date
}

/// An Office 365 mailbox authorised for a base.
public struct Mailbox: Sendable {
    /// Identifier.
    public let id: UUID
    /// The base.
    public let baseID: UUID
    /// The address (lower-case).
    public let address: String
    /// Delegated or application.
    public let mode: MailboxMode
    /// Status.
    public let status: MailboxStatus
    /// The tenant pinned at the first sign-in.
    public let tenantID: String?
    /// The account's object id in that tenant.
    public let objectID: String?
    /// Scopes granted at the last sign-in.
    public let grantedScopes: [String]
    /// Requested scopes that were not granted (optional ones; a missing required scope refuses the sign-in).
    public let missingScopes: [String]
    /// The last error, if the last attempt failed.
    public let lastError: MailboxError?
    /// Last successful sign-in.
    public let authorizedAt: Date?
    /// When the stored refresh token was obtained.
    public let refreshTokenObtainedAt: Date?
    /// When the refresh token is next redeemed (at least daily, so that it never expires for inactivity).
    public let nextRefreshAt: Date?
    /// Access tokens held.
    public let accessTokens: [AccessTokenState]
    /// Created.
    public let createdAt: Date
    /// Last changed.
    public let updatedAt: Date

    static let columns = """
        m.id, m.base_id, m.address, m.mode, m.status, m.tenant_id, m.object_id, m.granted_scopes::text AS granted, \
        m.missing_scopes::text AS missing, m.last_error_code, m.last_error, m.last_error_remediation, m.last_error_at, m.authorized_at, \
        m.refresh_token_obtained_at, m.next_refresh_at, m.created_at, m.updated_at
        """

    init(row: PostgresRow, accessTokens: [AccessTokenState]) throws {
        id = try row.decode("id")
        baseID = try row.decode("base_id")
        address = try row.decode("address")
        mode = MailboxMode(rawValue: try row.decode("mode")) ?? .delegated
        status = MailboxStatus(rawValue: try row.decode("status")) ?? .pending
        tenantID = try row.decode("tenant_id")
        objectID = try row.decode("object_id")
        grantedScopes = PostgresTextArray.parse(try row.decode("granted"))
        missingScopes = PostgresTextArray.parse(try row.decode("missing"))
        if let code: String = try row.decode("last_error_code") {
            lastError = MailboxError(code: code, message: try row.decode("last_error") ?? "", remediation: try row.decode("last_error_remediation"),
                                     at: try row.decode("last_error_at") ?? Date(timeIntervalSince1970: 0))
        } else {
            lastError = nil
        }
        authorizedAt = try row.decode("authorized_at")
        refreshTokenObtainedAt = try row.decode("refresh_token_obtained_at")
        nextRefreshAt = try row.decode("next_refresh_at")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        self.accessTokens = accessTokens
    }
}

/// PostgreSQL `text[]` output (`{a,"b c"}`), for the few array columns read back.
enum PostgresTextArray {
    static func parse(_ text: String) -> [String] {
        guard text.hasPrefix("{"), text.hasSuffix("}"), text.count > 2 else { return [] }
        var items: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for c in text.dropFirst().dropLast() {
            if escaped { current.append(c); escaped = false; continue }
            switch c {
            case "\\" where quoted: escaped = true
            case "\"": quoted.toggle()
            case "," where !quoted: items.append(current); current = ""
            default: current.append(c)
            }
        }
        items.append(current)
        return items
    }
}

/// The scopes and permissions of the seed procedure.
public enum MicrosoftScopes {
    /// Delegated SMTP (required: it is what the mailbox is for).
    public static let smtpSend = "https://outlook.office.com/SMTP.Send"
    /// Delegated IMAP.
    public static let imap = "https://outlook.office.com/IMAP.AccessAsUser.All"
    /// Delegated POP.
    public static let pop = "https://outlook.office.com/POP.AccessAsUser.All"
    /// Delegated Graph mail sending.
    public static let graphMailSend = "https://graph.microsoft.com/Mail.Send"
    /// App-only Exchange Online (SMTP.SendAsApp and friends).
    public static let exchangeAppOnly = "https://outlook.office365.com/.default"
    /// Requested at sign-in: the Outlook scopes first (the code is redeemed for them), then Graph's.
    public static let signIn = ["offline_access", "openid", "email", smtpSend, imap, pop, graphMailSend]
    /// Without these a sign-in is refused.
    public static let required = [smtpSend]
    /// Scopes that may be missing (reported, not refused).
    public static let optional = [imap, pop]

    /// The scopes of a refresh for a resource, from what was granted.
    public static func refreshScopes(resource: String, granted: [String]) -> [String] {
        let prefix = resource == "graph" ? "https://graph.microsoft.com/" : "https://outlook.office.com/"
        let forResource = granted.filter { $0.lowercased().hasPrefix(prefix) }
        let fallback = resource == "graph" ? [graphMailSend] : [smtpSend]
        return ["offline_access"] + (forResource.isEmpty ? fallback : forResource)
    }

    /// The delegated permissions to add (Microsoft Graph), as the seed procedure lists them.
    public static let delegatedPermissions = ["User.Read", "User.Read.All", "Mail.Send", "Mail.Send.Shared", "Mail.ReadWrite",
                                              "offline_access", "SMTP.Send", "POP.AccessAsUser.All", "IMAP.AccessAsUser.All"]
    /// The application permissions to add (Office 365 Exchange Online).
    public static let applicationPermissions = ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]
}
