import KeywardCrypto

/// The check: turns a request's facts into a `Decision`, with no I/O of its own.
///
/// Everything the outside world contributes arrives through ports: the key lookup (one per worker
/// thread), the clock, and the usage and audit sinks that buffer off the request path.
public struct Authenticator {
    /// This worker thread's key lookup; not shared between threads.
    public let keys: any CredentialLookup
    /// HMAC-SHA256 under the server pepper, keyed once.
    public let pepper: HMACKey
    /// Source of "now" (Unix seconds) for expiry and the throttle window.
    public let clock: any Clock
    /// Told of every allowed check: credential id, time and client address.
    public let usage: any UsageRecorder
    /// Receives one `check.deny` event per refusal.
    public let audit: any AuditSink
    /// Per-address failure counts shared by all workers; consulted before any lookup.
    public let throttle: FailureThrottle
    /// Bounds applied while extracting the credential from the request.
    public let limits: Limits
    /// This worker's access-token verifier; nil refuses every JWT.
    public let tokens: TokenVerifier?

    /// Assembles a checker from its ports; `pepper` must be the key the stored hashes were made under.
    public init(keys: any CredentialLookup, pepper: HMACKey, clock: any Clock, usage: any UsageRecorder,
                audit: any AuditSink, throttle: FailureThrottle, limits: Limits, tokens: TokenVerifier? = nil) {
        self.tokens = tokens
        self.keys = keys
        self.pepper = pepper
        self.clock = clock
        self.usage = usage
        self.audit = audit
        self.throttle = throttle
        self.limits = limits
    }

    /// Decides one request. Throws only when the store fails (the caller answers 500).
    public func check(_ request: CheckRequest) throws -> Decision {
        let now = clock.now
        // Without a client address there is nobody to attribute failures to: no throttle.
        let address = request.remoteAddress ?? ""
        let decision: Decision
        if !address.isEmpty, let wait = throttle.retryAfter(address, now: now) {
            decision = .deny(Denial(.tooManyFailures, retryAfter: wait))
        } else {
            decision = try evaluate(request, now: now)
        }
        switch decision {
        case .allow(let identity):
            usage.recordUse(credential: identity.credential, at: now, from: request.remoteAddress)
        case .deny(let denial):
            if denial.reason.kind == .challenge && denial.reason != .missingCredential && !address.isEmpty {
                throttle.recordFailure(address, now: now)
            }
            audit.record(AuditEvent(
                at: now, actor: denial.user ?? "anonymous", action: "check.deny", credential: denial.credential,
                sourceIP: request.remoteAddress, reason: denial.reason.rawValue,
                detail: Self.describe(method: request.method, path: request.path)))
        }
        return decision
    }

    private func evaluate(_ request: CheckRequest, now: Int64) throws -> Decision {
        guard let (presented, _) = CredentialExtractor.extract(
            authorization: request.authorization, apiKeyHeader: request.apiKeyHeader,
            queryString: request.query, limits: limits)
        else { return .deny(Denial(.missingCredential)) }

        switch presented {
        case .jwt(let token):
            return try evaluate(token: token, request: request, now: now)
        case .opaque(let secret):
            guard let key = try verified(secret, as: .apiKey) else { return .deny(Denial(.invalidCredential, credential: secret.id)) }
            return authorize(key, request: request, now: now)
        case .malformed:
            return .deny(Denial(.invalidCredential))
        }
    }

    /// The stored credential `secret` proves, when it is of `kind` and its hash matches in
    /// constant time; nil otherwise. Used by the check and by every token endpoint alike.
    public func verified(_ secret: OpaqueSecret, as kind: SecretKind) throws -> CredentialRecord? {
        guard secret.kind == kind, let record = try keys.credential(id: secret.id), secret.matches(record, pepper: pepper)
        else { return nil }
        return record
    }

    /// An access token: signature, claims and expiry (cached per token), then on every request the
    /// revocation list, the parent credential's current state, and scope ∩ the parent's access.
    private func evaluate(token: String, request: CheckRequest, now: Int64) throws -> Decision {
        guard let tokens else { return .deny(Denial(.invalidCredential)) }
        switch try tokens.verify(token, now: now) {
        case .failure(let reason):
            return .deny(Denial(reason))
        case .success(let claims):
            guard !(try keys.isRevoked(tokenId: claims.id)), let parent = try keys.credential(id: claims.clientId),
                  parent.userName == claims.subject, parent.tokensValidAfter.map({ claims.issuedAt > $0 }) ?? true
            else { return .deny(Denial(.invalidCredential, credential: claims.clientId, user: claims.subject)) }
            return authorize(parent, request: request, now: now, tokenScopes: tokens.scopes(of: claims), method: .jwt)
        }
    }

    /// The rules for a verified credential: status, owner, expiry, then address, path and method,
    /// against the credential's own scopes and, for a token, the token's too.
    func authorize(_ key: CredentialRecord, request: CheckRequest, now: Int64, tokenScopes: [PathScope]? = nil,
                   method: AuthMethod = .apiKey) -> Decision {
        func deny(_ reason: DenyReason) -> Decision { .deny(Denial(reason, credential: key.id, user: key.userName)) }
        if key.status != .active { return deny(.credentialDisabled) }
        if key.userStatus != .active { return deny(.userDisabled) }
        if let expiry = key.expiresAt, expiry <= now { return deny(tokenScopes == nil && method == .apiKey ? .credentialExpired : .invalidCredential) }
        if !key.allowedNetworks.isEmpty {
            guard let address = request.remoteAddress.flatMap({ IPAddress($0) }),
                  key.allowedNetworks.contains(where: { $0.contains(address) })
            else { return deny(.addressNotAllowed) }
        }
        guard case .success(let path) = request.path else { return deny(.pathRejected) }
        for scopes in [key.scopes, tokenScopes ?? []] where !scopes.isEmpty {
            let covering = scopes.filter { $0.covers(path: path) }
            if covering.isEmpty { return deny(.pathNotAllowed) }
            if !covering.contains(where: { $0.allows(method: request.method) }) { return deny(.methodNotAllowed) }
        }
        let shown = tokenScopes.map { $0.map(\.description) } ?? (key.scopes.isEmpty ? ["*"] : key.scopes.map(\.description))
        return .allow(Identity(user: key.userName, subject: key.userName, credential: key.id, method: method,
                               scopes: shown.isEmpty ? ["*"] : shown))
    }

    static func describe(method: String, path: Result<String, PathNormalizer.Refusal>) -> String {
        let shownPath: String
        switch path {
        case .success(let p):
            shownPath = p.utf8.count > 200 ? String(decoding: p.utf8.prefix(200), as: UTF8.self) + "..." : p
        case .failure(let refusal): shownPath = "<refused: \(refusal)>"
        }
        let shownMethod = method.utf8.count <= 16 && method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? method : "?"
        return "\(shownMethod) \(shownPath)"
    }
}
