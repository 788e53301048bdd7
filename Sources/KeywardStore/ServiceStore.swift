import KeywardCore
import KeywardCrypto

/// A service as listed: its rules and its credentials, masked.
public struct ServiceRow: Sendable, Equatable, Codable {
    /// Unique name; a service JWT's `iss` may name it.
    public var name: String
    /// The owning user: the check reports them, and their status and grants apply.
    public var owner: String
    /// Path scopes as stored; empty means every path.
    public var scopes: [String]
    /// CIDR ranges as stored; empty means every address.
    public var allowIPs: [String]
    /// Unix seconds.
    public var createdAt: Int64
    /// Its service keys and JWT secrets, oldest first.
    public var credentials: [ServiceCredentialRow]
}

/// One credential of a service as listed: never its secret.
public struct ServiceCredentialRow: Sendable, Equatable, Codable {
    /// Public id: `kws_…` (service key) or `kwj_…` (JWT secret).
    public var id: String
    /// `service-key` or `jwt-secret`.
    public var type: ServiceCredentialType
    /// `active` or `inactive` (discarded).
    public var status: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds of the latest flushed use; nil when never used.
    public var lastUsedAt: Int64?
    /// Allowed checks flushed so far.
    public var useCount: Int64
    /// How it is shown everywhere but a reveal: `<id>_••••`.
    public var masked: String { ServiceCredentialRow.mask(id) }

    /// `<id>_••••`: the public id and a marker that a secret belongs to it.
    public static func mask(_ id: String) -> String { OpaqueSecret.masked(id: id) }

    /// Its state for the rotation rules.
    public var rotationMember: RotationMember {
        RotationMember(id: id, state: status == "active" ? .active : .inactive)
    }

    enum CodingKeys: String, CodingKey {
        case id, type, status, createdAt, lastUsedAt, useCount, masked
    }

    public init(id: String, type: ServiceCredentialType, status: String, createdAt: Int64, lastUsedAt: Int64?, useCount: Int64) {
        self.id = id
        self.type = type
        self.status = status
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.useCount = useCount
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), type: try c.decode(ServiceCredentialType.self, forKey: .type),
            status: try c.decode(String.self, forKey: .status), createdAt: try c.decode(Int64.self, forKey: .createdAt),
            lastUsedAt: try c.decodeIfPresent(Int64.self, forKey: .lastUsedAt), useCount: try c.decode(Int64.self, forKey: .useCount))
    }

    /// Every field and the mask; an absent last use as an explicit null.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(type, forKey: .type)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(useCount, forKey: .useCount)
        try c.encode(masked, forKey: .masked)
    }
}

/// What a new service is made of.
public struct NewService: Sendable {
    public var name: String
    public var owner: String
    public var scopes: [PathScope]
    public var allowedNetworks: [CIDR]
    public var createdAt: Int64

    /// A service to insert.
    public init(name: String, owner: String, scopes: [PathScope], allowedNetworks: [CIDR], createdAt: Int64) {
        self.name = name
        self.owner = owner
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
        self.createdAt = createdAt
    }
}

extension Store {
    // MARK: Services

    /// What a service credential's secret is sealed to: its id, so a sealed value moved to
    /// another row no longer opens.
    static func serviceBinding(_ id: String) -> [UInt8] { Array(("service-credential " + id).utf8) }

    /// Stores a service; throws `noSuchUser` for an unknown owner, `serviceExists` for a taken name.
    public func insertService(_ service: NewService) throws {
        let ownerId = try userId(service.owner)
        do {
            try db.statement("INSERT INTO services (name, owner_id, scopes, allow_ips, created_at) VALUES (?, ?, ?, ?, ?)").run([
                .text(service.name), .integer(ownerId), .text(service.scopes.map(\.description).joined(separator: "\n")),
                .text(service.allowedNetworks.map(\.description).joined(separator: "\n")), .integer(service.createdAt),
            ])
        } catch let error as StoreError where error.isConstraint {
            throw StoreRefusal.serviceExists(service.name)
        }
    }

    /// One owner's services by name, or everyone's; throws `noSuchUser` for an unknown owner.
    public func services(owner: String?) throws -> [ServiceRow] {
        if let owner { _ = try userId(owner) }
        let rows = try db.statement(
            """
            SELECT s.id, s.name, u.name, s.scopes, s.allow_ips, s.created_at FROM services s JOIN users u ON u.id = s.owner_id
            WHERE ?1 IS NULL OR u.name = ?1 ORDER BY s.name
            """
        ).map([owner.map(SQLValue.text) ?? .null]) { s in
            (
                s.int64(0),
                ServiceRow(
                    name: s.text(1), owner: s.text(2), scopes: Self.lines(s.text(3)), allowIPs: Self.lines(s.text(4)),
                    createdAt: s.int64(5), credentials: [])
            )
        }
        let credentials = try db.statement(
            """
            SELECT service_id, id, type, status, created_at, last_used_at, use_count FROM service_credentials
            ORDER BY created_at, rowid
            """
        ).map { s in
            (
                s.int64(0),
                ServiceCredentialRow(
                    id: s.text(1), type: ServiceCredentialType(rawValue: s.text(2)) ?? .serviceKey, status: s.text(3),
                    createdAt: s.int64(4), lastUsedAt: s.optionalInt64(5), useCount: s.int64(6))
            )
        }
        let byService = Dictionary(grouping: credentials, by: \.0)
        return rows.map { id, row in
            var row = row
            row.credentials = byService[id]?.map(\.1) ?? []
            return row
        }
    }

    /// One service and its credentials; throws `noSuchService`.
    public func service(_ name: String) throws -> ServiceRow {
        guard let id = try db.statement("SELECT id FROM services WHERE name = ?").first([.text(name)], { $0.int64(0) }) else {
            throw StoreRefusal.noSuchService(name)
        }
        let row = try db.statement(
            "SELECT s.name, u.name, s.scopes, s.allow_ips, s.created_at FROM services s JOIN users u ON u.id = s.owner_id WHERE s.id = ?"
        ).first([.integer(id)]) { s in
            ServiceRow(
                name: s.text(0), owner: s.text(1), scopes: Self.lines(s.text(2)), allowIPs: Self.lines(s.text(3)),
                createdAt: s.int64(4), credentials: [])
        }
        guard var row else { throw StoreRefusal.noSuchService(name) }
        row.credentials = try db.statement(
            """
            SELECT id, type, status, created_at, last_used_at, use_count FROM service_credentials WHERE service_id = ?
            ORDER BY created_at, rowid
            """
        ).map([.integer(id)]) { s in
            ServiceCredentialRow(
                id: s.text(0), type: ServiceCredentialType(rawValue: s.text(1)) ?? .serviceKey, status: s.text(2),
                createdAt: s.int64(3), lastUsedAt: s.optionalInt64(4), useCount: s.int64(5))
        }
        return row
    }

    /// Deletes a service and, by cascade, its credentials; throws `noSuchService`.
    public func deleteService(_ name: String) throws {
        try db.statement("DELETE FROM services WHERE name = ?").run([.text(name)])
        if db.changes == 0 { throw StoreRefusal.noSuchService(name) }
    }

    /// Stores an active credential of `service`: `secret` sealed under the master key (bound to
    /// the id) for reveal, and, for a service key, `secretHash` for the check's lookup.
    public func insertServiceCredential(
        id: String, service: String, type: ServiceCredentialType, secret: [UInt8], secretHash: [UInt8]?, sealer: KeySealer, now: Int64
    ) throws {
        guard let serviceId = try db.statement("SELECT id FROM services WHERE name = ?").first([.text(service)], { $0.int64(0) }) else {
            throw StoreRefusal.noSuchService(service)
        }
        let sealed = try sealer.seal(secret, boundTo: Self.serviceBinding(id))
        try db.statement(
            """
            INSERT INTO service_credentials (id, service_id, type, status, sealed_secret, secret_hash, created_at)
            VALUES (?, ?, ?, 'active', ?, ?, ?)
            """
        ).run([.text(id), .integer(serviceId), .text(type.rawValue), .blob(sealed), secretHash.map(SQLValue.blob) ?? .null, .integer(now)])
    }

    /// The secret of a service credential, unsealed: the whole `kws_` token, or a JWT secret's
    /// 32 bytes. Throws `noSuchKey`, or the sealer's error for a value moved from another row.
    public func serviceCredentialSecret(_ id: String, sealer: KeySealer) throws -> [UInt8] {
        guard let sealed = try db.statement("SELECT sealed_secret FROM service_credentials WHERE id = ?").first([.text(id)], { $0.blob(0) })
        else { throw StoreRefusal.noSuchKey(id) }
        return try sealer.open(sealed, boundTo: Self.serviceBinding(id))
    }

    /// The check's view of the service `issuer` names (its name, or one of its active service
    /// keys' ids), its JWT secrets opened; nil when none. Stored scopes or networks that no longer
    /// parse refuse the lookup, as for keys.
    static func serviceRecord(_ db: Connection, issuer: String, sealer: KeySealer) throws -> ServiceRecord? {
        let row = try db.statement(
            """
            SELECT s.id, s.name, u.name, u.status, s.scopes, s.allow_ips FROM services s JOIN users u ON u.id = s.owner_id
            WHERE s.name = ?1 OR s.id = (
                SELECT service_id FROM service_credentials WHERE id = ?1 AND type = 'service-key' AND status = 'active')
            """
        ).first([.text(issuer)]) { s in
            (id: s.int64(0), name: s.text(1), owner: s.text(2), status: s.text(3), scopes: lines(s.text(4)), networks: lines(s.text(5)))
        }
        guard let row else { return nil }
        let scopes = row.scopes.compactMap(PathScope.init), networks = row.networks.compactMap(CIDR.init)
        guard scopes.count == row.scopes.count, networks.count == row.networks.count else {
            throw StoreError(code: 1, message: "service \(row.name) has stored scopes or networks that do not parse")
        }
        let secrets = try db.statement(
            """
            SELECT id, status, sealed_secret FROM service_credentials WHERE service_id = ? AND type = 'jwt-secret'
            ORDER BY created_at, rowid
            """
        ).map([.integer(row.id)]) { s in
            let id = s.text(0)
            return ServiceSecret(
                id: id, status: s.text(1) == "active" ? .active : .disabled,
                key: try sealer.open(s.blob(2), boundTo: serviceBinding(id)))
        }
        return ServiceRecord(
            name: row.name, owner: row.owner, ownerStatus: Status(rawValue: row.status) ?? .disabled, scopes: scopes,
            allowedNetworks: networks, jwtSecrets: secrets)
    }

    // MARK: API key rolls

    /// A roll: the key's current secret hash becomes the previous one, valid until `graceUntil`,
    /// and `secretHash` the current one. Throws `noSuchKey`.
    public func rollKeySecret(_ id: String, secretHash: [UInt8], graceUntil: Int64) throws {
        try db.statement(
            """
            UPDATE api_keys SET previous_secret_hash = secret_hash, previous_valid_until = ?, secret_hash = ? WHERE id = ?
            """
        ).run([.integer(graceUntil), .blob(secretHash), .text(id)])
        if db.changes == 0 { throw StoreRefusal.noSuchKey(id) }
    }
}
