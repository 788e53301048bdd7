import KeywardCore
import KeywardCrypto
import KeywardStore

/// `keyward signing-key ...`: the keys access tokens are signed with.
enum SigningKeyCommands {
    static let verbs: [String: CommandSpec] = [
        "list": CommandSpec(usage: "signing-key list", summary: "List signing keys: the active one signs, retired ones verify until unpublished."),
        "rotate": CommandSpec(
            usage: "signing-key rotate [--alg EdDSA|ES256|RS256] [--retire-after 1h]",
            summary: "Make a new signing key the one that signs; the previous ones stay published (JWKS) and verify tokens until --retire-after has passed, which must exceed the token lifetime.",
            options: [.init("alg", value: "ALG", "EdDSA (default), ES256 or RS256 (2048-bit)"),
                      .init("retire-after", value: "DURATION", "how long rotated-out keys stay published (default 1h)")]),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "signing-key", verbs: verbs),
              let args = try CLI.parse(rest, spec) else { return }
        _ = try args.positional()
        let store = try context.openStore()
        let now = context.clock.now
        if verb == "rotate" {
            let alg = try args.value("alg").map { text in
                guard let alg = SigningAlgorithm(rawValue: text) else { throw UsageError("unknown --alg \(text): EdDSA, ES256 or RS256") }
                return alg
            } ?? .edDSA
            var keep: Int64 = 3_600
            if let text = args.value("retire-after") {
                guard case .seconds(let s)? = Lifetime(text) else { throw UsageError("invalid --retire-after \(text)") }
                keep = s
            }
            let key = try addKey(store, alg, context: context, now: now, retireOthersAfter: keep)
            try context.emit(["kid": key.keyID, "alg": alg.rawValue]) { "new signing key \(key.keyID) (\(alg.rawValue)) now signs" }
            return
        }
        let rows = try store.signingKeys(now: now)
        try context.emit(rows) {
            rows.isEmpty ? "no signing keys" : table(["KID", "ALG", "STATUS", "CREATED", "PUBLISHED UNTIL"], rows.map {
                [$0.kid, $0.alg, $0.status, Time.iso($0.createdAt), $0.retiredAt == nil ? "-" : Time.iso($0.publishedUntil)]
            })
        }
    }

    /// Generates and stores a signing key, audited.
    @discardableResult
    static func addKey(_ store: Store, _ alg: SigningAlgorithm, context: Context, now: Int64, retireOthersAfter: Int64) throws -> PrivateSigningKey {
        let key = try PrivateSigningKey.generate(alg)
        try store.db.transaction {
            try store.addSigningKey(key, masterKey: try context.loadKeys().masterKey, now: now, retireOthersAfter: retireOthersAfter)
            try context.audit(store, "signing-key.rotate", target: "kid:\(key.keyID)", detail: alg.rawValue)
        }
        return key
    }
}

/// `keyward client ...`: OAuth2 clients for the client-credentials grant.
enum ClientCommands {
    static let verbs: [String: CommandSpec] = [
        "create": CommandSpec(
            usage: "client create --user U --name N [--scope /path/ ...] [--expires 30d|never]",
            summary: "Create an OAuth2 client and print its client_id and secret (the secret only now).",
            options: [.init("user", value: "U", "owner; the client's tokens never grant more than this user may"),
                      .init("name", value: "N", "a name unique among the user's credentials of this kind"),
                      .init("scope", value: "[METHODS:]PREFIX", repeatable: true, "paths its tokens may cover (default: every path)"),
                      .init("expires", value: "DURATION", "45s, 30m, 12h, 30d or never (default never)")]),
        "list": CommandSpec(usage: "client list [--user U]", summary: "List clients (never their secrets).",
                            options: [.init("user", value: "U", "only this user's clients")]),
        "show": CommandSpec(usage: "client show CLIENT_ID", summary: "Show one client."),
        "disable": CommandSpec(usage: "client disable CLIENT_ID", summary: "Disable a client: its tokens fail from the next request on."),
        "enable": CommandSpec(usage: "client enable CLIENT_ID", summary: "Enable a disabled client."),
        "regenerate": CommandSpec(usage: "client regenerate CLIENT_ID",
                                  summary: "Replace the client's secret and print it once; tokens issued so far are revoked."),
        "delete": CommandSpec(usage: "client delete CLIENT_ID", summary: "Delete a client: its tokens fail from the next request on."),
    ]

    struct Created: Encodable {
        let clientId: String
        let clientSecret: String
        let user: String
        let name: String
        let expiresAt: Int64?
        let scopes: [String]
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "client", verbs: verbs),
              let args = try CLI.parse(rest, spec) else { return }
        let store = try context.openStore()
        let now = context.clock.now
        switch verb {
        case "create":
            _ = try args.positional()
            let (user, name) = try CredentialArguments.ownerAndName(args)
            let expiry = try CredentialArguments.lifetime(args.value("expires"), default: .never).expiry(from: now)
            let scopes = try CredentialArguments.scopes(args)
            let secret = OpaqueSecret.generate(.clientSecret)
            let hash = secret.hash(with: HMACKey(try context.loadKeys().pepper))
            try store.db.transaction {
                try store.insertClient(id: secret.id, user: user, name: name, secretHash: hash, now: now, expiresAt: expiry, scopes: scopes)
                try context.audit(store, "client.create", target: "user:\(user)", credential: secret.id)
            }
            try context.emit(Created(clientId: secret.id, clientSecret: secret.token, user: user, name: name, expiresAt: expiry,
                                     scopes: scopes.map(\.description))) {
                "created OAuth2 client \(name) for \(user)\nclient_id:     \(secret.id)\nclient_secret: \(secret.token)   (shown only now)"
            }
        case "list":
            _ = try args.positional()
            let rows = try store.clients(user: args.value("user"))
            try context.emit(rows) {
                rows.isEmpty ? "no clients" : table(["CLIENT_ID", "USER", "NAME", "STATUS", "EXPIRES", "TOKENS"], rows.map {
                    [$0.clientId, $0.user, $0.name, $0.status.rawValue, Time.iso($0.expiresAt), String($0.useCount)]
                })
            }
        case "show":
            let row = try store.client(try clientId(args))
            try context.emit(row) {
                "client \(row.clientId)\n  name     \(row.name)\n  user     \(row.user)\n  status   \(row.status.rawValue)\n"
                    + "  expires  \(Time.iso(row.expiresAt))\n  scopes   \(row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))"
            }
        case "regenerate":
            let id = try clientId(args)
            let owner = try store.client(id).user
            let secret = OpaqueSecret.generate(.clientSecret, publicId: String(id.dropFirst(4)))
            try store.db.transaction {
                try store.setCredentialSecretHash(id, secret.hash(with: HMACKey(try context.loadKeys().pepper)))
                try store.revokeTokens(issuedFrom: id, now: context.clock.now)  // the old secret's tokens, up to now
                try context.audit(store, "client.regenerate", target: "user:\(owner)", credential: id)
            }
            try context.emit(["client_id": id, "client_secret": secret.token]) { "new secret for \(id), shown only now:\n\(secret.token)" }
        default:
            let id = try clientId(args)
            let owner = try store.client(id).user
            try store.db.transaction {
                switch verb {
                case "disable": try store.setCredentialStatus(id, .disabled)
                case "enable": try store.setCredentialStatus(id, .active)
                case "delete": try store.deleteCredential(id)
                default: preconditionFailure("unhandled verb")
                }
                try context.audit(store, "client.\(verb)", target: "user:\(owner)", credential: id)
            }
            try context.emit(["client_id": id, "result": verb]) { "client \(id): \(verb) done" }
        }
    }

    static func clientId(_ args: ParsedArguments) throws -> String {
        try CredentialArguments.id(args, kind: .clientSecret)
    }
}
