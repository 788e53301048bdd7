import KeywardCore
import KeywardCrypto
import KeywardStore

/// Who performs an admin operation, and what they may do.
public struct Actor: Sendable, Equatable {
    /// The audit trail's `actor`: `cli:<login>` for the command line, else the user's name.
    public var auditName: String
    /// The user acting; nil for the command line, which may do everything.
    public var user: String?
    /// Privileges the user holds now; ignored for the command line.
    public var privileges: Set<String>
    /// The public id of the credential the user authenticated with (API key or session), for the audit.
    public var credential: String?

    /// The command line, run by `login` on the server: every operation is allowed.
    public static func commandLine(_ login: String) -> Actor {
        Actor(auditName: "cli:" + login, user: nil, privileges: [], credential: nil)
    }

    /// A user of the admin API with the privileges they hold now.
    public static func user(_ name: String, privileges: Set<String>, credential: String?) -> Actor {
        Actor(auditName: name, user: name, privileges: privileges, credential: credential)
    }

    /// True for the command line and for holders of `admin`.
    public var isAdmin: Bool { user == nil || privileges.contains(Privilege.admin) }
}

/// Why an admin request was refused: the one vocabulary of stable machine codes, shared by the
/// operations, the CLI and the HTTP adapter (which maps each to a status, `AdminErrorCode.status`
/// in KeywardAdminHTTP; the CLI exits 1). Like `DenyReason` for the check.
public enum AdminErrorCode: String, Sendable, CaseIterable {
    // The operations' own refusals.
    /// A value, name, scope, lifetime or combination the rules refuse.
    case invalidArgument = "invalid_argument"
    /// The actor lacks the privilege, or the rule forbids it to anyone but an admin.
    case forbidden
    /// No such thing, or one the actor may not see.
    case notFound = "not_found"
    /// It exists already, or its state forbids the change.
    case conflict
    /// A one-time link that was used, expired or never existed.
    case linkUsedOrExpired = "link_used_or_expired"
    /// The mail could not be handed to sendmail.
    case mailFailed = "mail_failed"
    // Refusals of a request before any operation runs (the HTTP adapter's).
    /// No valid API key or session.
    case unauthenticated
    /// A cookie session's state change without its CSRF token, or from another site.
    case csrfFailed = "csrf_failed"
    /// The body is not a JSON object in UTF-8.
    case invalidJSON = "invalid_json"
    /// The body's media type is not one the endpoint reads.
    case unsupportedMediaType = "unsupported_media_type"
    /// The body is over `Limits.maxBodyBytes`.
    case bodyTooLarge = "body_too_large"
    /// The path exists, not for this method.
    case methodNotAllowed = "method_not_allowed"
    /// Over the failure limit; `Retry-After` says for how long.
    case tooManyRequests = "too_many_requests"
    /// The server failed; the log has the detail.
    case internalError = "internal_error"
}

/// A refused admin operation: its checked code and one line for people.
public struct AdminError: Error, Equatable, CustomStringConvertible {
    /// The stable machine code.
    public var reason: AdminErrorCode
    /// One line for people; never contains a secret.
    public var message: String

    /// A refusal for `reason`, explained by `message`.
    public init(_ reason: AdminErrorCode, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The machine code as sent (`not_found`).
    public var code: String { reason.rawValue }
    public var description: String { message }

    public static func forbidden(_ message: String = "You may not do this.") -> AdminError { AdminError(.forbidden, message) }
    public static func invalid(_ message: String) -> AdminError { AdminError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> AdminError { AdminError(.notFound, message) }
    public static func conflict(_ message: String) -> AdminError { AdminError(.conflict, message) }

    /// The admin error for a store refusal: unknown names are 404s, duplicates 409s.
    public static func from(_ error: any Error) -> AdminError? {
        switch error {
        case let e as AdminError: return e
        case let e as StoreRefusal:
            switch e {
            case .noSuchUser, .noSuchKey, .noSuchService: return .notFound(e.description)
            case .userExists, .keyNameTaken, .serviceExists: return .conflict(e.description)
            }
        case let e as RotationRefusal:
            // The state forbids the change (the rotation rules); the reason names the way out.
            return .conflict(e.description)
        case let e as AccessRefusal:
            switch e {
            case .noSuchGroup, .noSuchRole, .noSuchResource, .notMember, .notGranted: return .notFound(e.description)
            case .groupExists, .roleExists, .resourceExists, .alreadyMember, .alreadyGranted: return .conflict(e.description)
            case .unknownPrivilege: return .invalid(e.description)
            }
        default: return nil
        }
    }
}

/// The admin operations, shared by the command line and the admin API: each checks the actor's
/// privileges, validates, writes in one transaction and appends its audit record.
///
/// One per thread: it holds that thread's store connection.
public final class Admin {
    /// The store written to, behind its seam.
    public let store: any AdminStore
    /// The server's pepper and master key.
    public let keyFile: KeyFile
    /// Source of "now".
    public let clock: any Clock
    /// Bounds and defaults, as configured.
    public let limits: Limits
    /// Who acts.
    public var actor: Actor
    /// Where the actor's request came from, for the audit; nil on the command line.
    public var sourceIP: String?
    /// How access-request and expiry notifications are mailed; nil mails nothing (each notice is
    /// then reported as `mail_off`).
    public var mail: MailSettings?
    /// The notifications of the latest access-request or `notifyExpiring` call: sent, skipped, failed.
    public internal(set) var notices: [MailNotice] = []

    /// The operations over `store` for `actor`; the store's audit key is set from `keyFile`.
    public init(
        store: any AdminStore, keyFile: KeyFile, clock: any Clock, actor: Actor, sourceIP: String? = nil,
        limits: Limits = Limits()
    ) {
        self.limits = limits
        self.store = store
        self.keyFile = keyFile
        self.clock = clock
        self.actor = actor
        self.sourceIP = sourceIP
        if store.auditKey == nil { store.auditKey = HMACKey(AuditChain.key(masterKey: keyFile.masterKey)) }
    }

    /// Throws `forbidden` unless the actor is an admin.
    public func requireAdmin() throws {
        guard actor.isAdmin else { throw AdminError.forbidden("This needs the admin privilege.") }
    }

    /// Throws `forbidden` unless the actor is an admin, or is `user` and holds `privilege`.
    public func requireSelf(_ user: String, or privilege: String) throws {
        if actor.isAdmin { return }
        guard actor.user == user, actor.privileges.contains(privilege) else {
            throw AdminError.forbidden("This needs the admin privilege, or \(privilege) for your own objects.")
        }
    }

    /// Seals what rests encrypted in the store, under the master key.
    var sealer: KeySealer { KeySealer(masterKey: keyFile.masterKey) }

    /// Runs `body` in one transaction and appends one audit record for it in the same transaction.
    @discardableResult
    public func change<T>(
        _ action: String, target: String? = nil, credential: String? = nil, detail: String? = nil,
        _ body: () throws -> T
    ) throws -> T {
        try store.transaction {
            let result = try body()
            try audit(action, target: target, credential: credential, detail: detail)
            return result
        }
    }

    /// Appends one audit record by the actor, inside the caller's transaction when there is one:
    /// the one path by which the admin operations, the CLI and the admin API write the audit
    /// trail (the servers' own events go through the buffered `AuditSink`).
    public func audit(_ action: String, target: String? = nil, credential: String? = nil, detail: String? = nil) throws {
        // The credential field names the credential acted on; the one the actor signed in with
        // (an API user's key, a session) goes into the detail.
        let via = actor.credential.map { "via \($0)" }
        try store.appendAudit([
            AuditEvent(
                at: clock.now, actor: actor.auditName, action: action, target: target,
                credential: credential, sourceIP: sourceIP,
                detail: [detail, via].compactMap { $0 }.joined(separator: "; ").nilIfEmpty)
        ])
    }

    /// Validates a name for users, groups, roles and resources: letters, digits and `. _ @ -`, at
    /// most 64, and not dots alone: a user name reaches backends as `REMOTE_USER`, and one that
    /// reads as `.` or `..` in a path (`/home/$REMOTE_USER`) names another directory.
    public static func validName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && !name.utf8.allSatisfy({ $0 == UInt8(ascii: ".") })
            && name.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || ".-_@".utf8.contains(c)
            }
    }

    func requireValidName(_ name: String, _ what: String) throws {
        guard Self.validName(name) else {
            throw AdminError.invalid("invalid \(what) name (letters, digits, . _ @ -, not dots alone; at most 64)")
        }
    }
}

extension String {
    /// nil for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
