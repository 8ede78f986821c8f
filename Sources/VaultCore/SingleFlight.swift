import Foundation

/// Lets one caller per key do a piece of work while the others wait for it to finish, so that fifty requests for
/// one expired token make one refresh on this replica (the database lease does the same across replicas).
final class SingleFlight: @unchecked Sendable {
    private let condition = NSCondition()
    private var running: Set<String> = []

    /// Runs `body` if no one runs it for `key`; otherwise waits until the one who does has finished, and returns false.
    /// Either way, when it returns, a run for `key` has completed since the call began (or `body` threw).
    func run(_ key: String, _ body: () throws -> Void) rethrows -> Bool {
        condition.lock()
        if running.contains(key) {
            while running.contains(key) { condition.wait() }
            condition.unlock()
            return false
        }
        running.insert(key)
        condition.unlock()
        defer {
            condition.lock()
            running.remove(key)
            condition.broadcast()
            condition.unlock()
        }
        try body()
        return true
    }
}
