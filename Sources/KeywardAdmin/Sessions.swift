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

    /// A session's public id for the audit (`ses_` + 12 base64url characters of its hash): names
    /// the session without revealing anything that would let one use it.
    static func publicId(_ idHash: [UInt8]) -> String { "ses_" + Base64URL.encode(Array(idHash.prefix(9))) }

    /// Compared against when the user is unknown, has no password or is disabled, so every failed
    /// sign-in costs one scrypt like a wrong password does.
    static let decoy = PasswordHash(password: Base64URL.encode(SecureRandom.bytes(24)))

    /// Sign-ins hashing a password right now, process-wide. scrypt costs ~0.1 s of CPU on the
    /// worker threads that also serve checks, so at most `maxHashing` run at once; more are
    /// answered 429 rather than left to stall the checks.
    static let hashing = HashingSlots()
    static let maxHashing = 2

    final class HashingSlots: @unchecked Sendable {
        private let lock = Lock()
        private var busy = 0
        /// Takes a slot; false when all are taken.
        func take() -> Bool { lock.withLock { busy < Sessions.maxHashing ? { busy += 1; return true }() : false } }
        func give() { lock.withLock { busy -= 1 } }
    }

    /// The `Set-Cookie` value for a new session, or one that clears it (`value` nil).
    static func cookie(_ value: String?, config: AdminAPIConfig, https: Bool) -> String {
        var parts = ["\(cookieName)=\(value ?? "")", "HttpOnly", "SameSite=Strict", "Path=\(config.mount)/admin"]
        parts.append("Max-Age=\(value == nil ? 0 : config.sessionLifetime)")
        if config.secureCookies || https { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }
}

extension AdminAPI {
    /// `POST /admin/api/session` `{"user", "password"}`: a new session. Unknown users, users
    /// without a password, disabled users and wrong passwords are answered alike, after the same
    /// work, and count toward the address's failure throttle.
    func signIn(_ request: APIRequest) throws -> Response {
        let now = clock.now
        if let address = request.address, let wait = throttle.retryAfter(address, now: now) {
            throw APIFailure(.throttled(wait), headers: [("Retry-After", String(wait))])
        }
        let body = try request.json(["user", "password"])
        let name = try body.requiredString("user")
        let password = try body.requiredString("password")
        guard password.utf8.count <= 1024, name.utf8.count <= 256 else { throw AdminError.invalid("user or password too long") }
        // Per account too: guessing one user's password from many addresses is throttled as well.
        let account = "signin:" + name
        if let wait = throttle.retryAfter(account, now: now) {
            throw APIFailure(.throttled(wait), headers: [("Retry-After", String(wait))])
        }
        let (store, _) = try opened()
        guard Sessions.hashing.take() else { throw APIFailure(.throttled(1), headers: [("Retry-After", "1")]) }
        defer { Sessions.hashing.give() }

        var stored: String? = nil
        var active = false
        if Admin.validName(name), let row = try? store.user(name) {
            stored = try store.userPassword(name)
            active = row.status == .active
        }
        let hash = stored.flatMap { try? PasswordHash(encoded: $0) }
        let verified = (hash ?? Sessions.decoy).verify(password)
        guard verified, hash != nil, active else {
            if let address = request.address { throttle.recordFailure(address, now: now) }
            throttle.recordFailure(account, now: now)
            audit.record(AuditEvent(at: now, actor: "anonymous", action: "session.deny",
                                    target: Admin.validName(name) ? "user:\(name)" : nil, sourceIP: request.address,
                                    reason: DenyReason.invalidCredential.rawValue, detail: "password"))
            throw AdminError.unauthenticated("Unknown user or wrong password.")
        }

        let token = Base64URL.encode(SecureRandom.bytes(Sessions.tokenBytes))
        let csrf = Base64URL.encode(SecureRandom.bytes(Sessions.tokenBytes))
        let idHash = Sessions.hash(token)
        let expiresAt = now + config.sessionLifetime
        let privileges = try store.privileges(of: name)
        let admin = Admin(store: store, keyFile: config.keyFile, clock: clock,
                          actor: .user(name, privileges: privileges, credential: Sessions.publicId(idHash)), sourceIP: request.address)
        try admin.change("session.create", target: "user:\(name)") {
            try store.deleteExpiredSessions(now: now)
            try store.insertSession(idHash: idHash, user: name, csrfHash: Sessions.hash(csrf), now: now, expiresAt: expiresAt)
        }
        return APIResponse.json(201, .object([
            ("user", .string(name)), ("privileges", .strings(privileges.sorted())), ("csrf_token", .string(csrf)),
            ("expires_at", .int(expiresAt)),
        ]), headers: [("Set-Cookie", Sessions.cookie(token, config: config, https: request.https))])
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

    /// The session the cookie names, while it lasts and its user is active.
    func authenticateSession(_ cookie: String, _ request: APIRequest, now: Int64) throws -> Caller {
        let (store, _) = try opened()
        let idHash = Sessions.hash(cookie)
        guard cookie.utf8.count <= 256, let session = try store.session(idHash: idHash, now: now), session.userStatus == .active else {
            throw AdminError.unauthenticated("The session has ended; sign in again.")
        }
        return Caller(user: session.user, privileges: try store.privileges(of: session.user),
                      via: .session(idHash: idHash, csrfHash: session.csrfHash), credential: Sessions.publicId(idHash))
    }
}
