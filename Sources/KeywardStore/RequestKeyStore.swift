import KeywardCore
import KeywardCrypto

/// A signed-request credential (`kwh_`) as listed: everything but its secrets.
public struct RequestKeyRow: Sendable, Equatable, Codable {
    /// Public id (`kwh_…`), the `keyid` of its signatures.
    public var id: String
    /// The owner's name.
    public var user: String
    /// Label, unique per user.
    public var name: String
    /// What its signatures are made with.
    public var algorithm: RequestSigningAlgorithm
    /// The credential's own status; the owner's is separate.
    public var status: Status
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds when it stops working; nil for never.
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
    /// Secrets that prove it now (active, or retiring before their deadline, by the database's clock).
    public var activeSecrets: Int
}

/// One secret of a signed-request credential, as the rotation rules see it; never its material.
public struct RequestKeySecretRow: Sendable, Equatable, Codable {
    /// Its number within the credential, counting from 1 in the order they were added.
    public var serial: Int64
    /// `active`, `inactive` or `retiring`.
    public var state: String
    /// For a retiring one, the Unix second it stops working.
    public var retireAt: Int64?
    /// Unix seconds.
    public var createdAt: Int64

    /// How the rotation rules and the messages name it: `secret 2`.
    public var label: String { Self.label(serial) }

    /// The label of secret `serial`.
    public static func label(_ serial: Int64) -> String { "secret \(serial)" }

    /// The serial a label names, nil for anything else.
    public static func serial(label: String) -> Int64? {
        label.hasPrefix("secret ") ? Int64(label.dropFirst("secret ".count)) : nil
    }

    /// Its state for the rotation rules.
    public var rotationMember: RotationMember {
        let state: RotationState =
            switch self.state {
            case "active": .active
            case "retiring": .retiring(until: retireAt ?? 0)
            default: .inactive
            }
        return RotationMember(id: label, state: state)
    }
}

/// What a new signed-request credential is made of. Its first secret comes sealed already (an
/// HMAC secret under `KeySealer.requestKeyBinding(id:serial: 1)`) or public (an Ed25519 key as
/// DER SubjectPublicKeyInfo): never a plaintext secret.
public struct NewRequestKey: Sendable {
    public var id: String
    public var user: String
    public var name: String
    public var algorithm: RequestSigningAlgorithm
    /// The first secret's material, sealed or public (see above).
    public var material: [UInt8]
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var scopes: [PathScope]
    public var allowedNetworks: [CIDR]

    /// A credential to insert.
    public init(
        id: String, user: String, name: String, algorithm: RequestSigningAlgorithm, material: [UInt8], createdAt: Int64,
        expiresAt: Int64?, scopes: [PathScope], allowedNetworks: [CIDR]
    ) {
        self.id = id
        self.user = user
        self.name = name
        self.algorithm = algorithm
        self.material = material
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
    }
}

extension Store {
    /// Stores the credential and its first secret (serial 1, active) in one transaction.
    public func insertRequestKey(_ key: NewRequestKey) throws {
        let userId = try userId(key.user)
        try db.transaction {
            do {
                try db.statement(
                    """
                    INSERT INTO request_keys (id, user_id, name, algorithm, created_at, expires_at, scopes, allow_ips)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
                ).run([
                    .text(key.id), .integer(userId), .text(key.name), .text(key.algorithm.rawValue), .integer(key.createdAt),
                    key.expiresAt.map(SQLValue.integer) ?? .null,
                    .text(key.scopes.map(\.description).joined(separator: "\n")),
                    .text(key.allowedNetworks.map(\.description).joined(separator: "\n")),
                ])
            } catch let error as StoreError where error.code == StoreError.uniqueViolation {
                throw StoreRefusal.keyNameTaken(user: key.user, name: key.name)
            }
            try db.statement(
                "INSERT INTO request_key_secrets (credential_id, serial, state, material, created_at) VALUES (?, 1, 'active', ?, ?)"
            ).run([.text(key.id), .blob(key.material), .integer(key.createdAt)])
        }
    }

    private static let requestKeyColumns = """
        r.id, u.name, r.name, r.algorithm, r.status, r.created_at, r.expires_at, r.scopes, r.allow_ips,
        r.last_used_at, r.last_used_ip, r.use_count,
        (SELECT count(*) FROM request_key_secrets s WHERE s.credential_id = r.id
            AND (s.state = 'active' OR (s.state = 'retiring' AND s.retire_at > CAST(strftime('%s', 'now') AS INTEGER))))
        FROM request_keys r JOIN users u ON u.id = r.user_id
        """

    /// One user's signed-request credentials oldest first, or everyone's by user.
    public func requestKeys(user: String?) throws -> [RequestKeyRow] {
        if let user {
            _ = try userId(user)
            return try db.statement("SELECT \(Self.requestKeyColumns) WHERE u.name = ? ORDER BY r.created_at, r.id")
                .map([.text(user)]) { try Self.requestKeyRow($0) }
        }
        return try db.statement("SELECT \(Self.requestKeyColumns) ORDER BY u.name, r.created_at, r.id").map { try Self.requestKeyRow($0) }
    }

    /// One signed-request credential by id; throws `noSuchKey`.
    public func requestKey(_ id: String) throws -> RequestKeyRow {
        guard
            let row = try db.statement("SELECT \(Self.requestKeyColumns) WHERE r.id = ?").first([.text(id)], { try Self.requestKeyRow($0) })
        else { throw StoreRefusal.noSuchKey(id) }
        return row
    }

    /// Sets the expiry in Unix seconds, nil for never; throws `noSuchKey`.
    public func setRequestKeyExpiry(_ id: String, _ expiresAt: Int64?) throws {
        try db.statement("UPDATE request_keys SET expires_at = ? WHERE id = ?").run([expiresAt.map(SQLValue.integer) ?? .null, .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }

    /// The credential's secrets, oldest first; throws `noSuchKey` for an unknown credential.
    public func requestKeySecrets(_ id: String) throws -> [RequestKeySecretRow] {
        _ = try requestKey(id)
        return try db.statement(
            "SELECT serial, state, retire_at, created_at FROM request_key_secrets WHERE credential_id = ? ORDER BY serial"
        ).map([.text(id)]) { s in
            RequestKeySecretRow(serial: s.int64(0), state: s.text(1), retireAt: s.optionalInt64(2), createdAt: s.int64(3))
        }
    }

    /// The next serial for a new secret of credential `id` (serials are never reused, so a
    /// sealed secret's binding names one secret for good).
    public func nextRequestKeySecretSerial(_ id: String) throws -> Int64 {
        try db.statement("SELECT coalesce(max(serial), 0) + 1 FROM request_key_secrets WHERE credential_id = ?")
            .first([.text(id)], { $0.int64(0) }) ?? 1
    }

    /// Adds secret `serial` to credential `id`, active; `material` sealed under
    /// `KeySealer.requestKeyBinding(id:serial:)` or an Ed25519 SubjectPublicKeyInfo.
    public func insertRequestKeySecret(_ id: String, serial: Int64, material: [UInt8], createdAt: Int64) throws {
        try db.statement(
            "INSERT INTO request_key_secrets (credential_id, serial, state, material, created_at) VALUES (?, ?, 'active', ?, ?)"
        ).run([.text(id), .integer(serial), .blob(material), .integer(createdAt)])
    }

    /// Sets one secret's state (`retireAt` only with `retiring`); throws `noSuchKey` when the
    /// credential has no such secret. The rotation rules (`RotationSet`) are the caller's.
    public func setRequestKeySecretState(_ id: String, serial: Int64, _ state: RotationState) throws {
        let retireAt: SQLValue
        if case .retiring(let until) = state { retireAt = .integer(until) } else { retireAt = .null }
        try db.statement("UPDATE request_key_secrets SET state = ?, retire_at = ? WHERE credential_id = ? AND serial = ?")
            .run([.text(state.name), retireAt, .text(id), .integer(serial)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey("\(id) secret \(serial)") }
    }

    /// Secret `serial` of HMAC credential `id`, opened with `sealer`; throws `noSuchKey` when the
    /// credential has no such secret. Only for a reveal the owner asked for with their password.
    public func requestKeySecret(_ id: String, serial: Int64, sealer: KeySealer) throws -> [UInt8] {
        guard
            let sealed = try db.statement("SELECT material FROM request_key_secrets WHERE credential_id = ? AND serial = ?").first(
                [.text(id), .integer(serial)], { $0.blob(0) })
        else { throw StoreRefusal.noSuchKey("\(id) secret \(serial)") }
        return try sealer.open(sealed, boundTo: KeySealer.requestKeyBinding(id: id, serial: serial))
    }

    /// Removes one secret of credential `id`; throws `noSuchKey` when there is none such.
    public func deleteRequestKeySecret(_ id: String, serial: Int64) throws {
        try db.statement("DELETE FROM request_key_secrets WHERE credential_id = ? AND serial = ?").run([.text(id), .integer(serial)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey("\(id) secret \(serial)") }
    }

    /// Removes the retiring secrets of credential `id` whose grace ended by `now`: they are gone
    /// for the check already, and a listing should not show them.
    public func pruneRetiredRequestKeySecrets(_ id: String, now: Int64) throws {
        try db.statement("DELETE FROM request_key_secrets WHERE credential_id = ? AND state = 'retiring' AND retire_at <= ?")
            .run([.text(id), .integer(now)])
    }

    private static func requestKeyRow(_ s: Statement) throws -> RequestKeyRow {
        guard let algorithm = RequestSigningAlgorithm(rawValue: s.text(3)) else {
            throw StoreError(code: 1, message: "signed-request credential \(s.text(0)) has an unknown algorithm")
        }
        return RequestKeyRow(
            id: s.text(0), user: s.text(1), name: s.text(2), algorithm: algorithm, status: Status(rawValue: s.text(4)) ?? .disabled,
            createdAt: s.int64(5), expiresAt: s.optionalInt64(6), scopes: lines(s.text(7)), allowIPs: lines(s.text(8)),
            lastUsedAt: s.optionalInt64(9), lastUsedIP: s.optionalText(10), useCount: s.int64(11), activeSecrets: Int(s.int64(12)))
    }
}

extension KeyLookup {
    /// Loads a signed-request credential with its keys as of `now`: the active secrets, and the
    /// retiring ones before their deadline (returned as `validUntil`, when the set changes by
    /// itself). HMAC secrets are opened with `sealer`; without one, or when one does not open
    /// (moved, or sealed under another master key), the lookup fails (the check answers 500)
    /// rather than answer with fewer keys than the credential has.
    static func loadRequestKey(
        _ db: Connection, id: String, record: CredentialRecord, sealer: KeySealer?, now: Int64
    ) throws -> (RequestKeyRecord, validUntil: Int64?)? {
        guard
            let algorithm = try db.statement("SELECT algorithm FROM request_keys WHERE id = ?").first(
                [.text(id)], { RequestSigningAlgorithm(rawValue: $0.text(0)) })
        else { return nil }
        guard let algorithm else { throw StoreError(code: 1, message: "signed-request credential \(id) has an unknown algorithm") }
        var keys: [RequestVerificationKey] = []
        var validUntil: Int64? = nil
        try db.statement(
            """
            SELECT serial, material, retire_at FROM request_key_secrets WHERE credential_id = ?
                AND (state = 'active' OR (state = 'retiring' AND retire_at > ?)) ORDER BY serial
            """
        ).forEach([.text(id), .integer(now)]) { s in
            if let until = s.optionalInt64(2) { validUntil = min(validUntil ?? until, until) }
            switch algorithm {
            case .hmacSHA256:
                guard let sealer else { throw StoreError(code: 1, message: "no master key to open the secrets of \(id)") }
                keys.append(.hmac(HMACKey(try sealer.open(s.blob(1), boundTo: KeySealer.requestKeyBinding(id: id, serial: s.int64(0))))))
            case .ed25519:
                keys.append(.ed25519(try PublicVerificationKey(subjectPublicKeyInfo: s.blob(1), algorithm: .ed25519)))
            }
        }
        return (RequestKeyRecord(record: record, algorithm: algorithm, keys: keys), validUntil)
    }
}
