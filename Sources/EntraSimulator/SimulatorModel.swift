import Crypto
import Foundation

/// A tenant (a customer's directory).
public struct SimTenant: Sendable, Codable {
    /// The tenant id (GUID, lower-case).
    public var id: String
    /// A name for people.
    public var name: String
    /// Verified domains (a domain can stand for the tenant in URLs).
    public var domains: [String]

    /// A tenant.
    public init(id: String = UUID().uuidString.lowercased(), name: String, domains: [String] = []) {
        self.id = id.lowercased()
        self.name = name
        self.domains = domains.map { $0.lowercased() }
    }
}

/// A client secret of an app registration.
public struct SimSecret: Sendable, Codable {
    /// The secret's value.
    public var value: String
    /// Its expiry.
    public var expiresAt: Date

    /// A secret.
    public init(value: String, expiresAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// An app registration.
public struct SimApp: Sendable, Codable {
    /// Application (client) id.
    public var clientID: String
    /// The tenant where it is registered.
    public var homeTenant: String
    /// Client secrets.
    public var secrets: [SimSecret]
    /// Registered Web redirect URIs (matched exactly).
    public var redirectURIs: [String]
    /// Development only: also accept `https://<any slug>.openfire.fr/microsoft_outlook/confirm`.
    public var acceptsAnyOpenFireRedirect: Bool
    /// "Accounts in any organizational directory".
    public var multiTenant: Bool
    /// Delegated permissions configured (full scope strings, `https://outlook.office.com/SMTP.Send`).
    public var delegatedPermissions: [String]
    /// Application permissions configured (`SMTP.SendAsApp`).
    public var applicationPermissions: [String]
    /// Tenants where an administrator consented (admin consent).
    public var consentedTenants: [String]
    /// Mailboxes the app's service principal may use with app-only tokens (Add-MailboxPermission).
    public var mailboxAccess: [String]

    /// An app registration.
    public init(clientID: String = UUID().uuidString.lowercased(), homeTenant: String, secrets: [SimSecret], redirectURIs: [String],
                acceptsAnyOpenFireRedirect: Bool = false, multiTenant: Bool = true,
                delegatedPermissions: [String] = SimApp.openFireDelegated, applicationPermissions: [String] = SimApp.openFireApplication,
                consentedTenants: [String] = [], mailboxAccess: [String] = []) {
        self.clientID = clientID.lowercased()
        self.homeTenant = homeTenant.lowercased()
        self.secrets = secrets
        self.redirectURIs = redirectURIs
        self.acceptsAnyOpenFireRedirect = acceptsAnyOpenFireRedirect
        self.multiTenant = multiTenant
        self.delegatedPermissions = delegatedPermissions
        self.applicationPermissions = applicationPermissions
        self.consentedTenants = consentedTenants.map { $0.lowercased() }
        self.mailboxAccess = mailboxAccess.map { $0.lowercased() }
    }

    /// The delegated permissions of the seed procedure (Microsoft Graph, including SMTP/IMAP/POP).
    public static let openFireDelegated = [
        "https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/User.Read.All", "https://graph.microsoft.com/Mail.Send",
        "https://graph.microsoft.com/Mail.Send.Shared", "https://graph.microsoft.com/Mail.ReadWrite",
        "https://outlook.office.com/SMTP.Send", "https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/IMAP.AccessAsUser.All",
    ]

    /// The application permissions of the seed procedure (Office 365 Exchange Online).
    public static let openFireApplication = ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]

    func accepts(redirectURI: String) -> Bool {
        if redirectURIs.contains(redirectURI) { return true }
        guard acceptsAnyOpenFireRedirect, let url = URLComponents(string: redirectURI), url.scheme == "https",
              let host = url.host, host.hasSuffix(".openfire.fr"), url.path == "/microsoft_outlook/confirm",
              url.query == nil, url.port == nil else { return false }
        return host.split(separator: ".").count == 3
    }
}

/// An Office 365 account.
public struct SimAccount: Sendable, Codable {
    /// The address (its UPN).
    public var address: String
    /// Its tenant.
    public var tenantID: String
    /// Its object id.
    public var objectID: String
    /// SMTP AUTH enabled for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false).
    public var smtpAuthEnabled: Bool
    /// Addresses it may send as (Add-RecipientPermission … -AccessRights SendAs).
    public var sendAs: [String]
    /// Apps it consented to itself.
    public var consentedApps: [String]

    /// An account.
    public init(address: String, tenantID: String, objectID: String = UUID().uuidString.lowercased(), smtpAuthEnabled: Bool = true,
                sendAs: [String] = [], consentedApps: [String] = []) {
        self.address = address.lowercased()
        self.tenantID = tenantID.lowercased()
        self.objectID = objectID
        self.smtpAuthEnabled = smtpAuthEnabled
        self.sendAs = sendAs.map { $0.lowercased() }
        self.consentedApps = consentedApps.map { $0.lowercased() }
    }
}

/// A fault switched on for an account (by address) or an app (by client id).
public enum SimFault: Sendable, Equatable {
    /// The token endpoint answers this AADSTS code (700082, 50173, 65001, 50076, 7000222, 7000215, 700016, …).
    case aadsts(Int)
    /// 429 with `Retry-After`.
    case throttle(retryAfter: Int)
    /// A 5xx answer.
    case serverError(status: Int)
    /// Added latency before answering.
    case latency(milliseconds: Int)
    /// No answer until the simulator stops or the fault is cleared.
    case hang
    /// The person declines consent at the authorize endpoint (AADSTS65004, `access_denied`).
    case denyConsent
}

/// Counters that tests read.
public struct SimStatistics: Sendable, Codable {
    /// Token requests by grant type.
    public var tokenRequests: [String: Int] = [:]
    /// Successful refresh-token redemptions by account.
    public var refreshesByAccount: [String: Int] = [:]
    /// Successful client-credential grants by client id.
    public var clientCredentialGrants: [String: Int] = [:]
}

/// One SMTP exchange, as received.
public struct SMTPRecord: Sendable, Codable {
    /// `auth` or `message`.
    public var kind: String
    /// The `user=` of XOAUTH2 (auth) or the authenticated user (message).
    public var user: String?
    /// The reply code given (`235`, `535`, `250`, `554`).
    public var replyCode: Int
    /// The full reply line.
    public var reply: String
    /// MAIL FROM.
    public var mailFrom: String?
    /// RCPT TO.
    public var recipients: [String]
    /// The message's `From:` header.
    public var headerFrom: String?
    /// The message (without the final dot).
    public var data: String?
}

struct AuthorizationCode {
    let clientID: String
    let redirectURI: String
    let account: String
    let tenantID: String
    let grantedScopes: [String]
    let oidcScopes: Set<String>
    let codeChallenge: String?
    let codeChallengeMethod: String?
    let issuedAt: Date
    var used = false
}

struct RefreshGrant {
    let clientID: String
    let account: String
    let tenantID: String
    let grantedScopes: [String]
    let oidcScopes: Set<String>
    var lastUsedAt: Date
    var revoked = false
}

struct IssuedAccessToken {
    let clientID: String
    /// nil for app-only tokens.
    let account: String?
    let tenantID: String
    /// `https://outlook.office.com` or `https://graph.microsoft.com`.
    let resource: String
    /// Delegated scopes (short names), or app roles.
    let permissions: [String]
    let expiresAt: Date
}

/// Resource URIs and scope helpers.
enum Scopes {
    static let oidc: Set<String> = ["openid", "email", "profile", "offline_access"]
    static let outlook = "https://outlook.office.com"
    static let outlookApp = "https://outlook.office365.com"
    static let graph = "https://graph.microsoft.com"

    /// The resource of a scope (`User.Read` alone means Graph); nil when it is not a known resource.
    static func resource(of scope: String) -> String? {
        if scope.hasPrefix("https://") {
            guard let slash = scope.dropFirst(8).firstIndex(of: "/") else { return nil }
            let resource = String(scope[..<slash])
            return [outlook, outlookApp, graph, "https://ps.outlook.com"].contains(resource) ? resource : nil
        }
        return scope.contains("/") ? nil : graph
    }

    /// The full form of a scope (`User.Read` → `https://graph.microsoft.com/User.Read`).
    static func qualified(_ scope: String) -> String {
        scope.hasPrefix("https://") ? scope : graph + "/" + scope
    }

    static func permission(of scope: String) -> String {
        String(scope.split(separator: "/").last ?? "")
    }
}
