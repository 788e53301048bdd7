import KeywardCore
import KeywardCrypto
import KeywardStore

/// A new service and its first two secrets, shown once.
public struct CreatedService: Sendable, Equatable, Codable {
    /// The service as listed (its credentials masked).
    public var service: ServiceRow
    /// The whole `kws_` secret of its first service key; only in this answer.
    public var serviceKey: String
    /// The id of its first JWT secret (`kwj_…`).
    public var jwtSecretId: String
    /// Its first JWT secret, 32 random bytes in standard base64; only in this answer.
    public var jwtSecret: String
}

/// One service credential's secret: at its creation, or revealed to its owner or an admin.
public struct ServiceSecretShown: Sendable, Equatable, Codable {
    /// The service it belongs to.
    public var service: String
    /// Its public id.
    public var id: String
    /// `service-key` or `jwt-secret`.
    public var type: ServiceCredentialType
    /// The whole `kws_` secret, or the JWT secret in standard base64.
    public var secret: String
}

/// What may be done to one service credential after it is made; `delete` and `reveal`, which
/// need a password again, are operations of their own.
public enum ServiceCredentialChange: String, Sendable, CaseIterable {
    /// An active credential becomes inactive: refused at the check from the next request on.
    case discard
    /// An inactive credential becomes active again.
    case reactivate
}

// MARK: Services

extension Admin {
    /// Creates a service owned by `owner` with one active service key and one active JWT secret,
    /// both returned once. Admins for anyone; holders of `manage-own-keys` for themselves,
    /// scoped within resources they may call (a service never grants more than its owner has).
    public func createService(_ name: String, owner: String, scopes: [PathScope], networks: [CIDR]) throws -> CreatedService {
        try requireSelf(owner, or: Privilege.manageOwnKeys)
        try requireValidName(name, "service")
        guard ServiceCredentialType(credentialId: name) == nil, !Self.looksLikeCredentialId(name) else {
            throw AdminError.invalid("a service name may not look like a credential id (kw?_...): a JWT's iss names either")
        }
        if !actor.isAdmin { try requireWithinAccess(owner, scopes) }
        let now = clock.now
        let key = OpaqueSecret.generate(.serviceKey)
        let jwtId = ServiceCredentialType.jwtSecret.newId()
        let jwtSecret = SecureRandom.bytes(32)
        let row = try change("service.create", target: "service:\(name)", credential: key.id, detail: "owner \(owner); jwt secret \(jwtId)") {
            try store.insertService(NewService(name: name, owner: owner, scopes: scopes, allowedNetworks: networks, createdAt: now))
            try insertCredential(key.id, of: name, type: .serviceKey, secret: Array(key.token.utf8), hash: key.hash(with: HMACKey(keyFile.pepper)))
            try insertCredential(jwtId, of: name, type: .jwtSecret, secret: jwtSecret, hash: nil)
            return try store.service(name)
        }
        return CreatedService(service: row, serviceKey: key.token, jwtSecretId: jwtId, jwtSecret: Base64.encode(jwtSecret))
    }

    /// Services by name: everyone's (or one owner's) for admins, one's own otherwise.
    public func services(owner: String? = nil) throws -> [ServiceRow] {
        try visible(user: owner, store.services(owner:))
    }

    /// One service; its owner or an admin (to anyone else it looks absent).
    public func service(_ name: String) throws -> ServiceRow {
        let row = try store.service(name)
        guard actor.isAdmin || actor.user == row.owner else { throw AdminError.notFound(StoreRefusal.noSuchService(name).description) }
        return row
    }

    /// Deletes a service and its credentials: its owner (holding `manage-own-keys`) or an admin,
    /// with the password again (`password`, of `passwordOf` on the command line; see `requirePassword`).
    public func deleteService(_ name: String, password: String, passwordOf: String? = nil) throws {
        let row = try manageableService(name)
        try requirePassword(password, owner: row.owner, passwordOf: passwordOf, target: "service:\(name)")
        try change("service.delete", target: "service:\(name)", detail: "owner \(row.owner)") { try store.deleteService(name) }
    }

    /// Adds an active credential of `type` to a service and returns its secret once; refused
    /// when two of that type are active already (`RotationSet`).
    public func addServiceCredential(_ name: String, type: ServiceCredentialType) throws -> ServiceSecretShown {
        _ = try manageableService(name)
        let (id, secret, hash): (String, [UInt8], [UInt8]?)
        let shown: String
        switch type {
        case .serviceKey:
            let key = OpaqueSecret.generate(.serviceKey)
            (id, secret, hash) = (key.id, Array(key.token.utf8), key.hash(with: HMACKey(keyFile.pepper)))
            shown = key.token
        case .jwtSecret:
            let bytes = SecureRandom.bytes(32)
            (id, secret, hash) = (type.newId(), bytes, nil)
            shown = Base64.encode(bytes)
        }
        try change("service.credential.add", target: "service:\(name)", credential: id, detail: type.rawValue) {
            _ = try rotation(of: name, type: type).applying(.add(id), now: clock.now)
            try insertCredential(id, of: name, type: type, secret: secret, hash: hash)
        }
        return ServiceSecretShown(service: name, id: id, type: type, secret: shown)
    }

    /// Discards (active to inactive) or reactivates one credential of a service, as the rotation
    /// rules allow; a refusal says which rule and the way out.
    public func setServiceCredential(_ name: String, _ id: String, _ command: ServiceCredentialChange) throws {
        _ = try manageableService(name)
        let type = try credentialType(id, of: name)
        try change("service.credential.\(command.rawValue)", target: "service:\(name)", credential: id, detail: type.rawValue) {
            let set = try rotation(of: name, type: type)
            switch command {
            case .discard:
                _ = try set.applying(.discard(id), now: clock.now)
                try store.serviceCredentials.setStatus(id, .disabled)
            case .reactivate:
                _ = try set.applying(.reactivate(id), now: clock.now)
                try store.serviceCredentials.setStatus(id, .active)
            }
        }
    }

    /// Deletes an inactive credential of a service, with the password again.
    public func deleteServiceCredential(_ name: String, _ id: String, password: String, passwordOf: String? = nil) throws {
        let row = try manageableService(name)
        let type = try credentialType(id, of: name)
        // The rules first: a password is not asked for what would be refused anyway.
        _ = try rotation(of: name, type: type).applying(.delete(id), now: clock.now)
        try requirePassword(password, owner: row.owner, passwordOf: passwordOf, target: "service:\(name)")
        try change("service.credential.delete", target: "service:\(name)", credential: id, detail: type.rawValue) {
            _ = try rotation(of: name, type: type).applying(.delete(id), now: clock.now)
            try store.serviceCredentials.delete(id)
        }
    }

    /// The secret of one credential of a service, for its owner or an admin with the password
    /// again; audited as `service.credential.reveal`.
    public func revealServiceCredential(_ name: String, _ id: String, password: String, passwordOf: String? = nil) throws
        -> ServiceSecretShown
    {
        let row = try manageableService(name)
        let type = try credentialType(id, of: name)
        try requirePassword(password, owner: row.owner, passwordOf: passwordOf, target: "service:\(name)")
        let secret = try change("service.credential.reveal", target: "service:\(name)", credential: id, detail: type.rawValue) {
            try store.serviceCredentialSecret(id, sealer: sealer)
        }
        let shown = type == .jwtSecret ? Base64.encode(secret) : String(decoding: secret, as: UTF8.self)
        return ServiceSecretShown(service: name, id: id, type: type, secret: shown)
    }

    /// The credentials of one type of a service under the rotation rules, as stored now: what
    /// the pages ask `refusal(of:now:)` to disable a button and say why.
    public func rotation(of name: String, type: ServiceCredentialType) throws -> RotationSet {
        let members = try store.service(name).credentials.filter { $0.type == type }.map(\.rotationMember)
        return try RotationSet(validating: members, now: clock.now)
    }

    // MARK: Helpers

    /// The service, when the actor may manage it: an admin, or its owner holding
    /// `manage-own-keys`; to anyone else it looks absent.
    func manageableService(_ name: String) throws -> ServiceRow {
        let row = try store.service(name)
        if actor.isAdmin { return row }
        guard actor.user == row.owner else { throw AdminError.notFound(StoreRefusal.noSuchService(name).description) }
        try requireSelf(row.owner, or: Privilege.manageOwnKeys)
        return row
    }

    /// The type of credential `id` of service `name`; `not_found` when the service has none such.
    func credentialType(_ id: String, of name: String) throws -> ServiceCredentialType {
        guard let row = try store.service(name).credentials.first(where: { $0.id == id }) else {
            throw AdminError.notFound("service \(name) has no credential \(id)")
        }
        return row.type
    }

    private func insertCredential(_ id: String, of service: String, type: ServiceCredentialType, secret: [UInt8], hash: [UInt8]?) throws {
        try store.insertServiceCredential(
            id: id, service: service, type: type, secret: secret, secretHash: hash, sealer: sealer, now: clock.now)
    }

    /// Proves the password again before a deletion or a reveal. A user of the API or the pages
    /// gives their own (they are the owner or an admin); the command line gives the owner's, or
    /// that of `passwordOf`, who must be the owner or hold `admin`. A wrong one is audited.
    func requirePassword(_ password: String, owner: String, passwordOf: String?, target: String) throws {
        let who = actor.user ?? passwordOf ?? owner
        if actor.user == nil, who != owner {
            guard try store.privileges(of: who).contains(Privilege.admin) else {
                throw AdminError.forbidden("\(who) is neither the owner of \(target) nor an admin.")
            }
        }
        // Guessing is bounded per user, across processes (the audit is the count): no scrypt runs
        // past the limit, so re-entry is neither an online oracle nor a way to burn CPU.
        let since = clock.now - limits.passwordRefusalWindow
        let mine = "password of user:\(who)"
        let refusals = try Self.passwordRefusalActions.reduce(0) { count, action in
            count
                + (try store.audit(since: since, user: nil, action: action, limit: 10_000)
                    .filter { $0.detail == mine || $0.detail?.hasPrefix(mine + ";") == true }.count)
        }
        guard refusals < limits.maxPasswordRefusals else {
            throw AdminError(
                .tooManyRequests,
                "Too many wrong passwords for \(who) in the last \(limits.passwordRefusalWindow / 60) minutes; try again later.")
        }
        // An unknown user or one without a password is refused like a wrong password.
        guard let stored = try? store.userPassword(who), let hash = try? PasswordHash(encoded: stored), hash.verify(password) else {
            try audit("\(target.prefix { $0 != ":" }).password.refused", target: target, detail: "password of user:\(who)")
            throw AdminError.forbidden("This needs the password of \(who) again; it did not match.")
        }
    }

    /// The audit actions of a wrong password given again, one per kind that asks for it.
    static let passwordRefusalActions = ["service.password.refused", "hmac.password.refused"]

    /// True for `kw` + a letter + `_` at the start: the shape of every credential id.
    static func looksLikeCredentialId(_ name: String) -> Bool {
        let b = Array(name.utf8)
        return b.count >= 4 && b[0] == UInt8(ascii: "k") && b[1] == UInt8(ascii: "w") && b[3] == UInt8(ascii: "_")
    }
}
