import Crypto
import Foundation
import Postgres
import Synchronization

/// An API key as stored: never the key itself, only its prefix and keyed hash.
public struct APIKeyRecord: Sendable, Equatable {
    /// Identifier.
    public let id: UUID
    /// The key's public prefix (`tvk_ab12cd34ef`), to recognise it in logs and the audit trail.
    public let prefix: String
    /// Role.
    public let role: Role
    /// The base an instance key is bound to.
    public let baseID: UUID?
    /// A name for people.
    public let name: String
    /// Created.
    public let createdAt: Date
    /// Created by (audit name).
    public let createdBy: String
    /// Last used (updated at most once a minute).
    public let lastUsedAt: Date?
    /// Expiry, if any.
    public let expiresAt: Date?
    /// Revoked at.
    public let revokedAt: Date?
    /// Revoked by.
    public let revokedBy: String?

    static let columns = "id, prefix, role, base_id, name, created_at, created_by, last_used_at, expires_at, revoked_at, revoked_by"

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        prefix = try row.decode("prefix")
        role = Role(rawValue: try row.decode("role")) ?? .auditor
        baseID = try row.decode("base_id")
        name = try row.decode("name")
        createdAt = try row.decode("created_at")
        createdBy = try row.decode("created_by")
        lastUsedAt = try row.decode("last_used_at")
        expiresAt = try row.decode("expires_at")
        revokedAt = try row.decode("revoked_at")
        revokedBy = try row.decode("revoked_by")
    }
}

/// A key just created: the only moment its text exists outside the caller.
public struct IssuedAPIKey: Sendable {
    /// The record.
    public let record: APIKeyRecord
    /// The key, to show once.
    public let key: Secret
}

/// The format of API keys: `tvk_` + 10-character prefix + `_` + 43 characters (256 random bits, base64url).
public enum APIKeyFormat {
    static let marker = "tvk_"
    private static let prefixAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    /// A new key and its prefix.
    static func make(random: RandomSource) -> (prefix: String, key: Secret) {
        let prefix = marker + String(random.bytes(10).map { prefixAlphabet[Int($0) % prefixAlphabet.count] })
        return (prefix, Secret(prefix + "_" + Base64URL.encode(random.bytes(32))))
    }

    /// The prefix of a well-formed key, else nil (malformed keys are rejected before any database work).
    public static func prefix(of text: String) -> String? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 4 + 10 + 1 + 43, text.hasPrefix(marker), utf8[14] == UInt8(ascii: "_") else { return nil }
        let isPrefixChar: (UInt8) -> Bool = { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
        let isKeyChar: (UInt8) -> Bool = { isPrefixChar($0) || ($0 >= 65 && $0 <= 90) || $0 == 45 || $0 == 95 }
        guard utf8[4..<14].allSatisfy(isPrefixChar), utf8[15...].allSatisfy(isKeyChar) else { return nil }
        return String(decoding: utf8[0..<14], as: UTF8.self)
    }
}

/// Verified keys by prefix, so that a request does not need a database round trip to authenticate.
/// Entries expire after a minute; revocations and offboarding drop them at once on every replica (LISTEN/NOTIFY).
final class APIKeyCache: Sendable {
    struct Entry: Sendable {
        let hash: [UInt8]
        let record: APIKeyRecord
        let loadedAt: ContinuousClock.Instant
        var lastUsedWrite: ContinuousClock.Instant?
    }

    private let entries = Mutex<[String: Entry]>([:])
    static let lifetime: Duration = .seconds(60)

    func get(_ prefix: String) -> Entry? {
        entries.withLock { entries in
            guard let entry = entries[prefix] else { return nil }
            if ContinuousClock.now - entry.loadedAt > Self.lifetime {
                entries[prefix] = nil
                return nil
            }
            return entry
        }
    }

    func put(_ prefix: String, _ entry: Entry) { entries.withLock { $0[prefix] = entry } }
    func remove(prefix: String) { _ = entries.withLock { $0.removeValue(forKey: prefix) } }
    func removeAll() { entries.withLock { $0.removeAll() } }

    /// True when `last_used_at` should be written now (at most once a minute per key and replica).
    func shouldWriteLastUsed(_ prefix: String) -> Bool {
        entries.withLock { entries in
            guard var entry = entries[prefix] else { return false }
            if let last = entry.lastUsedWrite, ContinuousClock.now - last < .seconds(60) { return false }
            entry.lastUsedWrite = .now
            entries[prefix] = entry
            return true
        }
    }
}
