import KeywardCrypto

/// The algorithms a signed-request credential (`kwh_`) signs with, by their RFC 9421 §6.2 names.
/// The credential decides the algorithm: a request that claims another (`alg`, or the `HMAC`
/// scheme for an Ed25519 key) is refused, never verified some other way.
public enum RequestSigningAlgorithm: String, Sendable, CaseIterable, Codable {
    /// HMAC-SHA256 with a shared secret (RFC 9421 §3.3.3); also the seed's `Authorization: HMAC`.
    case hmacSHA256 = "hmac-sha256"
    /// Ed25519 with the client's key pair; Keyward holds the public key (RFC 9421 §3.3.6).
    case ed25519 = "ed25519"
}

/// One key that proves a signed-request credential: its HMAC secret, keyed once, or its public key.
public enum RequestVerificationKey {
    /// HMAC-SHA256 under the shared secret.
    case hmac(HMACKey)
    /// Ed25519 signatures by the client's private key.
    case ed25519(PublicVerificationKey)

    /// True when `signature` is this key's over `message`: an HMAC compared in constant time, or
    /// an Ed25519 signature (exactly 64 bytes) verified by libcrypto.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        switch self {
        case .hmac(let key): ConstantTime.equals(key.authenticationCode(message), signature)
        case .ed25519(let key): key.algorithm == .ed25519 && key.verify(signature: signature, message: message)
        }
    }

    /// The algorithm this key belongs to.
    public var algorithm: RequestSigningAlgorithm {
        switch self {
        case .hmac: .hmacSHA256
        case .ed25519: .ed25519
        }
    }
}

/// A signed-request credential as the check sees it: the stored credential (owner, status,
/// expiry, scopes, networks, as for every kind), its algorithm, and the keys that prove it now:
/// one, or two while its secret is being rotated. Holds secrets: one per worker, never logged.
public struct RequestKeyRecord: CustomStringConvertible {
    /// The credential's id (`kwh_...`), owner and rules; its `secretHash` is empty.
    public var record: CredentialRecord
    /// The one algorithm every key of the credential signs with.
    public var algorithm: RequestSigningAlgorithm
    /// The active keys, oldest first.
    public var keys: [RequestVerificationKey]

    /// A record from its parts; every key must be of `algorithm`.
    public init(record: CredentialRecord, algorithm: RequestSigningAlgorithm, keys: [RequestVerificationKey]) {
        precondition(keys.allSatisfy { $0.algorithm == algorithm }, "a key of another algorithm in \(record.id)")
        self.record = record
        self.algorithm = algorithm
        self.keys = keys
    }

    /// True when one of the active keys made `signature` over `message`. Every key is tried, so
    /// the time taken does not tell which one matched.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        keys.reduce(false) { matched, key in key.verifies(signature, over: message) || matched }
    }

    /// The id and algorithm; never a key.
    public var description: String { "RequestKeyRecord(\(record.id), \(algorithm.rawValue), \(keys.count) key(s))" }

    /// True when `text` has the shape of a signed-request credential id (`kwh_` + 16 base62).
    public static func isId(_ text: some StringProtocol) -> Bool {
        OpaqueSecret.isCredentialId(String(text), kind: .signedRequest)
    }
}
