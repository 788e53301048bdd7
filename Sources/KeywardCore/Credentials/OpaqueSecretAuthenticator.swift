import KeywardCrypto

/// Opaque secrets of one kind (`kwk_` API keys, `kws_` service keys at the check): the checksum,
/// a lookup by public id, then the stored HMAC-SHA256 compared in constant time (and, during a
/// key roll's grace period, the previous one's).
public struct OpaqueSecretAuthenticator: CredentialAuthenticator {
    /// The prefix this authenticator claims.
    public let kind: SecretKind
    /// Reported as `X-Auth-Method`.
    public let method: AuthMethod
    /// This worker's credential lookup.
    public let keys: any CredentialLookup
    /// The server pepper the stored hashes were made under.
    public let pepper: HMACKey

    /// Claims secrets of `kind`, found in `keys`.
    public init(kind: SecretKind, method: AuthMethod, keys: any CredentialLookup, pepper: HMACKey) {
        self.kind = kind
        self.method = method
        self.keys = keys
        self.pepper = pepper
    }

    public func claims(_ candidate: Candidate) -> Bool {
        candidate.secret?.kind == kind
    }

    public func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        guard let secret = candidate.secret else { return .refused(Denial(.invalidCredential)) }
        guard let record = try verify(secret, now: now) else { return .refused(Denial(.invalidCredential, credential: secret.id)) }
        return .verified(VerifiedCredential(record: record, method: method))
    }

    /// The stored credential `secret` proves, when it is of this kind and its hash matches in
    /// constant time; nil otherwise. Used by the check and by every token endpoint alike.
    public func verify(_ secret: OpaqueSecret, now: Int64) throws -> CredentialRecord? {
        guard secret.kind == kind, let record = try keys.credential(id: secret.id), secret.matches(record, pepper: pepper, now: now)
        else { return nil }
        return record
    }
}
