import Crypto
import Testing

@Suite struct CryptoTests {
    private func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }

    @Test("AES-256-GCM matches test case 16 of the GCM specification (with additional data)")
    func gcmSpecificationTestCase16() throws {
        let key = bytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = bytes("cafebabefacedbaddecaf888")
        let plaintext = bytes("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let aad = bytes("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try AESGCM.seal(plaintext, key: key, nonce: nonce, additionalData: aad)
        #expect(Hex.encode(sealed.ciphertext) == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
        #expect(Hex.encode(sealed.tag) == "76fc6ece0f4e1768cddf8853bb2d551b")
        #expect(try AESGCM.open(sealed.ciphertext, tag: sealed.tag, key: key, nonce: nonce, additionalData: aad) == plaintext)
    }

    @Test("AES-256-GCM matches a NIST CAVP GCMVS vector")
    func nistVector() throws {
        let key = bytes("83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a")
        let nonce = bytes("0b459724904e010a46901cf3")
        let aad = bytes("794a14ccd178c8ebfd1379dc704c5e208f9d8424")
        let sealed = try AESGCM.seal(bytes("33d893a2114ce06fc15d55e454cf90c3"), key: key, nonce: nonce, additionalData: aad)
        #expect(Hex.encode(sealed.ciphertext) == "cc66bee423e3fcd4c0865715e9586696")
        #expect(Hex.encode(sealed.tag) == "0fb291bd3dba94a1dfd8b286cfb97ac5")
    }

    @Test("AES-256-GCM matches test cases 13 and 14 of the GCM specification (zero key and nonce)")
    func gcmSpecificationZeroKey() throws {
        let key = [UInt8](repeating: 0, count: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let empty = try AESGCM.seal([], key: key, nonce: nonce, additionalData: [])
        #expect(empty.ciphertext.isEmpty)
        #expect(Hex.encode(empty.tag) == "530f8afbc74536b9a963b4f1c4cb738b")
        let block = try AESGCM.seal([UInt8](repeating: 0, count: 16), key: key, nonce: nonce, additionalData: [])
        #expect(Hex.encode(block.ciphertext) == "cea7403d4d606b6e074ec5d3baf39d18")
        #expect(Hex.encode(block.tag) == "d0d1c8a799996bf0265b98b5d48ab919")
    }

    @Test("a tampered ciphertext, tag or additional data fails to open")
    func tamperingIsDetected() throws {
        let key = SecureRandom.bytes(32)
        let nonce = SecureRandom.bytes(12)
        let sealed = try AESGCM.seal(Array("refresh token".utf8), key: key, nonce: nonce, additionalData: Array("row 1".utf8))
        var flipped = sealed.ciphertext
        flipped[0] ^= 1
        #expect(throws: CryptoError.self) { try AESGCM.open(flipped, tag: sealed.tag, key: key, nonce: nonce, additionalData: Array("row 1".utf8)) }
        var badTag = sealed.tag
        badTag[15] ^= 0x80
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed.ciphertext, tag: badTag, key: key, nonce: nonce, additionalData: Array("row 1".utf8)) }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed.ciphertext, tag: sealed.tag, key: key, nonce: nonce, additionalData: Array("row 2".utf8)) }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed.ciphertext, tag: sealed.tag, key: SecureRandom.bytes(32), nonce: nonce, additionalData: Array("row 1".utf8)) }
    }

    @Test("wrong key and nonce lengths are refused")
    func lengthsAreChecked() {
        #expect(throws: CryptoError(.invalidLength, "key must be 32 bytes")) { try AESGCM.seal([1], key: [1, 2], nonce: SecureRandom.bytes(12), additionalData: []) }
        #expect(throws: CryptoError(.invalidLength, "nonce must be 12 bytes")) { try AESGCM.seal([1], key: SecureRandom.bytes(32), nonce: [1], additionalData: []) }
    }

    @Test("SHA-256 and HMAC-SHA256 match FIPS 180 and RFC 4231")
    func digests() {
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 4231 test case 2.
        #expect(Hex.encode(HMACSHA256.authenticate("what do ya want for nothing?", key: Array("Jefe".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // RFC 4231 test case 1.
        #expect(Hex.encode(HMACSHA256.authenticate("Hi There", key: [UInt8](repeating: 0x0b, count: 20)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test("base64url round-trips without padding, and constant-time comparison compares")
    func encodings() {
        let data: [UInt8] = [0xfb, 0xff, 0xfe, 0x00, 0x10]
        #expect(Base64URL.encode(data) == "-__-ABA")
        #expect(Base64URL.decode("-__-ABA") == data)
        #expect(Base64URL.decode("not base64!") == nil)
        #expect(Base64URL.encode(Array("abc".utf8)) == "YWJj")
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
    }
}
