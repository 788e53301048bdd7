import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// `keyward hmac ...`: signed-request credentials (`kwh_...`), named by their id. Each signs with
/// one algorithm: `hmac-sha256` (a shared secret: Keyward's 32 random bytes shown once in base64,
/// or the client's own with `--secret-stdin`) or `ed25519` (Keyward keeps the client's public
/// key, `--public-key-stdin`). The id is the `keyid` of RFC 9421 signatures and the id of
/// `Authorization: HMAC <id>:<mac>`.
enum HMACCommands {
    static let verbs: [String: CommandSpec] = [
        "create": CommandSpec(
            usage:
                "hmac create --user U --name N [--alg hmac-sha256|ed25519] [--secret-stdin | --public-key-stdin] [--expires DURATION] [--scope /path/ ...] [--allow-ip CIDR ...]",
            summary: """
                Create a credential for signed requests. hmac-sha256 (the default): a 32-byte secret, printed once in base64,
                or the bytes on standard input with --secret-stdin (16 to 1024; one final newline is dropped), never shown back.
                ed25519: the client's public key on standard input (--public-key-stdin), PEM or the 32 raw bytes in base64.
                """,
            options: [
                .init("user", value: "U", "owner of the credential"),
                .init("name", value: "N", "a name unique among the user's signed-request credentials"),
                .init("alg", value: "ALG", "hmac-sha256 (default) or ed25519"),
                .init("secret-stdin", "hmac-sha256: read the secret from standard input instead of generating one"),
                .init("public-key-stdin", "ed25519: read the public key from standard input (required for ed25519)"),
            ] + CredentialArguments.limitOptions(defaultExpiry: "30d")),
        "list": CommandSpec(
            usage: "hmac list [--user U]", summary: "List signed-request credentials (never their secrets).",
            options: [.init("user", value: "U", "only this user's credentials")]),
        "show": CommandSpec(usage: "hmac show ID", summary: "Show one credential and its secrets' states (never the secrets)."),
        "disable": CommandSpec(usage: "hmac disable ID", summary: "Disable a credential; its signatures fail from the next request on."),
        "enable": CommandSpec(usage: "hmac enable ID", summary: "Enable a disabled credential."),
        "renew": CommandSpec(
            usage: "hmac renew ID [--expires 30d|never]", summary: "Give a credential a new expiry; its secrets stay.",
            options: [.init("expires", value: "DURATION", "new lifetime from now (default 30d)")]),
        "delete": CommandSpec(usage: "hmac delete ID", summary: "Delete a credential and its secrets."),
        "secret": CommandSpec(
            usage:
                "hmac secret add ID [--secret-stdin | --public-key-stdin] | discard|reactivate ID SERIAL | delete|reveal ID SERIAL --password-stdin [--password-of USER]",
            summary: """
                Rotate a credential's secrets (its id, the clients' keyid, stays): add a second active secret (printed once, or read \
                from standard input as at create), discard one (inactive: refused from the next request on), reactivate it, delete \
                an inactive one, or print an HMAC secret (reveal); delete and reveal need the owner's (or an admin's) password again. At least one secret stays active, at most two are \
                active and at most one is inactive; a refused step exits 1 and says which rule.
                """,
            options: [
                .init("secret-stdin", "add, hmac-sha256: read the secret from standard input instead of generating one"),
                .init("public-key-stdin", "add, ed25519: read the public key from standard input (required for ed25519)"),
            ] + ServiceCommands.passwordOptions),
        "roll": CommandSpec(
            usage: "hmac roll ID --grace 24h [--secret-stdin | --public-key-stdin]",
            summary: """
                Add a new secret and retire the one active secret when the grace period ends, so clients switch without an outage \
                and nothing is left to discard. Refused while two secrets are active (a roll's grace included).
                """,
            options: [
                .init("grace", value: "DURATION", "how long the current secret keeps working (required; at most 30d)"),
                .init("secret-stdin", "hmac-sha256: read the new secret from standard input instead of generating one"),
                .init("public-key-stdin", "ed25519: read the new public key from standard input (required for ed25519)"),
            ]),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "hmac", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        let now = context.clock.now
        switch verb {
        case "create":
            _ = try args.positional()
            let (user, name) = try CredentialArguments.ownerAndName(args)
            let material = try material(args)
            let created = try admin.createRequestKey(
                user: user, name: name, material: material,
                expires: try CredentialArguments.lifetime(args.value("expires"), default: .seconds(admin.limits.defaultKeyLifetime)),
                scopes: try CredentialArguments.scopes(args), networks: try CredentialArguments.networks(args))
            try context.emit(created) {
                var text =
                    "created signed-request credential \(created.id) (\(name), user \(user), \(created.algorithm.rawValue), expires \(Time.iso(created.expiresAt)))"
                if let secret = created.secret {
                    text += "\nsecret (base64; the key is the 32 bytes it decodes to), shown only now:\n\(secret)"
                } else if created.algorithm == .hmacSHA256 {
                    text += "\nsecret: the one read from standard input (not shown)"
                }
                return text
            }
        case "list":
            _ = try args.positional()
            let rows = try admin.requestKeys(user: args.value("user"))
            try context.emit(rows) {
                rows.isEmpty
                    ? "no signed-request credentials"
                    : table(
                        ["ID", "USER", "NAME", "ALG", "STATUS", "EXPIRES", "LAST USED", "USES"],
                        rows.map {
                            [
                                $0.id, $0.user, $0.name, $0.algorithm.rawValue, status($0, now: now), Time.iso($0.expiresAt),
                                $0.lastUsedAt.map(Time.iso) ?? "-", String($0.useCount),
                            ]
                        })
            }
        case "show":
            let id = try CredentialArguments.id(args, kind: .signedRequest)
            let row = try admin.requestKey(id)
            let secrets = try admin.store.requestKeySecrets(id)
            struct Shown: Encodable {
                let credential: RequestKeyRow
                let secrets: [RequestKeySecretRow]
            }
            try context.emit(Shown(credential: row, secrets: secrets)) { describe(row, secrets: secrets, now: now) }
        case "secret":
            try secret(args, admin, context, now: now)
        case "roll":
            let id = try CredentialArguments.id(args, kind: .signedRequest)
            guard let text = args.value("grace") else { throw UsageError("--grace is required (e.g. --grace 24h)") }
            guard case .seconds(let grace)? = Lifetime(text) else { throw UsageError("invalid --grace \(text): want 45s, 30m, 12h or 30d") }
            let added = try admin.addRequestKeySecret(id, material: try material(args, algorithm: admin.requestKey(id).algorithm), grace: grace)
            try context.emit(added) { addedText(added, verb: "rolled", now: now) }
        default:
            let id = try CredentialArguments.id(args, kind: .signedRequest)
            let expires =
                verb == "renew" ? try CredentialArguments.lifetime(args.value("expires"), default: .seconds(admin.limits.defaultKeyLifetime)) : nil
            guard let command = CredentialChange(verb: verb, expires: expires) else { preconditionFailure("unhandled verb \(verb)") }
            try admin.setRequestKey(id, command)
            if verb == "delete" {
                try context.emit(["id": id, "result": "deleted"]) { "signed-request credential \(id) deleted" }
            } else {
                let row = try admin.requestKey(id)
                try context.emit(row) {
                    "signed-request credential \(id): \(verb) done (\(status(row, now: now)), expires \(Time.iso(row.expiresAt)))"
                }
            }
        }
    }

    /// `hmac secret VERB ID ...`.
    static func secret(_ args: ParsedArguments, _ admin: Admin, _ context: Context, now: Int64) throws {
        guard let verb = args.positionals.first else { throw UsageError("missing add|discard|reactivate|delete|reveal") }
        switch verb {
        case "add":
            let given = try ServiceCommands.positional(args, "ID")
            let id = try CredentialArguments.id(given[0], kind: .signedRequest)
            let added = try admin.addRequestKeySecret(id, material: try material(args, algorithm: admin.requestKey(id).algorithm))
            try context.emit(added) { addedText(added, verb: "added", now: now) }
        case "discard", "reactivate":
            let given = try ServiceCommands.positional(args, "ID", "SERIAL")
            let id = try CredentialArguments.id(given[0], kind: .signedRequest)
            let serial = try serial(given[1])
            try admin.setRequestKeySecret(id, serial: serial, RequestKeySecretChange(rawValue: verb)!)
            let secrets = try admin.store.requestKeySecrets(id)
            try context.emit(secrets) {
                "\(id): secret \(serial) \(verb == "discard" ? "discarded" : "reactivated"); secrets \(describe(secrets))"
            }
        case "delete":
            let given = try ServiceCommands.positional(args, "ID", "SERIAL")
            let id = try CredentialArguments.id(given[0], kind: .signedRequest)
            let serial = try serial(given[1])
            try admin.deleteRequestKeySecret(
                id, serial: serial, password: try ServiceCommands.password(args), passwordOf: args.value("password-of"))
            try context.emit(["id": id, "serial": String(serial), "result": "deleted"]) { "\(id): secret \(serial) deleted" }
        case "reveal":
            let given = try ServiceCommands.positional(args, "ID", "SERIAL")
            let id = try CredentialArguments.id(given[0], kind: .signedRequest)
            let serial = try serial(given[1])
            let secret = try admin.revealRequestKeySecret(
                id, serial: serial, password: try ServiceCommands.password(args), passwordOf: args.value("password-of"))
            try context.emit(["id": id, "serial": String(serial), "secret": secret]) { "\(id) secret \(serial) (base64):\n\(secret)" }
        default:
            throw UsageError("unknown command hmac secret \(verb); one of add|discard|reactivate|delete|reveal")
        }
    }

    /// A secret's serial as `hmac show` lists it (`2` or `#2`).
    static func serial(_ text: String) throws -> Int64 {
        guard let serial = Int64(text.hasPrefix("#") ? String(text.dropFirst()) : text), serial > 0 else {
            throw UsageError("not a secret's serial: \(text) (the number hmac show lists, e.g. 2)")
        }
        return serial
    }

    static func addedText(_ added: AddedRequestKeySecret, verb: String, now: Int64) -> String {
        var text = "\(added.id): \(verb) secret \(added.serial); secrets \(describe(added.secrets))"
        if let secret = added.secret { text += "\nnew secret (base64), shown only now:\n\(secret)" }
        return text
    }

    /// The credential's secret or key from the options and standard input.
    static func material(_ args: ParsedArguments) throws -> RequestKeyMaterial {
        let alg = args.value("alg") ?? RequestSigningAlgorithm.hmacSHA256.rawValue
        guard let algorithm = RequestSigningAlgorithm(rawValue: alg) else { throw UsageError("invalid --alg \(alg): hmac-sha256 or ed25519") }
        return try material(args, algorithm: algorithm)
    }

    /// A secret or key of `algorithm` from the options and standard input.
    static func material(_ args: ParsedArguments, algorithm: RequestSigningAlgorithm) throws -> RequestKeyMaterial {
        switch algorithm {
        case .hmacSHA256:
            if args.flags.contains("public-key-stdin") { throw UsageError("--public-key-stdin is for --alg ed25519") }
            guard args.flags.contains("secret-stdin") else { return .generatedSecret }
            var secret = Array(FileHandle.standardInput.readDataToEndOfFile())
            if secret.last == UInt8(ascii: "\n") { secret.removeLast() }
            if secret.last == UInt8(ascii: "\r") { secret.removeLast() }
            guard !secret.isEmpty else { throw Refusal("no secret on standard input") }
            return .suppliedSecret(secret)
        case .ed25519:
            if args.flags.contains("secret-stdin") { throw UsageError("--secret-stdin is for --alg hmac-sha256") }
            guard args.flags.contains("public-key-stdin") else { throw UsageError("--alg ed25519 needs --public-key-stdin") }
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            return try RequestKeyMaterial.ed25519(publicKeyText: text)
        }
    }

    static func status(_ row: RequestKeyRow, now: Int64) -> String {
        if row.status == .disabled { return "disabled" }
        if let e = row.expiresAt, e <= now { return "expired" }
        return "active"
    }

    /// `#1 active, added ...; #2 inactive, added ...`.
    static func describe(_ secrets: [RequestKeySecretRow]) -> String {
        secrets.map { s in
            "#\(s.serial) \(s.state)\(s.retireAt.map { " until \(Time.iso($0))" } ?? ""), added \(Time.iso(s.createdAt))"
        }.joined(separator: "; ")
    }

    static func describe(_ row: RequestKeyRow, secrets: [RequestKeySecretRow], now: Int64) -> String {
        return """
            signed-request credential \(row.id)
              name       \(row.name)
              user       \(row.user)
              algorithm  \(row.algorithm.rawValue)
              status     \(status(row, now: now))
              created    \(Time.iso(row.createdAt))
              expires    \(Time.iso(row.expiresAt))
              scopes     \(row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))
              allow-ip   \(row.allowIPs.isEmpty ? "any" : row.allowIPs.joined(separator: " "))
              last used  \(row.lastUsedAt.map(Time.iso) ?? "never")\(row.lastUsedIP.map { " from \($0)" } ?? "")
              uses       \(row.useCount)
              \(row.algorithm == .ed25519 ? "keys       " : "secrets    ")\(describe(secrets))
            """
    }
}
