import KeywardCore
import KeywardStore

// MARK: Admin sessions

extension Admin {
    /// The sessions alive now, newest first: one's own; admins anyone's (`user`) or everyone's
    /// (nil). Public ids and times only, never what would let anyone use one.
    public func sessions(user: String?) throws -> [SessionInfo] {
        try visible(user: user) { try store.sessions(user: $0, now: clock.now, idle: limits.sessionIdle) }
    }

    /// Ends a session by its public id (`ses_...`): one's own, or anyone's for admins; others'
    /// look absent. Audited as `session.revoke`, naming the session and its user.
    @discardableResult
    public func revokeSession(_ id: String) throws -> SessionInfo {
        let absent = AdminError.notFound("no such session: \(PrintableText.escaped(String(id.prefix(32))))")
        guard let session = try sessions(user: actor.isAdmin ? nil : actor.user).first(where: { $0.id == id }) else { throw absent }
        return try change("session.revoke", target: "user:\(session.user)", credential: session.id) {
            guard let ended = try store.deleteSession(publicId: id) else { throw absent }
            return ended
        }
    }
}
