import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore

/// What became of one notification: `sent`, `no_email` (the user has no address), `failed`
/// (sendmail refused or no link could be made; `error` says why) or `mail_off` (no mail settings).
public struct MailNotice: Sendable, Equatable, Codable {
    /// The user it was for; nil when nobody could be named (no admin with an address).
    public var user: String?
    /// Where it went.
    public var address: String?
    /// `access.request`, `access.approve`, `access.approve.confirm`, `access.reject` or `key.expiring`.
    public var about: String
    /// `sent`, `no_email`, `failed` or `mail_off`.
    public var result: String
    /// Why it failed; never a secret.
    public var error: String?

    /// A notice from its parts.
    public init(user: String?, address: String?, about: String, result: String, error: String? = nil) {
        self.user = user
        self.address = address
        self.about = about
        self.result = result
        self.error = error
    }

    enum CodingKeys: String, CodingKey { case user, address, about, result, error }

    /// Every field, null when empty.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user, forKey: .user)
        try c.encode(address, forKey: .address)
        try c.encode(about, forKey: .about)
        try c.encode(result, forKey: .result)
        try c.encode(error, forKey: .error)
    }
}

extension AdminError {
    /// A reveal link that was used, has expired or never existed: all look the same (410).
    public static let linkGone = AdminError(
        .linkUsedOrExpired,
        "This link was used already, has expired, or never existed.")
}

// MARK: Requests and decisions

extension Admin {
    /// Asks for access to `resource` for `user` (the user themself, or an admin for them). One
    /// pending request per user and resource (409 otherwise). Mails the resource's owner, or every
    /// admin with an address when it has none.
    public func requestAccess(user: String, resource: String, note: String?) throws -> AccessRequestRow {
        notices = []
        guard actor.isAdmin || actor.user == user else { throw AdminError.forbidden("You may request access for yourself only.") }
        let note = try checkNote(note, "note")
        let requester = try store.user(user)
        guard requester.status == .active else { throw AdminError.conflict("user \(user) is disabled") }
        let target = try store.resource(resource)
        guard !target.anonymous else { throw AdminError.invalid("resource \(resource) is anonymous: it needs no key") }
        let now = clock.now
        let id: Int64 = try store.transaction {
            if let pending = try store.pendingAccessRequest(user: user, resource: resource) {
                throw AdminError.conflict("user \(user) already has a pending request for \(resource): #\(pending)")
            }
            let id = try store.insertAccessRequest(user: user, resource: resource, note: note, now: now)
            try audit("access.request", target: "resource:\(resource)", detail: "request:\(id) user:\(user)")
            return id
        }
        let row = try requestRow(id)
        var recipients: [(user: String, email: String?)] = []
        if let owner = target.owner {
            recipients = [(owner, try store.user(owner).email)]
        } else {
            recipients = try store.adminEmails().map { ($0.user, $0.email) }
            if recipients.isEmpty {
                notices.append(
                    MailNotice(
                        user: nil, address: nil, about: "access.request", result: "no_email",
                        error: "the resource has no owner and no admin has an e-mail address"))
            }
        }
        for recipient in recipients {
            deliver(to: recipient.user, recipient.email, about: "access.request") {
                MailMessage(
                    to: $0, subject: "[keyward] access request #\(id): \(user) asks for \(resource)",
                    body: """
                        \(user) asks for access to the resource \(resource) (\(Self.scopeText(target))).

                          request   #\(id)
                          user      \(user)\(requester.email.map { " <\($0)>" } ?? "")
                          resource  \(resource)
                          note      \(note ?? "-")
                          asked     \(Self.time(now))

                        Decide with
                          keyward access approve \(id) [--expires 30d]
                          keyward access reject \(id) [--reason TEXT]
                        or through the admin API (/admin/api/access-requests/\(id)).
                        """)
            }
        }
        return row
    }

    /// Access requests, oldest first, optionally of one status: all of them for admins; for others
    /// their own and those for resources they own.
    public func accessRequests(status: String?) throws -> [AccessRequestRow] {
        if let status, !["pending", "approved", "rejected"].contains(status) {
            throw AdminError.invalid("status is one of pending, approved, rejected")
        }
        let all = try store.accessRequests(status: status)
        if actor.isAdmin { return all }
        let owned = try ownedResources()
        return all.filter { $0.user == actor.user || owned.contains($0.resource) }
    }

    /// One request: admins, its requester, or the owner of its resource; others get 404.
    public func accessRequest(_ id: Int64) throws -> AccessRequestRow {
        guard let r = try store.accessRequest(id) else { throw Self.noSuchRequest(id) }
        let owned = try ownedResources()
        guard actor.isAdmin || r.user == actor.user || owned.contains(r.resource) else { throw Self.noSuchRequest(id) }
        return r
    }

    /// Approves a pending request (its resource's owner or an admin; 409 when already decided):
    /// issues the requester a key scoped to the resource's path and methods that expires after
    /// `expires`, adds `user:REQUESTER` to the resource's audience, and mails the requester the key
    /// id, its expiry and a one-time link to the secret (or, with `secretInline`, the secret), and
    /// the approver and the owner a confirmation without it. Unless the secret itself was mailed,
    /// it waits sealed behind that one link (`collectToken`) for `revealLinkLifetime`: the
    /// requester uses it up from the mail or on the access requests page (`collectKey`), once.
    public func approveAccess(_ id: Int64, expires: Lifetime) throws -> AccessRequestRow {
        notices = []
        let request = try decidable(id)
        if !actor.isAdmin { try requireSelfServiceLifetime(expires) }  // an owner grants at most 90 days
        let resource = try store.resource(request.resource)
        guard let scope = PathScope(prefix: resource.path, methods: resource.methods)
        else { throw AdminError.conflict("resource \(resource.name) has a path that does not parse") }
        let requester = try store.user(request.user)
        let settings = mail
        let inline = settings?.secretInline == true
        let now = clock.now
        var token = ""
        let key: CreatedKey = try store.transaction {
            let key = try asApprover {
                try createKey(user: request.user, name: "access-\(resource.name)-\(id)", expires: expires, scopes: [scope], networks: [])
            }
            // The grant lasts as long as the approval: it ends with the issued key's expiry.
            try store.addAudience(resource: resource.name, .user(request.user), until: key.expiresAt)
            guard
                try store.decideAccessRequest(
                    id, status: "approved", at: now, by: actor.auditName, keyId: key.id,
                    expiresAt: key.expiresAt)
            else { throw AdminError.conflict("access request #\(id) was decided meanwhile") }
            token = Self.collectToken(requestId: id, keyId: key.id, masterKey: keyFile.masterKey)
            if !inline {
                try store.addRevealLink(
                    keyId: key.id, secret: key.secret, token: token, sealer: sealer, now: now, lifetime: limits.revealLinkLifetime)
            }
            try audit(
                "access.approve", target: "resource:\(resource.name)", credential: key.id,
                detail: "request:\(id) user:\(request.user) audience+=user:\(request.user)")
            return key
        }

        // The requester: key id, expiry and the secret's way to them.
        let head = """
            Your request #\(id) for access to the resource \(resource.name) (\(Self.scopeText(resource))) was approved by \(actor.auditName).

              API key   \(key.id)
              expires   \(Self.time(key.expiresAt))
              scope     \(scope.description)
            """
        let tail = """
            Send it as `Authorization: Bearer <secret>` (or `X-API-Key: <secret>`). Keep it secret: whoever has it
            can call \(resource.name) as you. Lost it? Ask for `keyward key regenerate \(key.id)`.
            """
        let subject = "[keyward] access to \(resource.name) approved: key \(key.id)"
        if let settings, settings.secretInline {
            deliver(to: request.user, requester.email, about: "access.approve") {
                MailMessage(
                    to: $0, subject: subject,
                    body: [head, "Your secret (this mail is the only copy):\n\n  \(key.secret)", tail]
                        .joined(separator: "\n\n"))
            }
            // Not mailed: the requester collects it on the access requests page instead.
            if notices.last?.result != "sent" {
                try? store.addRevealLink(
                    keyId: key.id, secret: key.secret, token: token, sealer: sealer, now: now, lifetime: limits.revealLinkLifetime)
            }
        } else if let settings, let url = settings.revealURL(token) {
            let link = """
                Your secret is shown once, at this link, within \(limits.revealLinkLifetime / 3_600) hours (until \(Self.time(now + limits.revealLinkLifetime))):

                  \(url)

                Open it and press the button; after that the link is gone.
                """
            deliver(to: request.user, requester.email, about: "access.approve") {
                MailMessage(to: $0, subject: subject, body: [head, link, tail].joined(separator: "\n\n"))
            }
        } else {
            deliver(to: request.user, requester.email, about: "access.approve") { _ in
                throw Mailer.failure("public_url is not set, so no reveal link can be made; set public_url (or mail_secret_inline)")
            }
        }

        // The approver and the owner: a confirmation without the secret.
        var confirm: [String] = []
        for name in [actor.user, resource.owner].compactMap({ $0 }) where name != request.user && !confirm.contains(name) {
            confirm.append(name)
        }
        for name in confirm {
            let email = try store.user(name).email
            deliver(to: name, email, about: "access.approve.confirm") {
                MailMessage(
                    to: $0, subject: "[keyward] access request #\(id) approved: \(request.user) may call \(resource.name)",
                    body: """
                        The access request #\(id) of \(request.user) for the resource \(resource.name) was approved by \(actor.auditName).

                          API key   \(key.id) (issued to \(request.user), scope \(scope.description))
                          expires   \(Self.time(key.expiresAt))
                          audience  user:\(request.user) added to \(resource.name) until \(Self.time(key.expiresAt))

                        The secret went to \(request.user) alone. To end the access early, an admin runs
                        `keyward key disable \(key.id)`, or you take user:\(request.user) out of the resource's audience.
                        """)
            }
        }
        return try requestRow(id)
    }

    /// Rejects a pending request (its resource's owner or an admin; 409 when already decided) and
    /// mails the requester, with the reason when one is given.
    public func rejectAccess(_ id: Int64, reason: String?) throws -> AccessRequestRow {
        notices = []
        let reason = try checkNote(reason, "reason")
        let request = try decidable(id)
        let now = clock.now
        try store.transaction {
            guard try store.decideAccessRequest(id, status: "rejected", at: now, by: actor.auditName, keyId: nil, expiresAt: nil)
            else { throw AdminError.conflict("access request #\(id) was decided meanwhile") }
            try audit(
                "access.reject", target: "resource:\(request.resource)",
                detail: "request:\(id) user:\(request.user)" + (reason.map { " reason: \($0)" } ?? ""))
        }
        deliver(to: request.user, try store.user(request.user).email, about: "access.reject") {
            MailMessage(
                to: $0, subject: "[keyward] access to \(request.resource) rejected",
                body: """
                    Your request #\(id) for access to the resource \(request.resource) was rejected by \(actor.auditName).

                      reason  \(reason ?? "none given")
                    """)
        }
        return try requestRow(id)
    }

    /// Mails the owner of every active key that expires within `seconds` from now, once per key
    /// and expiry (renewing a key makes it due again); admins only. Returns how many mails went
    /// out; `notices` names every key's owner, including those without an address.
    public func notifyExpiring(within seconds: Int64) throws -> Int {
        try requireAdmin()
        guard seconds > 0, seconds <= limits.maxReportWindow else {
            throw AdminError.invalid("the window must be positive and at most 10 years, e.g. 7d")
        }
        notices = []
        let now = clock.now
        var sent = 0
        for due in try store.keysToNotify(now: now, until: now + seconds) {
            let key = due.key
            guard let email = due.email else {
                notices.append(MailNotice(user: key.user, address: nil, about: "key.expiring", result: "no_email"))
                continue
            }
            guard let mail else {
                notices.append(MailNotice(user: key.user, address: email, about: "key.expiring", result: "mail_off"))
                continue
            }
            // Claimed before sending, so runs at the same time never mail twice.
            guard try store.transaction({ try store.claimExpiryNotice(key.id, now: now) }) else { continue }
            let message = MailMessage(
                to: email, subject: "[keyward] API key \(key.name) expires \(Self.time(key.expiresAt))",
                body: """
                    Your API key \(key.name) expires soon.

                      API key   \(key.id)
                      name      \(key.name)
                      expires   \(Self.time(key.expiresAt))
                      scopes    \(key.scopes.isEmpty ? "every path" : key.scopes.joined(separator: " "))

                    Renew it before then (`keyward key renew \(key.id) --expires 30d`, or through the admin API),
                    or ask an administrator to. Its secret stays the same.
                    """)
            do {
                try Mailer(settings: mail).send(message, now: now)
                try change("key.expiry.notify", target: "user:\(key.user)", credential: key.id, detail: "expires:\(key.expiresAt ?? 0)") {}
                notices.append(MailNotice(user: key.user, address: email, about: "key.expiring", result: "sent"))
                sent += 1
            } catch {
                try? store.releaseExpiryNotice(key.id)
                notices.append(
                    MailNotice(
                        user: key.user, address: email, about: "key.expiring", result: "failed",
                        error: AdminError.from(error)?.message ?? "\(error)"))
            }
        }
        return sent
    }

    // MARK: Helpers

    /// A request the actor may decide and that is still pending.
    private func decidable(_ id: Int64) throws -> AccessRequestRow {
        guard let r = try store.accessRequest(id) else { throw Self.noSuchRequest(id) }
        let owned = try ownedResources()
        guard actor.isAdmin || owned.contains(r.resource) else {
            if r.user == actor.user { throw AdminError.forbidden("Only the owner of \(r.resource) or an admin decides this request.") }
            throw Self.noSuchRequest(id)
        }
        if !actor.isAdmin && r.user == actor.user {
            throw AdminError.forbidden("You cannot decide your own access request; an admin does.")
        }
        guard r.status == "pending" else { throw AdminError.conflict("access request #\(id) is already \(r.status)") }
        return r
    }

    private func ownedResources() throws -> Set<String> {
        guard let me = actor.user else { return [] }
        return Set(try store.resources().filter { $0.owner == me }.map(\.name))
    }

    private func requestRow(_ id: Int64) throws -> AccessRequestRow {
        guard let r = try store.accessRequest(id) else { throw Self.noSuchRequest(id) }
        return r
    }

    static func noSuchRequest(_ id: Int64) -> AdminError { .notFound("no such access request: #\(id)") }

    /// Runs `body` with the command line's authority and the actor's audit name: an approval is
    /// the authority for the one key it issues, whoever of owner or admin approves.
    private func asApprover<T>(_ body: () throws -> T) rethrows -> T {
        let saved = actor
        if !actor.isAdmin { actor = Actor(auditName: actor.auditName, user: nil, privileges: [], credential: actor.credential) }
        defer { actor = saved }
        return try body()
    }


    /// Sends one notification to `user` at `email` (nil: noted as `no_email`) and notes the outcome;
    /// a failure is noted, never thrown: the decision stands.
    private func deliver(to user: String, _ email: String?, about: String, _ message: (String) throws -> MailMessage) {
        guard let email else {
            notices.append(MailNotice(user: user, address: nil, about: about, result: "no_email"))
            return
        }
        guard let mail else {
            notices.append(MailNotice(user: user, address: email, about: about, result: "mail_off"))
            return
        }
        do {
            try Mailer(settings: mail).send(try message(email), now: clock.now)
            notices.append(MailNotice(user: user, address: email, about: about, result: "sent"))
        } catch {
            notices.append(
                MailNotice(
                    user: user, address: email, about: about, result: "failed",
                    error: AdminError.from(error)?.message ?? "\(error)"))
        }
    }

    /// Nil for nil or blank; else at most `limits.maxNoteLength` characters, none of them a
    /// control or format character (bidi overrides such as U+202E could make a mailed note read otherwise).
    func checkNote(_ text: String?, _ what: String) throws -> String? {
        let maxNoteLength = limits.maxNoteLength
        guard let text, !text.allSatisfy(\.isWhitespace) else { return nil }
        guard text.count <= maxNoteLength, PrintableText.isPrintable(text) else {
            throw AdminError.invalid("a \(what) is at most \(maxNoteLength) printable characters on one line")
        }
        return text
    }

    static func scopeText(_ r: ResourceRow) -> String {
        (r.methods.isEmpty ? "" : r.methods.joined(separator: ",") + " ") + r.path
    }

    static func time(_ t: Int64?) -> String {
        guard let t else { return "never" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }
}

// MARK: One-time reveal links

extension Admin {
    /// The token of the one link behind which an approved request's key waits: derived from the
    /// master key (HMAC, 43 base62 symbols by rejection sampling), the request and its key, so
    /// the requester's page finds the link the mail points to, and nobody without the master key
    /// can make it.
    static func collectToken(requestId: Int64, keyId: String, masterKey: [UInt8]) -> String {
        let mac = HMACKey(HMACKey(masterKey).authenticationCode("keyward access request collect v1"))
        var out: [UInt8] = []
        var block = 0
        while out.count < Store.revealTokenLength {
            for b in mac.authenticationCode("\(requestId)\u{0}\(keyId)\u{0}\(block)") where b < 248 && out.count < Store.revealTokenLength {
                out.append(Base62.alphabet[Int(b % 62)])
            }
            block += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The id of the key an approved request of the actor's still holds for them to collect;
    /// nil when it was collected, its time is over, or the request is not theirs or not approved.
    public func collectableKey(_ id: Int64) throws -> String? {
        let request = try accessRequest(id)
        guard request.user == actor.user, request.status == "approved", let keyId = request.keyId else { return nil }
        return try store.revealLinkKey(token: Self.collectToken(requestId: id, keyId: keyId, masterKey: keyFile.masterKey), now: clock.now)
    }

    /// Hands the requester the secret of their approved request's key, once: the same one link
    /// the mail points to is used up (audited as `access.reveal`, by the requester, naming the
    /// key, never the secret). Only the requester; `linkGone` (410) once collected or expired.
    public func collectKey(_ id: Int64) throws -> (keyId: String, secret: String) {
        let request = try accessRequest(id)
        guard request.user == actor.user else { throw AdminError.forbidden("Only the requester collects the key of an access request.") }
        guard request.status == "approved", let keyId = request.keyId else { throw AdminError.conflict("access request #\(id) is \(request.status)") }
        let token = Self.collectToken(requestId: id, keyId: keyId, masterKey: keyFile.masterKey)
        guard try store.revealLinkKey(token: token, now: clock.now) != nil else { throw AdminError.linkGone }
        let taken: (keyId: String, secret: String)? = try store.transaction {
            guard let link = try store.takeRevealLink(token: token, sealer: sealer, now: clock.now) else { return nil }
            try audit(
                "access.reveal", target: "user:\(request.user)", credential: link.keyId, detail: "request:\(id) collected on the access requests page"
            )
            return link
        }
        guard let taken else { throw AdminError.linkGone }
        return taken
    }

    /// Uses up a reveal link: returns the key id and secret and deletes the link in the same
    /// transaction as the audit record (`access.reveal`, by `anonymous`, naming the key, never the
    /// secret). Needs no login: the link is the capability. Throws `linkGone` (410) for a used,
    /// expired, unknown or malformed token, or one whose key was deleted.
    public static func reveal(
        store: any AdminStore, keyFile: KeyFile, clock: any Clock, token: String,
        sourceIP: String? = nil
    ) throws -> (keyId: String, secret: String) {
        let admin = Admin(
            store: store, keyFile: keyFile, clock: clock,
            actor: .user(Identity.anonymousUser, privileges: [], credential: nil), sourceIP: sourceIP)
        let taken: (keyId: String, secret: String)? = try store.transaction {
            guard let link = try store.takeRevealLink(token: token, sealer: admin.sealer, now: clock.now) else { return nil }
            let owner = try? store.key(link.keyId).user
            try admin.audit("access.reveal", target: owner.map { "user:" + $0 }, credential: link.keyId, detail: "one-time link used")
            return link
        }
        guard let taken else { throw AdminError.linkGone }
        return taken
    }
}
