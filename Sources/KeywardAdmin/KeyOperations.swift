import KeywardCore
import KeywardCrypto
import KeywardStore

/// A credential's secret, shown once: at creation or regeneration.
public struct CreatedKey: Sendable, Equatable, Codable {
    public var id: String
    /// The whole secret; shown only in this answer, never stored or logged.
    public var secret: String
    public var user: String
    public var name: String
    public var expiresAt: Int64?
    public var scopes: [String]
    public var allowIps: [String]
}

// MARK: API keys

extension Admin {
    /// Creates an API key and returns its secret, once. Self-service users (holding
    /// `manage-own-keys`) create keys for themselves only, scoped within resources they may call.
    public func createKey(user: String, name: String, expires: Lifetime, scopes: [PathScope], networks: [CIDR]) throws -> CreatedKey {
        try requireSelf(user, or: Privilege.manageOwnKeys)
        try requireCredentialName(name)
        if !actor.isAdmin {
            try requireWithinAccess(user, scopes)
            try requireSelfServiceLifetime(expires)
        }
        let now = clock.now
        let expiry = expires.expiry(from: now)
        let secret = OpaqueSecret.generate(.apiKey)
        try change("key.create", target: "user:\(user)", credential: secret.id) {
            try store.insertKey(
                NewKey(
                    id: secret.id, user: user, name: name, secretHash: secret.hash(with: HMACKey(keyFile.pepper)),
                    createdAt: now, expiresAt: expiry, scopes: scopes, allowedNetworks: networks))
        }
        return CreatedKey(
            id: secret.id, secret: secret.token, user: user, name: name, expiresAt: expiry,
            scopes: scopes.map(\.description), allowIps: networks.map(\.description))
    }

    /// Keys, oldest first: everyone's (or one user's) for admins, one's own otherwise.
    public func keys(user: String? = nil) throws -> [KeyRow] {
        try visible(user: user, store.keys(user:))
    }

    /// One key; its owner or an admin.
    public func key(_ id: String) throws -> KeyRow {
        let row = try store.key(id)
        return try visible(row, id: id, owner: row.user)
    }

    /// Changes one key: an admin, or its owner holding `manage-own-keys`, who may disable,
    /// delete and renew (up to `maxSelfServiceLifetime`) but not enable: a key an admin disabled
    /// stays disabled.
    public func setKey(_ id: String, _ command: CredentialChange) throws {
        try change(command, id, owner: store.key(id).user, noun: "key", in: store.apiKeys) { [store] in try store.setKeyExpiry(id, $0) }
    }

    /// A new secret for the same key; tokens exchanged from the old one are revoked.
    public func regenerateKey(_ id: String) throws -> CreatedKey {
        let secret = try regenerate(id, owner: manageable(id, owner: store.key(id).user), noun: "key", in: store.apiKeys)
        let row = try store.key(id)
        return CreatedKey(
            id: id, secret: secret.token, user: row.user, name: row.name, expiresAt: row.expiresAt,
            scopes: row.scopes, allowIps: row.allowIPs)
    }

    /// A second secret for the same key (`key roll --grace`): the current one keeps working until
    /// `grace` seconds from now, so clients switch without an outage; refused while a previous
    /// roll's grace runs (the rotation rules: at most two active). Returns the new secret, once,
    /// and when the old one stops working. Tokens exchanged from the old secret stay valid.
    public func rollKey(_ id: String, grace: Int64) throws -> (key: CreatedKey, previousValidUntil: Int64) {
        let owner = try manageable(id, owner: store.key(id).user)
        guard grace > 0, grace <= limits.maxRollGrace else {
            throw AdminError.invalid("the grace period of a roll is 1 second to \(limits.maxRollGrace / 86_400) days")
        }
        let now = clock.now
        let until = now + grace
        let secret = OpaqueSecret.generate(.apiKey, publicId: String(id.dropFirst(4)))
        try change("key.roll", target: "user:\(owner)", credential: id, detail: "previous secret valid until \(until)") {
            let row = try store.key(id)
            var members = [RotationMember(id: "\(id) (current secret)", state: .active)]
            if let previous = row.previousValidUntil {
                members.insert(RotationMember(id: "\(id) (previous secret)", state: .retiring(until: previous)), at: 0)
            }
            _ = try RotationSet(validating: members, now: now).applying(.roll("\(id) (new secret)", graceUntil: until), now: now)
            try store.rollKeySecret(id, secretHash: secret.hash(with: HMACKey(keyFile.pepper)), graceUntil: until)
        }
        let row = try store.key(id)
        return (
            CreatedKey(
                id: id, secret: secret.token, user: row.user, name: row.name, expiresAt: row.expiresAt, scopes: row.scopes,
                allowIps: row.allowIPs), until
        )
    }

    func requireSelfServiceLifetime(_ lifetime: Lifetime) throws {
        guard case .seconds(let s) = lifetime, s <= limits.maxSelfServiceLifetime else {
            throw AdminError.forbidden("Without the admin privilege, a key lives at most \(limits.maxSelfServiceLifetime / 86_400) days.")
        }
    }

    /// A credential's name: 1 to 100 printable characters.
    func requireCredentialName(_ name: String) throws {
        guard (1...100).contains(name.count), PrintableText.isPrintable(name)
        else { throw AdminError.invalid("a key name is 1 to 100 printable characters (no control or format characters)") }
    }

    /// The resources `user` may call with a credential (owner, audience or `access:<name>`; not
    /// anonymous ones), by name: what a self-service key may be scoped to.
    public func reachableResources(user: String) throws -> [Resource] {
        try requireSelf(user, or: Privilege.manageOwnKeys)
        let model = try store.accessModel(now: clock.now)
        return model.resources.filter { model.grant(for: user, to: $0) != nil && !$0.anonymous }.sorted { $0.name < $1.name }
    }

    /// A self-service credential must name scopes, each within a resource `user` may call: a
    /// credential never grants more than its owner has.
    func requireWithinAccess(_ user: String, _ scopes: [PathScope]) throws {
        guard !scopes.isEmpty else { throw AdminError.forbidden("A key you create for yourself must name scopes within resources you may call.") }
        let model = try store.accessModel(now: clock.now)
        for scope in scopes {
            guard model.resources.contains(where: { model.grant(for: user, to: $0) != nil && !$0.anonymous && scope.isWithin($0.scope) }) else {
                throw AdminError.forbidden("The scope \(scope.description) is not within a resource you may call.")
            }
        }
    }
}
