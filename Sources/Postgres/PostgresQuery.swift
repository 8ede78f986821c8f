import Foundation

/// A value bound to a statement parameter.
public enum PostgresValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A value in PostgreSQL's text input format.
    case text(String)
    /// Raw bytes, sent in binary format (for `bytea`).
    case bytes([UInt8])
}

/// A Swift value that can be bound as a statement parameter.
public protocol PostgresEncodable {
    /// The value as bound.
    var postgresValue: PostgresValue { get }
}

/// A SQL statement with `$n` bind parameters, written by string interpolation:
/// `"SELECT * FROM bases WHERE slug = \(slug)"` binds `slug` as `$1`. Text that must become part of the SQL itself
/// needs the loud `\(unsafeSQL: …)` and must never come from input.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL text with `$n` placeholders.
    public private(set) var sql: String
    /// The bound values, in order.
    public private(set) var binds: [PostgresValue]

    /// A query from a literal without parameters.
    public init(stringLiteral value: String) {
        sql = value
        binds = []
    }

    /// A query built by interpolation.
    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
    }

    /// A query from SQL text that the caller vouches for (migrations, fixed statements).
    public init(unsafeSQL: String, binds: [PostgresValue] = []) {
        sql = unsafeSQL
        self.binds = binds
    }

    /// The SQL with bound values hidden: values may be secrets.
    public var description: String { "\(sql) [\(binds.map { _ in "****" }.joined(separator: ", "))]" }

    /// Builds the SQL text and the bind list.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [PostgresValue] = []

        /// Required by the protocol.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        /// Literal SQL text.
        public mutating func appendLiteral(_ literal: String) { sql += literal }

        /// A bound value.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresValue)
            sql += "$\(binds.count)"
        }

        /// A bound value that may be NULL.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresValue ?? .null)
            sql += "$\(binds.count)"
        }

        /// A `text[]` parameter (use with `= ANY(…)`).
        public mutating func appendInterpolation(array: [String]) {
            binds.append(.text(PostgresArrayLiteral.encode(array)))
            sql += "$\(binds.count)::text[]"
        }

        /// A `uuid[]` parameter (use with `= ANY(…)`).
        public mutating func appendInterpolation(array: [UUID]) {
            binds.append(.text(PostgresArrayLiteral.encode(array.map { $0.uuidString.lowercased() })))
            sql += "$\(binds.count)::uuid[]"
        }

        /// Raw SQL text. Never pass input here.
        public mutating func appendInterpolation(unsafeSQL text: String) { sql += text }
    }
}

/// PostgreSQL's array input syntax.
enum PostgresArrayLiteral {
    static func encode(_ items: [String]) -> String {
        "{" + items.map { item in
            "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }
}

extension String: PostgresEncodable {
    /// Text.
    public var postgresValue: PostgresValue { .text(self) }
}

extension Substring: PostgresEncodable {
    /// Text.
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int: PostgresEncodable {
    /// Decimal text.
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int64: PostgresEncodable {
    /// Decimal text.
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int32: PostgresEncodable {
    /// Decimal text.
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Double: PostgresEncodable {
    /// Decimal text.
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Bool: PostgresEncodable {
    /// `t` or `f`.
    public var postgresValue: PostgresValue { .text(self ? "t" : "f") }
}

extension UUID: PostgresEncodable {
    /// Canonical lower-case text.
    public var postgresValue: PostgresValue { .text(uuidString.lowercased()) }
}

extension Date: PostgresEncodable {
    /// ISO text in UTC with microseconds.
    public var postgresValue: PostgresValue { .text(PostgresTimestamp.format(self)) }
}

extension Array: PostgresEncodable where Element == UInt8 {
    /// `bytea`, in binary format.
    public var postgresValue: PostgresValue { .bytes(self) }
}
