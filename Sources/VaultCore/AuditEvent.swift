import Foundation
import Logging

/// A value in an audit event's details. There is deliberately no case for a `Secret`.
public enum AuditValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case date(Date)
    case strings([String])
    case null

    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// An optional string (null when nil).
    public static func optional(_ value: String?) -> AuditValue { value.map(AuditValue.string) ?? .null }
    /// An optional date (null when nil).
    public static func optional(_ value: Date?) -> AuditValue { value.map(AuditValue.date) ?? .null }
}

/// One recorded action: what happened to which target, with details that never include a secret.
public struct AuditEvent: Sendable {
    /// Dotted action name (`base.created`, `api_key.revoked`, `access_token.disclosed`).
    public let action: String
    /// The kind of target (`base`, `api_key`, `client_credential`, `mailbox`).
    public let targetType: String
    /// The target's identifier.
    public let targetID: String
    /// The base concerned, if any (selects the hash chain).
    public let baseID: UUID?
    /// Details, canonical JSON once written.
    public let details: [String: AuditValue]

    /// An event.
    public init(action: String, targetType: String, targetID: String, baseID: UUID?, details: [String: AuditValue] = [:]) {
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.baseID = baseID
        self.details = details
    }

    /// The details as canonical JSON (sorted keys, RFC 3339 times), the exact text that is stored and hashed.
    var canonicalDetails: String {
        "{" + details.keys.sorted().map { key in JSONString.quote(key) + ":" + JSONText.encode(details[key]!) }.joined(separator: ",") + "}"
    }
}

enum JSONText {
    static func encode(_ value: AuditValue) -> String {
        switch value {
        case .string(let s): return JSONString.quote(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .date(let d): return JSONString.quote(d.formatted(.iso8601))
        case .strings(let items): return "[" + items.map(JSONString.quote).joined(separator: ",") + "]"
        case .null: return "null"
        }
    }
}
