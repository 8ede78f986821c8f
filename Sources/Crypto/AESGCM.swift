import COpenSSL

/// AES-256-GCM through OpenSSL's EVP interface: 256-bit keys, 96-bit nonces, 128-bit tags.
public enum AESGCM {
    /// Key length in bytes.
    public static let keyLength = 32
    /// Nonce length in bytes.
    public static let nonceLength = 12
    /// Tag length in bytes.
    public static let tagLength = 16

    /// Encrypts `plaintext` and authenticates it together with `additionalData`.
    /// - Returns: the ciphertext (same length as the plaintext) and the 16-byte tag.
    public static func seal(
        _ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], additionalData: [UInt8]
    ) throws(CryptoError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        try checkLengths(key: key, nonce: nonce)
        let context = try CipherContext()
        try check(EVP_EncryptInit_ex(context.handle, EVP_aes_256_gcm(), nil, nil, nil), "init")
        try check(tv_gcm_set_ivlen(context.handle, Int32(nonceLength)), "iv length")
        try check(EVP_EncryptInit_ex(context.handle, nil, nil, key, nonce), "key")
        var length: Int32 = 0
        if !additionalData.isEmpty {
            try check(EVP_EncryptUpdate(context.handle, nil, &length, additionalData, Int32(additionalData.count)), "aad")
        }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var written = 0
        if !plaintext.isEmpty {
            try check(EVP_EncryptUpdate(context.handle, &ciphertext, &length, plaintext, Int32(plaintext.count)), "update")
            written = Int(length)
        }
        try ciphertext.withUnsafeMutableBufferPointer { buffer throws(CryptoError) in
            try check(EVP_EncryptFinal_ex(context.handle, buffer.baseAddress! + written, &length), "final")
        }
        written += Int(length)
        ciphertext.removeSubrange(written...)
        var tag = [UInt8](repeating: 0, count: tagLength)
        try check(tv_gcm_get_tag(context.handle, &tag, Int32(tagLength)), "tag")
        return (ciphertext, tag)
    }

    /// Decrypts and verifies; throws `authenticationFailed` when anything was altered or the key or data differ.
    public static func open(
        _ ciphertext: [UInt8], tag: [UInt8], key: [UInt8], nonce: [UInt8], additionalData: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        try checkLengths(key: key, nonce: nonce)
        guard tag.count == tagLength else { throw CryptoError(.invalidLength, "tag must be \(tagLength) bytes") }
        let context = try CipherContext()
        try check(EVP_DecryptInit_ex(context.handle, EVP_aes_256_gcm(), nil, nil, nil), "init")
        try check(tv_gcm_set_ivlen(context.handle, Int32(nonceLength)), "iv length")
        try check(EVP_DecryptInit_ex(context.handle, nil, nil, key, nonce), "key")
        var length: Int32 = 0
        if !additionalData.isEmpty {
            try check(EVP_DecryptUpdate(context.handle, nil, &length, additionalData, Int32(additionalData.count)), "aad")
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var written = 0
        if !ciphertext.isEmpty {
            try check(EVP_DecryptUpdate(context.handle, &plaintext, &length, ciphertext, Int32(ciphertext.count)), "update")
            written = Int(length)
        }
        try check(tv_gcm_set_tag(context.handle, tag, Int32(tagLength)), "tag")
        let verified = plaintext.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context.handle, buffer.baseAddress! + written, &length)
        }
        guard verified == 1 else {
            ERR_clear_error()
            plaintext.wipe()
            throw CryptoError(.authenticationFailed, "the ciphertext did not authenticate")
        }
        written += Int(length)
        plaintext.removeSubrange(written...)
        return plaintext
    }

    private static func checkLengths(key: [UInt8], nonce: [UInt8]) throws(CryptoError) {
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "key must be \(keyLength) bytes") }
        guard nonce.count == nonceLength else { throw CryptoError(.invalidLength, "nonce must be \(nonceLength) bytes") }
    }
}

/// Owns one `EVP_CIPHER_CTX` and frees it.
private final class CipherContext {
    let handle: OpaquePointer

    init() throws(CryptoError) {
        guard let handle = EVP_CIPHER_CTX_new() else { throw CryptoError(.libraryFailure, "cannot allocate a cipher context") }
        self.handle = handle
    }

    deinit { EVP_CIPHER_CTX_free(handle) }
}

/// The one place where OpenSSL's return codes become errors (1 is success for the EVP calls used here).
func check(_ status: Int32, _ step: String) throws(CryptoError) {
    guard status == 1 else {
        ERR_clear_error()
        throw CryptoError(.libraryFailure, "OpenSSL failed at \(step)")
    }
}

extension Array where Element == UInt8 {
    /// Overwrites the bytes with zeros (best effort: copies made earlier are not reached).
    public mutating func wipe() {
        withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
        }
    }
}
