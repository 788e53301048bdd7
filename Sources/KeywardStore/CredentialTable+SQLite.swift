import KeywardCore

/// One credential kind's table: where its rows live and what the check loads from them. A new
/// kind with a table of this shape adds one value here and is listed in `all`.
struct CredentialSchema: Sendable {
    /// The kind whose rows these are.
    let kind: SecretKind
    /// The table; a constant of this file, never user input.
    let table: String
    /// Whether rows carry their own networks (`allow_ips`) and the address of the latest use.
    let hasNetworks: Bool

    static let apiKeys = CredentialSchema(kind: .apiKey, table: "api_keys", hasNetworks: true)
    static let clients = CredentialSchema(kind: .clientSecret, table: "oauth_clients", hasNetworks: false)
    /// Signed-request credentials: no secret hash (their secrets are in `request_key_secrets`)
    /// and no tokens issued from them.
    static let requestKeys = CredentialSchema(kind: .signedRequest, table: "request_keys", hasNetworks: true)
    static let all = [apiKeys, clients, requestKeys]

    /// The schema of the kind `id` belongs to (its public id names its kind); nil for none stored.
    static func of(credentialId id: String) -> CredentialSchema? {
        all.first { OpaqueSecret.isCredentialId(id, kind: $0.kind) }
    }

    /// The check's view of one row and its owner, by public id.
    var lookupSQL: String {
        """
        SELECT c.id, c.name, u.name, u.status, c.status, \(kind.isOpaque ? "c.secret_hash" : "X''"), c.expires_at, c.scopes,
            \(hasNetworks ? "c.allow_ips" : "''"), \(kind.isOpaque ? "c.tokens_valid_after" : "NULL")
        FROM \(table) c JOIN users u ON u.id = c.user_id WHERE c.id = ?
        """
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
        try update(id, "status", .text(status.rawValue))
    }

    func setSecretHash(_ id: String, _ hash: [UInt8]) throws {
        precondition(kind.isOpaque, "\(table) has no secret hash")
        try update(id, "secret_hash", .blob(hash))
    }

    /// The revocation epoch moves to `now`, or one past the current epoch when that is not
    /// earlier (two revocations in one second still leave the tokens issued between them behind).
    func revokeTokens(issuedFrom id: String, now: Int64) throws {
        precondition(kind.isOpaque, "no tokens are issued from \(table)")
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
