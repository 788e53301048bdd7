import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// Cookie sessions of the admin API: sign-in with a password, a random session id in an
/// `HttpOnly; SameSite=Strict` cookie, and a CSRF token that every changing request repeats in
/// `X-CSRF-Token`. Only SHA-256 hashes of the two tokens are stored.
enum Sessions {
    /// The cookie's name.
    static let cookieName = "keyward_session"

    /// Bytes of randomness in a session id and a CSRF token (256 bits each).
    static let tokenBytes = 32

    /// What is stored for a token: its SHA-256 (the token itself is random, so no salt or pepper is needed).
    static func hash(_ token: String) -> [UInt8] { Digest.sha256(token) }

    /// The HMAC key of CSRF tokens, derived from the master key under its own label.
    static func csrfKey(masterKey: [UInt8]) -> [UInt8] {
        HMACKey(masterKey).authenticationCode("keyward session csrf v1")
    }

    /// A session's CSRF token: an HMAC of its cookie value, so the pages can put it in every
    /// form without the server storing it, and it is worth nothing without the cookie's secret.
    static func csrfToken(forSession cookie: String, key: HMACKey) -> String {
        Base64URL.encode(Array(key.authenticationCode(cookie).prefix(tokenBytes)))
    }

    /// A session's public id for the audit (`ses_` + 12 base64url characters of its hash): names
    /// the session without revealing anything that would let one use it.
    static func publicId(_ idHash: [UInt8]) -> String { SessionInfo.publicId(idHash) }

    /// A session's last use is written at most this often (seconds): its idle expiry is that much coarse.
    static let touchInterval: Int64 = 60

    /// Compared against when the user is unknown, has no password or is disabled, so every failed
    /// sign-in costs one scrypt like a wrong password does.
    static let decoy = PasswordHash(password: Base64URL.encode(SecureRandom.bytes(24)))

    /// The `Set-Cookie` value for a new session, or one that clears it (`value` nil).
    static func cookie(_ value: String?, config: AdminAPIConfig, https: Bool) -> String {
        var parts = ["\(cookieName)=\(value ?? "")", "HttpOnly", "SameSite=Strict", "Path=\(config.mount)/admin"]
        parts.append("Max-Age=\(value == nil ? 0 : config.sessionLifetime)")
        if config.secureCookies || https { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }
}

/// What password sign-ins share across the process: their throttle (`SignInThrottle`) and the
/// scrypt slots (`HashingSlots`). Made once by `keyward serve` and given to every worker's API.
public final class SignInGuard: Sendable {
    /// When a sign-in may go on to the hash.
    public let throttle: SignInThrottle
    /// Who hashes next.
    let slots: HashingSlots

    /// The guard for a process whose per-client failure counts are `throttle`, with `limits`'
    /// sign-in limits. Two sign-ins hash at once and `maxWaiting` may wait for them: each waiting
    /// one holds a worker thread, so keep it well under the thread count (`keyward serve` uses a
    /// quarter of it).
    public init(throttle: FailureThrottle, limits: Limits, maxWaiting: Int = 2) {
        self.throttle = SignInThrottle(clients: throttle, limits: limits)
        slots = HashingSlots(slots: 2, maxWaiting: maxWaiting)
    }
}

/// The scrypt slots: at most two sign-ins hash at once (scrypt costs tens of milliseconds of CPU on
/// the worker threads that also serve checks), shared fairly (`FairQueue`): a newcomer waits a
/// little rather than being turned away while a flood holds the slots, a client that has proven
/// itself for the account goes first, and a flood from some clients cannot keep the others out.
final class HashingSlots: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: FairQueue
    /// How long a sign-in waits for a slot before it is answered 429.
    let timeout: TimeInterval

    init(slots: Int, maxWaiting: Int, timeout: TimeInterval = 5) {
        queue = FairQueue(slots: slots, maxWaiting: maxWaiting)
        self.timeout = timeout
    }

    /// Sign-ins that have hashed so far (each holds a slot for one scrypt): what tests count
    /// instead of timing.
    var hashed: Int {
        condition.lock()
        defer { condition.unlock() }
        return runs
    }
    private var runs = 0

    /// Sign-ins waiting for a slot now.
    var waitingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.waitingCount
    }

    /// `body`'s result, run in a slot; nil when no slot came: refused, displaced or timed out.
    func run<T>(client: String, priority: Bool, _ body: () throws -> T) rethrows -> T? {
        condition.lock()
        let (ticket, admission, displaced) = queue.arrive(client: client, priority: priority)
        if displaced != nil { condition.broadcast() }
        if admission == .wait {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while queue.isWaiting(ticket) && condition.wait(until: deadline) {}
        }
        guard queue.isRunning(ticket) else {
            queue.abandon(ticket)
            condition.unlock()
            return nil
        }
        runs += 1
        condition.unlock()
        defer {
            condition.lock()
            if queue.finish(ticket) != nil { condition.broadcast() }
            condition.unlock()
        }
        return try body()
    }
}

extension AdminAPI {
    /// `POST /admin/api/session` `{"user", "password"}`: a new session, and a device cookie that
    /// vouches for this client at this account next time. Unknown users, users without a password,
    /// disabled users and wrong passwords are answered alike, after the same work, and throttled
    /// alike (`SignInThrottle`, by the name asked for): a refusal is 429 with `Retry-After`, before
    /// any hashing, whether or not the name exists.
    func signIn(_ request: APIRequest) throws -> Response {
        let body = try request.json(["user", "password"])
        let session = try openSession(user: try body.requiredString("user"), password: try body.requiredString("password"), request)
        return APIResponse.json(
            201,
            .object([
                ("user", .string(session.user)), ("privileges", .strings(session.privileges.sorted())),
                ("csrf_token", .string(session.csrf)), ("expires_at", .int(session.expiresAt)),
            ]),
            headers: session.cookies)
    }

    /// A signed-in session: its CSRF token and the `Set-Cookie` headers that carry it.
    struct OpenedSession {
        let user: String
        let privileges: Set<String>
        let csrf: String
        let expiresAt: Int64
        let cookies: [(String, String)]
    }

    /// Verifies `password` for `name` and opens a session (the API's and the sign-in page's
    /// one path). Refusals: `unauthenticated` alike for every kind of failure, or a throttled
    /// `APIFailure` with `Retry-After`.
    func openSession(user name: String, password: String, _ request: APIRequest) throws -> OpenedSession {
        let now = clock.now
        guard password.utf8.count <= config.limits.maxPasswordBytes, name.utf8.count <= config.limits.maxSignInNameBytes else {
            throw AdminError.invalid("user or password too long")
        }
        let guarded = signIns.throttle
        let device = request.deviceCookies.lazy.compactMap {
            DeviceCookie.verify($0, user: name, now: now, lifetime: self.config.limits.signInTrustSeconds, key: self.deviceKey)
        }.first
        let standing = guarded.standing(account: name, address: request.address, device: device, now: now)
        func deny(_ reason: DenyReason, detail: String = "password") {
            audit.record(
                AuditEvent(
                    at: now, actor: "anonymous", action: "session.deny",
                    target: Admin.validName(name) ? "user:\(name)" : nil, sourceIP: request.address,
                    reason: reason.rawValue, detail: detail))
        }
        if let wait = guarded.retryAfter(account: name, address: request.address, standing: standing, now: now) {
            // Audited at the client's 1st, 2nd, 4th... refusal of the window, like the check's.
            var audited: Int? = 1
            if let address = request.address { audited = guarded.clients.auditedRefusal(address, now: now) }
            if let n = audited { deny(.tooManyFailures, detail: "password; refusal \(n) of the window") }
            throw APIFailure(.throttled(wait), headers: [("Retry-After", String(wait))])
        }
        let (store, _) = try opened()
        let client = request.address.map(ClientAddress.key) ?? ""
        let outcome = try signIns.slots.run(client: client, priority: standing != .stranger) { () throws -> Bool in
            var stored: String? = nil
            var active = false
            if Admin.validName(name), let row = try? store.user(name) {
                stored = try store.userPassword(name)
                active = row.status == .active
            }
            let hash = stored.flatMap { try? PasswordHash(encoded: $0) }
            return (hash ?? Sessions.decoy).verify(password) && hash != nil && active
        }
        guard let verified = outcome else {
            // No slot came in time: not a failure of the client's, and not counted.
            throw APIFailure(.throttled(1), headers: [("Retry-After", "1")])
        }
        guard verified else {
            guarded.recordFailure(account: name, address: request.address, standing: standing, now: now)
            deny(.invalidCredential)
            throw AdminError.unauthenticated("Unknown user or wrong password.")
        }
        guarded.recordSuccess(account: name, address: request.address, device: device, now: now)

        let token = Base64URL.encode(SecureRandom.bytes(Sessions.tokenBytes))
        let csrf = Sessions.csrfToken(forSession: token, key: csrfKey)
        let idHash = Sessions.hash(token)
        let expiresAt = now + config.sessionLifetime
        let privileges = try store.privileges(of: name)
        let admin = Admin(
            store: store, keyFile: config.keyFile, clock: clock,
            actor: .user(name, privileges: privileges, credential: Sessions.publicId(idHash)), sourceIP: request.address,
            limits: config.limits)
        try admin.change("session.create", target: "user:\(name)") {
            try endExpiredSessions(store, now: now, request)
            try store.insertSession(idHash: idHash, user: name, csrfHash: Sessions.hash(csrf), now: now, expiresAt: expiresAt)
        }
        // The same device keeps its id (its failure count follows it); a new one gets a fresh id.
        let deviceId = device.flatMap(DeviceCookie.rawId) ?? SecureRandom.bytes(DeviceCookie.idBytes)
        let deviceCookie = DeviceCookie.issue(user: name, id: deviceId, now: now, key: deviceKey)
        return OpenedSession(
            user: name, privileges: privileges, csrf: csrf, expiresAt: expiresAt,
            cookies: [
                ("Set-Cookie", Sessions.cookie(token, config: config, https: request.https)),
                ("Set-Cookie", DeviceCookie.setCookie(deviceCookie, config: config, https: request.https)),
            ])
    }

    /// `DELETE /admin/api/session`: ends the caller's session and clears the cookie.
    func signOut(_ request: APIRequest, _ admin: Admin) throws -> Response {
        try request.noBody()
        guard case .session(let idHash, _)? = request.caller?.via else {
            throw AdminError.invalid("Signed in with an API key: there is no session to end.")
        }
        try admin.change("session.delete", target: "user:\(admin.actor.auditName)") {
            try admin.store.deleteSession(idHash: idHash)
        }
        return APIResponse.noContent(headers: [("Set-Cookie", Sessions.cookie(nil, config: config, https: request.https))])
    }

    /// The session the cookie names, while it lasts (`Limits.sessionLifetime`), is in use
    /// (`Limits.sessionIdle`) and its user is active. A use is recorded at most once a minute; a
    /// session found past either limit is removed and its end audited (`session.expire`).
    func authenticateSession(_ cookie: String, _ request: APIRequest, now: Int64) throws -> Caller {
        let (store, _) = try opened()
        let idHash = Sessions.hash(cookie)
        let ended = AdminError.unauthenticated("The session has ended; sign in again.")
        guard cookie.utf8.count <= config.limits.maxSessionCookieBytes else { throw ended }
        guard let session = try store.session(idHash: idHash, now: now, idle: config.limits.sessionIdle) else {
            try endExpiredSessions(store, now: now, request, only: idHash)
            throw ended
        }
        guard session.userStatus == .active else { throw ended }
        if now - session.lastSeenAt >= Sessions.touchInterval { try store.touchSession(idHash: idHash, now: now) }
        return Caller(
            user: session.user, privileges: try store.privileges(of: session.user),
            via: .session(idHash: idHash, csrfHash: session.csrfHash), credential: Sessions.publicId(idHash))
    }

    /// Removes the sessions past their lifetime or idle limit (only `only`'s when given), each
    /// audited as `session.expire` by its user, naming which limit ended it (and the address of
    /// the request that found it, for the cookie's own; none for the others). Writes nothing when
    /// there are none (an unknown cookie takes no write lock).
    func endExpiredSessions(_ store: Store, now: Int64, _ request: APIRequest, only idHash: [UInt8]? = nil) throws {
        let limits = config.limits
        guard try !store.expiredSessions(now: now, idle: limits.sessionIdle, idHash: idHash).isEmpty else { return }
        try store.transaction {
            for session in try store.deleteExpiredSessions(now: now, idle: limits.sessionIdle, idHash: idHash) {
                let admin = Admin(
                    store: store, keyFile: config.keyFile, clock: clock, actor: .user(session.user, privileges: [], credential: nil),
                    sourceIP: idHash == nil ? nil : request.address, limits: limits)
                let why =
                    session.expiresAt <= now
                    ? "lifetime of \(limits.sessionLifetime / 60) minutes over"
                    : "unused for \(limits.sessionIdle / 60) minutes"
                try admin.audit("session.expire", target: "user:\(session.user)", credential: session.id, detail: why)
            }
        }
    }
}
