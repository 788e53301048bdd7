import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// The admin API's objects as JSON, each with every documented member (absent values as `null`).
/// Names follow the CLI's `--json` output: snake case, times in Unix seconds.
enum Render {
    static func user(_ u: UserRow) -> JSON {
        .object([
            ("name", .string(u.name)), ("status", .string(u.status.rawValue)), ("email", .optional(u.email)),
            ("created_at", .int(u.createdAt)), ("key_count", .int(Int64(u.keyCount))),
        ])
    }

    static func group(_ g: GroupRow) -> JSON {
        .object([
            ("name", .string(g.name)), ("created_at", .int(g.createdAt)), ("members", .strings(g.members)),
            ("roles", .strings(g.roles)),
        ])
    }

    static func role(_ r: RoleRow) -> JSON {
        .object([
            ("name", .string(r.name)), ("created_at", .int(r.createdAt)), ("privileges", .strings(r.privileges)),
            ("granted_to", .strings(r.grantedTo)),
        ])
    }

    static func resource(_ r: ResourceRow) -> JSON {
        .object([
            ("name", .string(r.name)), ("path", .string(r.path)), ("methods", .strings(r.methods)),
            ("anonymous", .bool(r.anonymous)), ("audience", .strings(r.audience)),
            ("audience_until", .object(r.audienceUntil.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("owner", .optional(r.owner)),
            ("allow_ips", .strings(r.allowIPs)), ("created_at", .int(r.createdAt)),
        ])
    }

    static func key(_ k: KeyRow) -> JSON {
        .object(keyMembers(k))
    }

    private static func keyMembers(_ k: KeyRow) -> [(String, JSON)] {
        [
            ("id", .string(k.id)), ("user", .string(k.user)), ("name", .string(k.name)), ("status", .string(k.status.rawValue)),
            ("created_at", .int(k.createdAt)), ("expires_at", .optional(k.expiresAt)), ("scopes", .strings(k.scopes)),
            ("allow_ips", .strings(k.allowIPs)), ("last_used_at", .optional(k.lastUsedAt)), ("last_used_ip", .optional(k.lastUsedIP)),
            ("use_count", .int(k.useCount)),
        ]
    }

    /// A key with its secret: the answer to create and regenerate, the only place a secret appears.
    static func created(_ c: CreatedKey, admin: Admin) -> JSON {
        guard let row = try? admin.store.key(c.id) else {
            return .object([
                ("id", .string(c.id)), ("user", .string(c.user)), ("name", .string(c.name)), ("expires_at", .optional(c.expiresAt)),
                ("scopes", .strings(c.scopes)), ("allow_ips", .strings(c.allowIps)), ("secret", .string(c.secret)),
            ])
        }
        return .object(keyMembers(row) + [("secret", .string(c.secret))])
    }

    /// A service and its credentials, masked.
    static func service(_ s: ServiceRow) -> JSON {
        .object([
            ("name", .string(s.name)), ("owner", .string(s.owner)), ("scopes", .strings(s.scopes)), ("allow_ips", .strings(s.allowIPs)),
            ("created_at", .int(s.createdAt)),
            (
                "credentials",
                .array(
                    s.credentials.map { c in
                        .object([
                            ("id", .string(c.id)), ("type", .string(c.type.rawValue)), ("status", .string(c.status)),
                            ("created_at", .int(c.createdAt)), ("last_used_at", .optional(c.lastUsedAt)), ("use_count", .int(c.useCount)),
                            ("masked", .string(c.masked)),
                        ])
                    })
            ),
        ])
    }

    /// A new service with its first secrets: the answer to create, and nowhere else.
    static func created(_ c: CreatedService) -> JSON {
        .object([
            ("service", service(c.service)), ("service_key", .string(c.serviceKey)), ("jwt_secret_id", .string(c.jwtSecretId)),
            ("jwt_secret", .string(c.jwtSecret)),
        ])
    }

    /// One service credential's secret: the answer to add and reveal.
    static func secret(_ s: ServiceSecretShown) -> JSON {
        .object([("service", .string(s.service)), ("id", .string(s.id)), ("type", .string(s.type.rawValue)), ("secret", .string(s.secret))])
    }

    /// A signed-request credential and its secrets' states (serial, state, retire_at,
    /// created_at); never a secret or a public key.
    static func requestKey(_ k: RequestKeyRow, secrets: [RequestKeySecretRow]) -> JSON {
        .object(requestKeyMembers(k, secrets: secrets))
    }

    private static func requestKeyMembers(_ k: RequestKeyRow, secrets: [RequestKeySecretRow]) -> [(String, JSON)] {
        [
            ("id", .string(k.id)), ("user", .string(k.user)), ("name", .string(k.name)), ("algorithm", .string(k.algorithm.rawValue)),
            ("status", .string(k.status.rawValue)), ("created_at", .int(k.createdAt)), ("expires_at", .optional(k.expiresAt)),
            ("scopes", .strings(k.scopes)), ("allow_ips", .strings(k.allowIPs)), ("last_used_at", .optional(k.lastUsedAt)),
            ("last_used_ip", .optional(k.lastUsedIP)), ("use_count", .int(k.useCount)), ("secrets", requestKeySecrets(secrets)),
        ]
    }

    static func requestKeySecrets(_ secrets: [RequestKeySecretRow]) -> JSON {
        .array(
            secrets.map { s in
                .object([
                    ("serial", .int(s.serial)), ("state", .string(s.state)), ("retire_at", .optional(s.retireAt)),
                    ("created_at", .int(s.createdAt)),
                ])
            })
    }

    /// A new signed-request credential: the answer to create, the only place a generated secret
    /// appears (`null` for a supplied secret or an Ed25519 key, which are not shown back).
    static func created(_ c: CreatedRequestKey, row: RequestKeyRow, secrets: [RequestKeySecretRow]) -> JSON {
        .object(requestKeyMembers(row, secrets: secrets) + [("secret", .optional(c.secret))])
    }

    /// A secret added to a credential: the answer to add (and roll), the only place a generated
    /// secret appears.
    static func added(_ a: AddedRequestKeySecret) -> JSON {
        .object([
            ("id", .string(a.id)), ("serial", .int(a.serial)), ("secret", .optional(a.secret)), ("secrets", requestKeySecrets(a.secrets)),
        ])
    }

    /// Keys in the API's order: oldest first, by id within a second.
    static func keyOrder(_ k: KeyRow) -> String { padded(k.createdAt) + " " + k.id }

    static func padded(_ n: Int64) -> String {
        let digits = String(max(n, 0))
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// A session: public id and times; `idle_expires_at` is when it ends unless used before.
    static func session(_ s: SessionInfo, idle: Int64, current: String?) -> JSON {
        .object([
            ("id", .string(s.id)), ("user", .string(s.user)), ("created_at", .int(s.createdAt)), ("last_seen_at", .int(s.lastSeenAt)),
            ("expires_at", .int(s.expiresAt)), ("idle_expires_at", .int(min(s.lastSeenAt + idle, s.expiresAt))),
            ("current", .bool(s.id == current)),
        ])
    }

    static func audit(_ r: AuditRecord) -> JSON {
        let e = r.event
        return .object([
            ("id", .int(r.id)), ("at", .int(e.at)), ("actor", .string(e.actor)), ("action", .string(e.action)),
            ("target", .optional(e.target)), ("credential", .optional(e.credential)), ("source_ip", .optional(e.sourceIP)),
            ("reason", .optional(e.reason)), ("detail", .optional(e.detail)),
        ])
    }

    static func accessRequest(_ r: AccessRequestRow) -> JSON {
        .object([
            ("id", .int(r.id)), ("user", .string(r.user)), ("resource", .string(r.resource)), ("note", .optional(r.note)),
            ("status", .string(r.status)), ("created_at", .int(r.createdAt)), ("decided_at", .optional(r.decidedAt)),
            ("decided_by", .optional(r.decidedBy)), ("key_id", .optional(r.keyId)), ("expires_at", .optional(r.expiresAt)),
        ])
    }

    /// A request with what became of each notification, as `keyward access ... --json` shows it.
    /// Other users' addresses are shown to admins only.
    static func decided(_ r: AccessRequestRow, _ admin: Admin) -> JSON {
        .object([
            ("request", accessRequest(r)),
            (
                "mail",
                .array(
                    admin.notices.map { n in
                        .object([
                            ("user", .optional(n.user)), ("address", .optional(admin.actor.isAdmin || n.user == admin.actor.user ? n.address : nil)),
                            ("about", .string(n.about)), ("result", .string(n.result)), ("error", .optional(n.error)),
                        ])
                    })
            ),
        ])
    }

    static func explanation(_ decision: Decision, _ steps: [String]) -> JSON {
        switch decision {
        case .allow(let identity):
            return .object([
                ("decision", .string("allow")), ("status", .int(200)), ("reason", .null),
                (
                    "identity",
                    .object([
                        ("user", .string(identity.user)), ("credential", .string(identity.credential)),
                        ("method", .string(identity.method.rawValue)), ("scopes", .strings(identity.scopes)),
                    ])
                ),
                ("steps", .strings(steps)),
            ])
        case .deny(let denial):
            return .object([
                ("decision", .string("deny")), ("status", .int(Int64(denial.reason.kind.status))),
                ("reason", .string(denial.reason.rawValue)), ("identity", .null), ("steps", .strings(steps)),
            ])
        }
    }
}
