internal import COpenSSL

/// Ed25519 for JWS `EdDSA` (RFC 8037, RFC 8032 §5.1).
enum EdDSAFamily: SigningFamily {
    /// Ed25519 hashes the message itself (PureEdDSA): no digest is named.
    static var digestName: StaticString? { nil }

    static func generate(rsaModulus: RSAModulusSize) throws(CryptoError) -> EVPKey {
        unsafe try EVPKey.generate(type: "ED25519") { _ in true }
    }

    static func validate(_ key: EVPKey) throws(CryptoError) {
        guard key.isA("ED25519") else { throw CryptoError(.invalidKey, "not an Ed25519 key") }
    }

    /// `crv`, `x` (RFC 8037 §2).
    static func publicMembers(of key: EVPKey) -> [JSONWebKey.Member] {
        guard let x = key.rawPublicKey(), x.count == 32 else { CryptoError.trap("Ed25519 public key unavailable") }
        return [.init("crv", "Ed25519"), .init("x", Base64URL.encode(x))]
    }

    static func publicKey(jwk: [String: String]) throws(CryptoError) -> EVPKey {
        guard let x = jwk["x"].flatMap(Base64URL.decode), x.count == 32 else {
            throw CryptoError(.invalidKey, "Ed25519 JWK member x is not 32 base64url-encoded bytes")
        }
        return try EVPKey.rawPublicKey(type: "ED25519", x)
    }

    static func joseSignature(library: [UInt8]) -> [UInt8] { library }

    /// RFC 8032 §5.1.7: a signature is exactly 64 bytes.
    static func librarySignature(jose: [UInt8], key: EVPKey) -> [UInt8]? {
        jose.count == 64 ? jose : nil
    }
}
