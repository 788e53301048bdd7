import KeywardCore
import KeywardCrypto
import KeywardStore

/// What every credential kind's operations share: who may see and manage one, and the writes of
/// a `CredentialChange` and a regeneration on the kind's own repository. `KeyOperations` and
/// `ClientOperations` add only what is theirs (creation, expiry, their rows).
extension Admin {
    /// The rows of `list` an actor may see: everyone's (or one user's) for admins, one's own otherwise.
    func visible<Row>(user: String?, _ list: (String?) throws -> [Row]) throws -> [Row] {
        if actor.isAdmin { return try list(user) }
        guard let me = actor.user, user == nil || user == me else { throw AdminError.forbidden() }
        return try list(me)
    }

    /// `row` when the actor may see it (its owner or an admin); others' look absent.
    func visible<Row>(_ row: Row, id: String, owner: String) throws -> Row {
        guard actor.isAdmin || actor.user == owner else { throw AdminError.notFound(StoreRefusal.noSuchKey(id).description) }
        return row
    }

    /// `owner`, when the actor may manage their credential `id`: an admin, or the owner holding
    /// `manage-own-keys`; others' credentials look absent.
    func manageable(_ id: String, owner: String) throws -> String {
        if actor.isAdmin { return owner }
        guard actor.user == owner else { throw AdminError.notFound(StoreRefusal.noSuchKey(id).description) }
        try requireSelf(owner, or: Privilege.manageOwnKeys)
        return owner
    }

    /// Applies `command` to credential `id` of `owner` in `repository`, audited as
    /// `<noun>.<verb>`: an admin, or the owner holding `manage-own-keys`, who may disable, delete
    /// and renew (up to `maxSelfServiceLifetime`) but not enable: a credential an admin disabled
    /// stays disabled. `setExpiry` writes a renewal's new expiry (Unix seconds, nil for never);
    /// nil: the kind is renewed by making a new one.
    func change(
        _ command: CredentialChange, _ id: String, owner: String, noun: String, in repository: any CredentialRepository,
        setExpiry: ((Int64?) throws -> Void)?
    ) throws {
        let owner = try manageable(id, owner: owner)
        if !actor.isAdmin && command == .enable {
            throw AdminError.forbidden("Enabling a disabled \(noun) needs the admin privilege.")
        }
        var renewedExpiry: Int64? = nil
        if case .renew(let expires) = command {
            guard setExpiry != nil else { throw AdminError.invalid("a \(noun) is renewed by creating a new one") }
            let lifetime = expires ?? .seconds(limits.defaultKeyLifetime)
            if !actor.isAdmin { try requireSelfServiceLifetime(lifetime) }
            renewedExpiry = lifetime.expiry(from: clock.now)
        }
        try change("\(noun).\(command.verb)", target: "user:\(owner)", credential: id) {
            switch command {
            case .enable: try repository.setStatus(id, .active)
            case .disable: try repository.setStatus(id, .disabled)
            case .delete: try repository.delete(id)
            case .renew: try setExpiry?(renewedExpiry)
            }
        }
    }

    /// A new secret for credential `id` (same public id) in `repository`; every token issued with
    /// the old one is revoked in the same transaction, audited as `<noun>.regenerate`.
    func regenerate(_ id: String, owner: String, noun: String, in repository: any CredentialRepository) throws -> OpaqueSecret {
        let secret = OpaqueSecret.generate(repository.kind, publicId: String(id.dropFirst(4)))
        try change("\(noun).regenerate", target: "user:\(owner)", credential: id) {
            try repository.setSecretHash(id, secret.hash(with: HMACKey(keyFile.pepper)))
            try repository.revokeTokens(issuedFrom: id, now: clock.now)
        }
        return secret
    }
}
