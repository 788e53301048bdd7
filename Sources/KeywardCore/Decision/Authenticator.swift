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
            audit.record(AuditEvent(
                at: now, actor: denial.user ?? Identity.anonymousUser, action: "check.deny", credential: denial.credential,
                sourceIP: request.remoteAddress, reason: denial.reason.rawValue, detail: detail))
        }
        return decision
    }

    /// A client over its failure limit: a credential that proves itself is served as usual (a
    /// valid key from a shared address must not pay for a neighbour's guesses); one that does not
    /// is answered 429, after a checksum (garbage never reaches the store) or a lookup. A genuine
    /// credential that is disabled, expired or out of scope gets its own answer: it is no guess.
    /// No credential at all is no attempt either, so anonymous resources stay open.
    private func evaluateThrottled(_ request: CheckRequest, now: Int64, wait: Int64) throws -> Decision {
        let presented = CredentialExtractor.extract(
            authorization: request.authorization, apiKeyHeader: request.apiKeyHeader, queryString: request.query, limits: limits)
        if case .malformed? = presented?.0 { return .deny(Denial(.tooManyFailures, retryAfter: wait)) }
        try keys.refresh()
        let decision = try evaluate(request, now: now)
        if case .deny(let denial) = decision, denial.reason == .invalidCredential {
            return .deny(Denial(.tooManyFailures, credential: denial.credential, user: denial.user, retryAfter: wait))
        }
        return decision
    }

    private func evaluate(_ request: CheckRequest, now: Int64) throws -> Decision {
        let access = try accessContext(request)
        guard let (presented, _) = CredentialExtractor.extract(
            authorization: request.authorization, apiKeyHeader: request.apiKeyHeader,
            queryString: request.query, limits: limits)
        else {
            if let resource = access.resource, resource.anonymous { return admitAnonymous(resource, request: request) }
            return .deny(Denial(.missingCredential))
        }

        switch presented {
        case .jwt(let token):
            return try evaluate(token: token, request: request, now: now, access: access)
        case .opaque(let secret):
            guard let key = try lookUp(secret, as: .apiKey) else { return .deny(Denial(.invalidCredential, credential: secret.id)) }
            return authorize(key, request: request, now: now, access: access)
        case .malformed:
            return .deny(Denial(.invalidCredential))
        }
    }

    /// The access model and the resource the request's path falls under, if any.
    private func accessContext(_ request: CheckRequest) throws -> AccessContext {
        let model = try keys.accessModel()
        guard !model.resources.isEmpty, case .success(let path) = request.path, let index = model.match(path)
        else { return AccessContext(model: model, index: nil) }
        return AccessContext(model: model, index: index)
    }

    /// A request without a credential on an anonymous resource: only its address and method rules apply.
    private func admitAnonymous(_ resource: Resource, request: CheckRequest, trace: DecisionTrace? = nil) -> Decision {
        trace?.note("no credential presented; resource \(resource.name) allows anonymous access")
        if !Self.admits(resource.allowedNetworks, request.remoteAddress) {
            trace?.note("denied: \(request.remoteAddress ?? "no address") is outside the resource's networks \(resource.allowedNetworks.map(\.description).joined(separator: ", "))")
            return .deny(Denial(.addressNotAllowed))
        }
        if !resource.scope.allows(method: request.method) {
            trace?.note("denied: the resource allows \(resource.scope.methods.joined(separator: ",")), not \(request.method)")
            return .deny(Denial(.methodNotAllowed))
        }
        trace?.note("allowed anonymously")
        return .allow(Identity(user: Identity.anonymousUser, subject: Identity.anonymousUser, credential: "", method: .anonymous,
                               scopes: [resource.scope.description]))
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
                trace.note("path \(path) is under resource \(resource.name) (\(resource.scope.description)\(resource.anonymous ? ", anonymous" : ""))")
            } else {
                trace.note("path \(path) is under no resource: the credential's own scopes decide")
            }
        case .failure(let refusal):
            trace.note("path refused by normalisation: \(refusal)")
        }
        guard let credentialId else {
            if let resource = access.resource, resource.anonymous {
                return (admitAnonymous(resource, request: request, trace: trace), trace.steps)
            }
            trace.note("denied: no credential, and the path is not an anonymous resource")
            return (.deny(Denial(.missingCredential)), trace.steps)
        }
        guard let record = try keys.credential(id: credentialId) else {
            trace.note("denied: no credential has the id \(credentialId)")
            return (.deny(Denial(.invalidCredential, credential: credentialId)), trace.steps)
        }
        trace.note("credential \(record.id) (\(record.name)) of user \(record.userName)")
        return (authorize(record, request: request, now: clock.now, access: access, trace: trace), trace.steps)
    }

    /// The stored credential `secret` proves, when it is of `kind` and its hash matches in
    /// constant time; nil otherwise. Used by the check and by every token endpoint alike.
    public func verified(_ secret: OpaqueSecret, as kind: SecretKind) throws -> CredentialRecord? {
        try keys.refresh()
        return try lookUp(secret, as: kind)
    }

    /// The credential's own rules, as the check applies them, for a credential `verified` already:
    /// status, owner, expiry, networks and scopes; not resources, which protect the APIs behind the
    /// web server, not Keyward's own endpoints (the admin API, which takes API keys itself and has
    /// privileges instead). Records nothing.
    public func authorize(verified key: CredentialRecord, for request: CheckRequest) -> Decision {
        authorize(key, request: request, now: clock.now)
    }

    /// `verified` without the refresh, for the check, which refreshed once already.
    private func lookUp(_ secret: OpaqueSecret, as kind: SecretKind) throws -> CredentialRecord? {
        guard secret.kind == kind, let record = try keys.credential(id: secret.id), secret.matches(record, pepper: pepper)
        else { return nil }
        return record
    }

    /// An access token: signature, claims and expiry (cached per token), then on every request the
    /// revocation list, the parent credential's current state, and scope ∩ the parent's access.
    private func evaluate(token: String, request: CheckRequest, now: Int64, access: AccessContext) throws -> Decision {
        guard let tokens else { return .deny(Denial(.invalidCredential)) }
        switch try tokens.verify(token, now: now) {
        case .failure(let reason):
            return .deny(Denial(reason))
        case .success(let claims):
            guard !(try keys.isRevoked(tokenId: claims.id)), let parent = try keys.credential(id: claims.clientId),
                  parent.userName == claims.subject, parent.isCurrent(claims)
            else { return .deny(Denial(.invalidCredential, credential: claims.clientId, user: claims.subject)) }
            return authorize(parent, request: request, now: now, access: access, tokenScopes: tokens.scopes(of: claims), method: .jwt)
        }
    }

    /// The rules for a verified credential: status, owner, expiry, then address, path and method,
    /// against the credential's own scopes and, for a token, the token's too; then, under a
    /// resource, the resource's networks and methods and the user's grant to it.
    func authorize(_ key: CredentialRecord, request: CheckRequest, now: Int64, access: AccessContext = .none,
                   tokenScopes: [PathScope]? = nil, method: AuthMethod = .apiKey, trace: DecisionTrace? = nil) -> Decision {
        func deny(_ reason: DenyReason, _ why: @autoclosure () -> String) -> Decision {
            trace?.note("denied: " + why())
            return .deny(Denial(reason, credential: key.id, user: key.userName))
        }
        if key.status != .active { return deny(.credentialDisabled, "the credential is disabled") }
        if key.userStatus != .active { return deny(.userDisabled, "user \(key.userName) is disabled") }
        if let expiry = key.expiresAt, expiry <= now {
            return deny(tokenScopes == nil && method == .apiKey ? .credentialExpired : .invalidCredential, "the credential expired at \(expiry) (now \(now))")
        }
        trace?.note("status active, user \(key.userName) active, " + (key.expiresAt.map { "expires at \($0)" } ?? "never expires"))
        if !key.allowedNetworks.isEmpty {
            guard Self.admits(key.allowedNetworks, request.remoteAddress) else {
                return deny(.addressNotAllowed, "\(request.remoteAddress ?? "no address") is outside the credential's networks \(key.allowedNetworks.map(\.description).joined(separator: ", "))")
            }
            trace?.note("address \(request.remoteAddress ?? "") is inside the credential's networks")
        }
        guard case .success(let path) = request.path else { return deny(.pathRejected, "the path cannot be interpreted safely") }
        for scopes in [key.scopes, tokenScopes ?? []] where !scopes.isEmpty {
            let covering = scopes.filter { $0.covers(path: path) }
            if covering.isEmpty { return deny(.pathNotAllowed, "no scope of \(scopes.map(\.description).joined(separator: " ")) covers \(path)") }
            if !covering.contains(where: { $0.allows(method: request.method) }) {
                return deny(.methodNotAllowed, "the scopes covering \(path) (\(covering.map(\.description).joined(separator: " "))) do not allow \(request.method)")
            }
            trace?.note("scope \(covering.first { $0.allows(method: request.method) }!.description) allows \(request.method) \(path)")
        }
        if key.scopes.isEmpty && tokenScopes?.isEmpty ?? true { trace?.note("the credential has no scopes: every path") }
        if let resource = access.resource {
            if !Self.admits(resource.allowedNetworks, request.remoteAddress) {
                return deny(.addressNotAllowed, "\(request.remoteAddress ?? "no address") is outside resource \(resource.name)'s networks \(resource.allowedNetworks.map(\.description).joined(separator: ", "))")
            }
            if !resource.scope.allows(method: request.method) {
                return deny(.methodNotAllowed, "resource \(resource.name) allows \(resource.scope.methods.joined(separator: ",")), not \(request.method)")
            }
            guard access.model.admits(key.userName, resourceAt: access.index!) else {
                return deny(.resourceNotAllowed, "user \(key.userName) is not the owner of resource \(resource.name), not in its audience \(resource.audience.map(\.description).joined(separator: " ")), and holds no \(Privilege.access(resource.name))")
            }
            trace?.note("user \(key.userName) may call resource \(resource.name): \(access.model.grant(for: key.userName, to: resource) ?? "?")")
        }
        let shown = tokenScopes.map { $0.map(\.description) } ?? (key.scopes.isEmpty ? ["*"] : key.scopes.map(\.description))
        trace?.note("allowed")
        return .allow(Identity(user: key.userName, subject: key.userName, credential: key.id, method: method,
                               scopes: shown.isEmpty ? ["*"] : shown))
    }

    /// True when `networks` is empty or holds the address.
    static func admits(_ networks: [CIDR], _ address: String?) -> Bool {
        guard !networks.isEmpty else { return true }
        guard let ip = address.flatMap({ IPAddress($0) }) else { return false }
        return networks.contains { $0.contains(ip) }
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

/// The access model a check runs under and the resource its path falls under.
struct AccessContext {
    let model: AccessModel
    /// The matched resource's index in `model.resources`.
    let index: Int?
    var resource: Resource? { index.map { model.resources[$0] } }
    static let none = AccessContext(model: AccessModel(), index: nil)
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
