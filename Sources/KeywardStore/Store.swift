import KeywardCore
import KeywardCrypto

/// A refusal by the store's rules (unknown name, duplicate): exit code 1 on the CLI, 4xx over HTTP.
public enum StoreRefusal: Error, CustomStringConvertible, Equatable {
    case noSuchUser(String)
    case userExists(String)
    case noSuchKey(String)
    case keyNameTaken(user: String, name: String)
    case noSuchService(String)
    case serviceExists(String)

    /// One line for the CLI; names only the user, key id or key name given.
    public var description: String {
        switch self {
        case .noSuchUser(let u): "no such user: \(u)"
        case .userExists(let u): "user already exists: \(u)"
        case .noSuchKey(let k): "no such key: \(k)"
        case .keyNameTaken(let u, let n): "user \(u) already has a key named \(n)"
        case .noSuchService(let s): "no such service: \(s)"
        case .serviceExists(let s): "service already exists: \(s)"
        }
    }
}

/// A user as listed.
public struct UserRow: Sendable, Equatable, Codable {
    /// The user's unique name.
    public var name: String
    /// Whether the user's keys may be used.
    public var status: Status
    /// Unix seconds.
    public var createdAt: Int64
    /// API keys owned, of any status.
    public var keyCount: Int
    /// Where notifications go; nil when none was set.
    public var email: String?
}

/// An API key as listed: everything but the secret hash.
public struct KeyRow: Sendable, Equatable, Codable {
    /// Public id (`kwk_…`).
    public var id: String
    /// The owner's name.
    public var user: String
    /// Label, unique per user.
    public var name: String
    /// The key's own status; the owner's is separate.
    public var status: Status
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds when the key stops working; nil for never.
    public var expiresAt: Int64?
    /// Path scopes as stored; empty means every path.
    public var scopes: [String]
    /// CIDR ranges as stored; empty means every address.
    public var allowIPs: [String]
    /// Unix seconds of the latest flushed use; nil when never used.
    public var lastUsedAt: Int64?
    /// Client address of that use, when known.
    public var lastUsedIP: String?
    /// Allowed checks flushed so far.
    public var useCount: Int64
    /// Until when (Unix seconds) the secret a `key roll` replaced keeps working; nil when the
    /// key was never rolled or a regeneration ended the grace. May lie in the past.
    public var previousValidUntil: Int64? = nil
}

/// What a new key is made of; the secret itself is hashed before it gets here.
public struct NewKey: Sendable {
    /// Public id, from `OpaqueSecret.id`.
    public var id: String
    /// Name of an existing user.
    public var user: String
    /// Label, unique per user.
    public var name: String
    /// `OpaqueSecret.hash(with:)` under the server pepper.
    public var secretHash: [UInt8]
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds; nil for never.
    public var expiresAt: Int64?
    /// Empty means every path.
    public var scopes: [PathScope]
    /// Empty means every address.
    public var allowedNetworks: [CIDR]

    /// A key to insert; pass the hash, never the secret.
    public init(
        id: String, user: String, name: String, secretHash: [UInt8], createdAt: Int64, expiresAt: Int64?,
        scopes: [PathScope], allowedNetworks: [CIDR]
    ) {
        self.id = id
        self.user = user
        self.name = name
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
    }
}

/// Accumulated uses of one credential since the last flush.
public struct UsageDelta: Sendable, Equatable {
    /// Uses since the last flush.
    public var count: Int64
    /// Unix seconds of the latest of them.
    public var lastAt: Int64
    /// Client address of that latest use, when known.
    public var lastIP: String?
}

/// The SQLite implementation of every repository (`AdminStore`), over one connection.
public final class Store: AdminStore {
    /// The one connection; not Sendable, so a `Store` belongs to one thread. Never handed out:
    /// everything goes through the repository protocols.
    let db: Connection
    /// The SQL SQLite writes its own way.
    let dialect = SQLDialect.sqlite
    /// The database file's path.
    public let path: String
    /// The audit chain's key (`AuditChain.key`); appending to the audit needs it.
    public var auditKey: HMACKey?
    /// API keys' shared credential writes.
    public private(set) lazy var apiKeys: any CredentialRepository = SQLCredentialTable(db: db, dialect: dialect, schema: .apiKeys)
    /// OAuth2 clients' shared credential writes.
    public private(set) lazy var clients: any CredentialRepository = SQLCredentialTable(db: db, dialect: dialect, schema: .clients)
    /// Signed-request credentials' shared credential writes.
    public private(set) lazy var requestKeys: any CredentialRepository = SQLCredentialTable(
        db: db, dialect: dialect, schema: .requestKeys)
    /// Service keys' and JWT secrets' shared credential writes.
    public private(set) lazy var serviceCredentials: any CredentialRepository = SQLCredentialTable(
        db: db, dialect: dialect, schema: .serviceCredentials)

    /// Opens an existing database and brings its schema up to date. With `announcesChanges`, every
    /// commit stamps the database's `Generation`, so serving processes drop their caches.
    public init(path: String, announcesChanges: Bool = true) throws {
        db = try Connection(path: path)
        self.path = path
        try Migrations.migrate(db)
        if announcesChanges {
            let announcer: any ChangeAnnouncer = try Generation(databasePath: path, writable: true)
            db.onCommit = { try announcer.announce() }
        }
    }

    /// Runs `body` in one IMMEDIATE transaction (`Transactions`).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try db.transaction(body)
    }

    /// An uncached lookup over a connection of its own, as the check sees the database.
    public func credentialLookup(clock: any Clock, limits: Limits, sealer: KeySealer?) throws -> any CredentialLookup {
        try KeyLookup(path: path, clock: clock, cache: false, limits: limits, sealer: sealer)
    }

    /// Creates the database if it does not exist and migrates it; returns how many migrations ran.
    @discardableResult
    public static func initialize(path: String) throws -> Int {
        try DatabaseFile.prepare(path)
        let db = try Connection(path: path, create: true)
        return try Migrations.migrate(db)
    }

    // MARK: Users

    /// Adds an active user; throws `StoreRefusal.userExists` for a taken name.
    public func addUser(_ name: String, now: Int64) throws {
        do {
            try db.statement("INSERT INTO users (name, created_at) VALUES (?, ?)").run([.text(name), .integer(now)])
        } catch let error as StoreError where error.isConstraint {
            throw StoreRefusal.userExists(name)
        }
    }

    /// Every user, by name, with their key counts; only the one `named` when given.
    public func users(named: String?) throws -> [UserRow] {
        try db.statement(
            """
            SELECT u.name, u.status, u.created_at, (SELECT count(*) FROM api_keys k WHERE k.user_id = u.id), u.email
            FROM users u WHERE ?1 IS NULL OR u.name = ?1 ORDER BY u.name
            """
        ).map([named.map(SQLValue.text) ?? .null]) { s in
            UserRow(
                name: s.text(0), status: Status(rawValue: s.text(1)) ?? .disabled, createdAt: s.int64(2),
                keyCount: Int(s.int64(3)), email: s.optionalText(4))
        }
    }

    /// One user; throws `StoreRefusal.noSuchUser`.
    public func user(_ name: String) throws -> UserRow {
        guard let row = try users(named: name).first else { throw StoreRefusal.noSuchUser(name) }
        return row
    }

    /// Enables or disables a user and so all their keys; throws `noSuchUser`.
    public func setUserStatus(_ name: String, _ status: Status) throws {
        try db.statement("UPDATE users SET status = ? WHERE name = ?").run([.text(status.rawValue), .text(name)])
        if db.changes == 0 { throw StoreRefusal.noSuchUser(name) }
    }

    /// Sets or clears a user's e-mail address; throws `noSuchUser`.
    public func setUserEmail(_ name: String, _ email: String?) throws {
        try db.statement("UPDATE users SET email = ? WHERE name = ?").run([email.map(SQLValue.text) ?? .null, .text(name)])
        if db.changes == 0 { throw StoreRefusal.noSuchUser(name) }
    }

    /// Stores a user's password hash (self-describing scrypt text, never the password).
    public func setUserPassword(_ name: String, hash: String) throws {
        try db.statement("UPDATE users SET password = ? WHERE name = ?").run([.text(hash), .text(name)])
        if db.changes == 0 { throw StoreRefusal.noSuchUser(name) }
    }

    /// The user's stored password hash, nil when none was set.
    public func userPassword(_ name: String) throws -> String? {
        guard let row = try db.statement("SELECT password FROM users WHERE name = ?").first([.text(name)], { $0.optionalText(0) })
        else { throw StoreRefusal.noSuchUser(name) }
        return row
    }

    /// Deletes a user and, by cascade, their keys; throws `noSuchUser`.
    public func deleteUser(_ name: String) throws {
        try db.statement("DELETE FROM users WHERE name = ?").run([.text(name)])
        if db.changes == 0 { throw StoreRefusal.noSuchUser(name) }
    }

    // MARK: API keys

    /// Stores a new key; throws `noSuchUser`, or `keyNameTaken` for any constraint violation.
    public func insertKey(_ key: NewKey) throws {
        let userId = try userId(key.user)
        do {
            try db.statement(
                """
                INSERT INTO api_keys (id, user_id, name, secret_hash, created_at, expires_at, scopes, allow_ips)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
            ).run([
                .text(key.id), .integer(userId), .text(key.name), .blob(key.secretHash), .integer(key.createdAt),
                key.expiresAt.map(SQLValue.integer) ?? .null,
                .text(key.scopes.map(\.description).joined(separator: "\n")),
                .text(key.allowedNetworks.map(\.description).joined(separator: "\n")),
            ])
        } catch let error as StoreError where error.code == StoreError.uniqueViolation {
            throw StoreRefusal.keyNameTaken(user: key.user, name: key.name)
        }
    }

    private static let keyColumns = """
        k.id, u.name, k.name, k.status, k.created_at, k.expires_at, k.scopes, k.allow_ips,
        k.last_used_at, k.last_used_ip, k.use_count, k.previous_valid_until
        FROM api_keys k JOIN users u ON u.id = k.user_id
        """

    /// One user's keys oldest first, or everyone's by user; throws `noSuchUser` for an unknown user.
    public func keys(user: String?) throws -> [KeyRow] {
        if let user {
            _ = try userId(user)
            return try db.statement("SELECT \(Self.keyColumns) WHERE u.name = ? ORDER BY k.created_at, k.id")
                .map([.text(user)]) { Self.keyRow($0) }
        }
        return try db.statement("SELECT \(Self.keyColumns) ORDER BY u.name, k.created_at, k.id").map { Self.keyRow($0) }
    }

    /// One key by public id; throws `noSuchKey`.
    public func key(_ id: String) throws -> KeyRow {
        guard let row = try db.statement("SELECT \(Self.keyColumns) WHERE k.id = ?").first([.text(id)], { Self.keyRow($0) })
        else { throw StoreRefusal.noSuchKey(id) }
        return row
    }


    /// Sets the expiry in Unix seconds, nil for never; throws `noSuchKey`. The new expiry gets its
    /// own expiry notice (`notify-expiring`).
    public func setKeyExpiry(_ id: String, _ expiresAt: Int64?) throws {
        try db.statement("UPDATE api_keys SET expires_at = ?, expiry_notified_at = NULL WHERE id = ?")
            .run([expiresAt.map(SQLValue.integer) ?? .null, .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }


    /// Adds buffered usage to the credentials that still exist, each kind to its own rows.
    public func applyUsage(_ usage: [String: UsageDelta]) throws {
        guard !usage.isEmpty else { return }
        try db.transaction {
            for schema in CredentialSchema.all {
                let repository = SQLCredentialTable(db: db, dialect: dialect, schema: schema)
                try repository.applyUsage(usage.filter { schema.holds($0.key) })
            }
        }
    }

    // MARK: Audit

    /// Inserts `events` in order, in one transaction.
    public func appendAudit(_ events: [AuditEvent]) throws {
        guard !events.isEmpty else { return }
        guard let key = auditKey else { throw StoreError(code: 1, message: "the audit key is not set") }
        // BEGIN IMMEDIATE serialises appenders across processes, so each link sees the last one.
        try db.transaction {
            var previous =
                try db.statement("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").first { $0.blob(0) }
                ?? AuditChain.genesis
            let s = try db.statement(
                """
                INSERT INTO audit (at, actor, action, target, credential, source_ip, reason, detail, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for e in events {
                func opt(_ v: String?) -> SQLValue { v.map(SQLValue.text) ?? .null }
                previous = AuditChain.link(after: previous, e, key: key)
                try s.run([
                    .integer(e.at), .text(e.actor), .text(e.action), opt(e.target), opt(e.credential),
                    opt(e.sourceIP), opt(e.reason), opt(e.detail), .blob(previous),
                ])
            }
        }
    }

    /// Walks the audit chain from the first record under `key`; returns how many records it checked,
    /// the id of the first record whose link does not hold (nil when intact), and the last link
    /// (the head, worth keeping outside the database to notice records cut off the end).
    public func verifyAudit(key: HMACKey) throws -> (records: Int, firstBroken: Int64?, head: [UInt8]) {
        var previous = AuditChain.genesis
        var count = 0
        var broken: Int64? = nil
        try db.statement(
            """
            SELECT id, at, actor, action, target, credential, source_ip, reason, detail, hash FROM audit ORDER BY id
            """
        ).forEach { s in
            guard broken == nil else { return }
            count += 1
            let event = AuditEvent(
                at: s.int64(1), actor: s.text(2), action: s.text(3), target: s.optionalText(4),
                credential: s.optionalText(5), sourceIP: s.optionalText(6), reason: s.optionalText(7),
                detail: s.optionalText(8))
            let expected = AuditChain.link(after: previous, event, key: key)
            let stored = s.blob(9)
            if stored != expected { broken = s.int64(0) }
            previous = stored
        }
        return (count, broken, previous)
    }

    /// Audit events, oldest first, filtered by time, by the user they concern and by action.
    public func auditEvents(since: Int64?, user: String?, action: String?, limit: Int) throws -> [AuditEvent] {
        try db.statement(
            """
            SELECT at, actor, action, target, credential, source_ip, reason, detail FROM (
                SELECT * FROM audit
                WHERE at >= ?1 AND (?2 IS NULL OR actor = ?2 OR target = 'user:' || ?2) AND (?4 IS NULL OR action = ?4)
                ORDER BY id DESC LIMIT ?3
            ) ORDER BY id
            """
        ).map([
            .integer(since ?? 0), user.map(SQLValue.text) ?? .null, .integer(Int64(limit)),
            action.map(SQLValue.text) ?? .null,
        ]) { s in
            AuditEvent(
                at: s.int64(0), actor: s.text(1), action: s.text(2), target: s.optionalText(3),
                credential: s.optionalText(4), sourceIP: s.optionalText(5), reason: s.optionalText(6),
                detail: s.optionalText(7))
        }
    }

    // MARK: Helpers

    func userId(_ name: String) throws -> Int64 {
        guard let id = try db.statement("SELECT id FROM users WHERE name = ?").first([.text(name)], { $0.int64(0) })
        else { throw StoreRefusal.noSuchUser(name) }
        return id
    }

    private static func keyRow(_ s: Statement) -> KeyRow {
        KeyRow(
            id: s.text(0), user: s.text(1), name: s.text(2), status: Status(rawValue: s.text(3)) ?? .disabled,
            createdAt: s.int64(4), expiresAt: s.optionalInt64(5), scopes: lines(s.text(6)), allowIPs: lines(s.text(7)),
            lastUsedAt: s.optionalInt64(8), lastUsedIP: s.optionalText(9), useCount: s.int64(10),
            previousValidUntil: s.optionalInt64(11))
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init)
    }
}
