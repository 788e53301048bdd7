import KeywardCore

/// One credential kind's table: where its rows live and what the check loads from them. A new
/// kind adds one value here and is listed in `all`.
struct CredentialSchema: Sendable {
    /// The opaque-secret kind the check looks up here by public id.
    let kind: SecretKind
    /// The table; a constant of this file, never user input.
    let table: String
    /// The prefixes of the public ids whose rows are here (usage is added by them).
    let idPrefixes: [String]
    /// Whether rows carry their own networks (`allow_ips`) and the address of the latest use.
    let hasNetworks: Bool
    /// Whether rows carry a revocation epoch for the access tokens issued from them.
    let hasTokens: Bool
    /// The stored word for `Status.disabled`: `disabled`, or `inactive` for rotated credentials.
    let disabledWord: String
    /// The check's view of one row and its owner, by public id: id, name, owner, owner status,
    /// status, secret hash, expiry, scopes, networks, revocation epoch, the previous secret hash
    /// and until when it is valid, the service.
    let lookupSQL: String

    static let apiKeys = CredentialSchema(
        kind: .apiKey, table: "api_keys", idPrefixes: ["kwk"], hasNetworks: true, hasTokens: true, disabledWord: "disabled",
        lookupSQL: """
            SELECT c.id, c.name, u.name, u.status, c.status, c.secret_hash, c.expires_at, c.scopes, c.allow_ips,
                c.tokens_valid_after, c.previous_secret_hash, c.previous_valid_until, NULL
            FROM api_keys c JOIN users u ON u.id = c.user_id WHERE c.id = ?
            """)
    static let clients = CredentialSchema(
        kind: .clientSecret, table: "oauth_clients", idPrefixes: ["kwc"], hasNetworks: false, hasTokens: true,
        disabledWord: "disabled",
        lookupSQL: """
            SELECT c.id, c.name, u.name, u.status, c.status, c.secret_hash, c.expires_at, c.scopes, '',
                c.tokens_valid_after, NULL, NULL, NULL
            FROM oauth_clients c JOIN users u ON u.id = c.user_id WHERE c.id = ?
            """)
    /// Service keys and JWT secrets share a table; the check looks up service keys (a JWT
    /// secret is never presented, it signs). Scopes and networks are the service's.
    static let serviceCredentials = CredentialSchema(
        kind: .serviceKey, table: "service_credentials", idPrefixes: ServiceCredentialType.allCases.map(\.prefix),
        hasNetworks: false, hasTokens: false, disabledWord: "inactive",
        lookupSQL: """
            SELECT c.id, s.name, u.name, u.status, CASE c.status WHEN 'active' THEN 'active' ELSE 'disabled' END,
                c.secret_hash, NULL, s.scopes, s.allow_ips, NULL, NULL, NULL, s.name
            FROM service_credentials c JOIN services s ON s.id = c.service_id JOIN users u ON u.id = s.owner_id
            WHERE c.id = ? AND c.type = 'service-key'
            """)
    /// Signed-request credentials: no secret hash (their secrets are in `request_key_secrets`,
    /// `RequestKeyStore.swift`) and no tokens issued from them.
    static let requestKeys = CredentialSchema(
        kind: .signedRequest, table: "request_keys", idPrefixes: ["kwh"], hasNetworks: true, hasTokens: false,
        disabledWord: "disabled",
        lookupSQL: """
            SELECT c.id, c.name, u.name, u.status, c.status, X'', c.expires_at, c.scopes, c.allow_ips,
                NULL, NULL, NULL, NULL
            FROM request_keys c JOIN users u ON u.id = c.user_id WHERE c.id = ?
            """)
    static let all = [apiKeys, clients, serviceCredentials, requestKeys]

    /// The schema the check looks a credential up in (its public id names its kind); nil for none stored.
    static func of(credentialId id: String) -> CredentialSchema? {
        all.first { OpaqueSecret.isCredentialId(id, kind: $0.kind) }
    }

    /// True when `id` is a public id of a row of this table.
    func holds(_ id: String) -> Bool {
        id.utf8.count == 4 + OpaqueSecret.publicIdLength && idPrefixes.contains { id.hasPrefix($0 + "_") }
    }
}

/// The writes every credential kind shares, on one kind's table: one value per kind
/// (`Store.apiKeys`, `Store.clients`), never chosen by the prefix of an id.
final class SQLCredentialTable: CredentialRepository {
    private let db: Connection
    private let dialect: SQLDialect
    private let schema: CredentialSchema
    var kind: SecretKind { schema.kind }
    private var table: String { schema.table }

    /// The kind's rows over the store's connection (held here too, so the repository may outlive
    /// the `Store` value it came from).
    init(db: Connection, dialect: SQLDialect, schema: CredentialSchema) {
        self.db = db
        self.dialect = dialect
        self.schema = schema
    }

    /// Sets one column of one credential; throws `noSuchKey` when there is none.
    private func update(_ id: String, _ column: StaticString, _ value: SQLValue) throws {
        try db.statement("UPDATE \(table) SET \(column) = ? WHERE id = ?").run([value, .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }

    func setStatus(_ id: String, _ status: Status) throws {
        try update(id, "status", .text(status == .active ? "active" : schema.disabledWord))
    }

    /// A new secret also ends a roll's grace period: the previous secret goes with the current one.
    func setSecretHash(_ id: String, _ hash: [UInt8]) throws {
        precondition(kind.isOpaque, "\(table) has no secret hash")
        try update(id, "secret_hash", .blob(hash))
        if schema.table == CredentialSchema.apiKeys.table {
            try db.statement("UPDATE api_keys SET previous_secret_hash = NULL, previous_valid_until = NULL WHERE id = ?").run([.text(id)])
        }
    }

    /// The revocation epoch moves to `now`, or one past the current epoch when that is not
    /// earlier (two revocations in one second still leave the tokens issued between them behind).
    /// A kind that issues no tokens has nothing to revoke.
    func revokeTokens(issuedFrom id: String, now: Int64) throws {
        guard schema.hasTokens else { return }
        try db.statement(
            """
            UPDATE \(table) SET tokens_valid_after =
                CASE WHEN tokens_valid_after >= ? THEN tokens_valid_after + 1 ELSE ? END
            WHERE id = ?
            """
        ).run([.integer(now), .integer(now), .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }

    func delete(_ id: String) throws {
        try db.statement("DELETE FROM \(table) WHERE id = ?").run([.text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }

    func applyUsage(_ usage: [String: UsageDelta]) throws {
        guard !usage.isEmpty else { return }
        let latest = dialect.greatest("coalesce(last_used_at, 0)", "?")
        if schema.hasNetworks {
            let s = try db.statement(
                """
                UPDATE \(table) SET use_count = use_count + ?, last_used_at = \(latest),
                    last_used_ip = CASE WHEN ? >= coalesce(last_used_at, 0) THEN ? ELSE last_used_ip END
                WHERE id = ?
                """)
            for (id, delta) in usage {
                try s.run([
                    .integer(delta.count), .integer(delta.lastAt), .integer(delta.lastAt),
                    delta.lastIP.map(SQLValue.text) ?? .null, .text(id),
                ])
            }
        } else {
            let s = try db.statement("UPDATE \(table) SET use_count = use_count + ?, last_used_at = \(latest) WHERE id = ?")
            for (id, delta) in usage {
                try s.run([.integer(delta.count), .integer(delta.lastAt), .text(id)])
            }
        }
    }
}
