import Foundation

/// A Swift value that can be read from a column in text format.
public protocol PostgresDecodable {
    /// Decodes the column's text (nil for SQL NULL).
    static func decode(postgresText: String?) throws(PostgresError) -> Self
}

/// The rows a statement returned, plus the number of rows it affected.
public struct PostgresRows: Sendable, Sequence {
    /// The rows.
    public let rows: [PostgresRow]
    /// For INSERT/UPDATE/DELETE, how many rows changed.
    public let affectedRows: Int

    /// Iterates the rows.
    public func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }
    /// The number of rows.
    public var count: Int { rows.count }
    /// True when no row came back.
    public var isEmpty: Bool { rows.isEmpty }
    /// The first row, if any.
    public var first: PostgresRow? { rows.first }
}

/// Column names of a result, shared by its rows.
final class PostgresColumns: Sendable {
    let indexes: [String: Int]
    init(_ names: [String]) {
        var indexes: [String: Int] = [:]
        for (i, name) in names.enumerated() where indexes[name] == nil { indexes[name] = i }
        self.indexes = indexes
    }
}

/// One row, read by column name: `let slug: String = try row.decode("slug")`.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    let values: [String?]

    /// Decodes a column; an optional type accepts NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let index = columns.indexes[column] else {
            throw PostgresError(.decodingFailed, serverMessage: "no column \(column)")
        }
        return try T.decode(postgresText: values[index])
    }
}

private func mismatch(_ type: String, _ text: String?) -> PostgresError {
    PostgresError(.decodingFailed, serverMessage: text == nil ? "NULL for non-optional \(type)" : "not a \(type)")
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// NULL becomes nil.
    public static func decode(postgresText: String?) throws(PostgresError) -> Wrapped? {
        guard let text = postgresText else { return nil }
        return try Wrapped.decode(postgresText: text)
    }
}

extension String: PostgresDecodable {
    /// The text as is.
    public static func decode(postgresText: String?) throws(PostgresError) -> String {
        guard let text = postgresText else { throw mismatch("String", nil) }
        return text
    }
}

extension Int: PostgresDecodable {
    /// Decimal text.
    public static func decode(postgresText: String?) throws(PostgresError) -> Int {
        guard let text = postgresText, let value = Int(text) else { throw mismatch("Int", postgresText) }
        return value
    }
}

extension Int64: PostgresDecodable {
    /// Decimal text.
    public static func decode(postgresText: String?) throws(PostgresError) -> Int64 {
        guard let text = postgresText, let value = Int64(text) else { throw mismatch("Int64", postgresText) }
        return value
    }
}

extension Double: PostgresDecodable {
    /// Decimal text.
    public static func decode(postgresText: String?) throws(PostgresError) -> Double {
        guard let text = postgresText, let value = Double(text) else { throw mismatch("Double", postgresText) }
        return value
    }
}

extension Bool: PostgresDecodable {
    /// `t` or `f`.
    public static func decode(postgresText: String?) throws(PostgresError) -> Bool {
        switch postgresText {
        case "t": return true
        case "f": return false
        default: throw mismatch("Bool", postgresText)
        }
    }
}

extension UUID: PostgresDecodable {
    /// Canonical text.
    public static func decode(postgresText: String?) throws(PostgresError) -> UUID {
        guard let text = postgresText, let value = UUID(uuidString: text) else { throw mismatch("UUID", postgresText) }
        return value
    }
}

extension Date: PostgresDecodable {
    /// ISO text of a `timestamptz`.
    public static func decode(postgresText: String?) throws(PostgresError) -> Date {
        guard let text = postgresText, let value = PostgresTimestamp.parse(text) else { throw mismatch("Date", postgresText) }
        return value
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// `bytea` in hex output format (`\x…`).
    public static func decode(postgresText: String?) throws(PostgresError) -> [UInt8] {
        guard let text = postgresText, text.hasPrefix("\\x") else { throw mismatch("bytea", postgresText) }
        let hex = text.utf8.dropFirst(2)
        var out = [UInt8]()
        out.reserveCapacity(hex.count / 2)
        var high: UInt8?
        for c in hex {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: throw mismatch("bytea", "")
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        guard high == nil else { throw mismatch("bytea", "") }
        return out
    }
}
