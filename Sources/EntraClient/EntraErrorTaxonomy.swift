import Foundation

/// Turns token-endpoint answers into `EntraFailure`s: reacting on `error` and the AADSTS code (never on the
/// description text, which Microsoft may change), with a remediation a person can follow.
public enum EntraErrorTaxonomy {
    /// The failure for an error answer of the token endpoint.
    public static func failure(httpStatus: Int, body: [UInt8], retryAfterHeader: String?) -> EntraFailure {
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        let error = json["error"] as? String ?? (httpStatus == 429 ? "throttled" : "http_\(httpStatus)")
        let codes = (json["error_codes"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
        let description = json["error_description"] as? String ?? ""
        let message = description.split(whereSeparator: \.isNewline).first.map(String.init) ?? "HTTP \(httpStatus)"
        let retryAfter = retryAfterHeader.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let (kind, remediation) = classify(httpStatus: httpStatus, error: error, code: codes.first)
        return EntraFailure(kind: kind, code: codes.first, error: error, message: message, remediation: remediation,
                            retryAfter: kind == .transient ? retryAfter : nil, httpStatus: httpStatus)
    }

    /// The failure for a request that never got an answer.
    public static func unreachable(_ detail: String) -> EntraFailure {
        EntraFailure(kind: .transient, code: nil, error: "unreachable", message: detail,
                     remediation: "The Microsoft identity platform could not be reached; the request will be retried.",
                     retryAfter: nil, httpStatus: 0)
    }

    /// What to do about an error, by code first, then by `error`, then by status.
    public static func classify(httpStatus: Int, error: String, code: Int?) -> (EntraFailure.Kind, String) {
        if let code, let known = byCode[code] { return known }
        if httpStatus == 429 || httpStatus >= 500 { return (.transient, "Microsoft is throttling or unavailable; the request will be retried.") }
        switch error {
        case "invalid_grant", "interaction_required", "consent_required":
            return (.reauthorize, "Microsoft no longer accepts this mailbox's authorization. Sign in again with the mailbox (the arrow in OpenFire's Outlook settings).")
        case "invalid_client":
            return (.clientCredential, "Microsoft refused the client secret. Create a new secret in Entra ID (Certificates & secrets) and store its Value.")
        case "unauthorized_client", "invalid_resource", "invalid_scope", "unsupported_grant_type":
            return (.configuration, "The app registration does not allow this request. Check the client id, the tenant and the API permissions of the OpenFire app.")
        case "temporarily_unavailable", "server_error":
            return (.transient, "Microsoft is temporarily unavailable; the request will be retried.")
        default:
            return (.request, "The request was refused (\(error)). Start the sign-in again; if it persists, contact support.")
        }
    }

    private static let signInAgain = "Sign in again with the mailbox (the arrow in OpenFire's Outlook settings)."

    /// The codes of ENTRA.md, with what to do.
    static let byCode: [Int: (EntraFailure.Kind, String)] = [
        700082: (.reauthorize, "The authorization expired after 90 days without use. " + signInAgain),
        50173: (.reauthorize, "The authorization was revoked (password reset, or tokens revoked by an administrator). " + signInAgain),
        70000: (.reauthorize, "The refresh token is no longer valid (revoked or already used). " + signInAgain),
        70043: (.reauthorize, "A Conditional Access sign-in frequency policy ended the session. " + signInAgain),
        50076: (.reauthorize, "Multi-factor authentication is now required for this account. " + signInAgain),
        50079: (.reauthorize, "The account must enroll in multi-factor authentication. " + signInAgain),
        50078: (.reauthorize, "The account's multi-factor authentication has expired. " + signInAgain),
        53003: (.reauthorize, "Conditional Access blocks this sign-in. An administrator of the customer's tenant must allow it, then sign in again."),
        65001: (.reauthorize, "The OpenFire app has no consent for these permissions. In Entra ID, grant admin consent for OpenFire (API permissions > Grant admin consent), then sign in again."),
        65004: (.reauthorize, "The person signing in declined the permissions. Sign in again and accept them."),
        90094: (.reauthorize, "An administrator must consent to the OpenFire app: open the admin consent URL of the onboarding checklist, then sign in again."),
        50057: (.reauthorize, "The account is disabled in Entra ID. Enable it, or use another mailbox."),
        7000215: (.clientCredential, "Microsoft rejected the client secret: usually the secret's ID was copied instead of its Value. Create a new secret and store its Value."),
        7000222: (.clientCredential, "The client secret has expired. Create a new secret in Entra ID (Certificates & secrets) and add it to the base."),
        700016: (.configuration, "The application (client) id is not known in this tenant. Check the client id, the tenant, and that the OpenFire app is multi-tenant and consented."),
        50011: (.configuration, "The redirect URI is not registered. Add the base's redirect URI exactly (Web platform) to the OpenFire app registration."),
        70004: (.configuration, "The redirect URI is not valid for this app. Add the base's redirect URI exactly (Web platform) to the OpenFire app registration."),
        50194: (.configuration, "The app is single-tenant: use the customer's tenant id instead of 'organizations'."),
        9001023: (.configuration, "This grant needs the customer's tenant id, not 'organizations' or 'common'."),
        70011: (.configuration, "A requested scope is invalid. Check the API permissions of the OpenFire app."),
        700022: (.configuration, "The requested scopes span several resources. This is a TokenVault bug; contact support."),
        54005: (.request, "This authorization code was already used. Start the sign-in again."),
        70008: (.request, "The authorization code expired. Start the sign-in again."),
        501481: (.request, "The PKCE verifier did not match. Start the sign-in again."),
        50196: (.transient, "Microsoft detected a loop of identical requests; backing off."),
        90055: (.transient, "Microsoft is throttling this tenant; backing off."),
    ]
}
