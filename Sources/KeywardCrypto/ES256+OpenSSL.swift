internal import COpenSSL

/// ECDSA on P-256 with SHA-256 for JWS `ES256` (RFC 7518 §3.4, §6.2).
enum ES256Family: SigningFamily {
    /// The order n of the P-256 base point (SEC 2 §2.4.2, FIPS 186-4 §D.1.2.3), big-endian.
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    static var digestName: StaticString? { "SHA256" }

    static func generate(rsaModulus: RSAModulusSize) throws(CryptoError) -> EVPKey {
        unsafe try EVPKey.generate(type: "EC") { ctx in
            unsafe EVP_PKEY_CTX_set_group_name(ctx, OpenSSLParameters.cString("P-256")) == 1
        }
    }

    static func validate(_ key: EVPKey) throws(CryptoError) {
        // libcrypto names P-256 by its X9.62 name; explicit curve parameters have no name and are refused.
        guard key.isA("EC"), key.stringParameter("group") == "prime256v1" else {
            throw CryptoError(.invalidKey, "not a P-256 key")
        }
    }

    /// `crv`, `x`, `y`, each coordinate the full 32 bytes (RFC 7518 §6.2.1.2, §6.2.1.3).
    static func publicMembers(of key: EVPKey) -> [JSONWebKey.Member] {
        guard let x = key.integerParameter("qx", width: 32), let y = key.integerParameter("qy", width: 32) else {
            CryptoError.trap("P-256 public point unavailable")
        }
        return [.init("crv", "P-256"), .init("x", Base64URL.encode(x)), .init("y", Base64URL.encode(y))]
    }

    static func publicKey(jwk: [String: String]) throws(CryptoError) -> EVPKey {
        guard let x = jwk["x"].flatMap(Base64URL.decode), x.count == 32,
            let y = jwk["y"].flatMap(Base64URL.decode), y.count == 32
        else {
            throw CryptoError(.invalidKey, "P-256 JWK members x and y must each be 32 base64url-encoded bytes")
        }
        // SEC 1 §2.3.3 uncompressed point; libcrypto refuses one that is not on the curve.
        return try EVPKey.publicKey(type: "EC", [("group", .utf8("P-256")), ("pub", .octets([0x04] + x + y))])
    }

    /// DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3) to R || S, each left-padded to 32 bytes.
    static func joseSignature(library der: [UInt8]) -> [UInt8] {
        unsafe der.withNonNullBytes { base, count in
            var cursor: UnsafePointer<UInt8>? = unsafe base
            guard let sig = unsafe d2i_ECDSA_SIG(nil, &cursor, count) else { CryptoError.trap("libcrypto's ECDSA signature did not parse") }
            defer { unsafe ECDSA_SIG_free(sig) }
            var r: OpaquePointer?
            var s: OpaquePointer?
            unsafe ECDSA_SIG_get0(sig, &r, &s)
            var out = [UInt8](repeating: 0, count: 64)
            let ok = unsafe out.withUnsafeMutableBufferPointer { buffer in
                unsafe BN_bn2binpad(r, buffer.baseAddress, 32) == 32 && BN_bn2binpad(s, buffer.baseAddress! + 32, 32) == 32
            }
            guard ok else { CryptoError.trap("ECDSA signature component out of range") }
            return out
        }
    }

    /// R || S to DER, refusing any other length and r or s outside [1, n - 1] (RFC 7518 §3.4,
    /// FIPS 186-4 §6.4.2 step 1), so a DER signature, a 65-byte one or a zero r never reaches libcrypto.
    static func librarySignature(jose: [UInt8], key: EVPKey) -> [UInt8]? {
        guard jose.count == 64 else { return nil }
        let r = jose[0..<32]
        let s = jose[32..<64]
        // Big-endian byte strings of equal length compare like the numbers they hold.
        func inRange(_ v: ArraySlice<UInt8>) -> Bool {
            v.contains { $0 != 0 } && v.lexicographicallyPrecedes(order)
        }
        guard inRange(r), inRange(s) else { return nil }
        guard let sig = unsafe ECDSA_SIG_new() else { CryptoError.trap("ECDSA_SIG_new failed") }
        defer { unsafe ECDSA_SIG_free(sig) }
        let rn = unsafe Array(r).withNonNullBytes { unsafe BN_bin2bn($0, Int32($1), nil) }
        let sn = unsafe Array(s).withNonNullBytes { unsafe BN_bin2bn($0, Int32($1), nil) }
        guard let rn = unsafe rn, let sn = unsafe sn, unsafe ECDSA_SIG_set0(sig, rn, sn) == 1 else { CryptoError.trap("ECDSA_SIG_set0 failed") }
        let length = unsafe i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { CryptoError.trap("i2d_ECDSA_SIG failed") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = unsafe der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return unsafe i2d_ECDSA_SIG(sig, &cursor)
        }
        guard written == length else { CryptoError.trap("i2d_ECDSA_SIG changed length") }
        return der
    }
}
