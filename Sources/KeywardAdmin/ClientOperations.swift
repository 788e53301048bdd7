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
        try visible(user: user, store.clients(user:))
    }

    /// One client; its owner or an admin.
    public func client(_ id: String) throws -> ClientRow {
        let row = try store.client(id)
        return try visible(row, id: id, owner: row.user)
    }

    /// Changes one client, under the rules of `setKey`: owners may disable, delete and renew (up
    /// to `maxSelfServiceLifetime`), not enable.
    public func setClient(_ id: String, _ command: CredentialChange) throws {
        try change(command, id, owner: store.client(id).user, noun: "client", in: store.clients) { [store] in
            try store.setClientExpiry(id, $0)
        }
    }

    /// A new secret for the same client; tokens issued with the old one are revoked.
    public func regenerateClient(_ id: String) throws -> CreatedClient {
        let secret = try regenerate(id, owner: manageable(id, owner: store.client(id).user), noun: "client", in: store.clients)
        let row = try store.client(id)
        return CreatedClient(
            clientId: id, clientSecret: secret.token, user: row.user, name: row.name, expiresAt: row.expiresAt,
            scopes: row.scopes)
    }
}
