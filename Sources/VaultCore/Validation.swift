import Foundation

/// Collects input problems, so that a request learns about all of them at once.
public struct InputCheck {
    /// Problems found so far.
    public private(set) var problems: [VaultError.FieldProblem] = []

    /// An empty check.
    public init() {}

    /// Adds a problem when `message` is not nil.
    public mutating func check(_ field: String, _ message: String?) {
        if let message { problems.append(.init(field, message)) }
    }

    /// Throws `invalidInput` when any problem was found.
    public func throwIfInvalid() throws(VaultError) {
        if !problems.isEmpty { throw VaultError.invalid(problems) }
    }
}

/// The rules that input must follow. Each returns nil when the value is fine, else what is wrong.
public enum Validation {
    /// A base slug: the DNS label of `https://<slug>.openfire.fr`: 1-63 of `a-z 0-9 -`, not starting or ending with `-`.
    public static func slug(_ text: String) -> String? {
        let valid = (1...63).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
            && !text.hasPrefix("-") && !text.hasSuffix("-")
        return valid ? nil : "must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
    }

    /// A human name: 1-200 characters without control characters.
    public static func name(_ text: String, max: Int = 200) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "must not be empty" }
        if text.count > max { return "must be at most \(max) characters" }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { return "must not contain control characters" }
        return nil
    }

    /// A base URL, `https://host[:port]`, nothing after the host. Returns the normalised URL or the problem.
    public static func baseURL(_ text: String) -> Result<String, FieldMessage> {
        guard text.count <= 255, let components = URLComponents(string: text), components.scheme?.lowercased() == "https",
              let host = components.host?.lowercased(), !host.isEmpty, isHostName(host),
              components.user == nil, components.password == nil, components.query == nil, components.fragment == nil,
              components.path.isEmpty || components.path == "/" else {
            return .failure(FieldMessage("must be an https URL with only a host, such as https://mabase.openfire.fr"))
        }
        let port = components.port.map { ":\($0)" } ?? ""
        return .success("https://\(host)\(port)")
    }

    /// An Entra tenant: `organizations`, a tenant id (GUID) or a verified domain. Returns the normalised value.
    public static func tenant(_ text: String) -> Result<String, FieldMessage> {
        let lower = text.lowercased()
        if lower == "common" || lower == "consumers" {
            return .failure(FieldMessage("must be 'organizations' or the customer's tenant id; '\(lower)' would admit personal Microsoft accounts, which cannot send through Exchange Online"))
        }
        if lower == "organizations" { return .success(lower) }
        if let uuid = UUID(uuidString: lower) { return .success(uuid.uuidString.lowercased()) }
        if lower.contains("."), isHostName(lower) { return .success(lower) }
        return .failure(FieldMessage("must be 'organizations', a tenant id (GUID) or a domain such as contoso.onmicrosoft.com"))
    }

    /// An Entra application (client) id: a GUID.
    public static func clientID(_ text: String) -> Result<String, FieldMessage> {
        guard let uuid = UUID(uuidString: text) else {
            return .failure(FieldMessage("must be the application (client) id shown in Entra ID, a GUID such as 00000000-0000-0000-0000-000000000000"))
        }
        return .success(uuid.uuidString.lowercased())
    }

    /// A client secret's value.
    public static func clientSecret(_ secret: Secret) -> String? {
        let value = secret.revealed()
        if UUID(uuidString: value) != nil {
            return "looks like the secret's ID, not its value: copy the 'Value' column shown once when the secret is created (AADSTS7000215 otherwise)"
        }
        if value.count < 16 || value.count > 1024 { return "must be the secret's value (16 to 1024 characters)" }
        if value.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7f }) {
            return "must be printable ASCII without spaces"
        }
        return nil
    }

    /// A client secret's expiry: in the future, and within Entra's 24-month limit (plus a day of slack).
    public static func secretExpiry(_ date: Date, now: Date) -> String? {
        if date <= now { return "must be in the future: this secret has expired; create a new one in Entra ID" }
        if date > now.addingTimeInterval(731 * 86_400) { return "is more than 24 months away, which Entra ID does not allow; check the date" }
        return nil
    }

    /// An e-mail address (the simple form Exchange accepts: local@domain).
    public static func emailAddress(_ text: String) -> Result<String, FieldMessage> {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard text.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64,
              parts[0].allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "<" && $0 != ">" && $0 != "\"" && $0 != "," }),
              isHostName(parts[1].lowercased()), parts[1].contains(".") else {
            return .failure(FieldMessage("must be an e-mail address such as contact@example.com"))
        }
        return .success("\(parts[0])@\(parts[1].lowercased())")
    }

    static func isHostName(_ host: String) -> Bool {
        guard (1...253).contains(host.count) else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        }
    }
}

/// A validation message (an `Error` so that it can travel in a `Result`).
public struct FieldMessage: Error, Sendable {
    /// The message.
    public let text: String
    /// A message.
    public init(_ text: String) { self.text = text }
}

extension InputCheck {
    /// Checks a normalising rule and returns the normalised value (or the input, when it failed).
    public mutating func normalized(_ field: String, _ result: Result<String, FieldMessage>, original: String) -> String {
        switch result {
        case .success(let value): return value
        case .failure(let message):
            check(field, message.text)
            return original
        }
    }
}
