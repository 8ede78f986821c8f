import Foundation

/// The onboarding checklist of a base: what the customer must configure in Entra ID, following the seed procedure,
/// and which steps the vault can see are done.
public struct OnboardingChecklist: Sendable {
    /// One permission to add.
    public struct Permission: Sendable, Equatable {
        /// The API it belongs to (`Microsoft Graph`, `Office 365 Exchange Online`).
        public let api: String
        /// The permission's name.
        public let name: String
    }

    /// One step.
    public struct Step: Sendable {
        /// Stable identifier.
        public let id: String
        /// What to do.
        public let title: String
        /// Details.
        public let detail: String
        /// true or false when the vault can tell, nil when it cannot (done in Exchange or the Azure portal only).
        public let done: Bool?
    }

    /// The exact redirect URI to register (Web platform).
    public let redirectURI: String
    /// Delegated permissions.
    public let delegatedPermissions: [Permission]
    /// Application permissions.
    public let applicationPermissions: [Permission]
    /// Where a tenant administrator grants consent at once (nil until the client id is known).
    public let adminConsentURL: String?
    /// The steps.
    public let steps: [Step]
}

extension Vault {
    /// The checklist of a base.
    public func onboarding(base slug: String, by principal: Principal) throws(VaultError) -> OnboardingChecklist {
        let base = try base(slug: slug, by: principal)
        let registration = try withConnection { connection in try loadAppRegistration(base: base, on: connection) }
        let mailboxes = try listMailboxes(base: slug, limit: 500, after: nil, by: principal).items
        let now = clock.now()
        let activeSecrets = registration?.credentials.filter { $0.status(at: now) == .active } ?? []
        let fullyGranted = mailboxes.contains { $0.status == .active && $0.missingScopes.isEmpty && $0.mode == .delegated }
        let consentURL = registration.map {
            entra.adminConsentURL(tenant: $0.tenant, clientID: $0.clientID, redirectURI: base.redirectURI, scope: "https://graph.microsoft.com/.default")
        }
        let steps = [
            OnboardingChecklist.Step(id: "app_registration", title: "Register the OpenFire app in Entra ID",
                                     detail: "App registrations > New registration: name OpenFire, accounts in any organizational directory (multi-tenant), redirect URI of type Web: \(base.redirectURI). Then store its application (client) id here.",
                                     done: registration != nil),
            .init(id: "api_permissions", title: "Add the API permissions and grant admin consent",
                  detail: "Microsoft Graph delegated: \(MicrosoftScopes.delegatedPermissions.joined(separator: ", ")). Office 365 Exchange Online application: \(MicrosoftScopes.applicationPermissions.joined(separator: ", ")). Then 'Grant admin consent for OpenFire'\(consentURL.map { ", or open \($0)" } ?? "").",
                  done: fullyGranted ? true : nil),
            .init(id: "client_secret", title: "Create a client secret and store its value",
                  detail: activeSecrets.isEmpty ? "Certificates & secrets > New client secret (up to 730 days); store its Value (not its ID) here."
                      : "Active secret(s): " + activeSecrets.map { "\($0.hint)… expires \($0.expiresAt.formatted(.iso8601))" }.joined(separator: "; "),
                  done: !activeSecrets.isEmpty),
            .init(id: "mailbox", title: "Add the mailbox that sends mail", detail: "The Office 365 account configured as SMTP server in OpenFire (smtp.office365.com, port 587, STARTTLS, empty password).",
                  done: !mailboxes.isEmpty),
            .init(id: "sign_in", title: "Sign in with the mailbox (the arrow in OpenFire)",
                  detail: "Until 'Outlook Token Validé' shows: the vault then holds the mailbox's tokens.", done: mailboxes.contains { $0.status == .active }),
            .init(id: "send_as", title: "Grant Send As to the users who send from OpenFire",
                  detail: "Microsoft 365 admin center > Active users > the mailbox > Mail > Send As permissions; and add each user to the OpenFire enterprise app (Users and groups).",
                  done: nil),
        ]
        return OnboardingChecklist(
            redirectURI: base.redirectURI,
            delegatedPermissions: MicrosoftScopes.delegatedPermissions.map { .init(api: "Microsoft Graph", name: $0) },
            applicationPermissions: MicrosoftScopes.applicationPermissions.map { .init(api: "Office 365 Exchange Online", name: $0) },
            adminConsentURL: consentURL, steps: steps)
    }
}
