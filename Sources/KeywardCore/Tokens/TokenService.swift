import KeywardCrypto

/// What access tokens say and how long they live: the issuer's side of RFC 9068.
public struct TokenPolicy: Sendable {
    /// `iss` of every token, and what verification demands.
    public var issuer: String
    /// `aud` of every token, and what verification demands.
    public var audience: String
    /// Lifetime of a new token in seconds; never beyond its parent credential's expiry.
    public var lifetime: Int64
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    public var leeway: Int64

    /// A policy; the defaults are a 15-minute lifetime and 30 s of leeway.
    public init(issuer: String, audience: String, lifetime: Int64 = 900, leeway: Int64 = 30) {
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.leeway = leeway
    }
}

/// Why a token could not be issued (RFC 6749 §5.2 and RFC 8693 §2.2.2 error codes).
public enum IssueRefusal: Error, Equatable, Sendable {
    /// The parent credential cannot be used (disabled, expired, owner disabled).
    case invalidGrant
    /// The requested scope is not within the parent credential's.
    case invalidScope
}

/// Mints access tokens for a verified parent credential.
public struct TokenIssuer {
    /// Signing keys.
    public let keys: any SigningKeyRing
    /// Issuer, audience, lifetime.
    public let policy: TokenPolicy

    /// An issuer signing with `keys` under `policy`.
    public init(keys: any SigningKeyRing, policy: TokenPolicy) {
        self.keys = keys
        self.policy = policy
    }

    /// A token for `parent`, narrowed to `requestedScope` (space-separated path scopes; nil or
    /// empty for all of the parent's). Throws `IssueRefusal` for a request the rules refuse, any
    /// other error for infrastructure failure.
    public func issue(for parent: CredentialRecord, requestedScope: String?, now: Int64) throws -> (token: String, claims: AccessTokenClaims) {
        guard CredentialPolicy.standing(of: parent, now: now) == nil else { throw IssueRefusal.invalidGrant }
        let scope = try Self.narrow(parent.scopes, to: requestedScope)
        var expiry = now + policy.lifetime
        if let parentExpiry = parent.expiresAt { expiry = min(expiry, parentExpiry) }
        let claims = AccessTokenClaims(
            issuer: policy.issuer, subject: parent.userName, audience: policy.audience, clientId: parent.id,
            scope: scope, issuedAt: now, expiresAt: expiry, id: Base62.random(count: 22), epoch: parent.tokensValidAfter ?? 0)
        return (JWS.sign(claims, with: try keys.signingKey()), claims)
    }

    /// The token's scope: the requested path scopes if each lies within one of the parent's, else
    /// a refusal; the parent's own (or `*` for an unrestricted parent) when none is requested.
    static func narrow(_ parent: [PathScope], to requested: String?) throws(IssueRefusal) -> [String] {
        let words = (requested ?? "").split(separator: " ").map(String.init)
        if words.isEmpty { return parent.isEmpty ? ["*"] : parent.map(\.description) }
        if words == ["*"] && parent.isEmpty { return ["*"] }
        var granted: [String] = []
        for word in words {
            guard let scope = PathScope(word), parent.isEmpty || parent.contains(where: { scope.isWithin($0) })
            else { throw .invalidScope }
            if !granted.contains(scope.description) { granted.append(scope.description) }
        }
        return granted
    }
}

/// Verifies access tokens at the check. One per worker thread (its cache is unsynchronised).
///
/// A token's signature is verified once: the claims are kept, keyed by the token's SHA-256, until
/// the token expires, so a repeated token costs a hash and a dictionary lookup. Expiry is checked
/// on every use, and the caller still checks revocation and the parent credential every time.
public final class TokenVerifier {
    private let keys: any SigningKeyRing
    private let policy: TokenPolicy
    private let limits: Limits
    private var verified: [[UInt8]: (claims: AccessTokenClaims, kid: String)] = [:]

    /// A verifier trusting the keys of `keys` under `policy`.
    public init(keys: any SigningKeyRing, policy: TokenPolicy, limits: Limits) {
        self.keys = keys
        self.policy = policy
        self.limits = limits
    }

    private var parsedScopes: [String: [PathScope]] = [:]

    /// The path scopes a token's `scope` claim names, nil for `*` (every path the parent may use);
    /// parsed once per distinct claim.
    public func scopes(of claims: AccessTokenClaims) -> [PathScope]? {
        if claims.scope == ["*"] { return nil }
        let text = claims.scopeText
        if let hit = parsedScopes[text] { return hit }
        let parsed = claims.scope.compactMap(PathScope.init)
        if parsedScopes.count >= limits.parsedScopeCache { parsedScopes.removeAll(keepingCapacity: true) }
        parsedScopes[text] = parsed
        return parsed
    }

    /// The claims of a valid, unexpired token, or why it is refused. Throws only on infrastructure failure.
    public func verify(_ token: String, now: Int64) throws -> Result<AccessTokenClaims, DenyReason> {
        let digest = Digest.sha256(token)
        if let hit = verified[digest] {
            // The signing key may have left the JWKS since (a rotation window ended, an emergency
            // rotation): the token must go with it.
            guard try keys.verificationKey(kid: hit.kid) != nil else { return .failure(.invalidCredential) }
            return hit.claims.expiresAt + policy.leeway > now ? .success(hit.claims) : .failure(.tokenExpired)
        }
        let parsed: JWS.Parsed
        do { parsed = try JWS.parse(token, limits: limits) } catch { return .failure(.invalidCredential) }
        guard let key = try keys.verificationKey(kid: parsed.keyId) else { return .failure(.invalidCredential) }
        do { try JWS.verify(parsed, with: key) } catch { return .failure(.invalidCredential) }
        guard let claims = AccessTokenClaims(json: parsed.payload), claims.issuer == policy.issuer,
            claims.audience == policy.audience, claims.issuedAt <= now + policy.leeway,
            JSONText.integer(parsed.payload["nbf"]).map({ $0 <= now + policy.leeway }) ?? true
        else { return .failure(.invalidCredential) }
        // Every scope word must be one Keyward issues: a dropped word must never widen the token.
        guard claims.scope == ["*"] || claims.scope.allSatisfy({ PathScope($0) != nil }), !claims.scope.isEmpty
        else { return .failure(.invalidCredential) }
        guard claims.expiresAt + policy.leeway > now else { return .failure(.tokenExpired) }
        if verified.count >= limits.verifiedTokenCache {
            verified = verified.filter { $0.value.claims.expiresAt + policy.leeway > now }
            if verified.count >= limits.verifiedTokenCache { verified.removeAll(keepingCapacity: true) }
        }
        verified[digest] = (claims, parsed.keyId)
        return .success(claims)
    }
}
