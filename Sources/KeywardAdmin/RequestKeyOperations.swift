import KeywardCore
import KeywardCrypto
import KeywardStore

/// A signed-request credential as created. For an HMAC secret Keyward made, the secret (base64,
/// standard alphabet) is in this answer and nowhere else; a secret the client supplied and an
/// Ed25519 public key are not shown back.
public struct CreatedRequestKey: Sendable, Equatable, Codable {
    /// `kwh_…`: the `keyid` of RFC 9421 signatures and the id in `Authorization: HMAC <id>:<mac>`.
    public var id: String
    public var algorithm: RequestSigningAlgorithm
    /// The generated HMAC secret, base64; nil when the client supplied it or for an Ed25519 key.
    public var secret: String?
    public var user: String
    public var name: String
    public var expiresAt: Int64?
    public var scopes: [String]
    public var allowIps: [String]
}

/// What proves a new signed-request credential.
public enum RequestKeyMaterial: Sendable {
    /// 32 random bytes from RAND_bytes, shown once.
    case generatedSecret
    /// A secret the client chose (the seed lets it): 16 to 1,024 bytes, used as given.
    case suppliedSecret([UInt8])
    /// The public half of the client's Ed25519 key pair.
    case ed25519(PublicVerificationKey)

    /// Bytes of a generated secret (256 bits, RFC 9421 §3.3.3 asks for a key at least as long as the output).
    public static let generatedSecretBytes = 32
    /// Shortest secret a client may supply.
    public static let minimumSuppliedBytes = 16
    /// Longest secret a client may supply.
    public static let maximumSuppliedBytes = 1_024

    /// An Ed25519 public key from text: PEM `PUBLIC KEY` (SubjectPublicKeyInfo, what
    /// `openssl pkey -pubout` writes), or the raw 32-byte key in base64 or base64url (RFC 8037 `x`).
    public static func ed25519(publicKeyText text: String) throws -> RequestKeyMaterial {
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingCharacters(in: .whitespaces) }
        do {
            if trimmed.first == "-----BEGIN PUBLIC KEY-----" {
                guard trimmed.last == "-----END PUBLIC KEY-----", trimmed.count > 2,
                    let der = Base64.decode(trimmed.dropFirst().dropLast().joined())
                else { throw AdminError.invalid("the PEM public key does not parse") }
                return .ed25519(try PublicVerificationKey(subjectPublicKeyInfo: der, algorithm: .ed25519))
            }
            guard trimmed.count == 1, let raw = Base64.decode(trimmed[0]), raw.count == 32 else {
                throw AdminError.invalid("want an Ed25519 public key: PEM (BEGIN PUBLIC KEY) or 32 bytes in base64")
            }
            let jwk = try JSONWebKey([.init("kty", "OKP"), .init("crv", "Ed25519"), .init("x", Base64URL.encode(raw)), .init("alg", "Ed25519")])
            return .ed25519(try PublicVerificationKey(jwk: jwk, expected: .ed25519))
        } catch let error as CryptoError {
            throw AdminError.invalid("not an Ed25519 public key (\(error))")
        }
    }

    /// Refuses a supplied secret shorter or longer than the bounds.
    static func requireSuppliedLength(_ secret: [UInt8]) throws {
        guard (minimumSuppliedBytes...maximumSuppliedBytes).contains(secret.count) else {
            throw AdminError.invalid("a supplied secret must be \(minimumSuppliedBytes) to \(maximumSuppliedBytes) bytes")
        }
    }

    /// The algorithm it signs with.
    public var algorithm: RequestSigningAlgorithm {
        switch self {
        case .generatedSecret, .suppliedSecret: .hmacSHA256
        case .ed25519: .ed25519
        }
    }
}

// MARK: Signed-request credentials

extension Admin {
    /// Creates a signed-request credential (`kwh_`). The rules of API keys apply: admins for
    /// anyone; holders of `manage-own-keys` for themselves, scoped within resources they may call
    /// and living at most `maxSelfServiceLifetime`. Audited as `hmac.create`; the secret is sealed
    /// (AES-256-GCM under the master key, bound to the credential) before it reaches the store.
    public func createRequestKey(
        user: String, name: String, material: RequestKeyMaterial, expires: Lifetime, scopes: [PathScope], networks: [CIDR]
    ) throws -> CreatedRequestKey {
        try requireSelf(user, or: Privilege.manageOwnKeys)
        try requireCredentialName(name)
        if !actor.isAdmin {
            try requireWithinAccess(user, scopes)
            try requireSelfServiceLifetime(expires)
        }
        let now = clock.now
        let expiry = expires.expiry(from: now)
        let id = "\(SecretKind.signedRequest.rawValue)_\(Base62.random(count: OpaqueSecret.publicIdLength))"
        var shown: String? = nil
        let stored: [UInt8]
        switch material {
        case .generatedSecret:
            let secret = SecureRandom.bytes(RequestKeyMaterial.generatedSecretBytes)
            shown = Base64.encode(secret)
            stored = try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: 1))
        case .suppliedSecret(let secret):
            try RequestKeyMaterial.requireSuppliedLength(secret)
            stored = try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: 1))
        case .ed25519(let key):
            stored = key.subjectPublicKeyInfo()
        }
        try change("hmac.create", target: "user:\(user)", credential: id, detail: material.algorithm.rawValue) {
            try store.insertRequestKey(
                NewRequestKey(
                    id: id, user: user, name: name, algorithm: material.algorithm, material: stored, createdAt: now, expiresAt: expiry,
                    scopes: scopes, allowedNetworks: networks))
        }
        return CreatedRequestKey(
            id: id, algorithm: material.algorithm, secret: shown, user: user, name: name, expiresAt: expiry,
            scopes: scopes.map(\.description), allowIps: networks.map(\.description))
    }

    /// Signed-request credentials, oldest first: everyone's (or one user's) for admins, one's own otherwise.
    public func requestKeys(user: String? = nil) throws -> [RequestKeyRow] {
        try visible(user: user, store.requestKeys(user:))
    }

    /// One signed-request credential; its owner or an admin.
    public func requestKey(_ id: String) throws -> RequestKeyRow {
        let row = try store.requestKey(id)
        return try visible(row, id: id, owner: row.user)
    }

    /// Changes one signed-request credential under the rules of `setKey`, audited as `hmac.<verb>`.
    public func setRequestKey(_ id: String, _ command: CredentialChange) throws {
        try change(command, id, owner: store.requestKey(id).user, noun: "hmac", in: store.requestKeys) { [store] in
            try store.setRequestKeyExpiry(id, $0)
        }
    }
}

// MARK: Rotating a signed-request credential's secrets

/// A secret added to a signed-request credential. A generated HMAC secret (base64) is in this
/// answer and nowhere else; a supplied secret and an Ed25519 public key are not shown back.
public struct AddedRequestKeySecret: Sendable, Equatable, Codable {
    /// The credential (`kwh_…`); its id, and so the clients' `keyid`, stays the same.
    public var id: String
    /// The new secret's number within the credential.
    public var serial: Int64
    /// The generated HMAC secret, base64; nil when supplied or for an Ed25519 key.
    public var secret: String?
    /// The secrets as they are now.
    public var secrets: [RequestKeySecretRow]
}

/// What may be done to one secret of a signed-request credential after it is added; `delete`,
/// which needs a password again, is an operation of its own.
public enum RequestKeySecretChange: String, Sendable, CaseIterable {
    /// An active secret becomes inactive: its signatures fail from the next request on.
    case discard
    /// An inactive secret becomes active again.
    case reactivate
}

extension Admin {
    /// The secrets of credential `id` under the rotation rules, as stored now (members named
    /// `secret N`): what the pages ask `refusal(of:now:)` to disable a button and say why.
    public func requestKeyRotation(_ id: String) throws -> RotationSet {
        _ = try requestKey(id)
        return try RotationSet(validating: store.requestKeySecrets(id).map(\.rotationMember), now: clock.now)
    }

    /// Adds a second active secret (or Ed25519 key) to credential `id`, for a rotation: clients
    /// move to it while the first still verifies. With `grace` (seconds) it is a roll: the one
    /// active secret retires that long from now, by itself. The material must be of the credential's algorithm.
    /// Audited as `hmac.secret.add` or `hmac.secret.roll`.
    public func addRequestKeySecret(_ id: String, material: RequestKeyMaterial, grace: Int64? = nil) throws -> AddedRequestKeySecret {
        let row = try requestKey(id)
        _ = try manageable(id, owner: row.user)
        guard material.algorithm == row.algorithm else {
            throw AdminError.invalid("\(id) signs with \(row.algorithm.rawValue); a new secret must be of the same algorithm")
        }
        if let grace, grace <= 0 || grace > limits.maxRollGrace {
            throw AdminError.invalid("the grace period of a roll is 1 second to \(limits.maxRollGrace / 86_400) days")
        }
        let now = clock.now
        let graceUntil = grace.map { now + $0 }
        var shown: String? = nil
        let verb = graceUntil == nil ? "add" : "roll"
        let serial = try change("hmac.secret.\(verb)", target: "user:\(row.user)", credential: id, detail: row.algorithm.rawValue) {
            try store.pruneRetiredRequestKeySecrets(id, now: now)
            let serial = try store.nextRequestKeySecretSerial(id)
            let label = RequestKeySecretRow.label(serial)
            let set = try RotationSet(validating: store.requestKeySecrets(id).map(\.rotationMember), now: now)
            let next = try set.applying(graceUntil.map { .roll(label, graceUntil: $0) } ?? .add(label), now: now)
            let stored: [UInt8]
            switch material {
            case .generatedSecret:
                let secret = SecureRandom.bytes(RequestKeyMaterial.generatedSecretBytes)
                shown = Base64.encode(secret)
                stored = try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: serial))
            case .suppliedSecret(let secret):
                try RequestKeyMaterial.requireSuppliedLength(secret)
                stored = try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: serial))
            case .ed25519(let key):
                stored = key.subjectPublicKeyInfo()
            }
            try store.insertRequestKeySecret(id, serial: serial, material: stored, createdAt: now)
            try write(next, of: id)
            return serial
        }
        return AddedRequestKeySecret(id: id, serial: serial, secret: shown, secrets: try store.requestKeySecrets(id))
    }

    /// Discards (active to inactive) or reactivates secret `serial` of credential `id`, as the
    /// rotation rules allow; audited as `hmac.secret.<verb>`.
    public func setRequestKeySecret(_ id: String, serial: Int64, _ command: RequestKeySecretChange) throws {
        let row = try requestKey(id)
        _ = try manageable(id, owner: row.user)
        let label = RequestKeySecretRow.label(serial)
        try change("hmac.secret.\(command.rawValue)", target: "user:\(row.user)", credential: id, detail: label) {
            let now = clock.now
            try store.pruneRetiredRequestKeySecrets(id, now: now)
            let set = try RotationSet(validating: store.requestKeySecrets(id).map(\.rotationMember), now: now)
            try write(try set.applying(command == .discard ? .discard(label) : .reactivate(label), now: now), of: id)
        }
    }

    /// Deletes inactive secret `serial` of credential `id`, with the password again (the
    /// owner's, or an admin's); audited as `hmac.secret.delete`.
    public func deleteRequestKeySecret(_ id: String, serial: Int64, password: String, passwordOf: String? = nil) throws {
        let row = try requestKey(id)
        _ = try manageable(id, owner: row.user)
        let label = RequestKeySecretRow.label(serial)
        // The rules first: a password is not asked for what would be refused anyway.
        _ = try requestKeyRotation(id).applying(.delete(label), now: clock.now)
        try requirePassword(password, owner: row.user, passwordOf: passwordOf, target: "hmac:\(id)")
        try change("hmac.secret.delete", target: "user:\(row.user)", credential: id, detail: label) {
            let now = clock.now
            let set = try RotationSet(validating: store.requestKeySecrets(id).map(\.rotationMember), now: now)
            _ = try set.applying(.delete(label), now: now)
            try store.deleteRequestKeySecret(id, serial: serial)
        }
    }

    /// HMAC secret `serial` of credential `id` (standard base64), for its owner or an admin with
    /// the password again; audited as `hmac.secret.reveal`. An Ed25519 credential has no secret here.
    public func revealRequestKeySecret(_ id: String, serial: Int64, password: String, passwordOf: String? = nil) throws -> String {
        let row = try requestKey(id)
        _ = try manageable(id, owner: row.user)
        guard row.algorithm == .hmacSHA256 else {
            throw AdminError.invalid("\(id) is an Ed25519 credential: Keyward keeps only its public key, and the private key is the client's")
        }
        try requirePassword(password, owner: row.user, passwordOf: passwordOf, target: "hmac:\(id)")
        let secret = try change("hmac.secret.reveal", target: "user:\(row.user)", credential: id, detail: RequestKeySecretRow.label(serial)) {
            try store.requestKeySecret(id, serial: serial, sealer: sealer)
        }
        return Base64.encode(secret)
    }

    /// Writes the states of `set` back to credential `id`'s secrets (members the set no longer
    /// holds are the caller's to delete).
    private func write(_ set: RotationSet, of id: String) throws {
        for member in set.members {
            guard let serial = RequestKeySecretRow.serial(label: member.id) else { continue }
            try store.setRequestKeySecretState(id, serial: serial, member.state)
        }
    }
}
