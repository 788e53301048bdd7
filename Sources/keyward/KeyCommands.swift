import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// `keyward key ...`: API keys, named by their public id (`kwk_...`).
enum KeyCommands {
    static let verbs: [String: CommandSpec] = [
        "create": CommandSpec(
            usage: "key create --user U --name N [--expires 30d|never] [--scope /path/ ...] [--allow-ip CIDR ...]",
            summary: "Create an API key and print its secret once.",
            options: [
                .init("user", value: "U", "owner of the key"),
                .init("name", value: "N", "a name unique among the user's keys"),
            ] + CredentialArguments.limitOptions(defaultExpiry: "30d")),
        "list": CommandSpec(
            usage: "key list [--user U]", summary: "List keys (never their secrets).",
            options: [.init("user", value: "U", "only this user's keys")]),
        "show": CommandSpec(usage: "key show ID", summary: "Show one key."),
        "disable": CommandSpec(usage: "key disable ID", summary: "Disable a key; it fails from the next request on."),
        "enable": CommandSpec(usage: "key enable ID", summary: "Enable a disabled key."),
        "renew": CommandSpec(
            usage: "key renew ID [--expires 30d|never]", summary: "Give a key a new expiry; the secret stays.",
            options: [.init("expires", value: "DURATION", "new lifetime from now (default 30d)")]),
        "regenerate": CommandSpec(
            usage: "key regenerate ID",
            summary: "Replace a key's secret (same id, name, scopes and addresses) and print it once; access tokens exchanged from it are revoked."),
        "roll": CommandSpec(
            usage: "key roll ID --grace 24h",
            summary: """
                Give a key a second secret and print it once; the current secret keeps working until the grace period ends, so clients switch without an outage. Refused while a previous roll's grace runs.
                """,
            options: [.init("grace", value: "DURATION", "how long the current secret keeps working (required; at most 30d)")]),
        "delete": CommandSpec(usage: "key delete ID", summary: "Delete a key."),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "key", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        let now = context.clock.now
        switch verb {
        case "create":
            _ = try args.positional()
            let (user, name) = try CredentialArguments.ownerAndName(args)
            let expires = try lifetime(args.value("expires"), admin.limits)
            let scopes = try CredentialArguments.scopes(args)
            let networks = try CredentialArguments.networks(args)
            let created = try admin.createKey(user: user, name: name, expires: expires, scopes: scopes, networks: networks)
            try context.emit(created) {
                """
                created API key \(created.id) (\(name), user \(user), expires \(Time.iso(created.expiresAt)))
                secret, shown only now:
                \(created.secret)
                """
            }
        case "list":
            _ = try args.positional()
            let rows = try admin.keys(user: args.value("user"))
            try context.emit(rows) {
                rows.isEmpty
                    ? "no keys"
                    : table(
                        ["ID", "USER", "NAME", "STATUS", "EXPIRES", "LAST USED", "USES"],
                        rows.map {
                            [
                                $0.id, $0.user, $0.name, status($0, now: now), Time.iso($0.expiresAt),
                                $0.lastUsedAt.map(Time.iso) ?? "-", String($0.useCount),
                            ]
                        })
            }
        case "show":
            let row = try admin.key(try keyId(args))
            try context.emit(row) { describe(row, now: now) }
        case "regenerate":
            // Tokens exchanged from the old secret go with it, up to this very moment.
            let created = try admin.regenerateKey(try keyId(args))
            try context.emit(created) { "new secret for \(created.id), shown only now:\n\(created.secret)" }
        case "roll":
            guard let text = args.value("grace") else { throw UsageError("--grace is required (e.g. --grace 24h)") }
            guard case .seconds(let grace)? = Lifetime(text) else { throw UsageError("invalid --grace \(text): want 45s, 30m, 12h or 30d") }
            let (created, until) = try admin.rollKey(try keyId(args), grace: grace)
            struct Rolled: Encodable {
                let key: CreatedKey
                let previousValidUntil: Int64
            }
            try context.emit(Rolled(key: created, previousValidUntil: until)) {
                "new secret for \(created.id), shown only now (the previous one works until \(Time.iso(until))):\n\(created.secret)"
            }
        default:
            let id = try keyId(args)
            guard let command = CredentialChange(verb: verb, expires: verb == "renew" ? try lifetime(args.value("expires"), admin.limits) : nil)
            else { preconditionFailure("unhandled verb \(verb)") }
            try admin.setKey(id, command)
            if verb == "delete" {
                try context.emit(["id": id, "result": "deleted"]) { "key \(id) deleted" }
            } else {
                let row = try admin.key(id)
                try context.emit(row) { "key \(id): \(verb) done (\(status(row, now: now)), expires \(Time.iso(row.expiresAt)))" }
            }
        }
    }

    static func keyId(_ args: ParsedArguments) throws -> String {
        try CredentialArguments.id(args, kind: .apiKey)
    }

    static func lifetime(_ text: String?, _ limits: Limits) throws -> Lifetime {
        try CredentialArguments.lifetime(text, default: .seconds(limits.defaultKeyLifetime))
    }

    static func status(_ row: KeyRow, now: Int64) -> String {
        if row.status == .disabled { return "disabled" }
        if let e = row.expiresAt, e <= now { return "expired" }
        return "active"
    }

    static func describe(_ row: KeyRow, now: Int64) -> String {
        """
        key \(row.id)
          name       \(row.name)
          user       \(row.user)
          status     \(status(row, now: now))
          created    \(Time.iso(row.createdAt))
          expires    \(Time.iso(row.expiresAt))
          scopes     \(row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))
          allow-ip   \(row.allowIPs.isEmpty ? "any" : row.allowIPs.joined(separator: " "))
          last used  \(row.lastUsedAt.map(Time.iso) ?? "never")\(row.lastUsedIP.map { " from \($0)" } ?? "")
          uses       \(row.useCount)
        """ + (row.previousValidUntil.map { $0 > now ? "\n  rolled     the previous secret works until \(Time.iso($0))" : "" } ?? "")
    }
}

/// `keyward audit ...`.
enum AuditCommands {
    static let verbs: [String: CommandSpec] = [
        "list": CommandSpec(
            usage: "audit list [--since 1h|TIME] [--user U] [--action A] [--limit N]",
            summary: "List audit events, oldest first (--json for an array).",
            options: listOptions),
        "export": CommandSpec(
            usage: "audit export [--since 1h|TIME] [--user U] [--action A] [--limit N]",
            summary: "Print audit events as JSON lines, one object per event, oldest first.",
            options: listOptions),
        "verify": CommandSpec(
            usage: "audit verify",
            summary: "Check the audit trail's hash chain; exit 1 naming the first record that was changed, inserted or removed."),
    ]

    static let listOptions: [CommandSpec.Option] = [
        .init("since", value: "WHEN", "a duration ago (1h, 7d), a Unix time or ISO 8601"),
        .init("user", value: "U", "only events by or about this user"),
        .init("action", value: "A", "only this action (check.deny, key.create, ...)"),
        .init("limit", value: "N", "at most N events, the newest (default 1000)"),
    ]

    struct Shown: Encodable {
        let at: Int64
        let time: String
        let actor: String
        let action: String
        let target: String?
        let credential: String?
        let sourceIp: String?
        let reason: String?
        let detail: String?

        enum CodingKeys: String, CodingKey {
            case at, time, actor, action, target, credential, sourceIp, reason, detail
        }

        /// Every field, null when empty: consumers get one shape for every event.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(at, forKey: .at)
            try c.encode(time, forKey: .time)
            try c.encode(actor, forKey: .actor)
            try c.encode(action, forKey: .action)
            try c.encode(target, forKey: .target)
            try c.encode(credential, forKey: .credential)
            try c.encode(sourceIp, forKey: .sourceIp)
            try c.encode(reason, forKey: .reason)
            try c.encode(detail, forKey: .detail)
        }
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "audit", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        _ = try args.positional()
        if verb == "verify" {
            let key = HMACKey(AuditChain.key(masterKey: try context.loadKeys().masterKey))
            let (records, broken, head) = try context.openStore().verifyAudit(key: key)
            if let broken {
                throw Refusal("audit chain broken at record \(broken): it or the record before it was changed, inserted or removed")
            }
            struct Verified: Encodable {
                let records: Int
                let intact: Bool
                let head: String
            }
            try context.emit(Verified(records: records, intact: true, head: Hex.encode(head))) {
                "audit chain intact: \(records) records, head \(Hex.encode(head)) (keep it elsewhere to notice records cut off the end)"
            }
            return
        }
        let since = try args.value("since").map { text in
            guard let t = Time.parseSince(text, now: context.clock.now) else { throw UsageError("invalid --since \(text)") }
            return t
        }
        let limit =
            try args.value("limit").map { text in
                guard let n = Int(text), n > 0 else { throw UsageError("invalid --limit \(text)") }
                return n
            } ?? 1000
        let events = try context.openStore().audit(
            since: since, user: args.value("user"), action: args.value("action"),
            limit: limit
        ).map {
            Shown(
                at: $0.at, time: Time.iso($0.at), actor: $0.actor, action: $0.action, target: $0.target,
                credential: $0.credential, sourceIp: $0.sourceIP, reason: $0.reason, detail: $0.detail)
        }
        if verb == "export" {
            for event in events { print(try JSONOutput.line(event)) }
            return
        }
        try context.emit(events) {
            events.isEmpty
                ? "no events"
                : table(
                    ["TIME", "ACTOR", "ACTION", "TARGET", "CREDENTIAL", "FROM", "REASON", "DETAIL"],
                    events.map {
                        [
                            $0.time, $0.actor, $0.action, $0.target ?? "-", $0.credential ?? "-", $0.sourceIp ?? "-",
                            $0.reason ?? "-", $0.detail ?? "",
                        ]
                    })
        }
    }
}
