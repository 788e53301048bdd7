import KeywardCore
import KeywardCrypto

/// An access request as stored and listed: a user asks for a resource, its owner or an admin decides.
public struct AccessRequestRow: Sendable, Equatable, Codable {
    /// Row id, shown as the request's number.
    public var id: Int64
    /// The requesting user.
    public var user: String
    /// The resource asked for.
    public var resource: String
    /// Why the user asks; nil when they gave no note.
    public var note: String?
    /// `pending`, `approved` or `rejected`.
    public var status: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds of the approval or rejection.
    public var decidedAt: Int64?
    /// The audit name of who decided (a user, or `cli:<login>`).
    public var decidedBy: String?
    /// The key issued on approval (its public id; the secret went to the requester alone).
    public var keyId: String?
    /// Expiry of that key, Unix seconds; nil for never or not approved.
    public var expiresAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, user, resource, note, status, createdAt, decidedAt, decidedBy, keyId, expiresAt
    }

    /// Every field, null when empty: one shape for every request.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(user, forKey: .user)
        try c.encode(resource, forKey: .resource)
        try c.encode(note, forKey: .note)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(decidedAt, forKey: .decidedAt)
        try c.encode(decidedBy, forKey: .decidedBy)
        try c.encode(keyId, forKey: .keyId)
        try c.encode(expiresAt, forKey: .expiresAt)
    }
}

/// An active key of an active user whose expiry is near, with where to say so.
public struct ExpiringKey: Sendable, Equatable {
    /// The key as listed.
    public var key: KeyRow
    /// The owner's e-mail address; nil when none is set.
    public var email: String?
}

extension Store {
    // MARK: Access requests

    /// Stores a pending request and returns its id; throws `noSuchUser` / `noSuchResource`.
    public func insertAccessRequest(user: String, resource: String, note: String?, now: Int64) throws -> Int64 {
        let (userId, resourceId) = (try userId(user), try resourceId(resource))
        try db.statement("INSERT INTO access_requests (user_id, resource_id, note, created_at) VALUES (?, ?, ?, ?)")
            .run([.integer(userId), .integer(resourceId), note.map(SQLValue.text) ?? .null, .integer(now)])
        return db.lastInsertRowId
    }

    /// The id of `user`'s pending request for `resource`, if there is one.
    public func pendingAccessRequest(user: String, resource: String) throws -> Int64? {
        try db.statement(
            """
            SELECT a.id FROM access_requests a JOIN users u ON u.id = a.user_id JOIN resources r ON r.id = a.resource_id
            WHERE u.name = ? AND r.name = ? AND a.status = 'pending'
            """
        ).first([.text(user), .text(resource)]) { $0.int64(0) }
    }

    private static let requestColumns = """
        a.id, u.name, r.name, a.note, a.status, a.created_at, a.decided_at, a.decided_by, a.key_id, a.expires_at
        FROM access_requests a JOIN users u ON u.id = a.user_id JOIN resources r ON r.id = a.resource_id
        """

    /// Every request, oldest first, optionally of one status.
    public func accessRequests(status: String?) throws -> [AccessRequestRow] {
        try db.statement("SELECT \(Self.requestColumns) WHERE ?1 IS NULL OR a.status = ?1 ORDER BY a.id")
            .map([status.map(SQLValue.text) ?? .null]) { Self.requestRecord($0) }
    }

    /// One request, nil when there is none.
    public func accessRequest(_ id: Int64) throws -> AccessRequestRow? {
        try db.statement("SELECT \(Self.requestColumns) WHERE a.id = ?").first([.integer(id)]) { Self.requestRecord($0) }
    }

    /// Records the decision on a pending request; false (and nothing written) when it is no longer pending.
    public func decideAccessRequest(_ id: Int64, status: String, at: Int64, by: String, keyId: String?, expiresAt: Int64?) throws -> Bool {
        try db.statement(
            """
            UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ?, key_id = ?, expires_at = ?
            WHERE id = ? AND status = 'pending'
            """
        ).run([
            .text(status), .integer(at), .text(by), keyId.map(SQLValue.text) ?? .null,
            expiresAt.map(SQLValue.integer) ?? .null, .integer(id),
        ])
        return db.changes == 1
    }

    /// Active users holding `admin` (directly or through a group) who have an e-mail address, by name.
    public func adminEmails() throws -> [(user: String, email: String)] {
        try db.statement(
            """
            SELECT DISTINCT u.name, u.email FROM users u
            JOIN role_grants rg ON rg.user_id = u.id OR rg.group_id IN (SELECT group_id FROM group_members WHERE user_id = u.id)
            JOIN role_privileges p ON p.role_id = rg.role_id AND p.privilege = ?
            WHERE u.email IS NOT NULL AND u.status = 'active' ORDER BY u.name
            """
        ).map([.text(Privilege.admin)]) { (user: $0.text(0), email: $0.text(1)) }
    }

    private static func requestRecord(_ s: Statement) -> AccessRequestRow {
        AccessRequestRow(
            id: s.int64(0), user: s.text(1), resource: s.text(2), note: s.optionalText(3), status: s.text(4),
            createdAt: s.int64(5), decidedAt: s.optionalInt64(6), decidedBy: s.optionalText(7),
            keyId: s.optionalText(8), expiresAt: s.optionalInt64(9))
    }

    // MARK: One-time reveal links

    /// Symbols in a reveal-link token: 43 base62 characters, about 256 bits.
    public static let revealTokenLength = 43

    /// Stores `secret` of key `keyId` behind a new random link token and returns the token, the one
    /// place it exists: the row keeps only its SHA-256 and the secret sealed with AES-256-GCM under
    /// the master key, bound to the key id and that hash. Expired links are purged on the way.
    public func addRevealLink(keyId: String, secret: String, sealer: KeySealer, now: Int64, lifetime: Int64) throws -> String {
        let token = Base62.random(count: Self.revealTokenLength)
        try addRevealLink(keyId: keyId, secret: secret, token: token, sealer: sealer, now: now, lifetime: lifetime)
        return token
    }

    /// `addRevealLink` behind a token the caller made (43 base62 symbols, as unguessable as a
    /// random one: an approved request's is derived from the master key, so its requester's page
    /// finds the same one link the mail points to). Refuses a token already stored.
    public func addRevealLink(keyId: String, secret: String, token: String, sealer: KeySealer, now: Int64, lifetime: Int64) throws {
        guard Self.isRevealToken(token) else { throw StoreError(code: 1, message: "a reveal token is \(Self.revealTokenLength) base62 symbols") }
        let hash = Digest.sha256(token)
        let sealed = try sealer.seal(Array(secret.utf8), boundTo: Self.revealBinding(keyId, hash))
        try db.transaction {
            try purgeRevealLinks(now: now)
            try db.statement("INSERT INTO reveal_links (token_hash, key_id, sealed_secret, expires_at) VALUES (?, ?, ?, ?)")
                .run([.blob(hash), .text(keyId), .blob(sealed), .integer(now + lifetime)])
        }
    }

    /// The key id behind a live link, without using it up; nil for a malformed, unknown, used or
    /// expired token (an expired row is purged).
    public func revealLinkKey(token: String, now: Int64) throws -> String? {
        guard Self.isRevealToken(token) else { return nil }
        // Read only: an unauthenticated page must not take the write lock or stamp a change.
        return try db.statement("SELECT key_id FROM reveal_links WHERE token_hash = ? AND expires_at > ?")
            .first([.blob(Digest.sha256(token)), .integer(now)]) { $0.text(0) }
    }

    /// Uses a link up: deletes its row and returns the key id and secret, or nil for a malformed,
    /// unknown, used or expired token, or one whose key is gone. Joins the caller's transaction, so
    /// the delete and the caller's audit record commit together.
    public func takeRevealLink(token: String, sealer: KeySealer, now: Int64) throws -> (keyId: String, secret: String)? {
        guard Self.isRevealToken(token) else { return nil }
        let hash = Digest.sha256(token)
        // Unknown tokens are turned away before any write lock is taken.
        guard try revealLinkKey(token: token, now: now) != nil else { return nil }
        return try db.transaction {
            try purgeRevealLinks(now: now)
            guard
                let (keyId, sealed) = try db.statement("SELECT key_id, sealed_secret FROM reveal_links WHERE token_hash = ?")
                    .first([.blob(hash)], { ($0.text(0), $0.blob(1)) })
            else { return nil }
            try db.statement("DELETE FROM reveal_links WHERE token_hash = ?").run([.blob(hash)])
            guard try db.statement("SELECT 1 FROM api_keys WHERE id = ?").first([.text(keyId)], { _ in true }) == true else { return nil }
            let plain = try sealer.open(sealed, boundTo: Self.revealBinding(keyId, hash))
            return (keyId, String(decoding: plain, as: UTF8.self))
        }
    }

    /// Deletes a link by its token (a link whose mail could not be sent); no error when it is gone.
    public func deleteRevealLink(token: String) throws {
        guard Self.isRevealToken(token) else { return }
        try db.statement("DELETE FROM reveal_links WHERE token_hash = ?").run([.blob(Digest.sha256(token))])
    }

    /// Deletes every link whose time is up.
    public func purgeRevealLinks(now: Int64) throws {
        try db.statement("DELETE FROM reveal_links WHERE expires_at <= ?").run([.integer(now)])
    }

    static func isRevealToken(_ token: String) -> Bool {
        token.utf8.count == revealTokenLength && token.utf8.allSatisfy(Base62.isSymbol)
    }

    /// The AEAD associated data: the sealed secret opens only for this key id under this token.
    private static func revealBinding(_ keyId: String, _ tokenHash: [UInt8]) -> [UInt8] {
        Array("keyward reveal link\u{0}\(keyId)\u{0}".utf8) + tokenHash
    }

    // MARK: Expiry notices

    /// Active keys of active users that expire after `now` and no later than `until`, not yet
    /// notified about their current expiry, soonest first.
    public func keysToNotify(now: Int64, until: Int64) throws -> [ExpiringKey] {
        let ids = try db.statement(
            """
            SELECT k.id, u.email FROM api_keys k JOIN users u ON u.id = k.user_id
            WHERE k.status = 'active' AND u.status = 'active' AND k.expires_at > ? AND k.expires_at <= ?
              AND k.expiry_notified_at IS NULL
            ORDER BY k.expires_at, k.id
            """
        ).map([.integer(now), .integer(until)]) { ($0.text(0), $0.optionalText(1)) }
        return try ids.map { ExpiringKey(key: try key($0.0), email: $0.1) }
    }

    /// Marks a key as notified about its current expiry; false when another run already did.
    /// `setKeyExpiry` (renewal) clears the mark, so the new expiry is announced in its turn.
    public func claimExpiryNotice(_ keyId: String, now: Int64) throws -> Bool {
        try db.statement("UPDATE api_keys SET expiry_notified_at = ? WHERE id = ? AND expiry_notified_at IS NULL")
            .run([.integer(now), .text(keyId)])
        return db.changes == 1
    }

    /// Clears the mark again (the notice could not be sent), so a later run tries once more.
    public func releaseExpiryNotice(_ keyId: String) throws {
        try db.statement("UPDATE api_keys SET expiry_notified_at = NULL WHERE id = ?").run([.text(keyId)])
    }
}
