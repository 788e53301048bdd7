/// A private key that signs JWS / JWT access tokens with one ``SigningAlgorithm``.
///
/// Made by ``generate(_:rsaModulus:)`` or read back from the DER PKCS#8 that ``pkcs8()`` wrote
/// (the store keeps that encrypted with ``AEAD``). Its `description` never shows key material.
public final class PrivateSigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The one algorithm this key signs with.
    public let algorithm: SigningAlgorithm
    /// The public half, for verification and the JWKS.
    public let publicKey: PublicVerificationKey
    private let key: EVPKey

    private init(algorithm: SigningAlgorithm, validated key: EVPKey) {
        self.algorithm = algorithm
        self.key = key
        publicKey = PublicVerificationKey(algorithm: algorithm, validated: key.publicOnly())
    }

    /// A new key: Ed25519 by default; RSA keys are `rsaModulus` bits (2048 unless told).
    public static func generate(_ algorithm: SigningAlgorithm = .standard, rsaModulus: RSAModulusSize = .bits2048) throws(CryptoError)
        -> PrivateSigningKey
    {
        let family = algorithm.family
        let key = try family.generate(rsaModulus: rsaModulus)
        try family.validate(key)
        return PrivateSigningKey(algorithm: algorithm, validated: key)
    }

    /// A key from DER PKCS#8 PrivateKeyInfo (RFC 5208 §5); refuses other encodings, trailing bytes,
    /// a key of another algorithm or curve, and RSA moduli under 2048 bits.
    public convenience init(pkcs8 der: [UInt8], algorithm: SigningAlgorithm) throws(CryptoError) {
        let key = try EVPKey.fromPKCS8(der)
        try algorithm.family.validate(key)
        self.init(algorithm: algorithm, validated: key)
    }

    /// The key as DER PKCS#8 PrivateKeyInfo. This is the secret: encrypt it before storing it.
    public func pkcs8() -> [UInt8] {
        key.pkcs8()
    }

    /// The key id: the public key's RFC 7638 thumbprint.
    public var keyID: String { publicKey.thumbprint }

    /// The JOSE signature of `message` (RFC 7515 §5.1 step 5): 64 bytes for EdDSA, R || S (64 bytes)
    /// for ES256, the modulus length for RS256.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        let family = algorithm.family
        return family.joseSignature(library: key.sign(message, digest: family.digestName))
    }

    /// Algorithm and key id only.
    public var description: String { "PrivateSigningKey(\(algorithm.rawValue), kid: \(keyID), private key redacted)" }

    /// Same as `description`.
    public var debugDescription: String { description }
}
