import KeywardAdmin
import KeywardCore
import KeywardStore

/// "My keys": API keys on the credential pages. Admins see and manage anyone's (`?user=`).
enum KeyPages {
    static let routes = CredentialPages.routes(kind, list: "", item: "keys")

    static let kind = CredentialPageKind(
        noun: "key", section: .keys, listPath: "/admin/", itemPath: "/admin/keys/", ownTitle: "My keys", intro: nil,
        idLabel: "Key", shownId: { PageFormat.masked($0) }, usedLabels: ("Last used", "Uses"),
        consequences: { verb in
            switch verb {
            case .disable: "Requests with this key are refused from the next one on, until you enable it again."
            case .enable: "The key works again (if it has not expired)."
            case .renew: "The key's expiry moves to the new date; its secret stays the same."
            case .regenerate: "A new secret replaces the old one, which stops working at once. The new secret is shown once, on the next page."
            case .delete: "The key is gone for good; requests with it are refused. This cannot be undone."
            }
        },
        shown: .key,
        operations: CredentialPageOperations(
            list: { admin, user in try admin.keys(user: user).map(listing) },
            one: { admin, id in listing(try admin.key(id)) },
            create: { admin, user, name, expires, scopes in
                issued(try admin.createKey(user: user, name: name, expires: expires, scopes: scopes, networks: []))
            },
            change: { admin, id, command in try admin.setKey(id, command) },
            regenerate: { admin, id in issued(try admin.regenerateKey(id)) }))

    static func listing(_ key: KeyRow) -> CredentialListing {
        CredentialListing(
            id: key.id, user: key.user, name: key.name, status: key.status, createdAt: key.createdAt, expiresAt: key.expiresAt,
            scopes: key.scopes, lastUsedAt: key.lastUsedAt, lastUsedIP: key.lastUsedIP, useCount: key.useCount)
    }

    static func issued(_ key: CreatedKey) -> IssuedSecret {
        IssuedSecret(id: key.id, name: key.name, secret: key.secret, scopes: key.scopes)
    }
}
