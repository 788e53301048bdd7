internal import COpenSSL

/// An owned `EVP_PKEY`: the one place a key handle is created, used and freed.
///
/// `PrivateSigningKey` and `PublicVerificationKey` each hold one. The handle is never changed
/// after creation, and libcrypto allows concurrent use of an unmodified `EVP_PKEY` as long as each
/// operation has its own context (openssl-threads(7)): every sign and verify here makes a fresh
/// `EVP_MD_CTX`. That is what makes the `@unchecked Sendable` sound, so worker threads can share
/// one signing key.
@safe final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(taking pointer: OpaquePointer) {
        unsafe self.pointer = unsafe pointer
    }

    deinit { unsafe EVP_PKEY_free(pointer) }

    // MARK: - Creation

    /// A new key of libcrypto key type `type` ("ED25519", "EC", "RSA"), `configure` setting the
    /// key-generation parameters on the context.
    static func generate(type: StaticString, configure: (OpaquePointer) -> Bool) throws(CryptoError) -> EVPKey {
        guard let ctx = unsafe EVP_PKEY_CTX_new_from_name(nil, OpenSSLParameters.cString(type), nil) else {
            CryptoError.trap("EVP_PKEY_CTX_new_from_name(\(type)) failed")
        }
        defer { unsafe EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard unsafe EVP_PKEY_keygen_init(ctx) == 1, unsafe configure(ctx), unsafe EVP_PKEY_generate(ctx, &key) == 1, let key = unsafe key else {
            throw CryptoError(.libraryFailure, "key generation failed")
        }
        return unsafe EVPKey(taking: key)
    }

    /// A public key of type `type` from its `OSSL_PARAM` components (`EVP_PKEY_fromdata`).
    static func publicKey(type: StaticString, _ components: [(StaticString, OpenSSLParameters.Value)]) throws(CryptoError) -> EVPKey {
        guard let ctx = unsafe EVP_PKEY_CTX_new_from_name(nil, OpenSSLParameters.cString(type), nil) else {
            CryptoError.trap("EVP_PKEY_CTX_new_from_name(\(type)) failed")
        }
        defer { unsafe EVP_PKEY_CTX_free(ctx) }
        // EVP_PKEY_PUBLIC_KEY, spelled out: Swift does not import that macro of macros.
        let selection = OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS | OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS | OSSL_KEYMGMT_SELECT_PUBLIC_KEY
        var key: OpaquePointer?
        let ok = unsafe OpenSSLParameters.with(components) { params in
            unsafe EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &key, Int32(selection), params) == 1
        }
        guard ok, let key = unsafe key else { throw CryptoError(.invalidKey, "libcrypto refused the public key components") }
        return unsafe EVPKey(taking: key)
    }

    /// A raw public key of type `type` (RFC 8037 §2: the 32-byte Ed25519 point as it is).
    static func rawPublicKey(type: StaticString, _ bytes: [UInt8]) throws(CryptoError) -> EVPKey {
        let key = unsafe bytes.withNonNullBytes { base, count in
            unsafe EVP_PKEY_new_raw_public_key_ex(nil, OpenSSLParameters.cString(type), nil, base, count)
        }
        guard let key = unsafe key else { throw CryptoError(.invalidKey, "libcrypto refused the raw public key") }
        return unsafe EVPKey(taking: key)
    }

    // MARK: - Encodings

    /// The private key as DER PKCS#8 PrivateKeyInfo (RFC 5208 §5, RFC 5958 §2).
    func pkcs8() -> [UInt8] {
        guard let info = unsafe EVP_PKEY2PKCS8(pointer) else { CryptoError.trap("EVP_PKEY2PKCS8 failed") }
        defer { unsafe PKCS8_PRIV_KEY_INFO_free(info) }
        return unsafe Self.encode { unsafe i2d_PKCS8_PRIV_KEY_INFO(info, $0) }
    }

    /// A private key from DER PKCS#8 PrivateKeyInfo; the whole input must be that one structure.
    static func fromPKCS8(_ der: [UInt8]) throws(CryptoError) -> EVPKey {
        let key: OpaquePointer? = unsafe der.withNonNullBytes { base, count in
            var cursor: UnsafePointer<UInt8>? = unsafe base
            guard let info = unsafe d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, count) else { return nil }
            defer { unsafe PKCS8_PRIV_KEY_INFO_free(info) }
            guard unsafe cursor == base + count else { return nil }
            return unsafe EVP_PKCS82PKEY(info)
        }
        guard let key = unsafe key else { throw CryptoError(.invalidEncoding, "not a DER PKCS#8 private key") }
        return unsafe EVPKey(taking: key)
    }

    /// The public key as DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
    func subjectPublicKeyInfo() -> [UInt8] {
        unsafe Self.encode { unsafe i2d_PUBKEY(pointer, $0) }
    }

    /// A public key from DER SubjectPublicKeyInfo; the whole input must be that one structure.
    static func fromSubjectPublicKeyInfo(_ der: [UInt8]) throws(CryptoError) -> EVPKey {
        let key: OpaquePointer? = unsafe der.withNonNullBytes { base, count in
            var cursor: UnsafePointer<UInt8>? = unsafe base
            guard let key = unsafe d2i_PUBKEY(nil, &cursor, count) else { return nil }
            guard unsafe cursor == base + count else {
                unsafe EVP_PKEY_free(key)
                return nil
            }
            return unsafe key
        }
        guard let key = unsafe key else { throw CryptoError(.invalidEncoding, "not a DER SubjectPublicKeyInfo") }
        return unsafe EVPKey(taking: key)
    }

    /// A new handle holding only the public half of this key.
    func publicOnly() -> EVPKey {
        do {
            return try Self.fromSubjectPublicKeyInfo(subjectPublicKeyInfo())
        } catch {
            CryptoError.trap("re-reading our own public key failed")
        }
    }

    /// Runs an `i2d_*` encoder twice: once for the length, once into a buffer of that length.
    private static func encode(_ i2d: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8] {
        let length = i2d(nil)
        guard length > 0 else { CryptoError.trap("DER encoding failed") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = unsafe out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return unsafe i2d(&cursor)
        }
        guard written == length else { CryptoError.trap("DER encoding changed length") }
        return out
    }

    // MARK: - Facts

    /// True when libcrypto's key type is `name` ("ED25519", "EC", "RSA").
    func isA(_ name: StaticString) -> Bool {
        unsafe EVP_PKEY_is_a(pointer, OpenSSLParameters.cString(name)) == 1
    }

    /// The key size in bits (the modulus for RSA).
    var bits: Int { unsafe Int(EVP_PKEY_get_bits(pointer)) }

    /// The largest signature in bytes (exactly the modulus length for RSA).
    var maximumSignatureSize: Int { unsafe Int(EVP_PKEY_get_size(pointer)) }

    /// A UTF-8 string parameter such as the EC group name, nil when absent.
    func stringParameter(_ name: StaticString) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        let ok = unsafe buffer.withUnsafeMutableBufferPointer {
            unsafe EVP_PKEY_get_utf8_string_param(pointer, OpenSSLParameters.cString(name), $0.baseAddress, $0.count, &length)
        }
        guard ok == 1 else {
            CryptoError.clearQueue()
            return nil
        }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An integer parameter big-endian, left-padded to `width` bytes or minimal when `width` is nil.
    func integerParameter(_ name: StaticString, width: Int? = nil) -> [UInt8]? {
        var number: OpaquePointer?
        guard unsafe EVP_PKEY_get_bn_param(pointer, OpenSSLParameters.cString(name), &number) == 1, let number = unsafe number else {
            CryptoError.clearQueue()
            return nil
        }
        defer { unsafe BN_clear_free(number) }
        let length = unsafe width ?? (Int(BN_num_bits(number)) + 7) / 8
        var out = [UInt8](repeating: 0, count: length)
        let written = unsafe out.withUnsafeMutableBufferPointer { unsafe BN_bn2binpad(number, $0.baseAddress, Int32(length)) }
        return written == length ? out : nil
    }

    /// The raw public key (Ed25519's 32 bytes), nil for key types without one.
    func rawPublicKey() -> [UInt8]? {
        var length = 0
        guard unsafe EVP_PKEY_get_raw_public_key(pointer, nil, &length) == 1 else {
            CryptoError.clearQueue()
            return nil
        }
        var out = [UInt8](repeating: 0, count: length)
        let ok = unsafe out.withUnsafeMutableBufferPointer { unsafe EVP_PKEY_get_raw_public_key(pointer, $0.baseAddress, &length) }
        return ok == 1 && length == out.count ? out : nil
    }

    /// True when the public key passes libcrypto's full check: for EC the point is on the curve and
    /// in the subgroup, for RSA the modulus is odd and composite and the exponent odd and > 2^16.
    func publicKeyIsValid() -> Bool {
        guard let ctx = unsafe EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else { CryptoError.trap("EVP_PKEY_CTX_new_from_pkey failed") }
        defer { unsafe EVP_PKEY_CTX_free(ctx) }
        guard unsafe EVP_PKEY_public_check(ctx) == 1 else {
            CryptoError.clearQueue()
            return false
        }
        return true
    }

    // MARK: - Signatures

    /// libcrypto's signature of `message`, hashing with `digest` first unless it is nil (EdDSA).
    /// A failure on a validated key is a broken invariant.
    func sign(_ message: [UInt8], digest: StaticString?) -> [UInt8] {
        guard let md = unsafe EVP_MD_CTX_new() else { CryptoError.trap("EVP_MD_CTX_new failed") }
        defer { unsafe EVP_MD_CTX_free(md) }
        let name = unsafe digest.map(OpenSSLParameters.cString)
        guard unsafe EVP_DigestSignInit_ex(md, nil, name, nil, nil, pointer, nil) == 1 else { CryptoError.trap("EVP_DigestSignInit_ex failed") }
        return unsafe message.withNonNullBytes { base, count in
            var length = 0
            guard unsafe EVP_DigestSign(md, nil, &length, base, count) == 1 else { CryptoError.trap("EVP_DigestSign (length) failed") }
            var out = [UInt8](repeating: 0, count: length)
            let ok = unsafe out.withUnsafeMutableBufferPointer { unsafe EVP_DigestSign(md, $0.baseAddress, &length, base, count) }
            guard ok == 1 else { CryptoError.trap("EVP_DigestSign failed") }
            // ECDSA's DER signature is often shorter than the maximum asked for.
            out.removeLast(out.count - length)
            return out
        }
    }

    /// True when `signature` (in libcrypto's form) is a valid signature of `message`.
    /// SHA-256, fetched from the default provider once (the only digest the families use).
    nonisolated(unsafe) static let sha256: OpaquePointer? = unsafe EVP_MD_fetch(nil, "SHA256", nil)

    func verify(_ signature: [UInt8], message: [UInt8], digest: StaticString?) -> Bool {
        guard let md = unsafe EVP_MD_CTX_new() else { CryptoError.trap("EVP_MD_CTX_new failed") }
        defer { unsafe EVP_MD_CTX_free(md) }
        // The digest is fetched once: a fetch by name per verification is a provider lookup.
        let fetched = unsafe digest == nil ? nil : Self.sha256
        guard unsafe EVP_DigestVerifyInit(md, nil, fetched, nil, pointer) == 1 else { CryptoError.trap("EVP_DigestVerifyInit failed") }
        let rc = unsafe signature.withNonNullBytes { sig, sigCount in
            unsafe message.withNonNullBytes { base, count in unsafe EVP_DigestVerify(md, sig, sigCount, base, count) }
        }
        guard rc == 1 else {
            CryptoError.clearQueue()
            return false
        }
        return true
    }
}
