/// A JWS signature algorithm Keyward issues and verifies tokens with (RFC 7518 §3.1, RFC 8037 §3.1).
///
/// A key belongs to exactly one algorithm: a verifier takes the algorithm from its key, never from
/// a token header (RFC 8725 §3.1), and a JWK whose `alg` names another algorithm is refused.
/// The raw values are the JOSE `alg` names.
///
/// Ed25519 keys come under two names, which differ only in the `alg` they write: `Ed25519`, the
/// fully specified name of RFC 9864, and `EdDSA`, the polymorphic name of RFC 8037 that RFC 9864
/// deprecates but PyJWT and authlib still need. A key of either name verifies tokens under
/// both, since the key fixes the curve (``accepts(_:)``).
public enum SigningAlgorithm: String, Sendable, CaseIterable {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4): the signature is R || S, 64 bytes, not DER.
    /// The default for new keys: the one asymmetric algorithm every common JOSE library verifies
    /// with its default settings (joserfc refuses EdDSA and Ed25519 unless told otherwise; PyJWT
    /// and authlib do not know `Ed25519`).
    case es256 = "ES256"
    /// Ed25519 under its RFC 9864 name (RFC 8032 §5.1): 32-byte keys, 64-byte deterministic signatures.
    case ed25519 = "Ed25519"
    /// Ed25519 under the RFC 8037 §3.1 name `EdDSA`: the same key and signatures as ``ed25519``.
    case edDSA = "EdDSA"
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), modulus of at least 2048 bits.
    case rs256 = "RS256"

    /// The algorithm of keys made when none is named: ``es256``.
    public static let standard = SigningAlgorithm.es256

    /// True when a token whose header says `alg` may be verified with a key of this algorithm:
    /// its own name, or for an Ed25519 key either of the curve's two names (RFC 9864 §2.2: a
    /// token issued as `EdDSA` before a key was renamed still verifies until it expires).
    public func accepts(_ alg: String) -> Bool {
        switch self {
        case .ed25519, .edDSA: alg == "Ed25519" || alg == "EdDSA"
        case .es256, .rs256: alg == rawValue
        }
    }

    /// The JWK `kty` of this algorithm's keys (RFC 7518 §6.1, RFC 8037 §2).
    public var keyType: String {
        switch self {
        case .ed25519, .edDSA: "OKP"
        case .es256: "EC"
        case .rs256: "RSA"
        }
    }

    /// The JWK `crv` of this algorithm's keys, nil for RSA.
    public var curve: String? {
        switch self {
        case .ed25519, .edDSA: "Ed25519"
        case .es256: "P-256"
        case .rs256: nil
        }
    }

    /// The JWK members a public key of this algorithm requires, in lexicographic order, which is
    /// also the order of the RFC 7638 §3.2 thumbprint input.
    public var requiredPublicMembers: [String] {
        switch self {
        case .ed25519, .edDSA: ["crv", "kty", "x"]
        case .es256: ["crv", "kty", "x", "y"]
        case .rs256: ["e", "kty", "n"]
        }
    }

    var family: any SigningFamily.Type {
        switch self {
        case .ed25519, .edDSA: EdDSAFamily.self
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
