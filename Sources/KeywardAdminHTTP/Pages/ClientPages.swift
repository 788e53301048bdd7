import KeywardAdmin
import KeywardCore
import KeywardStore

/// "Clients": OAuth2 clients (client-credentials grant) on the credential pages, the way "My keys"
/// has keys. Admins see and manage anyone's (`?user=`).
enum ClientPages {
    static let routes = CredentialPages.routes(kind, list: "clients", item: "clients")

    static let kind = CredentialPageKind(
        noun: "client", section: .clients, listPath: "/admin/clients", itemPath: "/admin/clients/", ownTitle: "My clients",
        intro: "An OAuth2 client gets short-lived access tokens with its id and secret (the client-credentials grant).",
        idLabel: "Client id", shownId: { $0 }, usedLabels: ("Last token", "Tokens"),
        consequences: { verb in
            switch verb {
            case .disable: "The client gets no new tokens from now on, and the tokens it holds are refused, until you enable it again."
            case .enable: "The client gets tokens again (if it has not expired)."
            case .renew: "The client's expiry moves to the new date; its secret stays the same."
            case .regenerate:
                "A new secret replaces the old one, which stops working at once, and every token issued with it is revoked. The new secret is shown once, on the next page."
            case .delete: "The client is gone for good, and its tokens are refused. This cannot be undone."
            }
        },
        shown: .client,
        operations: CredentialPageOperations(
            list: { admin, user in try admin.clients(user: user).map(listing) },
            one: { admin, id in listing(try admin.client(id)) },
            create: { admin, user, name, expires, scopes in issued(try admin.createClient(user: user, name: name, expires: expires, scopes: scopes))
            },
            change: { admin, id, command in try admin.setClient(id, command) },
            regenerate: { admin, id in issued(try admin.regenerateClient(id)) }))

    static func listing(_ client: ClientRow) -> CredentialListing {
        CredentialListing(
            id: client.clientId, user: client.user, name: client.name, status: client.status, createdAt: client.createdAt,
            expiresAt: client.expiresAt, scopes: client.scopes, lastUsedAt: client.lastUsedAt, lastUsedIP: nil, useCount: client.useCount)
    }

    static func issued(_ client: CreatedClient) -> IssuedSecret {
        IssuedSecret(id: client.clientId, name: client.name, secret: client.clientSecret, scopes: client.scopes)
    }
}
