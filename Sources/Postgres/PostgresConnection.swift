import CLibPQ
import Foundation

/// A notification received on a LISTENed channel.
public struct PostgresNotification: Sendable, Equatable {
    /// The channel.
    public let channel: String
    /// The payload text.
    public let payload: String
}

/// One libpq connection. It owns its `PGconn` and frees it.
///
/// Not safe for concurrent use: one thread at a time, which the pool guarantees (hence `@unchecked Sendable`,
/// so that a connection can move between threads).
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var preparedStatements: [String: String] = [:]
    private static let maxPreparedStatements = 512

    /// When the connection was last handed out or used.
    public internal(set) var lastUsed = ContinuousClock.now

    /// Connects. `connectionString` is a libpq conninfo string or URI; the session is set to UTC and ISO dates.
    public init(connectionString: String, applicationName: String = "tokenvault", connectTimeoutSeconds: Int = 5) throws(PostgresError) {
        let keys = ["dbname", "application_name", "options", "connect_timeout"]
        let values = [connectionString, applicationName, "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601", String(connectTimeoutSeconds)]
        let connection = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let connection else { throw PostgresError(.connectionFailed, serverMessage: "out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(.connectionFailed, serverMessage: message)
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    deinit { PQfinish(handle) }

    /// True while the connection is usable.
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// A cheap check of an idle connection, without a round trip: an idle socket that became readable carries the
    /// server's goodbye (a terminated backend, a restart), so the connection is dead.
    public var seemsAlive: Bool {
        guard isHealthy else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return true }
        return PQconsumeInput(handle) == 1 && isHealthy && PQisBusy(handle) == 0 && !serverClosed(socket)
    }

    private func serverClosed(_ socket: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    /// True when the session is inside a transaction block.
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs a statement with bound parameters (prepared once per connection and reused).
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresError) -> PostgresRows {
        lastUsed = .now
        let name = try prepare(query)
        let result = withParameters(query.binds) { values, lengths, formats in
            PQexecPrepared(handle, name, Int32(query.binds.count), values, lengths, formats, 0)
        }
        do {
            return try rows(of: check(result))
        } catch {
            if error.sqlState == "26000" || error.sqlState == "0A000" { preparedStatements.removeAll() }
            throw error
        }
    }

    /// Runs one or more statements without parameters (migrations, `BEGIN`, `LISTEN`). Never pass input here.
    public func execute(unsafeSQL sql: String) throws(PostgresError) {
        lastUsed = .now
        let result = PQexec(handle, sql)
        PQclear(try check(result))
    }

    /// Reconnects with the same parameters; true when the new connection is usable.
    @discardableResult
    public func reset() -> Bool {
        preparedStatements.removeAll()
        PQreset(handle)
        return isHealthy
    }

    /// Waits until notifications arrive, the timeout passes, or `wakeDescriptor` becomes readable, and returns the
    /// notifications received (possibly none).
    public func waitForNotifications(timeout: Duration, wakeDescriptor: Int32 = -1) throws(PostgresError) -> [PostgresNotification] {
        var received = drainNotifications()
        if !received.isEmpty { return received }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw PostgresError(.connectionFailed, serverMessage: "no socket") }
        var descriptors = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&descriptors, wakeDescriptor >= 0 ? 2 : 1, milliseconds)
        if ready < 0 && errno != EINTR { throw PostgresError(.connectionFailed, serverMessage: "poll failed") }
        if ready > 0 && descriptors[0].revents != 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw PostgresError(.connectionFailed, serverMessage: String(cString: PQerrorMessage(handle)))
            }
            received = drainNotifications()
        }
        return received
    }

    private func drainNotifications() -> [PostgresNotification] {
        var out: [PostgresNotification] = []
        while let note = PQnotifies(handle) {
            out.append(PostgresNotification(
                channel: String(cString: note.pointee.relname), payload: String(cString: note.pointee.extra)))
            PQfreemem(note)
        }
        return out
    }

    private func prepare(_ query: PostgresQuery) throws(PostgresError) -> String {
        if let name = preparedStatements[query.sql] { return name }
        if preparedStatements.count >= Self.maxPreparedStatements {
            try execute(unsafeSQL: "DEALLOCATE ALL")
            preparedStatements.removeAll()
        }
        let name = "tv\(preparedStatements.count + 1)"
        PQclear(try check(PQprepare(handle, name, query.sql, Int32(query.binds.count), nil)))
        preparedStatements[query.sql] = name
        return name
    }

    /// The one place where libpq result statuses become errors. Returns the result when it succeeded.
    private func check(_ result: OpaquePointer?) throws(PostgresError) -> OpaquePointer {
        guard let result else {
            throw PostgresError(.connectionFailed, serverMessage: String(cString: PQerrorMessage(handle)))
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return result }
        let sqlState = field(result, "C")
        let constraint = field(result, "n")
        // The primary message only: DETAIL can quote a row's values.
        let message = field(result, "M") ?? ""
        PQclear(result)
        if !isHealthy || sqlState == nil {
            throw PostgresError(.connectionFailed, sqlState: sqlState, serverMessage: message.isEmpty ? String(cString: PQerrorMessage(handle)) : message)
        }
        throw PostgresError(.statementFailed, sqlState: sqlState, constraint: constraint, serverMessage: message)
    }

    private func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: value)
    }

    private func rows(of result: OpaquePointer) -> PostgresRows {
        defer { PQclear(result) }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        guard rowCount > 0 else { return PostgresRows(rows: [], affectedRows: affected) }
        let columns = PostgresColumns((0..<columnCount).map { String(cString: PQfname(result, Int32($0))) })
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                if PQgetisnull(result, r, c) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, r, c))
                    let pointer = UnsafeRawPointer(PQgetvalue(result, r, c)!)
                    values.append(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        return PostgresRows(rows: rows, affectedRows: affected)
    }
}

/// Calls `body` with C arrays of values, lengths and formats for `PQexecPrepared`; the memory lives for the call only.
private func withParameters<T>(
    _ binds: [PostgresValue],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> T
) -> T {
    if binds.isEmpty { return body(nil, nil, nil) }
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int32] = []
    var formats: [Int32] = []
    var allocations: [UnsafeMutableRawPointer] = []
    pointers.reserveCapacity(binds.count)
    for bind in binds {
        switch bind {
        case .null:
            pointers.append(nil)
            lengths.append(0)
            formats.append(0)
        case .text(let text):
            let copy = strdup(text)!
            allocations.append(UnsafeMutableRawPointer(copy))
            pointers.append(UnsafePointer(copy))
            lengths.append(0)
            formats.append(0)
        case .bytes(let bytes):
            let copy = malloc(max(bytes.count, 1))!
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
            }
            allocations.append(copy)
            pointers.append(UnsafePointer(copy.assumingMemoryBound(to: CChar.self)))
            lengths.append(Int32(bytes.count))
            formats.append(1)
        }
    }
    defer { for allocation in allocations { free(allocation) } }
    return body(pointers, lengths, formats)
}

private func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return body(pointers)
}
