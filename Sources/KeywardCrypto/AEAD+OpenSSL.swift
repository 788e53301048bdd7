internal import COpenSSL

/// AES-256-GCM authenticated encryption (NIST SP 800-38D; RFC 5116 §5.2 `AEAD_AES_256_GCM`).
///
/// Seals secrets at rest under the master key: service keys, JWT secrets, HMAC secrets and the
/// PKCS#8 of signing keys. Each seal draws a fresh random 96-bit nonce from RAND_bytes and returns
/// `nonce || ciphertext || tag` (12 + n + 16 bytes), so a box carries everything open needs but the
/// key and the associated data. Bind each box to where it lives through the associated data (for
/// instance the credential id), so a box copied to another row fails to open.
/// With random nonces one key should seal at most 2^32 boxes (SP 800-38D §8.3).
public struct AEAD: Sendable, CustomStringConvertible {
    /// Key length in bytes (AES-256).
    public static let keyLength = 32
    /// Nonce length in bytes (RFC 5116 §5.2 N_MIN = N_MAX = 12).
    public static let nonceLength = 12
    /// Tag length in bytes (the full 128 bits).
    public static let tagLength = 16

    private let key: [UInt8]

    /// A sealer under `key`, which must be exactly 32 bytes.
    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count == Self.keyLength else { throw CryptoError(.invalidParameter, "AES-256-GCM key must be 32 bytes") }
        self.key = key
    }

    /// `nonce || ciphertext || tag` of `plaintext`, authenticating `associatedData` too.
    /// Plaintext and associated data must each be under 2^31 - 1 bytes (libcrypto's `int` lengths);
    /// longer input is a programming error and traps.
    public func seal(_ plaintext: [UInt8], associatedData: [UInt8] = []) -> [UInt8] {
        seal(plaintext, nonce: SecureRandom.bytes(Self.nonceLength), associatedData: associatedData)
    }

    /// Seals under a given nonce: for known-answer tests only; a repeated nonce breaks GCM.
    func seal(_ plaintext: [UInt8], nonce: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        precondition(nonce.count == Self.nonceLength, "GCM nonce must be 12 bytes")
        precondition(plaintext.count < Int(Int32.max) && associatedData.count < Int(Int32.max), "AEAD input too long")
        var box = nonce + [UInt8](repeating: 0, count: plaintext.count + Self.tagLength)
        let ok = unsafe withContext(encrypt: true, nonce: nonce, associatedData: associatedData) { ctx in
            unsafe box.withUnsafeMutableBufferPointer { out in
                let body = unsafe out.baseAddress! + Self.nonceLength
                var length: Int32 = 0
                var final: Int32 = 0
                return unsafe plaintext.withNonNullBytes { p, count in
                    unsafe (count == 0 || EVP_EncryptUpdate(ctx, body, &length, p, Int32(count)) == 1)
                        && EVP_EncryptFinal_ex(ctx, body + Int(length), &final) == 1
                        && Int(length + final) == count
                        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength), body + count) == 1
                }
            }
        }
        guard ok else { CryptoError.trap("AES-256-GCM seal failed") }
        return box
    }

    /// The plaintext of `box`, or ``CryptoError/Code/authenticationFailed`` when the box, its nonce,
    /// its tag or `associatedData` is not exactly what was sealed (RFC 5116 §2.2). Nothing of the
    /// plaintext is released before the tag is checked.
    public func open(_ box: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        guard box.count >= Self.nonceLength + Self.tagLength, box.count < Int(Int32.max),
            associatedData.count < Int(Int32.max)
        else {
            throw CryptoError(.authenticationFailed, "AEAD box is too short or too long")
        }
        let nonce = Array(box[0..<Self.nonceLength])
        let ciphertext = Array(box[Self.nonceLength..<(box.count - Self.tagLength)])
        var tag = Array(box[(box.count - Self.tagLength)...])
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        let ok = unsafe withContext(encrypt: false, nonce: nonce, associatedData: associatedData) { ctx in
            var length: Int32 = 0
            var final: Int32 = 0
            let decrypted =
                unsafe ciphertext.isEmpty
                || plaintext.withUnsafeMutableBufferPointer { out in
                    unsafe ciphertext.withNonNullBytes { c, count in unsafe EVP_DecryptUpdate(ctx, out.baseAddress, &length, c, Int32(count)) == 1 }
                }
            let tagged = unsafe tag.withUnsafeMutableBytes {
                unsafe EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength), $0.baseAddress) == 1
            }
            // GCM writes nothing here: the final call only checks the tag.
            var scratch = [UInt8](repeating: 0, count: Self.tagLength)
            let authentic = unsafe scratch.withUnsafeMutableBufferPointer { unsafe EVP_DecryptFinal_ex(ctx, $0.baseAddress, &final) == 1 }
            return decrypted && Int(length) == ciphertext.count && tagged && authentic && final == 0
        }
        guard ok else {
            unsafe plaintext.withUnsafeMutableBytes { unsafe OPENSSL_cleanse($0.baseAddress, $0.count) }
            throw CryptoError(.authenticationFailed, "AEAD box failed authentication")
        }
        return plaintext
    }

    /// Runs `body` with an AES-256-GCM context keyed, given `nonce`, and fed `associatedData`.
    private func withContext(
        encrypt: Bool, nonce: [UInt8], associatedData: [UInt8], _ body: (OpaquePointer) -> Bool
    ) -> Bool {
        guard let ctx = unsafe EVP_CIPHER_CTX_new() else { CryptoError.trap("EVP_CIPHER_CTX_new failed") }
        // Freeing the context also cleanses its key schedule.
        defer { unsafe EVP_CIPHER_CTX_free(ctx) }
        let keyed = unsafe key.withNonNullBytes { k, _ in
            unsafe nonce.withNonNullBytes { n, _ in
                unsafe encrypt
                    ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, k, n) == 1
                    : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, k, n) == 1
            }
        }
        guard keyed else { return false }
        if !associatedData.isEmpty {
            var length: Int32 = 0
            let fed = unsafe associatedData.withNonNullBytes { a, count in
                unsafe encrypt
                    ? EVP_EncryptUpdate(ctx, nil, &length, a, Int32(count)) == 1
                    : EVP_DecryptUpdate(ctx, nil, &length, a, Int32(count)) == 1
            }
            guard fed else { return false }
        }
        return unsafe body(ctx)
    }

    /// Never shows the key.
    public var description: String { "AEAD(AES-256-GCM, key redacted)" }
}
