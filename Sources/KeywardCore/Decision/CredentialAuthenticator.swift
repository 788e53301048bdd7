/// One credential kind's verifier at the check (hummingbird-auth's shape): given a candidate, it
/// answers "not mine", the credential it proved, or a refusal. It proves possession only; what
/// the credential may do is `CredentialPolicy`'s to decide, the same for every kind.
///
/// To add a credential kind, add an authenticator (and its record, repository and admin
/// operations) and list it in `Authenticator.standardChain`; nothing else changes.
public protocol CredentialAuthenticator {
    /// True when `candidate` has this kind's shape (prefix, checksum, scheme): judged without I/O,
    /// so garbage is refused before any lookup. False means "not mine": ask the next one.
    func claims(_ candidate: Candidate) -> Bool
    /// What a claimed `candidate` proves. `request` gives access to any other part of the request
    /// (headers, target, body) a signature may cover. Throws only on infrastructure failure.
    func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication
}

/// An authenticator's answer for a candidate it claimed.
public enum Authentication {
    /// The candidate proved the credential.
    case verified(VerifiedCredential)
    /// This kind's shape, and it did not prove anything (wrong secret, bad signature, expired token).
    case refused(Denial)
}

/// A credential whose possession was proved, and what narrows it further.
public struct VerifiedCredential {
    /// The stored credential and its owner.
    public var record: CredentialRecord
    /// The scheme that proved it, reported as `X-Auth-Method`.
    public var method: AuthMethod
    /// A token's own scopes, nil for a token scoped `*` or a credential that is no token.
    public var tokenScopes: [PathScope]?
    /// True when a token stands for the credential (its parent): a parent that expired makes the
    /// token invalid rather than "expired", since the token itself may not be.
    public var viaToken: Bool

    /// A verified credential; `tokenScopes` and `viaToken` only for access tokens.
    public init(record: CredentialRecord, method: AuthMethod, tokenScopes: [PathScope]? = nil, viaToken: Bool = false) {
        self.record = record
        self.method = method
        self.tokenScopes = tokenScopes
        self.viaToken = viaToken
    }
}

/// The authenticators of every credential kind, asked in order for each candidate in rank order.
public struct AuthenticatorChain {
    /// Asked in this order; the first that claims a candidate decides.
    public let authenticators: [any CredentialAuthenticator]
    /// Bounds a candidate must keep before any authenticator sees it.
    public let limits: Limits

    /// A chain of `authenticators`.
    public init(_ authenticators: [any CredentialAuthenticator], limits: Limits) {
        self.authenticators = authenticators
        self.limits = limits
    }

    /// The candidate that decides, and the authenticator that claims it (nil: nobody does, so it
    /// is malformed); nil when the request carries no credential. No I/O.
    ///
    /// The first candidate decides: a credential in a higher-ranked location is never overridden
    /// by one in a lower (a client sending two must not have the server pick the one it likes).
    /// The exceptions are an `Authorization` scheme that no authenticator claims (`Basic` for a
    /// backend, say) and a `Signature-Input` that names no Keyward credential: they are not
    /// Keyward's and the next location is asked. A candidate nobody claims in any other location
    /// is malformed.
    public func route(_ request: CheckRequest) -> (candidate: Candidate, authenticator: (any CredentialAuthenticator)?)? {
        for candidate in CredentialExtractor.candidates(request) {
            let claimant =
                candidate.value.utf8.count <= limits.maxCredentialBytes
                ? authenticators.first(where: { $0.claims(candidate) }) : nil
            if claimant == nil && candidate.isForeign { continue }
            return (candidate, claimant)
        }
        return nil
    }

    /// What the request's credential proves: nil when it carries none.
    public func authenticate(_ request: CheckRequest, now: Int64) throws -> Authentication? {
        guard let (candidate, claimant) = route(request) else { return nil }
        guard let claimant else {
            // A well-formed secret of a kind not accepted here is named in the audit all the same.
            let id = candidate.value.utf8.count <= limits.maxCredentialBytes ? candidate.secret?.id : nil
            return .refused(Denial(.invalidCredential, credential: id))
        }
        return try claimant.authenticate(candidate, in: request, now: now)
    }
}
