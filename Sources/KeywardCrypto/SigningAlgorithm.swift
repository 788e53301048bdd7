/// A JWS signature algorithm Keyward issues and verifies tokens with (RFC 7518 §3.1, RFC 8037 §3.1).
///
/// A key belongs to exactly one algorithm: a verifier takes the algorithm from its key, never from
/// a token header (RFC 8725 §3.1), and a JWK whose `alg` names another algorithm is refused.
/// The raw values are the JOSE `alg` names.
public enum SigningAlgorithm: String, Sendable, CaseIterable {
    /// Ed25519 (RFC 8037 §3.1, RFC 8032 §5.1): 32-byte keys, 64-byte deterministic signatures.
    /// The default for new keys: small, fast and without a nonce to get wrong.
    case edDSA = "EdDSA"
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4): the signature is R || S, 64 bytes, not DER.
    case es256 = "ES256"
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), modulus of at least 2048 bits.
    case rs256 = "RS256"

    /// The JWK `kty` of this algorithm's keys (RFC 7518 §6.1, RFC 8037 §2).
    public var keyType: String {
        switch self {
        case .edDSA: "OKP"
        case .es256: "EC"
        case .rs256: "RSA"
        }
    }

    /// The JWK `crv` of this algorithm's keys, nil for RSA.
    public var curve: String? {
        switch self {
        case .edDSA: "Ed25519"
        case .es256: "P-256"
        case .rs256: nil
        }
    }

    /// The JWK members a public key of this algorithm requires, in lexicographic order, which is
    /// also the order of the RFC 7638 §3.2 thumbprint input.
    public var requiredPublicMembers: [String] {
        switch self {
        case .edDSA: ["crv", "kty", "x"]
        case .es256: ["crv", "kty", "x", "y"]
        case .rs256: ["e", "kty", "n"]
        }
    }

    var family: any SigningFamily.Type {
        switch self {
        case .edDSA: EdDSAFamily.self
        case .es256: ES256Family.self
        case .rs256: RS256Family.self
        }
    }
}

/// The size of a new RSA key. RS256 keys below 2048 bits are refused everywhere (RFC 7518 §3.3).
public enum RSAModulusSize: Int, Sendable, CaseIterable {
    /// 2048 bits, the default: as strong as RFC 7518 requires and the fastest to verify.
    case bits2048 = 2048
    /// 3072 bits.
    case bits3072 = 3072
    /// 4096 bits.
    case bits4096 = 4096
}

/// The operations one algorithm family needs, the same set for each, so a new family is a new file
/// of the same shape (`EdDSA+OpenSSL.swift`, `ES256+OpenSSL.swift`, `RS256+OpenSSL.swift`).
protocol SigningFamily {
    /// The digest libcrypto applies before signing, nil for EdDSA, which hashes internally.
    static var digestName: StaticString? { get }
    /// A new private key.
    static func generate(rsaModulus: RSAModulusSize) throws(CryptoError) -> EVPKey
    /// Throws unless `key` (private or public) is of this family and acceptable: right type and
    /// curve, modulus in bounds.
    static func validate(_ key: EVPKey) throws(CryptoError)
    /// The family's public JWK members (everything but `kty`), in the order they are written.
    static func publicMembers(of key: EVPKey) -> [JSONWebKey.Member]
    /// A public key from the family's JWK members; `kty`, `crv` and private members are already checked.
    static func publicKey(jwk: [String: String]) throws(CryptoError) -> EVPKey
    /// The JOSE signature from what libcrypto produced.
    static func joseSignature(library: [UInt8]) -> [UInt8]
    /// What libcrypto verifies from a JOSE signature; nil when its shape is wrong, so the signature
    /// is refused before any arithmetic.
    static func librarySignature(jose: [UInt8], key: EVPKey) -> [UInt8]?
}
