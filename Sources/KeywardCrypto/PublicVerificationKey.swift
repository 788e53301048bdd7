/// The public half of a signing key: verifies JWS signatures and is published in the JWKS.
///
/// Bound to one ``SigningAlgorithm``: ``verify(signature:message:)`` never looks at a token's
/// `alg` (RFC 8725 §3.1). Signatures of the wrong shape are refused before any arithmetic:
/// ES256 takes exactly 64 bytes with r and s in [1, n - 1] (RFC 7518 §3.4), so DER or 65-byte
/// encodings fail; RS256 takes exactly the modulus length (RFC 8017 §8.2.2); EdDSA exactly 64.
public final class PublicVerificationKey: Sendable, CustomStringConvertible {
    /// The one algorithm this key verifies.
    public let algorithm: SigningAlgorithm
    /// The RFC 7638 JWK thumbprint (SHA-256), used as the key's `kid`.
    public let thumbprint: String
    let key: EVPKey
    /// The algorithm's public members (`crv`, `x`, `y` / `n`, `e`), after `kty`.
    private let components: [JSONWebKey.Member]

    /// Wraps a public-only `key` that has passed its family's validation.
    init(algorithm: SigningAlgorithm, validated key: EVPKey) {
        self.algorithm = algorithm
        self.key = key
        components = algorithm.family.publicMembers(of: key)
        var all = Dictionary(uniqueKeysWithValues: components.map { ($0.name, $0.value) })
        all["kty"] = algorithm.keyType
        guard let thumbprint = JSONWebKey.thumbprint(of: all, required: algorithm.requiredPublicMembers) else {
            preconditionFailure("a \(algorithm.rawValue) key lacks a required JWK member")
        }
        self.thumbprint = thumbprint
    }

    /// A key from a public JWK (RFC 7517 §4; RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2).
    ///
    /// The algorithm follows from `kty` and `crv`; an `alg` member naming another algorithm, a
    /// `use` other than `sig`, or an `expected` algorithm that differs are refused. EC points are
    /// checked to lie on P-256; RSA moduli must be 2048 to 8192 bits with an odd exponent above
    /// 2^16 (libcrypto's SP 800-56B public-key check). A `kid` member is ignored:
    /// a key's id is always its thumbprint.
    public convenience init(jwk: JSONWebKey, expected: SigningAlgorithm? = nil) throws(CryptoError) {
        let members = jwk.dictionary
        let algorithm: SigningAlgorithm
        switch (members["kty"], members["crv"]) {
        case ("OKP", "Ed25519"): algorithm = members["alg"] == SigningAlgorithm.ed25519.rawValue ? .ed25519 : .edDSA
        case ("EC", "P-256"): algorithm = .es256
        case ("RSA", nil): algorithm = .rs256
        default: throw CryptoError(.invalidKey, "unsupported JWK kty/crv")
        }
        if let alg = members["alg"], alg != algorithm.rawValue {
            throw CryptoError(.invalidKey, "JWK alg does not match its key type")
        }
        if let expected, expected != algorithm { throw CryptoError(.invalidKey, "JWK is not a key for the expected algorithm") }
        if let use = members["use"], use != "sig" { throw CryptoError(.invalidKey, "JWK use is not sig") }
        let key = try algorithm.family.publicKey(jwk: members)
        try self.init(algorithm: algorithm, checking: key)
    }

    /// A key from public JWK JSON text; see ``init(jwk:expected:)``.
    public convenience init(jwkJSON: String, expected: SigningAlgorithm? = nil) throws(CryptoError) {
        try self.init(jwk: JSONWebKey(json: jwkJSON), expected: expected)
    }

    /// A key from DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), the form to store a public key in.
    public convenience init(subjectPublicKeyInfo der: [UInt8], algorithm: SigningAlgorithm) throws(CryptoError) {
        try self.init(algorithm: algorithm, checking: EVPKey.fromSubjectPublicKeyInfo(der))
    }

    private convenience init(algorithm: SigningAlgorithm, checking key: EVPKey) throws(CryptoError) {
        try algorithm.family.validate(key)
        guard key.publicKeyIsValid() else { throw CryptoError(.invalidKey, "public key failed libcrypto's validity check") }
        self.init(algorithm: algorithm, validated: key)
    }

    /// The key as DER SubjectPublicKeyInfo.
    public func subjectPublicKeyInfo() -> [UInt8] {
        key.subjectPublicKeyInfo()
    }

    /// True when `signature` (JOSE form) is this key's signature of `message` (RFC 7515 §5.2 step 8).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        let family = algorithm.family
        guard let native = family.librarySignature(jose: signature, key: key) else { return false }
        return key.verify(native, message: message, digest: family.digestName)
    }

    /// The public JWK: `kty`, the algorithm's members, then `kid` (the thumbprint unless given),
    /// `alg` and `use: sig` (RFC 7517 §4.2–4.5).
    public func jwk(kid: String? = nil) -> JSONWebKey {
        let members =
            [JSONWebKey.Member("kty", algorithm.keyType)] + components
            + [.init("kid", kid ?? thumbprint), .init("alg", algorithm.rawValue), .init("use", "sig")]
        do {
            return try JSONWebKey(members)
        } catch {
            preconditionFailure("our own JWK was refused: \(error)")
        }
    }

    /// The algorithm and thumbprint.
    public var description: String { "PublicVerificationKey(\(algorithm.rawValue), kid: \(thumbprint))" }
}
