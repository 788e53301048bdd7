import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// Settings of the admin JSON API.
public struct AdminAPIConfig: Sendable {
    /// The database every worker opens its own connections to.
    public var databasePath: String
    /// Pepper (API key hashes) and master key (the audit chain's key).
    public var keyFile: KeyFile
    /// Path prefix the app is mounted under; the session cookie's path is `<mount>/admin`.
    public var mount: String
    /// Mark the session cookie `Secure` (the public URL is https); requests with `HTTPS=on` get it anyway.
    public var secureCookies: Bool
    /// How long a session lasts after sign-in, in seconds (`limits.sessionLifetime`).
    public var sessionLifetime: Int64 { limits.sessionLifetime }
    /// Bounds, among them the largest request body and the session's lifetime.
    public var limits: Limits
    /// Where the client's address comes from, as for the check.
    public var client: ClientAddressRule
    /// How access-request decisions are mailed (and where reveal links point); nil mails nothing.
    public var mail: MailSettings?

    /// Settings under `limits`; `sessionLifetime`, when given, overrides the limits' own.
    public init(
        databasePath: String, keyFile: KeyFile, mount: String = "", secureCookies: Bool = false,
        sessionLifetime: Int64? = nil, limits: Limits = Limits(), client: ClientAddressRule = ClientAddressRule(),
        mail: MailSettings? = nil
    ) {
        self.databasePath = databasePath
        self.keyFile = keyFile
        self.mount = mount.hasSuffix("/") ? String(mount.dropLast()) : mount
        self.secureCookies = secureCookies
        self.limits = limits
        if let sessionLifetime { self.limits.sessionLifetime = sessionLifetime }
        self.client = client
        self.mail = mail
    }
}

/// The admin JSON API under `/admin/api/`: every `Admin` operation over HTTP, for a user signed
/// in with a password (cookie session plus CSRF token) or presenting an API key of a user holding
/// `use-api-key`. The OpenAPI document at `/admin/api/openapi.json` describes it.
///
/// One per worker thread: it opens its own store connections on first use, so a worker that
/// only ever serves checks never opens them.
public final class AdminAPI: AdminEndpoint {
    let config: AdminAPIConfig
    let clock: any Clock
    let throttle: FailureThrottle
    /// Password sign-ins: their throttle and the scrypt slots, shared by every worker.
    let signIns: SignInGuard
    let audit: any AuditSink
    let usage: any UsageRecorder
    let log: @Sendable (String) -> Void
    /// The nonces of signed requests, shared with the check and every worker of the process.
    let nonces: NonceCache
    private var connections: (store: Store, authenticator: Authenticator)?
    private lazy var routes: [Route] = Self.routes()
    /// This worker's key for device cookies (an `HMACKey` is not shared between threads).
    lazy var deviceKey = HMACKey(DeviceCookie.key(masterKey: config.keyFile.masterKey))
    /// This worker's key for sessions' CSRF tokens.
    lazy var csrfKey = HMACKey(Sessions.csrfKey(masterKey: config.keyFile.masterKey))

    /// An API for one worker thread. `throttle` is the process's failure throttle (failed sign-ins
    /// and bad API keys count like failed checks); `signIns` the process's sign-in throttle and
    /// scrypt slots (nil: this API's own, for a process with one worker); `audit` receives refused
    /// authentications; `usage` the uses of API keys (last use, count); `nonces` the process's
    /// replay cache of signed requests (nil: this API's own, for a process with one worker);
    /// `log` gets one line per infrastructure failure.
    public init(
        config: AdminAPIConfig, clock: any Clock, throttle: FailureThrottle, audit: any AuditSink,
        usage: any UsageRecorder, signIns: SignInGuard? = nil, nonces: NonceCache? = nil, log: @escaping @Sendable (String) -> Void
    ) {
        self.usage = usage
        self.nonces = nonces ?? NonceCache(capacity: config.limits.signatureNonces)
        self.config = config
        self.clock = clock
        self.throttle = throttle
        self.signIns = signIns ?? SignInGuard(throttle: throttle, limits: config.limits)
        self.audit = audit
        self.log = log
    }

    /// This worker's store and the authenticator API keys are verified with, opened on first use.
    func opened() throws -> (store: Store, authenticator: Authenticator) {
        if let connections { return connections }
        let store = try Store(path: config.databasePath)
        let keys = try KeyLookup(
            path: config.databasePath, clock: clock, limits: config.limits, sealer: KeySealer(masterKey: config.keyFile.masterKey))
        let pepper = HMACKey(config.keyFile.pepper)
        let authenticator = Authenticator(
            keys: keys, pepper: pepper, clock: clock, usage: CollectingSink(), audit: audit, throttle: throttle, limits: config.limits,
            nonces: nonces, authenticators: Self.adminChain(keys: keys, pepper: pepper, nonces: nonces, limits: config.limits))
        connections = (store, authenticator)
        return (store, authenticator)
    }

    /// The credentials the admin API takes, asked in this order: an RFC 9421 signature, then API
    /// keys. A signature here must carry a nonce, whatever `--signature-require-nonce` says: a
    /// replayed request could mint a secret for whoever replays it. Not `Authorization: HMAC`,
    /// which covers no method, path or time (a captured one works for ever, and a bodiless one
    /// is the same on every request), nor tokens (for the APIs behind the server, not for
    /// managing keys), nor service keys (a service is no user).
    static func adminChain(keys: any CredentialLookup, pepper: HMACKey, nonces: NonceCache, limits: Limits) -> [any CredentialAuthenticator] {
        var signed = limits
        signed.requireSignatureNonce = true
        return [
            HTTPSignatureAuthenticator(keys: keys, nonces: nonces, limits: signed),
            OpaqueSecretAuthenticator(kind: .apiKey, method: .apiKey, keys: keys, pepper: pepper),
        ]
    }

    /// Answers one request under `/admin/`. Never throws: a refusal is a JSON error, an
    /// infrastructure failure a logged 500.
    public func respond<P: ParamSource>(_ params: P, path: String, method: String) -> Response {
        let request = APIRequest(params, method: method, limits: config.limits, client: config.client)
        do {
            return try serve(request, path: path)
        } catch let failure as APIFailure {
            return failure.response
        } catch {
            if let refusal = AdminError.from(error) {
                return APIResponse.error(refusal, headers: refusal.status == 401 ? [Self.challenge] : [])
            }
            log("keyward[KW0501]: admin API failed: \(error)")
            return APIResponse.error(.internalError)
        }
    }

    static let challenge = ("WWW-Authenticate", "Bearer realm=\"keyward\"")

    private func serve(_ request: APIRequest, path: String) throws -> Response {
        request.path = path
        let reveal = "/admin/reveal/"
        if path.hasPrefix(reveal) {
            let token = path.dropFirst(reveal.count)
            guard !token.isEmpty, !token.contains("/") else { throw AdminError.noSuchEndpoint }
            return try revealLink(request, token: String(token))
        }
        let prefix = "/admin/api/"
        guard path.hasPrefix(prefix) else { return servePage(request, path: path) }
        let segments = try path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map { raw in
            guard let bytes = PercentDecoding.decode(raw), let text = String(validating: bytes, as: UTF8.self), !text.isEmpty
            else { throw AdminError.noSuchEndpoint }
            return text
        }
        var allowed: [String] = []
        for route in routes {
            guard let captures = route.match(segments) else { continue }
            guard route.method == request.method else {
                allowed.append(route.method)
                continue
            }
            request.captures = captures
            switch route.handler {
            case .open(let handler):
                return try handler(self)(request)
            case .authenticated(let handler):
                let (store, _) = try opened()
                let caller = try authenticate(request)
                if request.isUnsafe, case .session(_, let csrfHash) = caller.via {
                    // A browser's cross-site request carries the cookie but not the token, and
                    // says where it comes from (Fetch Metadata, Origin): both must hold.
                    try request.requireSameOrigin()
                    guard let token = request.csrfToken ?? request.formCSRFToken,
                        ConstantTime.equals(Digest.sha256(token), csrfHash)
                    else { throw AdminError.csrfFailed }
                }
                request.caller = caller
                let admin = Admin(
                    store: store, keyFile: config.keyFile, clock: clock,
                    actor: .user(caller.user, privileges: caller.privileges, credential: caller.credential),
                    sourceIP: request.address, limits: config.limits)
                admin.mail = config.mail
                return try handler(self)(request, admin)
            }
        }
        if allowed.isEmpty { throw AdminError.noSuchEndpoint }
        throw APIFailure(.methodNotAllowed(allowed), headers: [("Allow", allowed.joined(separator: ", "))])
    }

    // MARK: Authentication

    /// Who is calling: a credential (an API key in `Authorization: Bearer kwk_...` or
    /// `X-API-Key`, or an RFC 9421 signature for a `kwh_` credential, with a nonce; never
    /// `Authorization: HMAC`, see `adminChain`), else the session cookie. A client over its failure
    /// limit is still served with a valid credential or session; see `authenticateCredential`.
    func authenticate(_ request: APIRequest) throws -> Caller {
        let now = clock.now
        let (_, authenticator) = try opened()
        let adminPath = config.mount + request.path
        // No query: a key in the URL is refused here (it would land in logs); a signature over
        // the target reads it from the request's own target.
        let check = CheckRequest(
            method: request.method, path: PathNormalizer.normalize(requestURI: adminPath, limits: config.limits),
            remoteAddress: request.address, authorization: request.authorization, apiKeyHeader: request.apiKeyHeader,
            source: request.signed)
        if let authorization = request.authorization, authorization.utf8.count >= 5,
            authorization.utf8.prefix(5).map({ $0 | 0x20 }).elementsEqual("hmac ".utf8)
        {
            throw AdminError.unauthenticated(
                "The admin API does not take Authorization: HMAC, which covers no method, path or time; sign the request (RFC 9421, with a nonce).")
        }
        if let (candidate, claimant) = authenticator.chain.route(check) {
            return try authenticateCredential(candidate, claimant, check, request, now: now)
        }
        let cookies = request.sessionCookies
        if cookies.count > 1 {
            // A sibling (sub)domain may plant a second cookie to pin a victim to its session.
            throw AdminError.unauthenticated("More than one session cookie; sign in again.")
        }
        if let cookie = cookies.first {
            return try authenticateSession(cookie, request, now: now)
        }
        throw AdminError.unauthenticated()
    }

    /// An API key or a signed request, verified by the same authenticators as at the check
    /// (`adminChain`) and held to the credential's own rules on this admin path
    /// (`<mount>/admin/api/...`) as the check would: the stored hash (constant time) or the
    /// signature, the credential's and its user's status, expiry, networks and scopes, so a
    /// credential scoped to some API never doubles as an admin credential; and its user must
    /// hold `use-api-key`. Authentication failures (401) come before authorization ones (403),
    /// and among those the missing privilege first.
    private func authenticateCredential(
        _ candidate: Candidate, _ claimant: (any CredentialAuthenticator)?, _ check: CheckRequest, _ request: APIRequest, now: Int64
    ) throws -> Caller {
        let (store, authenticator) = try opened()
        let kind = candidate.secret == nil && claimant != nil ? "signed request" : "API key"
        func refuse(_ reason: String, credential: String?, user: String? = nil, detail: String) {
            audit.record(
                AuditEvent(
                    at: now, actor: user ?? "anonymous", action: "admin.auth.deny", credential: credential,
                    sourceIP: request.address, reason: reason, detail: detail))
        }
        // A body over the limit is refused for what it is, not as a signature without its body.
        if kind == "signed request", request.body == nil { throw AdminError.bodyTooLarge }
        let authentication: Authentication
        if let claimant {
            try authenticator.keys.refresh()
            authentication = try claimant.authenticate(candidate, in: check, now: now)
        } else {
            // A well-formed secret of a kind the admin API does not take is named all the same.
            authentication = .refused(Denial(.invalidCredential, credential: candidate.secret?.id))
        }
        let verified: VerifiedCredential
        switch authentication {
        case .verified(let proved):
            verified = proved
        case .refused(let denial):
            // A full replay cache is no failure of the client's: 429, nothing counted against it.
            if denial.reason == .replayCacheFull, let wait = denial.retryAfter {
                throw APIFailure(.throttled(wait), headers: [("Retry-After", String(wait))])
            }
            // Past the client's failure limit a credential that does not verify gets 429, after
            // no more work than a checksum and a lookup; a valid one from the same address is served.
            if let address = request.address, let wait = throttle.retryAfter(address, now: now) {
                if let n = throttle.auditedRefusal(address, now: now) {
                    refuse(DenyReason.tooManyFailures.rawValue, credential: denial.credential, detail: "\(kind); refusal \(n) of the window")
                }
                throw APIFailure(.throttled(wait), headers: [("Retry-After", String(wait))])
            }
            refuse(denial.reason.rawValue, credential: denial.credential, user: denial.user, detail: kind)
            if let address = request.address { throttle.recordFailure(address, now: now) }
            throw AdminError.unauthenticated(
                kind == "API key" ? "The API key is invalid." : "The request signature does not verify (\(denial.reason.rawValue)).")
        }
        let key = verified.record
        let method = verified.method
        let decision = authenticator.authorize(verified, for: check)
        if case .deny(let denial) = decision, denial.reason.kind == .challenge {
            refuse(denial.reason.rawValue, credential: key.id, user: key.userName, detail: method.rawValue)
            if let address = request.address { throttle.recordFailure(address, now: now) }
            let what = method == .apiKey ? "The API key" : "The signing credential"
            throw AdminError.unauthenticated(denial.reason == .credentialExpired ? "\(what) has expired." : "\(what) is invalid.")
        }
        let privileges = try store.privileges(of: key.userName)
        guard privileges.contains(Privilege.useAPIKey) else {
            refuse("privilege_missing", credential: key.id, user: key.userName, detail: method.rawValue)
            throw AdminError.forbidden("The credential's user does not hold \(Privilege.useAPIKey).")
        }
        if case .deny(let denial) = decision {
            refuse(denial.reason.rawValue, credential: key.id, user: key.userName, detail: method.rawValue)
            throw AdminError.forbidden(
                denial.reason == .addressNotAllowed
                    ? "This credential may not be used from this address."
                    : "The credential's scopes do not cover \(request.method) \(config.mount + request.path).")
        }
        usage.recordUse(credential: key.id, at: now, from: request.address)
        return Caller(user: key.userName, privileges: privileges, via: .credential(method), credential: key.id)
    }
}

/// Who an authenticated request comes from.
struct Caller {
    enum Via: Equatable {
        /// A credential that proves itself on every request: an API key, or a signed request
        /// (`hmac`, `http-signature`); no session, no CSRF token.
        case credential(AuthMethod)
        case session(idHash: [UInt8], csrfHash: [UInt8])

        /// `api-key`, `hmac`, `http-signature` or `session`, as `whoami` reports it.
        var name: String {
            switch self {
            case .credential(let method): method.rawValue
            case .session: "session"
            }
        }

        /// True for a password sign-in's session.
        var isSession: Bool {
            if case .session = self { return true }
            return false
        }
    }
    let user: String
    /// Privileges held now, read on every request.
    let privileges: Set<String>
    let via: Via
    /// Public id of the API key, or the session's (`ses_...`), for the audit.
    let credential: String
}

/// A refusal with headers of its own (`Allow`, `Retry-After`).
struct APIFailure: Error {
    let error: AdminError
    let headers: [(String, String)]
    init(_ error: AdminError, headers: [(String, String)]) {
        self.error = error
        self.headers = headers
    }
    /// The JSON answer.
    var response: Response { APIResponse.error(error, headers: headers) }
}

/// The facts of one admin API request, read from the params once.
final class APIRequest {
    let method: String
    let query: Substring?
    let contentType: String?
    let authorization: String?
    let apiKeyHeader: String?
    let cookieHeader: String?
    let csrfToken: String?
    let accept: String?
    /// `Origin` (RFC 6454 §7), `Host` and `Sec-Fetch-Site`, for `requireSameOrigin`.
    let origin: String?
    let host: String?
    let fetchSite: String?
    let address: String?
    /// True when the server says the request came over TLS.
    let https: Bool
    private let bodyReader: () -> [UInt8]?
    /// The body, read once on first use (the stream cannot be rewound); nil when over the limit.
    private(set) lazy var body: [UInt8]? = bodyReader()
    /// The fields a signed request reads, from the server's params.
    private let fields: any RequestSource
    /// The request as a signature sees it: its fields, target and the body this request reads
    /// once (an admin API request is a responder's: its body reaches Keyward).
    var signed: any RequestSource { SignedSource(fields: fields, request: self) }
    /// The path below the mount (`/admin/api/...`), as routed.
    var path = ""
    /// The path's `{}` parts, percent-decoded.
    var captures: [String] = []
    /// Set once authenticated.
    var caller: Caller?

    init<P: ParamSource>(_ params: P, method: String, limits: Limits, client: ClientAddressRule) {
        func value(_ name: StaticString) -> String? {
            guard let v = params.param(name), !v.isEmpty else { return nil }
            return v
        }
        self.method = method
        if let uri = value("REQUEST_URI"), let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            query = uri[uri.utf8.index(after: mark)...]
        } else {
            query = value("QUERY_STRING")?[...]
        }
        contentType = value("CONTENT_TYPE")
        authorization = value("HTTP_AUTHORIZATION")
        apiKeyHeader = value("HTTP_X_API_KEY")
        cookieHeader = value("HTTP_COOKIE")
        csrfToken = value("HTTP_X_CSRF_TOKEN")
        accept = value("HTTP_ACCEPT")
        origin = params.unambiguous("HTTP_ORIGIN")
        host = params.unambiguous("HTTP_HOST")
        fetchSite = value("HTTP_SEC_FETCH_SITE")
        address = client.address(params)
        https = value("HTTPS").map { $0.lowercased() == "on" || $0 == "1" } ?? false
        let limit = limits.maxBodyBytes
        bodyReader = { params.readBody(limit: limit) }
        fields = ParamRequestSource(params)
    }

    /// `RequestSource` over an admin API request: fields from the params, the body the request
    /// keeps, so that a signature and the handler read the same bytes.
    private struct SignedSource: RequestSource {
        let fields: any RequestSource
        unowned let request: APIRequest
        var target: RequestTarget { fields.target }
        func header(_ name: String) -> String? { fields.header(name) }
        func body(limit: Int) -> [UInt8]? {
            guard let body = request.body, body.count <= limit else { return nil }
            // A body cut short (or longer than declared) is not the body that was signed.
            if let declared = fields.header("content-length").flatMap({ Int($0) }), declared != body.count { return nil }
            return body
        }
    }

    /// POST, PUT, PATCH and DELETE: a cookie session needs the CSRF token for these.
    var isUnsafe: Bool { !["GET", "HEAD", "OPTIONS"].contains(method) }

    /// Every non-empty `keyward_session` cookie value sent (RFC 6265 §5.4); more than one is refused.
    var sessionCookies: [String] { cookies(Sessions.cookieName) }

    /// Every non-empty `keyward_device` cookie value sent, at most four (a sibling domain may add its own).
    var deviceCookies: [String] { Array(cookies(DeviceCookie.name).prefix(4)) }

    private func cookies(_ name: String) -> [String] {
        guard let cookieHeader else { return [] }
        var values: [String] = []
        for pair in cookieHeader.split(separator: ";") {
            let trimmed = pair.drop(while: { $0 == " " || $0 == "\t" })
            guard let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == name else { continue }
            let v = String(trimmed[trimmed.index(after: eq)...])
            if !v.isEmpty { values.append(v) }
        }
        return values
    }

    /// The path part `index` (0-based among the `{}` parts).
    func capture(_ index: Int) -> String { captures[index] }

    /// The query string, refusing parameters outside `allowed`.
    func query(_ allowed: Set<String>) throws(AdminError) -> Query {
        try Query(query, allowed: allowed)
    }

    /// The JSON body, refusing other media types, oversized or malformed bodies and members
    /// outside `allowed`. An empty body reads as `{}` when `allowEmpty`.
    func json(_ allowed: Set<String>, allowEmpty: Bool = false) throws(AdminError) -> JSONBody {
        guard let body else { throw .bodyTooLarge }
        if body.isEmpty && allowEmpty && (contentType == nil || isJSON) { return try JSONBody([], allowed: allowed, allowEmpty: true) }
        // A page's form that carries nothing but its CSRF token is an empty body too.
        if allowEmpty && allowed.isEmpty && isForm, (try? form(["csrf_token"])) != nil { return try JSONBody([], allowed: allowed, allowEmpty: true) }
        guard isJSON else { throw .unsupportedMediaType }
        return try JSONBody(body, allowed: allowed, allowEmpty: false)
    }

    /// For endpoints that take no body: none, or `{}`.
    func noBody() throws(AdminError) {
        _ = try json([], allowEmpty: true)
    }

    /// The one of `offered` (media types, the default first) that `Accept` prefers (RFC 9110
    /// §12.5.1): each one's quality is the most specific matching range's, the highest wins and a
    /// tie goes to the earlier. Without `Accept`, or when it accepts none of them, the first: a
    /// server may disregard the header rather than answer 406.
    func negotiate(_ offered: [String]) -> String {
        guard let accept, let first = offered.first else { return offered.first ?? "" }
        var ranges: [(type: String, subtype: String, q: Double)] = []
        for element in accept.split(separator: ",").prefix(32) {
            let parts = element.split(separator: ";")
            guard let range = parts.first?.trimmingCharacters(in: " \t").lowercased() else { continue }
            let halves = range.split(separator: "/", omittingEmptySubsequences: false)
            guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() {
                let p = parameter.trimmingCharacters(in: " \t").lowercased()
                if p.hasPrefix("q="), let v = Double(p.dropFirst(2)), (0...1).contains(v) { q = v }
            }
            ranges.append((String(halves[0]), String(halves[1]), q))
        }
        func quality(_ media: String) -> Double {
            let halves = media.split(separator: "/")
            var best: (specificity: Int, q: Double)?
            for r in ranges {
                let specificity: Int
                if r.type == "*" && r.subtype == "*" {
                    specificity = 0
                } else if r.type == halves[0] && r.subtype == "*" {
                    specificity = 1
                } else if r.type == halves[0] && r.subtype == halves[1] {
                    specificity = 2
                } else {
                    continue
                }
                if specificity > best?.specificity ?? -1 { best = (specificity, r.q) }
            }
            return best?.q ?? 0
        }
        var chosen = (media: first, q: quality(first))
        for media in offered.dropFirst() {
            let q = quality(media)
            if q > chosen.q { chosen = (media, q) }
        }
        return chosen.media
    }

    private var isJSON: Bool {
        guard let contentType else { return false }
        let parts = contentType.split(separator: ";")
        guard let type = parts.first?.trimmingCharacters(in: " \t").lowercased(), type == "application/json" else { return false }
        // Only UTF-8 (RFC 8259 §8.1); a charset parameter may say so.
        for parameter in parts.dropFirst() {
            let p = parameter.trimmingCharacters(in: " \t").lowercased()
            if p.hasPrefix("charset="), p != "charset=utf-8", p != "charset=\"utf-8\"" { return false }
        }
        return true
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

/// One endpoint: a method and a path pattern below `/admin/api/` (`{}` matches one segment).
struct Route {
    enum Handler {
        /// Served without authentication: the OpenAPI document, sign-in.
        case open((AdminAPI) -> (APIRequest) throws -> Response)
        /// Served to an authenticated caller, through `Admin` operations acting as them.
        case authenticated((AdminAPI) -> (APIRequest, Admin) throws -> Response)
    }
    let method: String
    let pattern: PathPattern
    let handler: Handler

    init(_ method: String, _ path: String, _ handler: @escaping (AdminAPI) -> (APIRequest, Admin) throws -> Response) {
        self.init(method, path, .authenticated(handler))
    }

    init(_ method: String, _ path: String, _ handler: Handler) {
        self.method = method
        self.pattern = PathPattern(path)
        self.handler = handler
    }

    /// The `{}` parts when `segments` fit the pattern.
    func match(_ segments: [String]) -> [String]? { pattern.match(segments) }
}

/// A route's path below its prefix, split into segments; `{}` matches any one segment.
struct PathPattern: Sendable {
    let segments: [String]

    init(_ path: String) { segments = path.split(separator: "/").map(String.init) }

    /// The parts `{}` matched when `segments` fit the pattern, in order; nil when they do not.
    func match(_ path: [String]) -> [String]? {
        guard path.count == segments.count else { return nil }
        var captures: [String] = []
        for (p, s) in zip(segments, path) {
            if p == "{}" { captures.append(s) } else if p != s { return nil }
        }
        return captures
    }
}
