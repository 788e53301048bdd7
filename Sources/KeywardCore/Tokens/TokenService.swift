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
        try issue(for: parent, TokenRequest(scope: requestedScope), resources: [], now: now)
    }

    /// A token for `parent` as `request` asks: within the parent's scopes (or the exchanged
    /// token's), the targets it names, and the scope it requests; never outliving the parent
    /// or the exchanged token. `resources` are the access model's, which `audience` may name.
    public func issue(
        for parent: CredentialRecord, _ request: TokenRequest, resources: [Resource], now: Int64
    ) throws -> (token: String, claims: AccessTokenClaims) {
        guard CredentialPolicy.standing(of: parent, now: now) == nil else { throw IssueRefusal.invalidGrant }
        // What the token may cover at most: the exchanged token's scope, else the parent's
        // (empty: every path the parent's user may reach).
        var ceiling = parent.scopes
        if let subject = request.subject, subject.scope != ["*"] {
            ceiling = subject.scope.compactMap(PathScope.init)
            guard ceiling.count == subject.scope.count else { throw IssueRefusal.invalidGrant }
        }
        let scope: [String]
        if let targets = try TokenTargets.resolve(request, policy: policy, resources: resources) {
            let reachable = Self.intersect(targets, ceiling)
            guard !reachable.isEmpty else { throw IssueRefusal.unreachableTarget }
            do { scope = try Self.narrow(reachable, to: request.scope) } catch { throw IssueRefusal.scopeOutsideTarget }
        } else {
            scope = try Self.narrow(ceiling, to: request.scope)
        }
        var expiry = now + policy.lifetime
        if let parentExpiry = parent.expiresAt { expiry = min(expiry, parentExpiry) }
        if let subject = request.subject { expiry = min(expiry, subject.expiresAt) }
        let claims = AccessTokenClaims(
            issuer: policy.issuer, subject: parent.userName, audience: policy.audience, clientId: parent.id,
            scope: scope, issuedAt: now, expiresAt: expiry, id: Base62.random(count: 22), epoch: parent.tokensValidAfter ?? 0)
        return (JWS.sign(claims, with: try keys.signingKey()), claims)
    }

    /// The part of `targets` that `ceiling` (empty: everything) reaches: a target within one of
    /// the ceiling's scopes whole, else the ceiling's scopes that lie within it.
    static func intersect(_ targets: [PathScope], _ ceiling: [PathScope]) -> [PathScope] {
        if ceiling.isEmpty { return targets }
        var out: [PathScope] = []
        for target in targets {
            let part = ceiling.contains { target.isWithin($0) } ? [target] : ceiling.filter { $0.isWithin(target) }
            for scope in part where !out.contains(scope) { out.append(scope) }
        }
        return out
    }

    /// The token's scope: the requested path scopes if each lies within one of `ceiling`'s, else
    /// a refusal; `ceiling` itself (or `*` when it is empty: unrestricted) when none is requested.
    static func narrow(_ ceiling: [PathScope], to requested: String?) throws(IssueRefusal) -> [String] {
        let words = (requested ?? "").split(separator: " ").map(String.init)
        if words.isEmpty { return ceiling.isEmpty ? ["*"] : ceiling.map(\.description) }
        if words == ["*"] && ceiling.isEmpty { return ["*"] }
        var granted: [String] = []
        for word in words {
            guard let scope = PathScope(word), ceiling.isEmpty || ceiling.contains(where: { scope.isWithin($0) })
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
