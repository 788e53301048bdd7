import KeywardCore
import KeywardCrypto

/// An admin API session as stored: hashes of its cookie and CSRF token, never the tokens.
public struct SessionRow: Sendable, Equatable {
    /// The signed-in user's name.
    public var user: String
    /// The user's status now; a disabled user's sessions stop working.
    public var userStatus: Status
    /// SHA-256 of the CSRF token handed out at sign-in.
    public var csrfHash: [UInt8]
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds after which the session is refused.
    public var expiresAt: Int64
    /// Unix seconds of its latest recorded use (at most a minute old while it is in use).
    public var lastSeenAt: Int64
}

/// A session as listed: its public id and times, never the hashes of its tokens.
public struct SessionInfo: Sendable, Equatable {
    /// `publicId(idHash)`: names the session without letting anyone use it.
    public var id: String
    /// The signed-in user's name.
    public var user: String
    /// Unix seconds of the sign-in.
    public var createdAt: Int64
    /// Unix seconds of its latest recorded use.
    public var lastSeenAt: Int64
    /// Unix seconds when it ends however busy it is.
    public var expiresAt: Int64

    /// A session's public id (`ses_` + 12 base64url characters of the first 9 bytes of its hash),
    /// for the audit, the listings and revocation.
    public static func publicId(_ idHash: [UInt8]) -> String { "ses_" + Base64URL.encode(Array(idHash.prefix(9))) }
}

/// One audit record with its position in the chain, for paging through the trail.
public struct AuditRecord: Sendable, Equatable {
    /// The record's row id: increasing, never reused.
    public var id: Int64
    /// What happened.
    public var event: AuditEvent
}

extension Store {
    // MARK: Sessions

    /// Stores a new session by the hashes of its cookie value and CSRF token, last used `now`;
    /// throws `noSuchUser`.
    public func insertSession(idHash: [UInt8], user: String, csrfHash: [UInt8], now: Int64, expiresAt: Int64) throws {
        let userId = try userId(user)
        try db.statement(
            """
            INSERT INTO sessions (id_hash, user_id, csrf_hash, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)
            """
        ).run([.blob(idHash), .integer(userId), .blob(csrfHash), .integer(now), .integer(expiresAt), .integer(now)])
    }

    /// The session whose cookie hashes to `idHash`, or nil when there is none, its lifetime is
    /// over, or it went unused for `idle` seconds or more.
    public func session(idHash: [UInt8], now: Int64, idle: Int64) throws -> SessionRow? {
        try db.statement(
            """
            SELECT u.name, u.status, s.csrf_hash, s.created_at, s.expires_at, coalesce(s.last_seen_at, s.created_at)
            FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_hash = ? AND s.expires_at > ? AND coalesce(s.last_seen_at, s.created_at) > ?
            """
        ).first([.blob(idHash), .integer(now), .integer(now - idle)]) { s in
            SessionRow(
                user: s.text(0), userStatus: Status(rawValue: s.text(1)) ?? .disabled, csrfHash: s.blob(2),
                createdAt: s.int64(3), expiresAt: s.int64(4), lastSeenAt: s.int64(5))
        }
    }

    /// Records a use of the session at `now`. Not announced as a change (no `Generation` stamp):
    /// nothing a serving process caches depends on it. Callers write it at most once a minute.
    public func touchSession(idHash: [UInt8], now: Int64) throws {
        let announce = db.onCommit
        db.onCommit = nil
        defer { db.onCommit = announce }
        try db.statement("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?").run([.integer(now), .blob(idHash)])
    }

    private static let sessionColumns = """
        s.id_hash, u.name, s.created_at, coalesce(s.last_seen_at, s.created_at), s.expires_at
        FROM sessions s JOIN users u ON u.id = s.user_id
        """

    private static func sessionInfo(_ s: Statement) -> SessionInfo {
        SessionInfo(
            id: SessionInfo.publicId(s.blob(0)), user: s.text(1), createdAt: s.int64(2), lastSeenAt: s.int64(3), expiresAt: s.int64(4))
    }

    /// The sessions still alive at `now` (under `idle`), newest first: one user's (throws
    /// `noSuchUser`), or everyone's.
    public func sessions(user: String?, now: Int64, idle: Int64) throws -> [SessionInfo] {
        if let user { _ = try userId(user) }
        return try db.statement(
            """
            SELECT \(Self.sessionColumns)
            WHERE (?1 IS NULL OR u.name = ?1) AND s.expires_at > ?2 AND coalesce(s.last_seen_at, s.created_at) > ?3
            ORDER BY s.created_at DESC, s.id_hash
            """
        ).map([user.map(SQLValue.text) ?? .null, .integer(now), .integer(now - idle)]) { Self.sessionInfo($0) }
    }

    /// Ends the session with public id `id` (`SessionInfo.publicId`); the session it was, or nil.
    public func deleteSession(publicId id: String) throws -> SessionInfo? {
        try db.transaction {
            var found: ([UInt8], SessionInfo)?
            try db.statement("SELECT \(Self.sessionColumns)").forEach { s in
                let info = Self.sessionInfo(s)
                if found == nil, info.id == id { found = (s.blob(0), info) }
            }
            guard let (idHash, info) = found else { return nil }
            try deleteSession(idHash: idHash)
            return info
        }
    }

    /// Ends one session; true when there was one.
    @discardableResult
    public func deleteSession(idHash: [UInt8]) throws -> Bool {
        try db.statement("DELETE FROM sessions WHERE id_hash = ?").run([.blob(idHash)])
        return db.changes > 0
    }

    /// Ends every session of `user` but the one whose id hash is `except`.
    public func deleteSessions(user: String, except: [UInt8]?) throws {
        try db.statement("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?) AND id_hash IS NOT ?")
            .run([.text(user), except.map(SQLValue.blob) ?? .null])
    }

    /// The stored sessions whose lifetime is over at `now` or that went unused for `idle` seconds
    /// (only `idHash`'s when given), with their hashes. A read: no write lock is taken.
    private func expired(now: Int64, idle: Int64, idHash: [UInt8]?) throws -> [([UInt8], SessionInfo)] {
        try db.statement(
            """
            SELECT \(Self.sessionColumns)
            WHERE (s.expires_at <= ?1 OR coalesce(s.last_seen_at, s.created_at) <= ?2) AND (?3 IS NULL OR s.id_hash = ?3)
            """
        ).map([.integer(now), .integer(now - idle), idHash.map(SQLValue.blob) ?? .null]) { ($0.blob(0), Self.sessionInfo($0)) }
    }

    /// The sessions `deleteExpiredSessions` would remove now, without removing them.
    public func expiredSessions(now: Int64, idle: Int64, idHash: [UInt8]?) throws -> [SessionInfo] {
        try expired(now: now, idle: idle, idHash: idHash).map(\.1)
    }

    /// Removes the sessions whose lifetime is over at `now` or that went unused for `idle`
    /// seconds (only `idHash`'s when given) and returns them, in one transaction.
    public func deleteExpiredSessions(now: Int64, idle: Int64, idHash: [UInt8]?) throws -> [SessionInfo] {
        try db.transaction {
            let due = try expired(now: now, idle: idle, idHash: idHash)
            for (hash, _) in due { try deleteSession(idHash: hash) }
            return due.map(\.1)
        }
    }

    // MARK: Audit pages

    /// Audit records with ids above `afterId`, oldest first, at most `limit`, filtered like `audit`:
    /// by time, by the user they concern (as actor or target) and by action.
    public func auditRecords(
        afterId: Int64, since: Int64?, user: String?, action: String?,
        limit: Int
    ) throws -> [AuditRecord] {
        try db.statement(
            """
            SELECT id, at, actor, action, target, credential, source_ip, reason, detail FROM audit
            WHERE id > ?1 AND at >= ?2 AND (?3 IS NULL OR actor = ?3 OR target = 'user:' || ?3) AND (?4 IS NULL OR action = ?4)
            ORDER BY id LIMIT ?5
            """
        ).map([
            .integer(afterId), .integer(since ?? Int64.min), user.map(SQLValue.text) ?? .null,
            action.map(SQLValue.text) ?? .null, .integer(Int64(limit)),
        ]) { s in
            AuditRecord(
                id: s.int64(0),
                event: AuditEvent(
                    at: s.int64(1), actor: s.text(2), action: s.text(3), target: s.optionalText(4), credential: s.optionalText(5),
                    sourceIP: s.optionalText(6), reason: s.optionalText(7), detail: s.optionalText(8)))
        }
    }
}
