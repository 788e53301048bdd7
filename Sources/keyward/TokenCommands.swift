import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// `keyward signing-key ...`: the keys access tokens are signed with.
enum SigningKeyCommands {
    static let verbs: [String: CommandSpec] = [
        "list": CommandSpec(usage: "signing-key list", summary: "List signing keys: the active one signs, retired ones verify until unpublished."),
        "rotate": CommandSpec(
            usage: "signing-key rotate [--alg ES256|RS256|Ed25519|EdDSA] [--retire-after 1h]",
            summary:
                "Make a new signing key the one that signs; the previous ones stay published (JWKS) and verify tokens until --retire-after has passed, which must exceed the token lifetime.",
            options: [
                .init(
                    "alg", value: "ALG",
                    "ES256 (default), RS256 (2048-bit), Ed25519 (RFC 9864 name) or EdDSA (the same key, the name older libraries know)"),
                .init("retire-after", value: "DURATION", "how long rotated-out keys stay published (default 1h)"),
            ]),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "signing-key", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        _ = try args.positional()
        let admin = try context.admin()
        if verb == "rotate" {
            let alg =
                try args.value("alg").map { text in
                    guard let alg = SigningAlgorithm(rawValue: text) else {
                        throw UsageError("unknown --alg \(text): ES256, RS256, Ed25519 or EdDSA")
                    }
                    return alg
                } ?? .standard
            var keep: Int64 = 3_600
            if let text = args.value("retire-after") {
                guard case .seconds(let s)? = Lifetime(text) else { throw UsageError("invalid --retire-after \(text)") }
                keep = s
            }
            let key = try admin.rotateSigningKey(alg, retireOthersAfter: keep)
            try context.emit(["kid": key.kid, "alg": alg.rawValue]) { "new signing key \(key.kid) (\(alg.rawValue)) now signs" }
            return
        }
        let rows = try admin.signingKeys()
        try context.emit(rows) {
            rows.isEmpty
                ? "no signing keys"
                : table(
                    ["KID", "ALG", "STATUS", "CREATED", "PUBLISHED UNTIL"],
                    rows.map {
                        [$0.kid, $0.alg, $0.status, Time.iso($0.createdAt), $0.retiredAt == nil ? "-" : Time.iso($0.publishedUntil)]
                    })
        }
    }
}

/// `keyward client ...`: OAuth2 clients for the client-credentials grant.
enum ClientCommands {
    static let verbs: [String: CommandSpec] = [
        "create": CommandSpec(
            usage: "client create --user U --name N [--scope /path/ ...] [--expires 30d|never]",
            summary: "Create an OAuth2 client and print its client_id and secret (the secret only now).",
            options: [
                .init("user", value: "U", "owner; the client's tokens never grant more than this user may"),
                .init("name", value: "N", "a name unique among the user's credentials of this kind"),
                .init("scope", value: "[METHODS:]PREFIX", repeatable: true, "paths its tokens may cover (default: every path)"),
                .init("expires", value: "DURATION", "45s, 30m, 12h, 30d or never (default never)"),
            ]),
        "list": CommandSpec(
            usage: "client list [--user U]", summary: "List clients (never their secrets).",
            options: [.init("user", value: "U", "only this user's clients")]),
        "show": CommandSpec(usage: "client show CLIENT_ID", summary: "Show one client."),
        "disable": CommandSpec(usage: "client disable CLIENT_ID", summary: "Disable a client: its tokens fail from the next request on."),
        "enable": CommandSpec(usage: "client enable CLIENT_ID", summary: "Enable a disabled client."),
        "regenerate": CommandSpec(
            usage: "client regenerate CLIENT_ID",
            summary: "Replace the client's secret and print it once; tokens issued so far are revoked."),
        "delete": CommandSpec(usage: "client delete CLIENT_ID", summary: "Delete a client: its tokens fail from the next request on."),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "client", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "create":
            _ = try args.positional()
            let (user, name) = try CredentialArguments.ownerAndName(args)
            let created = try admin.createClient(
                user: user, name: name,
                expires: try CredentialArguments.lifetime(args.value("expires"), default: .never),
                scopes: try CredentialArguments.scopes(args))
            try context.emit(created) {
                "created OAuth2 client \(name) for \(user)\nclient_id:     \(created.clientId)\nclient_secret: \(created.clientSecret)   (shown only now)"
            }
        case "list":
            _ = try args.positional()
            let rows = try admin.clients(user: args.value("user"))
            try context.emit(rows) {
                rows.isEmpty
                    ? "no clients"
                    : table(
                        ["CLIENT_ID", "USER", "NAME", "STATUS", "EXPIRES", "TOKENS"],
                        rows.map {
                            [$0.clientId, $0.user, $0.name, $0.status.rawValue, Time.iso($0.expiresAt), String($0.useCount)]
                        })
            }
        case "show":
            let row = try admin.client(try clientId(args))
            try context.emit(row) {
                "client \(row.clientId)\n  name     \(row.name)\n  user     \(row.user)\n  status   \(row.status.rawValue)\n"
                    + "  expires  \(Time.iso(row.expiresAt))\n  scopes   \(row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))"
            }
        case "regenerate":
            // Tokens issued with the old secret go with it, up to this very moment.
            let created = try admin.regenerateClient(try clientId(args))
            try context.emit(["client_id": created.clientId, "client_secret": created.clientSecret]) {
                "new secret for \(created.clientId), shown only now:\n\(created.clientSecret)"
            }
        default:
            let id = try clientId(args)
            guard let command = CredentialChange(verb: verb) else { preconditionFailure("unhandled verb \(verb)") }
            try admin.setClient(id, command)
            try context.emit(["client_id": id, "result": verb]) { "client \(id): \(verb) done" }
        }
    }

    static func clientId(_ args: ParsedArguments) throws -> String {
        try CredentialArguments.id(args, kind: .clientSecret)
    }
}
