import Crypto
import Foundation

/// The time source; tests inject one they can move.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    /// A clock reading `read`.
    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    /// The system clock.
    public static let system = WallClock { Date() }

    /// The current time, truncated to microseconds (what PostgreSQL stores).
    public func now() -> Date {
        let micros = (read().timeIntervalSince1970 * 1_000_000).rounded(.down)
        return Date(timeIntervalSince1970: micros / 1_000_000)
    }
}

/// The randomness source; the default is OpenSSL's generator.
public struct RandomSource: Sendable {
    private let generate: @Sendable (Int) -> [UInt8]

    /// A source producing bytes with `generate`.
    public init(_ generate: @escaping @Sendable (Int) -> [UInt8]) { self.generate = generate }

    /// OpenSSL's DRBG.
    public static let secure = RandomSource { SecureRandom.bytes($0) }

    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] { generate(count) }

    /// A random (version 4) UUID.
    public func uuid() -> UUID {
        var b = bytes(16)
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

/// Secrets and tokens in memory (defined in Crypto, so that the Entra client below the core can carry them).
public typealias Secret = Crypto.Secret
