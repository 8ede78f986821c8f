import Foundation

/// The API's JSON conventions: snake_case keys, RFC 3339 UTC times, sorted keys.
public enum JSONCoding {
    /// Encodes a value.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return Array(try encoder.encode(value))
    }

    /// Decodes a request body strictly: an object whose fields have the declared types, and no unknown field.
    /// Throws 400 for text that is not JSON and 422, listing every field at fault, for JSON that breaks the shape.
    public static func decodeStrict<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(HTTPError) -> T {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw HTTPError.badRequest("The body is not valid JSON.", code: "malformed_json")
        }
        guard case .object = value else {
            throw HTTPError.badRequest("The body must be a JSON object.", code: "malformed_json")
        }
        return try decodeStrict(type, from: value)
    }

    /// Decodes a parsed value strictly (see `decodeStrict(_:from:)`).
    public static func decodeStrict<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(HTTPError) -> T {
        let tracker = StrictDecodingTracker()
        let decoded: T
        do {
            decoded = try T(from: StrictDecoder(value: value, codingPath: [], tracker: tracker))
        } catch let error as HTTPError {
            throw error
        } catch let error as DecodingError {
            var problems = tracker.unknownFieldProblems()
            problems.insert(problem(for: error), at: 0)
            throw HTTPError.validation(problems)
        } catch {
            throw HTTPError.validation([HTTPError.FieldProblem(field: "", message: "invalid")])
        }
        let unknown = tracker.unknownFieldProblems()
        if !unknown.isEmpty { throw HTTPError.validation(unknown) }
        return decoded
    }

    private static func problem(for error: DecodingError) -> HTTPError.FieldProblem {
        switch error {
        case .typeMismatch(_, let context):
            return .init(field: path(context.codingPath), message: context.debugDescription)
        case .valueNotFound(_, let context):
            return .init(field: path(context.codingPath), message: "is required")
        case .keyNotFound(let key, let context):
            return .init(field: path(context.codingPath + [key]), message: "is required")
        case .dataCorrupted(let context):
            return .init(field: path(context.codingPath), message: context.debugDescription)
        @unknown default:
            return .init(field: "", message: "invalid")
        }
    }

    /// A coding path as a field path: `client_secrets[0].expires_at`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += SnakeCase.convert(key.stringValue)
            }
        }
        return out
    }
}

/// Foundation's `convertToSnakeCase` rule, so that decoded field names match encoded ones (`clientID` ↔ `client_id`).
public enum SnakeCase {
    /// `redirectURI` → `redirect_uri`, `expiresAt` → `expires_at`.
    public static func convert(_ key: String) -> String {
        let chars = Array(key)
        guard !chars.isEmpty else { return key }
        var words: [String] = []
        var current = ""
        for (i, c) in chars.enumerated() {
            let isUpper = c.isUppercase
            if isUpper && !current.isEmpty {
                let previousIsUpper = chars[i - 1].isUppercase
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if !previousIsUpper || nextIsLower {
                    words.append(current)
                    current = ""
                }
            }
            current.append(c)
        }
        words.append(current)
        return words.map { $0.lowercased() }.joined(separator: "_")
    }
}

/// RFC 3339 times, always written in UTC with a `Z`.
public enum RFC3339 {
    /// `2026-12-04T15:29:23Z` (fractions of a second are dropped).
    public static func format(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    /// Parses `2026-12-04T15:29:23Z`, with optional fraction and any offset; nil otherwise.
    public static func parse(_ text: String) -> Date? {
        guard text.count >= 20, text.count <= 40 else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: false).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return nil
    }
}

/// A parsed JSON value, exactly as sent (no coercion between types).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses from a decoder.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? container.decode(Int64.self) {
            self = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value as it was.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .integer(let i): try container.encode(i)
        case .number(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let items): try container.encode(items)
        case .object(let fields): try container.encode(fields)
        }
    }

    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Records which keys of each object were read, to report the others as unknown.
final class StrictDecodingTracker: @unchecked Sendable {
    private var objects: [String: Set<String>] = [:]
    private var used: [String: Set<String>] = [:]

    func register(path: String, keys: some Sequence<String>) { objects[path, default: []].formUnion(keys) }
    func use(path: String, key: String) { used[path, default: []].insert(key) }

    func unknownFieldProblems() -> [HTTPError.FieldProblem] {
        var problems: [HTTPError.FieldProblem] = []
        for path in objects.keys.sorted() {
            for key in objects[path]!.subtracting(used[path] ?? []).sorted() {
                problems.append(.init(field: path.isEmpty ? key : "\(path).\(key)", message: "is not a known field"))
            }
        }
        return problems
    }
}

struct StrictDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let tracker: StrictDecodingTracker
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = value else {
            throw DecodingError.typeMismatch([String: JSONValue].self,
                                             .init(codingPath: codingPath, debugDescription: "must be an object, not \(value.kindName)"))
        }
        let path = JSONCoding.path(codingPath)
        tracker.register(path: path, keys: fields.keys)
        return KeyedDecodingContainer(StrictKeyedContainer<Key>(fields: fields, codingPath: codingPath, path: path, tracker: tracker))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else {
            throw DecodingError.typeMismatch([JSONValue].self,
                                             .init(codingPath: codingPath, debugDescription: "must be an array, not \(value.kindName)"))
        }
        return StrictUnkeyedContainer(items: items, codingPath: codingPath, tracker: tracker)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { StrictSingleValue(value: value, codingPath: codingPath, tracker: tracker) }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// Decodes a primitive or nested value with no coercion: a number is never a string, and so on.
func decodeStrictValue<T: Decodable>(_ type: T.Type, from value: JSONValue, codingPath: [any CodingKey], tracker: StrictDecodingTracker) throws -> T {
    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "must be \(expected), not \(value.kindName)"))
    }
    if case .null = value {
        throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath, debugDescription: "is required"))
    }
    switch T.self {
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch("a string") }
        return s as! T
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch("a boolean") }
        return b as! T
    case is Int.Type:
        guard case .integer(let i) = value, let v = Int(exactly: i) else { throw mismatch("an integer") }
        return v as! T
    case is Int64.Type:
        guard case .integer(let i) = value else { throw mismatch("an integer") }
        return i as! T
    case is Double.Type:
        switch value {
        case .integer(let i): return Double(i) as! T
        case .number(let d): return d as! T
        default: throw mismatch("a number")
        }
    case is Date.Type:
        guard case .string(let s) = value else { throw mismatch("an RFC 3339 time string") }
        guard let date = RFC3339.parse(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "must be an RFC 3339 time such as 2027-06-30T00:00:00Z"))
        }
        return date as! T
    case is UUID.Type:
        guard case .string(let s) = value else { throw mismatch("a UUID string") }
        guard let uuid = UUID(uuidString: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "must be a UUID"))
        }
        return uuid as! T
    default:
        return try T(from: StrictDecoder(value: value, codingPath: codingPath, tracker: tracker))
    }
}

struct StrictKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: JSONValue]
    let codingPath: [any CodingKey]
    let path: String
    let tracker: StrictDecodingTracker

    var allKeys: [Key] { fields.keys.compactMap { name in Key(stringValue: name) } }

    private func name(_ key: Key) -> String {
        let name = SnakeCase.convert(key.stringValue)
        tracker.use(path: path, key: name)
        return name
    }

    func contains(_ key: Key) -> Bool { fields[name(key)] != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let value = fields[name(key)] else { return true }
        return value == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let value = fields[name(key)] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "is required"))
        }
        return try decodeStrictValue(type, from: value, codingPath: codingPath + [key], tracker: tracker)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = fields[name(key)], value != .null else { return nil }
        return try decodeStrictValue(type, from: value, codingPath: codingPath + [key], tracker: tracker)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try StrictDecoder(value: fields[name(key)] ?? .null, codingPath: codingPath + [key], tracker: tracker).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try StrictDecoder(value: fields[name(key)] ?? .null, codingPath: codingPath + [key], tracker: tracker).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { StrictDecoder(value: .object(fields), codingPath: codingPath, tracker: tracker) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        StrictDecoder(value: fields[name(key)] ?? .null, codingPath: codingPath + [key], tracker: tracker)
    }
}

struct StrictUnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    let tracker: StrictDecodingTracker
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [any CodingKey], tracker: StrictDecodingTracker) {
        self.items = items
        self.codingPath = codingPath
        self.tracker = tracker
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return true }
        if items[currentIndex] == .null { currentIndex += 1; return true }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath, debugDescription: "missing item"))
        }
        let value = try decodeStrictValue(type, from: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], tracker: tracker)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        defer { currentIndex += 1 }
        return try StrictDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], tracker: tracker).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        defer { currentIndex += 1 }
        return try StrictDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], tracker: tracker).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        defer { currentIndex += 1 }
        return StrictDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], tracker: tracker)
    }
}

struct StrictSingleValue: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let tracker: StrictDecodingTracker

    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decodeStrictValue(type, from: value, codingPath: codingPath, tracker: tracker)
    }
}

/// An optional that is encoded as `null` when nil instead of being left out, so that documented fields are always
/// present in responses.
@propertyWrapper
public struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    /// The value.
    public var wrappedValue: Value?

    /// Wraps a value.
    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    /// Encodes the value or null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
