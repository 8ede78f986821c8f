import Crypto
import Foundation
import Postgres

/// A stored audit event.
public struct AuditRecord: Sendable {
    /// Global identifier (increasing).
    public let id: Int64
    /// The base (nil for events that concern no base).
    public let baseID: UUID?
    /// Position in the base's chain.
    public let sequence: Int64
    /// When.
    public let occurredAt: Date
    /// Who (`api_key:tvk_…`, `cli:root`, `system:scheduler`).
    public let actor: String
    /// What.
    public let action: String
    /// Kind of target.
    public let targetType: String
    /// Target identifier.
    public let targetID: String
    /// The request that caused it.
    public let requestID: String?
    /// Canonical JSON details.
    public let detailsJSON: String
}

/// Filters of an audit listing; nil means any.
public struct AuditFilter: Sendable {
    /// Events of these bases (a slug can have named several bases over time).
    public var baseIDs: [UUID]?
    /// Exact actor.
    public var actor: String?
    /// Exact action.
    public var action: String?
    /// Exact target id.
    public var targetID: String?
    /// From this time, inclusive.
    public var since: Date?
    /// Before this time, exclusive.
    public var until: Date?
    /// Continue after this id (events are listed newest first).
    public var beforeID: Int64?
    /// Page size.
    public var limit: Int

    /// A filter.
    public init(baseIDs: [UUID]? = nil, actor: String? = nil, action: String? = nil, targetID: String? = nil,
                since: Date? = nil, until: Date? = nil, beforeID: Int64? = nil, limit: Int = 100) {
        self.baseIDs = baseIDs
        self.actor = actor
        self.action = action
        self.targetID = targetID
        self.since = since
        self.until = until
        self.beforeID = beforeID
        self.limit = limit
    }
}

/// The outcome of walking every chain.
public struct AuditVerification: Sendable {
    /// True when every link and every chain head checks out.
    public let ok: Bool
    /// Events checked.
    public let checked: Int
    /// The id of the first event whose link is broken (nil when intact, or when only a chain's tail is missing).
    public let firstBrokenID: Int64?
}

/// The append-only, hash-chained audit trail.
///
/// Each base has its own chain (events concerning no base use the nil UUID): a row's `hash` is
/// HMAC-SHA256(audit key, previous hash ‖ canonical row), with the key derived from the system key, which the
/// database never holds. The chain head row is locked for the length of the writing transaction, so links are
/// written in order; the audit row commits or rolls back with the change it records.
public struct AuditLog: Sendable {
    let barrier: Barrier
    static let noBase = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// Writes events in the caller's transaction.
    public func record(_ events: [AuditEvent], by principal: Principal, requestID: String?, at now: Date,
                       on connection: PostgresConnection) throws {
        guard !events.isEmpty else { return }
        let key = try barrier.systemKeys(on: connection).auditChain
        let byChain = Dictionary(grouping: events) { $0.baseID ?? Self.noBase }
        // Chains are locked in a fixed order so that two transactions never wait on each other.
        for chain in byChain.keys.sorted(by: { $0.uuidString < $1.uuidString }) {
            let head = try connection.query("""
                INSERT INTO audit_chain_heads (base_id, last_seq, last_hash) VALUES (\(chain), 0, \(Self.genesis))
                ON CONFLICT (base_id) DO UPDATE SET base_id = EXCLUDED.base_id
                RETURNING last_seq, last_hash
                """).first!
            var sequence: Int64 = try head.decode("last_seq")
            var previous: [UInt8] = try head.decode("last_hash")
            for event in byChain[chain]! {
                sequence += 1
                let details = event.canonicalDetails
                let micros = Self.micros(now)
                let hash = Self.link(key: key, previous: previous, chain: chain, sequence: sequence, micros: micros,
                                     actor: principal.auditName, action: event.action, targetType: event.targetType,
                                     targetID: event.targetID, requestID: requestID, details: details)
                try connection.query("""
                    INSERT INTO audit_events (base_id, seq, occurred_at, actor, action, target_type, target_id,
                                              request_id, details, prev_hash, hash)
                    VALUES (\(chain), \(sequence), \(now), \(principal.auditName), \(event.action), \(event.targetType),
                            \(event.targetID), \(requestID), \(details), \(previous), \(hash))
                    """)
                previous = hash
            }
            try connection.query("""
                UPDATE audit_chain_heads SET last_seq = \(sequence), last_hash = \(previous) WHERE base_id = \(chain)
                """)
        }
    }

    /// Lists events, newest first.
    public func list(_ filter: AuditFilter, on connection: PostgresConnection) throws -> [AuditRecord] {
        let ids = filter.baseIDs ?? []
        let rows = try connection.query("""
            SELECT id, base_id, seq, occurred_at, actor, action, target_type, target_id, request_id, details
            FROM audit_events
            WHERE (\(filter.baseIDs == nil) OR base_id = ANY(\(array: ids)))
              AND (\(filter.actor)::text IS NULL OR actor = \(filter.actor))
              AND (\(filter.action)::text IS NULL OR action = \(filter.action))
              AND (\(filter.targetID)::text IS NULL OR target_id = \(filter.targetID))
              AND (\(filter.since)::timestamptz IS NULL OR occurred_at >= \(filter.since))
              AND (\(filter.until)::timestamptz IS NULL OR occurred_at < \(filter.until))
              AND (\(filter.beforeID)::bigint IS NULL OR id < \(filter.beforeID))
            ORDER BY id DESC
            LIMIT \(filter.limit)
            """)
        return try rows.map { row in
            let base: UUID = try row.decode("base_id")
            return AuditRecord(id: try row.decode("id"), baseID: base == Self.noBase ? nil : base, sequence: try row.decode("seq"),
                               occurredAt: try row.decode("occurred_at"), actor: try row.decode("actor"),
                               action: try row.decode("action"), targetType: try row.decode("target_type"),
                               targetID: try row.decode("target_id"), requestID: try row.decode("request_id"),
                               detailsJSON: try row.decode("details"))
        }
    }

    /// Walks every chain and recomputes every link.
    public func verify(pool: PostgresPool) throws -> AuditVerification {
        let (key, heads): ([UInt8], [(UUID, Int64, [UInt8])]) = try pool.withConnection { connection in
            let key = try barrier.systemKeys(on: connection).auditChain
            let heads = try connection.query("SELECT base_id, last_seq, last_hash FROM audit_chain_heads ORDER BY base_id").map {
                (try $0.decode("base_id", as: UUID.self), try $0.decode("last_seq", as: Int64.self), try $0.decode("last_hash", as: [UInt8].self))
            }
            return (key, heads)
        }
        var checked = 0
        var firstBroken: Int64?
        var intact = true
        for (chain, lastSequence, lastHash) in heads {
            var expectedSequence: Int64 = 1
            var previous = Self.genesis
            var chainBroken = false
            var after: Int64 = 0
            while true {
                let rows = try pool.withConnection { connection in
                    try connection.query("""
                        SELECT id, seq, (extract(epoch FROM occurred_at) * 1000000)::bigint AS micros, actor, action,
                               target_type, target_id, request_id, details, prev_hash, hash
                        FROM audit_events WHERE base_id = \(chain) AND seq > \(after) ORDER BY seq LIMIT 1000
                        """)
                }
                if rows.isEmpty { break }
                for row in rows {
                    let id: Int64 = try row.decode("id")
                    let sequence: Int64 = try row.decode("seq")
                    after = sequence
                    checked += 1
                    if chainBroken { continue }
                    let stored: [UInt8] = try row.decode("hash")
                    let recomputed = Self.link(key: key, previous: previous, chain: chain, sequence: sequence,
                                               micros: try row.decode("micros"), actor: try row.decode("actor"),
                                               action: try row.decode("action"), targetType: try row.decode("target_type"),
                                               targetID: try row.decode("target_id"), requestID: try row.decode("request_id"),
                                               details: try row.decode("details"))
                    let storedPrevious: [UInt8] = try row.decode("prev_hash")
                    let linkHolds = sequence == expectedSequence
                        && constantTimeEquals(storedPrevious, previous)
                        && constantTimeEquals(stored, recomputed)
                    if !linkHolds {
                        chainBroken = true
                        intact = false
                        firstBroken = min(firstBroken ?? id, id)
                        continue
                    }
                    previous = stored
                    expectedSequence += 1
                }
            }
            if !chainBroken && (expectedSequence - 1 != lastSequence || !constantTimeEquals(previous, lastHash)) {
                intact = false  // rows missing at the tail, or the head was moved
            }
        }
        return AuditVerification(ok: intact, checked: checked, firstBrokenID: firstBroken)
    }

    static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
    }

    /// One link: every field length-prefixed so that no two different rows hash the same text.
    static func link(key: [UInt8], previous: [UInt8], chain: UUID, sequence: Int64, micros: Int64, actor: String,
                     action: String, targetType: String, targetID: String, requestID: String?, details: String) -> [UInt8] {
        var message = previous
        for field in [chain.uuidString.lowercased(), String(sequence), String(micros), actor, action, targetType, targetID,
                      requestID ?? "", details] {
            let bytes = Array(field.utf8)
            message += Array("\(bytes.count):".utf8)
            message += bytes
        }
        return HMACSHA256.authenticate(message, key: key)
    }
}
