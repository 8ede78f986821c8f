import Foundation

/// Listens on channels over a dedicated connection, on a thread of its own, and reconnects when the connection breaks.
///
/// After a reconnect, notifications sent in the meantime are lost: `onReconnect` lets caches drop everything.
public final class PostgresListener: @unchecked Sendable {
    private let connectionString: String
    private let channels: [String]
    private let onNotification: @Sendable (PostgresNotification) -> Void
    private let onReconnect: @Sendable () -> Void
    private let state = NSCondition()
    private var isStopped = false
    private var isRunning = false
    private var isListening = false
    private var wakePipe: [Int32] = [-1, -1]

    /// A listener; call `start()`. Channel names must be plain identifiers.
    public init(connectionString: String, channels: [String],
                onNotification: @escaping @Sendable (PostgresNotification) -> Void,
                onReconnect: @escaping @Sendable () -> Void = {}) {
        precondition(channels.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } })
        self.connectionString = connectionString
        self.channels = channels
        self.onNotification = onNotification
        self.onReconnect = onReconnect
    }

    /// Starts the listening thread.
    public func start() {
        state.lock()
        defer { state.unlock() }
        guard !isRunning else { return }
        isRunning = true
        _ = pipe(&wakePipe)
        let thread = Thread { [self] in run() }
        thread.name = "pg-listener"
        thread.start()
    }

    /// True once the listener has subscribed (useful to tests).
    public var hasSubscribed: Bool {
        state.lock()
        defer { state.unlock() }
        return isListening
    }

    /// Stops the thread (within about a second).
    public func stop() {
        state.lock()
        isStopped = true
        state.broadcast()
        if wakePipe[1] >= 0 { _ = write(wakePipe[1], "x", 1) }
        while isRunning { state.wait() }
        for descriptor in wakePipe where descriptor >= 0 { close(descriptor) }
        wakePipe = [-1, -1]
        state.unlock()
    }

    private var shouldStop: Bool {
        state.lock()
        defer { state.unlock() }
        return isStopped
    }

    private func run() {
        var backoff = 0.1
        var firstConnection = true
        while !shouldStop {
            do {
                let connection = try PostgresConnection(connectionString: connectionString, applicationName: "tokenvault-listener")
                for channel in channels { try connection.execute(unsafeSQL: "LISTEN \(channel)") }
                state.lock(); isListening = true; state.unlock()
                if !firstConnection { onReconnect() }
                firstConnection = false
                backoff = 0.1
                while !shouldStop {
                    for note in try connection.waitForNotifications(timeout: .seconds(5), wakeDescriptor: wakePipe[0]) { onNotification(note) }
                    if !connection.isHealthy { break }
                }
            } catch {
                state.lock(); isListening = false; state.unlock()
                firstConnection = false
                state.lock()
                if !isStopped { _ = state.wait(until: Date().addingTimeInterval(backoff)) }
                state.unlock()
                backoff = min(backoff * 2, 5)
            }
        }
        state.lock()
        isListening = false
        isRunning = false
        state.broadcast()
        state.unlock()
    }
}
