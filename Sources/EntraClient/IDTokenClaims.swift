import Crypto
import Foundation

/// The claims of an id_token that the vault uses.
///
/// The id_token comes straight from the token endpoint over TLS, so its signature is not checked (OpenID Connect
/// Core §3.1.3.7 allows TLS server validation in place of it); its audience is.
public struct IDTokenClaims: Sendable, Equatable {
    /// `tid`: the tenant of the account.
    public let tenantID: String
    /// `oid`: the account's object id.
    public let objectID: String
    /// `preferred_username` (usually the UPN).
    public let preferredUsername: String?
    /// `email`.
    public let email: String?
    /// `aud`: the client id it was issued to.
    public let audience: String

    /// The account's address: the e-mail if present, else the preferred username (lower-case).
    public var address: String? { (email ?? preferredUsername)?.lowercased() }

    /// Reads the payload of a JWT; nil when it is not one or lacks `tid`, `oid` or `aud`.
    public static func parse(_ token: Secret) -> IDTokenClaims? {
        let parts = token.revealed().split(separator: ".")
        guard parts.count >= 2, let payload = Base64URL.decode(String(parts[1])),
              let json = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any],
              let tid = json["tid"] as? String, let oid = json["oid"] as? String, let aud = json["aud"] as? String else { return nil }
        return IDTokenClaims(tenantID: tid.lowercased(), objectID: oid.lowercased(), preferredUsername: json["preferred_username"] as? String,
                             email: json["email"] as? String, audience: aud.lowercased())
    }
}
