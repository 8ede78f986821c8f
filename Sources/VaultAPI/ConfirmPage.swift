import HTTPServer
import VaultCore

/// The small HTML page shown at `/microsoft_outlook/confirm` when a base's proxy routes the redirect to the vault.
enum ConfirmPage {
    static func success(_ result: SignInResult) -> HTTPResponse {
        page(status: 200, title: "Outlook token validated", subtitle: "Outlook Token Validé", tone: "#0a7d32", body: """
            <p><strong>\(html(result.mailbox.address))</strong> is connected to <strong>\(html(result.base.displayName))</strong>:
            OpenFire can now send mail through Office 365 with this mailbox.</p>
            \(result.mailbox.missingScopes.isEmpty ? "" : "<p>Not granted (optional): \(html(result.mailbox.missingScopes.joined(separator: ", "))).</p>")
            <p>You can close this page and go back to OpenFire.</p>
            """)
    }

    static func failure(_ error: HTTPError) -> HTTPResponse {
        page(status: error.status, title: "The Outlook sign-in did not complete", subtitle: "La connexion Outlook n'a pas abouti", tone: "#b00020", body: """
            <p>\(html(error.detail))</p>
            \(error.extensions["remediation"].map { "<p><strong>What to do:</strong> \(html($0))</p>" } ?? "")
            \(error.extensions["upstream_code"].map { "<p><small>Microsoft code: \(html($0))</small></p>" } ?? "")
            """)
    }

    static func adminConsent(tenant: String?, error: String?) -> HTTPResponse {
        if let error {
            return page(status: 422, title: "Admin consent was not granted", subtitle: "Consentement administrateur refusé", tone: "#b00020",
                        body: "<p>\(html(error))</p><p>Open the admin consent URL again with an administrator account of the customer's tenant.</p>")
        }
        return page(status: 200, title: "Admin consent granted", subtitle: "Consentement administrateur accordé", tone: "#0a7d32",
                    body: "<p>The OpenFire app may now be used in tenant \(html(tenant ?? "?")). Next: sign in with the mailbox from OpenFire.</p>")
    }

    private static func page(status: Int, title: String, subtitle: String, tone: String, body: String) -> HTTPResponse {
        var response = HTTPResponse.text("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(html(title))</title>
            <style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}
            h1{color:\(tone);font-size:1.5em;margin-bottom:.2em}h2{font-weight:normal;color:#555;font-size:1.1em;margin-top:0}</style>
            </head><body><h1>\(html(title))</h1><h2>\(html(subtitle))</h2>\(body)</body></html>
            """, status: status, contentType: "text/html; charset=utf-8")
        response.headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        response.headers.set("X-Frame-Options", "DENY")
        response.headers.set("Referrer-Policy", "no-referrer")
        return response
    }

    static func html(_ text: String) -> String { HTMLText.escape(text) }
}
