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
    /// Receives one `check.deny` event per refusal (past a client's failure limit, per doubling of its refusals).
    public let audit: any AuditSink
    /// Per-client failure counts shared by all workers. Over its limit, a client's credentials
    /// are still verified (a lookup and an HMAC, or a signature); only the ones that fail are
    /// answered 429 instead of 401, and garbage never reaches the store.
    public let throttle: FailureThrottle
    /// Bounds applied while extracting the credential from the request.
    public let limits: Limits
    /// This worker's access-token verifier; nil refuses every JWT.
    public let tokens: TokenVerifier?
    /// One authenticator per credential kind, asked in order.
    public let chain: AuthenticatorChain

    /// Assembles a checker from its ports; `pepper` must be the key the stored hashes were made under.
    /// `authenticators` default to `standardChain`'s. `nonces` must be the one cache every worker
    /// of the process shares (a cache of its own would let a nonce be replayed on another thread);
    /// nil gives this checker one of its own, which is right only for a single-threaded one.
    public init(
        keys: any CredentialLookup, pepper: HMACKey, clock: any Clock, usage: any UsageRecorder,
        audit: any AuditSink, throttle: FailureThrottle, limits: Limits, tokens: TokenVerifier? = nil,
        nonces: NonceCache? = nil, authenticators: [any CredentialAuthenticator]? = nil
    ) {
        self.tokens = tokens
        self.chain = AuthenticatorChain(
            authenticators
                ?? Self.standardChain(keys: keys, pepper: pepper, tokens: tokens, nonces: nonces, limits: limits),
            limits: limits)
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
            decision = try evaluateThrottled(request, now: now, wait: wait)
        } else {
            try keys.refresh()
            decision = try evaluate(request, now: now)
        }
        switch decision {
        case .allow(let identity) where identity.method == .anonymous:
            break
        case .allow(let identity):
            usage.recordUse(credential: identity.credential, at: now, from: request.remoteAddress)
        case .deny(let denial):
            if denial.reason.kind == .challenge && denial.reason != .missingCredential && !address.isEmpty {
                throttle.recordFailure(address, now: now)
            }
            var detail = Self.describe(method: request.method, path: request.path)
            if denial.reason == .tooManyFailures {
                // A flood past the limit is audited at its 1st, 2nd, 4th... refusal, not each one.
                guard let n = throttle.auditedRefusal(address, now: now) else { break }
                detail += " (refusal \(n) of the window)"
            }
            audit.record(
                AuditEvent(
                    at: now, actor: denial.user ?? Identity.anonymousUser, action: "check.deny", credential: denial.credential,
                    sourceIP: request.remoteAddress, reason: denial.reason.rawValue, detail: detail))
        }
        return decision
    }

    /// Every credential kind the check accepts, in the order they are asked. A new kind is one
    /// more authenticator here. `serviceTokens` is this worker's service-JWT verifier (nil: a
    /// new one over `keys`).
    public static func standardChain(
        keys: any CredentialLookup, pepper: HMACKey,
        tokens: TokenVerifier?, serviceTokens: ServiceTokenVerifier? = nil, nonces: NonceCache? = nil, limits: Limits = Limits()
    ) -> [any CredentialAuthenticator] {
        [
            ServiceJWTAuthenticator(tokens: serviceTokens ?? ServiceTokenVerifier(keys: keys, limits: limits)),
            AccessTokenAuthenticator(tokens: tokens, keys: keys),
            HMACAuthenticator(keys: keys, limits: limits),
            HTTPSignatureAuthenticator(keys: keys, nonces: nonces ?? NonceCache(capacity: limits.signatureNonces), limits: limits),
            OpaqueSecretAuthenticator(kind: .apiKey, method: .apiKey, keys: keys, pepper: pepper),
            OpaqueSecretAuthenticator(kind: .serviceKey, method: .serviceKey, keys: keys, pepper: pepper),
        ]
    }

    /// A client over its failure limit: a credential that proves itself is served as usual (a
    /// valid key from a shared address must not pay for a neighbour's guesses); one that does not
    /// is answered 429, after a checksum (garbage never reaches the store) or a lookup. A genuine
    /// credential that is disabled, expired or out of scope gets its own answer: it is no guess.
    /// No credential at all is no attempt either, so anonymous resources stay open.
    private func evaluateThrottled(_ request: CheckRequest, now: Int64, wait: Int64) throws -> Decision {
        if let (_, claimant) = chain.route(request), claimant == nil { return .deny(Denial(.tooManyFailures, retryAfter: wait)) }
        try keys.refresh()
        let decision = try evaluate(request, now: now)
        if case .deny(let denial) = decision, denial.reason == .invalidCredential || denial.reason == .signatureInvalid {
            return .deny(Denial(.tooManyFailures, credential: denial.credential, user: denial.user, retryAfter: wait))
        }
        return decision
    }

    private func evaluate(_ request: CheckRequest, now: Int64) throws -> Decision {
        let access = try accessContext(request)
        switch try chain.authenticate(request, now: now) {
        case nil:
            if let resource = access.resource, resource.anonymous { return CredentialPolicy.admitAnonymous(resource, request: request) }
            return .deny(Denial(.missingCredential))
        case .verified(let verified)?:
            return CredentialPolicy.authorize(verified, request: request, now: now, access: access)
        case .refused(let denial)?:
            return .deny(denial)
        }
    }

    /// The access model and the resource the request's path falls under, if any.
    private func accessContext(_ request: CheckRequest) throws -> AccessContext {
        let model = try keys.accessModel()
        guard !model.resources.isEmpty, case .success(let path) = request.path, let index = model.match(path)
        else { return AccessContext(model: model, index: nil) }
        return AccessContext(model: model, index: index)
    }

    /// Why a request would be allowed or denied for the credential with public id `credentialId`
    /// (nil: no credential), without a secret: the resource matched, the credential's state, the
    /// scope and the grant it intersected with. Nothing is recorded: no usage, audit or throttle.
    public func explain(credentialId: String?, request: CheckRequest) throws -> (decision: Decision, steps: [String]) {
        let trace = DecisionTrace()
        try keys.refresh()
        let access = try accessContext(request)
        switch request.path {
        case .success(let path):
            if let resource = access.resource {
                trace.note(
                    "path \(path) is under resource \(resource.name) (\(resource.scope.description)\(resource.anonymous ? ", anonymous" : ""))")
            } else {
                trace.note("path \(path) is under no resource: the credential's own scopes decide")
            }
        case .failure(let refusal):
            trace.note("path refused by normalisation: \(refusal)")
        }
        guard let credentialId else {
            if let resource = access.resource, resource.anonymous {
                return (CredentialPolicy.admitAnonymous(resource, request: request, trace: trace), trace.steps)
            }
            trace.note("denied: no credential, and the path is not an anonymous resource")
            return (.deny(Denial(.missingCredential)), trace.steps)
        }
        guard let record = try keys.credential(id: credentialId) else {
            trace.note("denied: no credential has the id \(credentialId)")
            return (.deny(Denial(.invalidCredential, credential: credentialId)), trace.steps)
        }
        trace.note("credential \(record.id) (\(record.name)) of user \(record.userName)")
        return (
            CredentialPolicy.authorize(
                VerifiedCredential(record: record, method: SecretKind(credentialId: record.id)?.method ?? .apiKey), request: request,
                now: clock.now, access: access, trace: trace), trace.steps
        )
    }

    /// The stored credential `secret` proves, when it is of `kind` and its hash matches in
    /// constant time; nil otherwise. Used by the token endpoints and the admin API.
    public func verified(_ secret: OpaqueSecret, as kind: SecretKind) throws -> CredentialRecord? {
        try keys.refresh()
        return try OpaqueSecretAuthenticator(kind: kind, method: .apiKey, keys: keys, pepper: pepper).verify(secret, now: clock.now)
    }

    /// The credential's own rules, as the check applies them, for a credential `verified` already:
    /// status, owner, expiry, networks and scopes; not resources, which protect the APIs behind the
    /// web server, not Keyward's own endpoints (the admin API, which takes API keys itself and has
    /// privileges instead). Records nothing.
    public func authorize(verified key: CredentialRecord, for request: CheckRequest) -> Decision {
        authorize(VerifiedCredential(record: key, method: .apiKey), for: request)
    }

    /// `authorize(verified:for:)` for a credential an authenticator of the chain proved.
    public func authorize(_ verified: VerifiedCredential, for request: CheckRequest) -> Decision {
        CredentialPolicy.authorize(verified, request: request, now: clock.now)
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

/// The steps of a decision, in words, for `keyward explain`.
public final class DecisionTrace {
    /// One line per rule consulted, in order.
    public private(set) var steps: [String] = []
    /// An empty trace.
    public init() {}
    /// Appends a step.
    public func note(_ step: String) { steps.append(step) }
}
