import COpenSSL

/// SHA-256 digests.
public enum SHA256 {
    /// Digest length in bytes.
    public static let length = 32

    /// The SHA-256 digest of `data`.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var outLength: UInt32 = 0
        let status = EVP_Digest(data, data.count, &out, &outLength, EVP_sha256(), nil)
        precondition(status == 1 && outLength == UInt32(length), "SHA-256 failed")
        return out
    }

    /// The SHA-256 digest of a string's UTF-8 bytes.
    public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }
}

/// HMAC-SHA256 message authentication codes.
public enum HMACSHA256 {
    /// The HMAC-SHA256 of `message` under `key`.
    public static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256.length)
        var outLength: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(key.count), message, message.count, &out, &outLength)
        }
        precondition(result != nil && outLength == UInt32(SHA256.length), "HMAC-SHA256 failed")
        return out
    }

    /// The HMAC-SHA256 of a string's UTF-8 bytes.
    public static func authenticate(_ message: String, key: [UInt8]) -> [UInt8] {
        authenticate(Array(message.utf8), key: key)
    }

    /// A subkey for one purpose, derived from a uniformly random key (the expand step of HKDF, RFC 5869, one block).
    public static func deriveKey(from key: [UInt8], purpose: String) -> [UInt8] {
        authenticate(Array(purpose.utf8) + [1], key: key)
    }
}

/// Comparison whose time does not depend on where the inputs differ.
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    if lhs.isEmpty { return true }
    return CRYPTO_memcmp(lhs, rhs, lhs.count) == 0
}

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    /// `count` random bytes. Stops the process if the generator fails, as continuing would be unsafe.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 {
            precondition(RAND_bytes(&out, Int32(count)) == 1, "the random number generator failed")
        }
        return out
    }
}
