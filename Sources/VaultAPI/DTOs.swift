import Foundation
import HTTPServer
import VaultCore

// Request and response bodies. Property names are camelCase here and snake_case on the wire (JSONCoding).

struct ListDTO<Item: Encodable & Sendable>: Encodable, Sendable {
    let items: [Item]
    @Nullable var nextCursor: String?
}

struct BaseDTO: Encodable {
    let id: String
    let slug: String
    let displayName: String
    let baseURL: String
    let tenant: String
    let status: String
    let redirectURI: String
    let createdAt: Date
    let updatedAt: Date
    @Nullable var deletedAt: Date?

    init(_ base: Base) {
        id = base.id.uuidString.lowercased()
        slug = base.slug
        displayName = base.displayName
        baseURL = base.baseURL
        tenant = base.tenant
        status = base.status.rawValue
        redirectURI = base.redirectURI
        createdAt = base.createdAt
        updatedAt = base.updatedAt
        deletedAt = base.deletedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, slug, displayName, baseURL = "baseUrl", tenant, status, redirectURI = "redirectUri", createdAt, updatedAt, deletedAt
    }
}

struct CreateBaseBody: Decodable {
    let slug: String
    let displayName: String
    let baseURL: String
    let tenant: String

    enum CodingKeys: String, CodingKey { case slug, displayName, baseURL = "baseUrl", tenant }
}

struct PatchBaseBody: Decodable {
    let displayName: String?
    let baseURL: String?
    let tenant: String?

    enum CodingKeys: String, CodingKey { case displayName, baseURL = "baseUrl", tenant }
}

struct CredentialDTO: Encodable {
    let id: String
    let kind: String
    let hint: String
    let expiresAt: Date
    let status: String
    let createdAt: Date
    @Nullable var retiredAt: Date?
    @Nullable var lastUsedAt: Date?
    @Nullable var lastErrorCode: String?

    init(_ credential: ClientCredential, now: Date) {
        id = credential.id.uuidString.lowercased()
        kind = credential.kind
        hint = credential.hint
        expiresAt = credential.expiresAt
        status = credential.status(at: now).rawValue
        createdAt = credential.createdAt
        retiredAt = credential.retiredAt
        lastUsedAt = credential.lastUsedAt
        lastErrorCode = credential.lastErrorCode
    }
}

struct AppRegistrationDTO: Encodable {
    let clientID: String
    let tenant: String
    let redirectURI: String
    let credentials: [CredentialDTO]
    let createdAt: Date
    let updatedAt: Date

    init(_ registration: AppRegistration, now: Date) {
        clientID = registration.clientID
        tenant = registration.tenant
        redirectURI = registration.redirectURI
        credentials = registration.credentials.map { CredentialDTO($0, now: now) }
        createdAt = registration.createdAt
        updatedAt = registration.updatedAt
    }

    enum CodingKeys: String, CodingKey { case clientID = "clientId", tenant, redirectURI = "redirectUri", credentials, createdAt, updatedAt }
}

struct SecretBody: Decodable {
    let secret: String
    let expiresAt: Date

    var input: NewClientSecret { NewClientSecret(secret: Secret(secret), expiresAt: expiresAt) }
}

struct PutAppRegistrationBody: Decodable {
    let clientID: String
    let tenant: String?
    let clientSecrets: [SecretBody]?

    enum CodingKeys: String, CodingKey { case clientID = "clientId", tenant, clientSecrets }
}

struct APIKeyDTO: Encodable {
    let id: String
    let prefix: String
    let role: String
    @Nullable var base: String?
    let name: String
    let status: String
    let createdAt: Date
    let createdBy: String
    @Nullable var lastUsedAt: Date?
    @Nullable var expiresAt: Date?
    @Nullable var revokedAt: Date?
    @Nullable var revokedBy: String?
    let key: String?

    init(_ record: APIKeyRecord, baseSlug: String?, now: Date, key: Secret? = nil) {
        id = record.id.uuidString.lowercased()
        prefix = record.prefix
        role = record.role.rawValue
        base = baseSlug
        name = record.name
        status = record.revokedAt != nil ? "revoked" : (record.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
        createdAt = record.createdAt
        createdBy = record.createdBy
        lastUsedAt = record.lastUsedAt
        expiresAt = record.expiresAt
        revokedAt = record.revokedAt
        revokedBy = record.revokedBy
        self.key = key?.revealed()  // only at creation: the one answer that shows a key
    }
}

struct CreateAPIKeyBody: Decodable {
    let role: String
    let name: String
    let base: String?
    let expiresAt: Date?
}

struct AuditEventDTO: Encodable {
    let id: Int64
    let occurredAt: Date
    @Nullable var base: String?
    @Nullable var baseID: String?
    let sequence: Int64
    let actor: String
    let action: String
    let targetType: String
    let targetID: String
    @Nullable var requestID: String?
    let details: JSONValue

    init(_ record: AuditRecord, slug: String?) {
        id = record.id
        occurredAt = record.occurredAt
        base = slug
        baseID = record.baseID?.uuidString.lowercased()
        sequence = record.sequence
        actor = record.actor
        action = record.action
        targetType = record.targetType
        targetID = record.targetID
        requestID = record.requestID
        details = (try? JSONDecoder().decode(JSONValue.self, from: Data(record.detailsJSON.utf8))) ?? .object([:])
    }

    enum CodingKeys: String, CodingKey {
        case id, occurredAt, base, baseID = "baseId", sequence, actor, action, targetType, targetID = "targetId", requestID = "requestId", details
    }
}

struct AuditVerificationDTO: Encodable {
    let ok: Bool
    let checked: Int
    @Nullable var firstBrokenID: Int64?

    enum CodingKeys: String, CodingKey { case ok, checked, firstBrokenID = "firstBrokenId" }
}

struct MailboxErrorDTO: Encodable, Sendable {
    let code: String
    let message: String
    @Nullable var remediation: String?
    let at: Date
}

struct TokenStateDTO: Encodable, Sendable {
    let resource: String
    let expiresAt: Date
    let obtainedAt: Date
}

struct MailboxDTO: Encodable, Sendable {
    let id: String
    let address: String
    let mode: String
    let status: String
    @Nullable var lastError: MailboxErrorDTO?
    @Nullable var tenantID: String?
    let grantedScopes: [String]
    let missingScopes: [String]
    @Nullable var authorizedAt: Date?
    @Nullable var refreshTokenObtainedAt: Date?
    @Nullable var nextRefreshAt: Date?
    let accessTokens: [TokenStateDTO]
    let createdAt: Date
    let updatedAt: Date

    init(_ mailbox: Mailbox) {
        id = mailbox.id.uuidString.lowercased()
        address = mailbox.address
        mode = mailbox.mode.rawValue
        status = mailbox.status.rawValue
        lastError = mailbox.lastError.map { MailboxErrorDTO(code: $0.code, message: $0.message, remediation: $0.remediation, at: $0.at) }
        tenantID = mailbox.tenantID
        grantedScopes = mailbox.grantedScopes
        missingScopes = mailbox.missingScopes
        authorizedAt = mailbox.authorizedAt
        refreshTokenObtainedAt = mailbox.refreshTokenObtainedAt
        nextRefreshAt = mailbox.nextRefreshAt
        accessTokens = mailbox.accessTokens.map { TokenStateDTO(resource: $0.resource, expiresAt: $0.expiresAt, obtainedAt: $0.obtainedAt) }
        createdAt = mailbox.createdAt
        updatedAt = mailbox.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, address, mode, status, lastError, tenantID = "tenantId", grantedScopes, missingScopes, authorizedAt, refreshTokenObtainedAt,
             nextRefreshAt, accessTokens, createdAt, updatedAt
    }
}

struct CreateMailboxBody: Decodable {
    let address: String
    let mode: String?
}

struct EmptyBody: Decodable {}

struct AuthorizationDTO: Encodable {
    let authorizeURL: String
    let expiresAt: Date
    let mailboxID: String

    enum CodingKeys: String, CodingKey { case authorizeURL = "authorizeUrl", expiresAt, mailboxID = "mailboxId" }
}

struct ConfirmBody: Decodable {
    let code: String?
    let state: String
    let error: String?
    let errorDescription: String?
    let sessionState: String?
}

struct AccessTokenDTO: Encodable {
    let accessToken: String
    let tokenType: String
    let expiresAt: Date
    let expiresIn: Int
    let resource: String
    let username: String
    let xoauth2: String

    init(_ token: IssuedAccessToken, now: Date) {
        accessToken = token.token.revealed()  // the one answer that hands a token to its owner
        tokenType = token.tokenType
        expiresAt = token.expiresAt
        expiresIn = max(0, Int(token.expiresAt.timeIntervalSince(now)))
        resource = token.resource
        username = token.username
        xoauth2 = token.xoauth2.revealed()
    }
}

struct PermissionDTO: Encodable, Sendable {
    let api: String
    let name: String
}

struct StepDTO: Encodable, Sendable {
    let id: String
    let title: String
    let detail: String
    @Nullable var done: Bool?
}

struct OnboardingDTO: Encodable {
    let redirectURI: String
    let delegatedPermissions: [PermissionDTO]
    let applicationPermissions: [PermissionDTO]
    @Nullable var adminConsentURL: String?
    let steps: [StepDTO]

    init(_ checklist: OnboardingChecklist) {
        redirectURI = checklist.redirectURI
        delegatedPermissions = checklist.delegatedPermissions.map { PermissionDTO(api: $0.api, name: $0.name) }
        applicationPermissions = checklist.applicationPermissions.map { PermissionDTO(api: $0.api, name: $0.name) }
        adminConsentURL = checklist.adminConsentURL
        steps = checklist.steps.map { StepDTO(id: $0.id, title: $0.title, detail: $0.detail, done: $0.done) }
    }

    enum CodingKeys: String, CodingKey { case redirectURI = "redirectUri", delegatedPermissions, applicationPermissions, adminConsentURL = "adminConsentUrl", steps }
}
