import KeywardCore
import KeywardCrypto
import KeywardStore

/// An OAuth2 client's secret, shown once: at creation or regeneration.
public struct CreatedClient: Sendable, Equatable, Codable {
    /// `client_id`: the public id.
    public var clientId: String
    /// The whole secret; shown only in this answer, never stored or logged.
    public var clientSecret: String
    public var user: String
    public var name: String
    public var expiresAt: Int64?
    public var scopes: [String]
}

// MARK: OAuth2 clients

extension Admin {
    /// Creates an OAuth2 client (client-credentials grant) and returns its secret, once. The same
    /// rules as for keys: admins for anyone; holders of `manage-own-keys` for themselves, scoped
    /// within resources they may call and living at most `maxSelfServiceLifetime`.
    public func createClient(user: String, name: String, expires: Lifetime, scopes: [PathScope]) throws -> CreatedClient {
        try requireSelf(user, or: Privilege.manageOwnKeys)
        try requireCredentialName(name)
        if !actor.isAdmin {
            try requireWithinAccess(user, scopes)
            try requireSelfServiceLifetime(expires)
        }
        let now = clock.now
        let expiry = expires.expiry(from: now)
        let secret = OpaqueSecret.generate(.clientSecret)
        try change("client.create", target: "user:\(user)", credential: secret.id) {
            try store.insertClient(
                id: secret.id, user: user, name: name, secretHash: secret.hash(with: HMACKey(keyFile.pepper)),
                now: now, expiresAt: expiry, scopes: scopes)
        }
        return CreatedClient(
            clientId: secret.id, clientSecret: secret.token, user: user, name: name, expiresAt: expiry,
            scopes: scopes.map(\.description))
    }

    /// Clients, oldest first: everyone's (or one user's) for admins, one's own otherwise.
    public func clients(user: String? = nil) throws -> [ClientRow] {
        if actor.isAdmin { return try store.clients(user: user) }
        guard let me = actor.user, user == nil || user == me else { throw AdminError.forbidden() }
        return try store.clients(user: me)
    }

    /// One client; its owner or an admin.
    public func client(_ id: String) throws -> ClientRow {
        let row = try store.client(id)
        guard actor.isAdmin || actor.user == row.user else { throw AdminError.notFound(StoreRefusal.noSuchKey(id).description) }
        return row
    }

    /// Changes one client, under the rules of `setKey`: owners may disable, delete and renew, not enable.
    public func setClient(_ id: String, _ command: CredentialChange) throws {
        let owner = try ownClient(id)
        if !actor.isAdmin {
            if command == .enable { throw AdminError.forbidden("Enabling a disabled client needs the admin privilege.") }
            if case .renew = command { throw AdminError.invalid("a client is renewed by creating a new one") }
        }
        try change("client.\(command.verb)", target: "user:\(owner)", credential: id) {
            switch command {
            case .enable: try store.clients.setStatus(id, .active)
            case .disable: try store.clients.setStatus(id, .disabled)
            case .delete: try store.clients.delete(id)
            case .renew: throw AdminError.invalid("a client is renewed by creating a new one")
            }
        }
    }

    /// A new secret for the same client; tokens issued with the old one are revoked.
    public func regenerateClient(_ id: String) throws -> CreatedClient {
        let owner = try ownClient(id)
        let secret = OpaqueSecret.generate(.clientSecret, publicId: String(id.dropFirst(4)))
        try change("client.regenerate", target: "user:\(owner)", credential: id) {
            try store.clients.setSecretHash(id, secret.hash(with: HMACKey(keyFile.pepper)))
            try store.clients.revokeTokens(issuedFrom: id, now: clock.now)
        }
        let row = try store.client(id)
        return CreatedClient(
            clientId: id, clientSecret: secret.token, user: row.user, name: row.name, expiresAt: row.expiresAt,
            scopes: row.scopes)
    }

    /// The client's owner, when the actor may manage it; others' clients look absent.
    private func ownClient(_ id: String) throws -> String {
        let owner = try store.client(id).user
        if actor.isAdmin { return owner }
        guard actor.user == owner else { throw AdminError.notFound(StoreRefusal.noSuchKey(id).description) }
        try requireSelf(owner, or: Privilege.manageOwnKeys)
        return owner
    }
}
