import KeywardCore

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

    /// Stores a new session by the hashes of its cookie value and CSRF token; throws `noSuchUser`.
    public func insertSession(idHash: [UInt8], user: String, csrfHash: [UInt8], now: Int64, expiresAt: Int64) throws {
        let userId = try userId(user)
        try db.statement(
            """
            INSERT INTO sessions (id_hash, user_id, csrf_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
            """
        ).run([.blob(idHash), .integer(userId), .blob(csrfHash), .integer(now), .integer(expiresAt)])
    }

    /// The unexpired session whose cookie hashes to `idHash`, or nil.
    public func session(idHash: [UInt8], now: Int64) throws -> SessionRow? {
        try db.statement(
            """
            SELECT u.name, u.status, s.csrf_hash, s.created_at, s.expires_at
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_at > ?
            """
        ).first([.blob(idHash), .integer(now)]) { s in
            SessionRow(
                user: s.text(0), userStatus: Status(rawValue: s.text(1)) ?? .disabled, csrfHash: s.blob(2),
                createdAt: s.int64(3), expiresAt: s.int64(4))
        }
    }

    /// Ends one session; true when there was one.
    @discardableResult
    public func deleteSession(idHash: [UInt8]) throws -> Bool {
        try db.statement("DELETE FROM sessions WHERE id_hash = ?").run([.blob(idHash)])
        return db.changes > 0
    }

    /// Removes sessions that expired at or before `now`.
    /// Ends every session of `user` but the one whose id hash is `except`.
    public func deleteSessions(user: String, except: [UInt8]?) throws {
        try db.statement("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?) AND id_hash IS NOT ?")
            .run([.text(user), except.map(SQLValue.blob) ?? .null])
    }

    public func deleteExpiredSessions(now: Int64) throws {
        try db.statement("DELETE FROM sessions WHERE expires_at <= ?").run([.integer(now)])
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
