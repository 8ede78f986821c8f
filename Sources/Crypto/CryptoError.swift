/// The one error shape of the Crypto module. Its text never carries key material or plaintext.
public struct CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// A ciphertext failed authentication: wrong key, wrong additional data, or tampering.
        case authenticationFailed = "authentication_failed"
        /// A key, nonce or tag had the wrong length.
        case invalidLength = "invalid_length"
        /// The library reported an internal failure.
        case libraryFailure = "library_failure"
        /// Input could not be decoded (base64, hex, envelope format).
        case malformedInput = "malformed_input"
    }

    /// What went wrong.
    public let code: Code
    /// A short human text, free of secrets.
    public let message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The text for logs and errors.
    public var description: String { "crypto error \(code.rawValue): \(message)" }
}
