import KeywardCore
import KeywardCrypto

/// An OAuth2 client as listed: everything but the secret hash.
public struct ClientRow: Sendable, Equatable, Codable {
    /// `client_id`: `kwc_` and 16 base62 symbols.
    public var clientId: String
    /// Owner.
    public var user: String
    /// Name, unique among the owner's clients.
    public var name: String
    /// Whether it may obtain tokens.
    public var status: Status
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds; nil for never.
    public var expiresAt: Int64?
    /// Path scopes tokens may carry; empty for every path.
    public var scopes: [String]
    /// Last token issued, Unix seconds.
    public var lastUsedAt: Int64?
    /// Tokens issued.
    public var useCount: Int64
}

/// A signing key as listed (public facts only).
public struct SigningKeyRow: Sendable, Equatable, Codable {
    /// RFC 7638 thumbprint.
    public var kid: String
    /// JOSE algorithm name.
    public var alg: String
    /// `active` (signs, newest first) or `retired` (verifies until `publishedUntil`).
    public var status: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds when it stopped signing.
    public var retiredAt: Int64?
    /// Unix seconds until which it stays in the JWKS and verifies tokens.
    public var publishedUntil: Int64?
}

extension Store {
    // MARK: OAuth2 clients

    /// Adds a client; the secret is hashed before it gets here.
    public func insertClient(
        id: String, user: String, name: String, secretHash: [UInt8], now: Int64, expiresAt: Int64?,
        scopes: [PathScope]
    ) throws {
        let userId = try userId(user)
        do {
            try db.statement(
                """
                INSERT INTO oauth_clients (id, user_id, name, secret_hash, created_at, expires_at, scopes)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
            ).run([
                .text(id), .integer(userId), .text(name), .blob(secretHash), .integer(now),
                expiresAt.map(SQLValue.integer) ?? .null, .text(scopes.map(\.description).joined(separator: "\n")),
            ])
        } catch let error as StoreError where error.code == StoreError.uniqueViolation {
            throw StoreRefusal.keyNameTaken(user: user, name: name)
        }
    }

    private static let clientColumns = """
        c.id, u.name, c.name, c.status, c.created_at, c.expires_at, c.scopes, c.last_used_at, c.use_count
        FROM oauth_clients c JOIN users u ON u.id = c.user_id
        """

    private static func clientRow(_ s: Statement) -> ClientRow {
        ClientRow(
            clientId: s.text(0), user: s.text(1), name: s.text(2), status: Status(rawValue: s.text(3)) ?? .disabled,
            createdAt: s.int64(4), expiresAt: s.optionalInt64(5), scopes: lines(s.text(6)),
            lastUsedAt: s.optionalInt64(7), useCount: s.int64(8))
    }

    /// Clients, of one user or of all.
    public func clients(user: String?) throws -> [ClientRow] {
        if let user {
            _ = try userId(user)
            return try db.statement("SELECT \(Self.clientColumns) WHERE u.name = ? ORDER BY c.created_at, c.id")
                .map([.text(user)]) { Self.clientRow($0) }
        }
        return try db.statement("SELECT \(Self.clientColumns) ORDER BY u.name, c.created_at, c.id").map { Self.clientRow($0) }
    }

    /// One client; refuses an unknown id.
    public func client(_ id: String) throws -> ClientRow {
        guard let row = try db.statement("SELECT \(Self.clientColumns) WHERE c.id = ?").first([.text(id)], { Self.clientRow($0) })
        else { throw StoreRefusal.noSuchKey(id) }
        return row
    }

    /// Sets a client's expiry (nil: never); refuses an unknown id.
    public func setClientExpiry(_ id: String, _ expiresAt: Int64?) throws {
        try db.statement("UPDATE oauth_clients SET expires_at = ? WHERE id = ?").run([expiresAt.map(SQLValue.integer) ?? .null, .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }


    // MARK: Revoked access tokens

    /// Revokes an access token until it would have expired anyway; forgets expired revocations.
    public func revokeToken(id: String, expiresAt: Int64, now: Int64) throws {
        try db.transaction {
            try db.statement("DELETE FROM revoked_tokens WHERE expires_at < ?").run([.integer(now)])
            try db.statement(dialect.insertIgnoring("revoked_tokens", "jti, expires_at", "?, ?"))
                .run([.text(id), .integer(expiresAt)])
        }
    }


    // MARK: Signing keys

    /// Stores a new signing key, its private half sealed with AES-256-GCM under the master key
    /// (the `kid` as associated data), and retires the keys that signed before it.
    public func addSigningKey(_ key: PrivateSigningKey, sealer: KeySealer, now: Int64, retireOthersAfter: Int64) throws {
        let sealed = try sealer.seal(key.pkcs8(), boundTo: Array(key.keyID.utf8))
        try db.transaction {
            try db.statement(
                """
                UPDATE signing_keys SET retired_at = ?, published_until = ? WHERE retired_at IS NULL
                """
            ).run([.integer(now), .integer(now + retireOthersAfter)])
            try db.statement(
                """
                INSERT INTO signing_keys (kid, alg, public_key, private_sealed, created_at) VALUES (?, ?, ?, ?, ?)
                """
            ).run([
                .text(key.keyID), .text(key.algorithm.rawValue), .blob(key.publicKey.subjectPublicKeyInfo()),
                .blob(sealed), .integer(now),
            ])
        }
    }

    /// Signing keys, newest first, with their state at `now`.
    public func signingKeys(now: Int64) throws -> [SigningKeyRow] {
        try db.statement(
            """
            SELECT kid, alg, created_at, retired_at, published_until FROM signing_keys
            ORDER BY created_at DESC, \(dialect.insertionOrder) DESC
            """
        ).map { s in
            SigningKeyRow(
                kid: s.text(0), alg: s.text(1), status: s.isNull(3) ? "active" : "retired",
                createdAt: s.int64(2), retiredAt: s.optionalInt64(3), publishedUntil: s.optionalInt64(4))
        }
    }
}

/// The signing keys as the server uses them: the newest active key signs, every key still
/// published verifies. Private keys are opened once per load; the set reloads when the
/// database's generation stamp changes (a rotation). One per worker thread.
public final class StoreKeyRing: SigningKeyRing {
    private let db: Connection
    private let dialect = SQLDialect.sqlite
    private let changes: any ChangeWatcher
    private let sealer: KeySealer
    private let clock: any Clock
    private var stamp: UInt64? = nil
    private var reloadAt: Int64 = .min
    private var published: [String: PublicVerificationKey] = [:]
    private var signer: PrivateSigningKey?

    /// Opens the ring of the database at `path`; `masterKey` opens the sealed private keys.
    public init(path: String, masterKey: [UInt8], clock: any Clock) throws {
        db = try Connection(path: path)
        changes = try Generation(databasePath: path, writable: false)
        sealer = KeySealer(masterKey: masterKey)
        self.clock = clock
    }

    public func verificationKey(kid: String) throws -> PublicVerificationKey? {
        try reloadIfNeeded()
        return published[kid]
    }

    public func signingKey() throws -> PrivateSigningKey {
        try reloadIfNeeded()
        guard let signer else { throw StoreError(code: 1, message: "no active signing key; run: keyward signing-key rotate") }
        return signer
    }

    /// All published public keys, newest first, for the JWKS.
    public func publishedKeys() throws -> [PublicVerificationKey] {
        try reloadIfNeeded()
        return try db.statement("SELECT kid FROM signing_keys ORDER BY created_at DESC, \(dialect.insertionOrder) DESC").map { $0.text(0) }
            .compactMap { published[$0] }
    }

    private func reloadIfNeeded() throws {
        let now = clock.now
        let current = changes.stamp
        // Publication windows end with time, not with a commit: reload when the next one ends.
        guard current == nil || current != stamp || now >= reloadAt else { return }
        var nextEnd = now + 60
        var keys: [String: PublicVerificationKey] = [:]
        var newest: (kid: String, alg: SigningAlgorithm, sealed: [UInt8])? = nil
        try db.statement(
            """
            SELECT kid, alg, public_key, private_sealed, retired_at, published_until FROM signing_keys
            ORDER BY created_at DESC, \(dialect.insertionOrder) DESC
            """
        ).forEach { s in
            guard let alg = SigningAlgorithm(rawValue: s.text(1)) else { return }
            let retired = !s.isNull(4)
            if retired, let until = s.optionalInt64(5) {
                if until <= now { return }
                nextEnd = min(nextEnd, until)
            }
            keys[s.text(0)] = try PublicVerificationKey(subjectPublicKeyInfo: s.blob(2), algorithm: alg)
            if !retired && newest == nil { newest = (s.text(0), alg, s.blob(3)) }
        }
        if let newest, signer?.keyID != newest.kid {
            let der = try sealer.open(newest.sealed, boundTo: Array(newest.kid.utf8))
            signer = try PrivateSigningKey(pkcs8: der, algorithm: newest.alg)
        } else if newest == nil {
            signer = nil
        }
        published = keys
        stamp = current
        reloadAt = nextEnd
    }
}

/// Writes revocations through a connection of its own, opened on first use (revocations are rare).
public final class StoreRevoker: TokenRevoker {
    private let path: String
    private var store: Store?

    /// A revoker for the database at `path`.
    public init(path: String) { self.path = path }

    public func revoke(tokenId: String, expiresAt: Int64, now: Int64) throws {
        if store == nil { store = try Store(path: path) }
        try store!.revokeToken(id: tokenId, expiresAt: expiresAt, now: now)
    }

    public func revokeGrant(credentialId: String, now: Int64) throws {
        if store == nil { store = try Store(path: path) }
        try store!.clients.revokeTokens(issuedFrom: credentialId, now: now)
    }
}
