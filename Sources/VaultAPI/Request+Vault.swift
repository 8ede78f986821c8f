import Crypto
import Foundation
import HTTPServer

extension HTTPRequest {
    /// The JSON body decoded strictly (415 unless it is JSON, 400 when malformed, 422 when the shape is wrong).
    func decode<T: Decodable>(_ type: T.Type) throws(HTTPError) -> T {
        let contentType = headers["content-type"]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/json" else {
            throw HTTPError(415, code: "unsupported_media_type", detail: "Send the body as application/json.")
        }
        return try JSONCoding.decodeStrict(type, from: body)
    }

    /// `limit` (1…500, default 50).
    func limit(default value: Int = 50) throws(HTTPError) -> Int {
        guard let text = query("limit") else { return value }
        guard let limit = Int(text), (1...500).contains(limit) else {
            throw HTTPError.badRequest("limit must be an integer from 1 to 500.", code: "invalid_parameter")
        }
        return limit
    }

    /// The decoded `cursor`, if any (cursors are opaque base64url to clients).
    func cursor() throws(HTTPError) -> String? {
        guard let text = query("cursor"), !text.isEmpty else { return nil }
        guard let bytes = Base64URL.decode(text), let value = String(validating: bytes, as: UTF8.self), !value.isEmpty else {
            throw HTTPError.badRequest("cursor is not one this service issued.", code: "invalid_parameter")
        }
        return value
    }

    /// A time query parameter.
    func time(_ name: String) throws(HTTPError) -> Date? {
        guard let text = query(name), !text.isEmpty else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw HTTPError.badRequest("\(name) must be an RFC 3339 time such as 2026-12-01T00:00:00Z.", code: "invalid_parameter")
        }
        return date
    }

    /// The version in `If-Match` (`"3"`), nil when absent; 412 when present but not one of ours.
    func ifMatchVersion() throws(HTTPError) -> Int64? {
        guard let text = headers["if-match"] else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("\""), trimmed.hasSuffix("\""), trimmed.count > 2, let version = Int64(trimmed.dropFirst().dropLast()) else {
            throw HTTPError(412, code: "precondition_failed", detail: "If-Match must be the ETag returned by GET, such as \"3\".")
        }
        return version
    }
}

/// Cursors are opaque to clients.
enum Cursor {
    static func encode(_ value: String?) -> String? { value.map { Base64URL.encode(Array($0.utf8)) } }
}

/// An ETag from a version.
func etag(_ version: Int64) -> String { "\"\(version)\"" }
