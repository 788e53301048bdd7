internal import COpenSSL

/// RSASSA-PKCS1-v1_5 with SHA-256 for JWS `RS256` (RFC 7518 §3.3, §6.3; RFC 8017 §8.2).
enum RS256Family: SigningFamily {
    /// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used".
    static let minimumBits = 2048
    /// Above this a verification costs more than it is worth; no issuer needs it.
    static let maximumBits = 8192

    /// libcrypto's default padding for an "RSA" (not "RSA-PSS") key is PKCS #1 v1.5.
    static var digestName: StaticString? { "SHA256" }

    static func generate(rsaModulus: RSAModulusSize) throws(CryptoError) -> EVPKey {
        // The public exponent stays libcrypto's default, 65537.
        unsafe try EVPKey.generate(type: "RSA") { ctx in
            unsafe EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(rsaModulus.rawValue)) == 1
        }
    }

    static func validate(_ key: EVPKey) throws(CryptoError) {
        // "RSA-PSS" keys (id-RSASSA-PSS) are a different type and are refused here.
        guard key.isA("RSA") else { throw CryptoError(.invalidKey, "not an RSA key") }
        guard key.bits >= minimumBits else { throw CryptoError(.invalidKey, "RSA modulus shorter than 2048 bits") }
        guard key.bits <= maximumBits else { throw CryptoError(.invalidKey, "RSA modulus longer than 8192 bits") }
    }

    /// `n`, `e`, minimal big-endian (RFC 7518 §6.3.1.1, §6.3.1.2).
    static func publicMembers(of key: EVPKey) -> [JSONWebKey.Member] {
        guard let n = key.integerParameter("n"), let e = key.integerParameter("e") else {
            CryptoError.trap("RSA public components unavailable")
        }
        return [.init("n", Base64URL.encode(n)), .init("e", Base64URL.encode(e))]
    }

    static func publicKey(jwk: [String: String]) throws(CryptoError) -> EVPKey {
        guard let n = jwk["n"].flatMap(Base64URL.decode), let e = jwk["e"].flatMap(Base64URL.decode),
            n.first.map({ $0 != 0 }) == true, e.first.map({ $0 != 0 }) == true
        else {
            throw CryptoError(.invalidKey, "RSA JWK members n and e must be minimal base64url-encoded integers")
        }
        // Refused before libcrypto sees it, so a huge modulus costs nothing.
        guard n.count * 8 <= maximumBits, e.count <= 8 else {
            throw CryptoError(.invalidKey, "RSA JWK modulus or exponent too long")
        }
        return try EVPKey.publicKey(type: "RSA", [("n", .bigEndianInteger(n)), ("e", .bigEndianInteger(e))])
    }

    static func joseSignature(library: [UInt8]) -> [UInt8] { library }

    /// RFC 8017 §8.2.2 step 1: the signature is exactly as long as the modulus.
    static func librarySignature(jose: [UInt8], key: EVPKey) -> [UInt8]? {
        jose.count == key.maximumSignatureSize ? jose : nil
    }
}
