import Crypto
import EntraClient
import Foundation
import Testing
@testable import VaultCore

@Suite struct EntraTaxonomyTests {
    @Test("AADSTS codes sort into what to do", arguments: [
        (700082, EntraFailure.Kind.reauthorize), (50173, .reauthorize), (65001, .reauthorize), (50076, .reauthorize), (70043, .reauthorize),
        (7000222, .clientCredential), (7000215, .clientCredential), (700016, .configuration), (50011, .configuration),
        (54005, .request), (501481, .request), (90055, .transient), (50196, .transient),
    ])
    func codes(code: Int, kind: EntraFailure.Kind) {
        let (classified, remediation) = EntraErrorTaxonomy.classify(httpStatus: 400, error: "invalid_grant", code: code)
        #expect(classified == kind)
        #expect(!remediation.isEmpty)
    }

    @Test("without a known code, the error and the status decide; 429 and 5xx are transient with Retry-After")
    func fallbacks() {
        #expect(EntraErrorTaxonomy.classify(httpStatus: 400, error: "invalid_grant", code: 999_999).0 == .reauthorize)
        #expect(EntraErrorTaxonomy.classify(httpStatus: 401, error: "invalid_client", code: nil).0 == .clientCredential)
        #expect(EntraErrorTaxonomy.classify(httpStatus: 503, error: "whatever", code: nil).0 == .transient)
        let throttled = EntraErrorTaxonomy.failure(httpStatus: 429, body: Array(#"{"error":"temporarily_unavailable"}"#.utf8), retryAfterHeader: "17")
        #expect(throttled.kind == .transient && throttled.retryAfter == 17)
        let parsed = EntraErrorTaxonomy.failure(httpStatus: 400, body: Array(#"{"error":"invalid_grant","error_codes":[700082],"error_description":"AADSTS700082: The refresh token has expired.\r\nTrace ID: x"}"#.utf8), retryAfterHeader: nil)
        #expect(parsed.code == 700082 && parsed.codeText == "AADSTS700082")
        #expect(parsed.message == "AADSTS700082: The refresh token has expired.")
        #expect(EntraErrorTaxonomy.failure(httpStatus: 502, body: Array("<html>bad gateway</html>".utf8), retryAfterHeader: nil).kind == .transient)
    }

    @Test("mailbox status transitions follow the rules")
    func statusMachine() {
        #expect(MailboxStatus.pending.after(.authorized) == .active)
        #expect(MailboxStatus.pending.after(.authorizationRefused) == .pending)
        #expect(MailboxStatus.active.after(.authorizationRefused) == .active)
        #expect(MailboxStatus.active.after(.grantRefused) == .needsReauthorization)
        #expect(MailboxStatus.needsReauthorization.after(.authorized) == .active)
        #expect(MailboxStatus.active.after(.registrationRefused) == .failing)
        #expect(MailboxStatus.pending.after(.registrationRefused) == .pending)
        #expect(MailboxStatus.active.after(.transientFailure(consecutive: 1)) == .active)
        #expect(MailboxStatus.active.after(.transientFailure(consecutive: MailboxStatus.failingAfter)) == .failing)
        #expect(MailboxStatus.failing.after(.tokenObtained) == .active)
        #expect(MailboxStatus.needsReauthorization.after(.transientFailure(consecutive: 9)) == .needsReauthorization)
        #expect(MailboxStatus.disabled.after(.authorized) == .disabled)
    }

    @Test("OAuth states carry their base and 256 random bits; PKCE challenges are S256")
    func statesAndPKCE() {
        let base = UUID()
        let (text, hash) = OAuthState.make(base: base, random: .secure)
        #expect(OAuthState.base(of: text) == base)
        #expect(hash == SHA256.hash(text))
        #expect(text.split(separator: ".")[1].count == 43)
        #expect(OAuthState.base(of: "x.y") == nil)
        // RFC 7636 appendix B.
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test("id_token claims are read, and form encoding round-trips")
    func claimsAndForms() {
        let payload = Base64URL.encode(Array(#"{"tid":"T1","oid":"O1","aud":"C1","preferred_username":"Admin@Contoso.example"}"#.utf8))
        let claims = IDTokenClaims.parse(Secret("e30.\(payload).sig"))
        #expect(claims?.tenantID == "t1" && claims?.address == "admin@contoso.example" && claims?.audience == "c1")
        #expect(IDTokenClaims.parse(Secret("not a jwt")) == nil)
        let pairs = [("scope", "openid https://outlook.office.com/SMTP.Send"), ("x", "a&b=c+d é")]
        let encoded = FormEncoding.encode(pairs)
        #expect(encoded == "scope=openid+https%3A%2F%2Foutlook.office.com%2FSMTP.Send&x=a%26b%3Dc%2Bd+%C3%A9")
        #expect(FormEncoding.decode(encoded)?.map { "\($0.0)=\($0.1)" } == pairs.map { "\($0.0)=\($0.1)" })
        #expect(FormEncoding.decode("a=%zz") == nil)
    }
}
