/// A secret or a token in memory. It prints as `<redacted>` everywhere (description, debug description, dumps,
/// string interpolation), so it cannot reach a log line or an error text by accident. Only `revealed()` gives the
/// value, and the code that calls it is the code that must be reviewed.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// Wraps a value.
    public init(_ value: String) { self.value = value }

    /// The value, for the few places that must use it (sealing, sending to Microsoft, the token answer).
    public func revealed() -> String { value }

    /// The value's UTF-8 bytes.
    public var revealedBytes: [UInt8] { Array(value.utf8) }

    /// The number of characters (safe to show).
    public var count: Int { value.count }

    /// `<redacted>`.
    public var description: String { "<redacted>" }
    /// `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// Nothing to see.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
