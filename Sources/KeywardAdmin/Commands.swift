import KeywardCore

/// What an owner or an admin may do to a credential after it is made: the admin operations' typed
/// commands, shared by every credential kind. The CLI and the HTTP adapter parse their verbs into it.
public enum CredentialChange: Sendable, Equatable {
    /// Use it again (admins only: a credential an admin disabled stays disabled).
    case enable
    /// Refuse it from the next request on, tokens included.
    case disable
    /// Remove it.
    case delete
    /// A new expiry from now; nil for the default lifetime.
    case renew(Lifetime?)

    /// The change a verb names (`enable`, `disable`, `delete`, `renew` with `expires`); nil for another.
    public init?(verb: String, expires: Lifetime? = nil) {
        switch verb {
        case "enable": self = .enable
        case "disable": self = .disable
        case "delete": self = .delete
        case "renew": self = .renew(expires)
        default: return nil
        }
    }

    /// The verb, as in audit actions (`key.disable`) and command lines.
    public var verb: String {
        switch self {
        case .enable: "enable"
        case .disable: "disable"
        case .delete: "delete"
        case .renew: "renew"
        }
    }
}

/// What an admin may do to a user account: the typed command behind `user enable|disable|delete`.
public enum UserChange: String, Sendable, CaseIterable {
    /// The user's credentials work again (each by its own status).
    case enable
    /// Every credential of the user fails from the next request on; their sessions end.
    case disable
    /// The user and, by cascade, their credentials are removed.
    case delete
}
