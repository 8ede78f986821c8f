import Foundation
import Synchronization

/// Where log lines go. Implementations must be safe to call from many threads.
public protocol LogSink: Sendable {
    /// Writes one complete line (without the newline).
    func write(_ line: String)
}

/// Writes to standard error, one line at a time.
public struct StandardErrorSink: LogSink {
    /// A sink on stderr.
    public init() {}

    /// Writes the line and a newline in one `write(2)`.
    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(10)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

/// Keeps lines in memory (tests read them back to check that no secret was logged).
public final class MemorySink: LogSink {
    private let lines = Mutex<[String]>([])

    /// An empty sink.
    public init() {}

    /// Keeps the line.
    public func write(_ line: String) { lines.withLock { $0.append(line) } }

    /// Everything written so far.
    public var contents: [String] { lines.withLock { $0 } }
}

/// Sends each line to several sinks.
public struct FanOutSink: LogSink {
    private let sinks: [any LogSink]
    /// Combines sinks.
    public init(_ sinks: [any LogSink]) { self.sinks = sinks }
    /// Writes to each.
    public func write(_ line: String) { for sink in sinks { sink.write(line) } }
}

/// A structured logger: each entry is one JSON object on one line, with dotted metadata keys
/// (`request.id`, `base.slug`). Values are strings; never pass a secret (secret types print `<redacted>`).
public struct Logger: Sendable {
    /// Severity, lowest first.
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case debug, info, notice, warning, error

        /// The name used in the output and in `TOKENVAULT_LOG_LEVEL`.
        public var name: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            }
        }

        /// Parses a level name.
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = level
        }

        /// Orders by severity.
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The component that logs (`http`, `scheduler`, …).
    public let label: String
    /// Entries below this level are dropped.
    public var level: Level
    /// Metadata added to every entry.
    public private(set) var metadata: [String: String]
    private let sink: any LogSink

    /// A logger writing to `sink`.
    public init(label: String, level: Level = .info, sink: any LogSink = StandardErrorSink(), metadata: [String: String] = [:]) {
        self.label = label
        self.level = level
        self.sink = sink
        self.metadata = metadata
    }

    /// A copy with another label, same sink and level.
    public func named(_ label: String) -> Logger {
        Logger(label: label, level: level, sink: sink, metadata: metadata)
    }

    /// Logs at debug level.
    public func debug(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) { log(.debug, message(), metadata) }
    /// Logs at info level.
    public func info(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) { log(.info, message(), metadata) }
    /// Logs at notice level.
    public func notice(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) { log(.notice, message(), metadata) }
    /// Logs at warning level.
    public func warning(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) { log(.warning, message(), metadata) }
    /// Logs at error level.
    public func error(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) { log(.error, message(), metadata) }

    /// Logs an entry if its level passes.
    public func log(_ entryLevel: Level, _ message: @autoclosure () -> String, _ extra: [String: String] = [:]) {
        guard entryLevel >= level else { return }
        var fields = metadata
        fields.merge(extra) { _, new in new }
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(entryLevel.name)\",\"logger\":"
        line += JSONString.quote(label)
        line += ",\"msg\":"
        line += JSONString.quote(message())
        for key in fields.keys.sorted() {
            line += "," + JSONString.quote(key) + ":" + JSONString.quote(fields[key]!)
        }
        line += "}"
        sink.write(line)
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted))
    }
}

/// JSON string quoting for log lines.
public enum JSONString {
    /// The text as a JSON string literal, quotes included.
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
