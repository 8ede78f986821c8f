import Foundation

/// Lets one caller per key do a piece of work while the others wait for it, so that fifty requests for one expired
/// token make one refresh on this replica (the database lease does the same across replicas). The waiters share the
/// outcome: when the work failed, they get the same error instead of each trying again (no herd against a throttled
/// Microsoft).
final class SingleFlight: @unchecked Sendable {
    private final class Flight {
        var isDone = false
        var failure: (any Error)?
    }

    private let condition = NSCondition()
    private var flights: [String: Flight] = [:]

    /// Runs `body` unless someone already runs it for `key`, in which case this waits for that run to end and
    /// rethrows its error, if any.
    func run(_ key: String, _ body: () throws -> Void) throws {
        condition.lock()
        if let flight = flights[key] {
            while !flight.isDone { condition.wait() }
            condition.unlock()
            if let failure = flight.failure { throw failure }
            return
        }
        let flight = Flight()
        flights[key] = flight
        condition.unlock()
        var failure: (any Error)?
        do { try body() } catch { failure = error }
        condition.lock()
        flight.failure = failure
        flight.isDone = true
        flights[key] = nil
        condition.broadcast()
        condition.unlock()
        if let failure { throw failure }
    }
}
