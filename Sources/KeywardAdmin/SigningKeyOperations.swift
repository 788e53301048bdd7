import KeywardCore
import KeywardCrypto
import KeywardStore

// MARK: Signing keys

extension Admin {
    /// Makes a new signing key of `algorithm` the one that signs; the keys that signed before stay
    /// published (JWKS) and verify tokens for `retireOthersAfter` seconds. Admins only.
    @discardableResult
    public func rotateSigningKey(_ algorithm: SigningAlgorithm, retireOthersAfter: Int64) throws -> SigningKeyRow {
        try requireAdmin()
        let key = try PrivateSigningKey.generate(algorithm)
        let now = clock.now
        try change("signing-key.rotate", target: "kid:\(key.keyID)", detail: algorithm.rawValue) {
            try store.addSigningKey(key, sealer: sealer, now: now, retireOthersAfter: retireOthersAfter)
        }
        guard let row = try store.signingKeys(now: now).first(where: { $0.kid == key.keyID }) else {
            throw AdminError.notFound("the new signing key \(key.keyID) was not stored")
        }
        return row
    }

    /// Signing keys, newest first, with their state now. Admins only.
    public func signingKeys() throws -> [SigningKeyRow] {
        try requireAdmin()
        return try store.signingKeys(now: clock.now)
    }
}
