import KeywardCrypto

/// Whether a user or credential may be used.
public enum Status: String, Sendable, Codable {
    case active, disabled
}

/// Everything the check needs to know about one API key and its owner, loaded by public id.
public struct CredentialRecord: Sendable, Equatable {
    /// Public id (`kwk_` + 16 base62, `OpaqueSecret.id`).
    public var id: String
    /// The key's label, unique per user.
    public var name: String
    /// The owning user's name.
    public var userName: String
    /// The owner's status; a disabled owner disables all their keys.
    public var userStatus: Status
    /// The key's own status.
    public var status: Status
    /// HMAC-SHA256 of the secret under the pepper.
    public var secretHash: [UInt8]
    /// Unix seconds; nil for never.
    public var expiresAt: Int64?
    /// Empty means every path.
    public var scopes: [PathScope]
    /// Empty means every address.
    public var allowedNetworks: [CIDR]
    /// The revocation epoch: set (to the Unix second of the revocation, or one past the previous
    /// epoch) when the credential's grant is revoked or its secret regenerated; nil when it never was.
    /// Tokens carry the epoch they were issued in (`kw_epoch`), so one issued in the same second
    /// as a revocation, but after it, still works; see `isCurrent(_:)`.
    public var tokensValidAfter: Int64?
    /// The service the credential belongs to (a service key or JWT secret); nil for a user's own.
    /// Its owner is `userName`, whose status and grants apply to it like to their keys.
    public var service: String?
    /// The hash of the secret a `key roll` replaced, which keeps working until `previousValidUntil`.
    public var previousSecretHash: [UInt8]?
    /// Unix seconds when the rolled-away secret stops working; nil when there is none.
    public var previousValidUntil: Int64?

    /// A record from stored columns; empty `scopes` or `allowedNetworks` mean unrestricted.
    public init(
        id: String, name: String, userName: String, userStatus: Status, status: Status, secretHash: [UInt8],
        expiresAt: Int64?, scopes: [PathScope], allowedNetworks: [CIDR], tokensValidAfter: Int64? = nil,
        service: String? = nil, previousSecretHash: [UInt8]? = nil, previousValidUntil: Int64? = nil
    ) {
        self.tokensValidAfter = tokensValidAfter
        self.service = service
        self.previousSecretHash = previousSecretHash
        self.previousValidUntil = previousValidUntil
        self.id = id
        self.name = name
        self.userName = userName
        self.userStatus = userStatus
        self.status = status
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
    }

    /// True when a token issued from this credential has not been revoked with its grant: it was
    /// issued in the current revocation epoch. Tokens from before epochs were carried (no
    /// `kw_epoch`) count as current when issued after the epoch's second.
    public func isCurrent(_ token: AccessTokenClaims) -> Bool {
        if let epoch = token.epoch { return epoch == (tokensValidAfter ?? 0) }
        return tokensValidAfter.map { token.issuedAt > $0 } ?? true
    }
}

/// The two kinds of credential a service holds, each rotated on its own (`RotationSet`).
public enum ServiceCredentialType: String, Sendable, CaseIterable, Codable {
    /// A `kws_` opaque secret, sent like an API key (and its id usable as a JWT `iss`).
    case serviceKey = "service-key"
    /// 32 random bytes (shown base64) that sign the service's own HS256 JWTs.
    case jwtSecret = "jwt-secret"

    /// The prefix of its public ids: `kws` (the opaque secret's) or `kwj`.
    public var prefix: String {
        switch self {
        case .serviceKey: SecretKind.serviceKey.rawValue
        case .jwtSecret: "kwj"
        }
    }

    /// The type whose public ids look like `id` (prefix, `_`, 16 base62), nil for none.
    public init?(credentialId id: String) {
        guard let type = Self.allCases.first(where: { $0.isId(id) }) else { return nil }
        self = type
    }

    /// True when `id` is `<prefix>_` and 16 base62 characters.
    public func isId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        return bytes.count == 4 + OpaqueSecret.publicIdLength && id.hasPrefix(prefix + "_") && bytes[4...].allSatisfy(Base62.isSymbol)
    }

    /// A fresh public id of this type.
    public func newId() -> String { prefix + "_" + Base62.random(count: OpaqueSecret.publicIdLength) }
}

/// One JWT secret of a service as the check holds it: unsealed, never printed.
public struct ServiceSecret: Sendable, Equatable, CustomStringConvertible {
    /// Its public id (`kwj_…`).
    public var id: String
    /// Active secrets verify; an inactive (discarded) one is recognised and refused.
    public var status: Status
    /// The HMAC key: the base64-decoded bytes the owner was shown.
    public var key: [UInt8]

    /// A secret from its parts.
    public init(id: String, status: Status, key: [UInt8]) {
        self.id = id
        self.status = status
        self.key = key
    }

    public var description: String { "\(id) (\(status.rawValue), <redacted>)" }
}

/// A service as the check sees it when a JWT's `iss` names it: its owner, rules and JWT secrets.
public struct ServiceRecord: Sendable, Equatable {
    /// The service's unique name.
    public var name: String
    /// The owning user, reported as `X-Auth-User`; their status and grants apply.
    public var owner: String
    /// The owner's status.
    public var ownerStatus: Status
    /// Empty means every path.
    public var scopes: [PathScope]
    /// Empty means every address.
    public var allowedNetworks: [CIDR]
    /// Its JWT secrets, oldest first.
    public var jwtSecrets: [ServiceSecret]

    /// A service from stored columns.
    public init(name: String, owner: String, ownerStatus: Status, scopes: [PathScope], allowedNetworks: [CIDR], jwtSecrets: [ServiceSecret]) {
        self.name = name
        self.owner = owner
        self.ownerStatus = ownerStatus
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
        self.jwtSecrets = jwtSecrets
    }

    /// The credential the policy judges for a JWT signed with `secret`: the service's rules,
    /// the secret's status, the owner's name and status.
    public func credential(_ secret: ServiceSecret) -> CredentialRecord {
        CredentialRecord(
            id: secret.id, name: name, userName: owner, userStatus: ownerStatus, status: secret.status, secretHash: [],
            expiresAt: nil, scopes: scopes, allowedNetworks: allowedNetworks, service: name)
    }
}

/// One audit record: who did what to which credential, from where, and why it was refused.
///
/// Holds public ids only; the type has no field a secret could go into by accident except
/// `detail`, which callers fill with fixed phrases.
public struct AuditEvent: Sendable, Equatable, Codable {
    /// Unix seconds when it happened.
    public var at: Int64
    /// Who acted: `cli:<login>`, the credential's user or `anonymous` for checks, `keyward` for the server.
    public var actor: String
    /// Dotted event name, e.g. `check.deny`, `key.create`, `audit.dropped`.
    public var action: String
    /// What was acted on, e.g. `user:<name>`; nil when nothing specific.
    public var target: String?
    /// Public id of the credential involved; never a secret.
    public var credential: String?
    /// Client address as the server reported it.
    public var sourceIP: String?
    /// `DenyReason` raw value for refusals; nil otherwise.
    public var reason: String?
    /// A fixed phrase, or the method and clipped path of a refused check.
    public var detail: String?

    /// An event from its parts; leave out what does not apply.
    public init(
        at: Int64, actor: String, action: String, target: String? = nil, credential: String? = nil,
        sourceIP: String? = nil, reason: String? = nil, detail: String? = nil
    ) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.credential = credential
        self.sourceIP = sourceIP
        self.reason = reason
        self.detail = detail
    }
}

/// The audit trail's hash chain: each record stores an HMAC-SHA256 over the previous record's link
/// and its own fields, under a key derived from the master key, so editing, inserting or deleting
/// a record breaks the links after it, and someone who can write the database but not read the
/// key file cannot forge a consistent chain.
public enum AuditChain {
    /// The chain's key: HMAC-SHA256(master key, a fixed label), so it is never the master key itself.
    public static func key(masterKey: [UInt8]) -> [UInt8] {
        HMACKey(masterKey).authenticationCode("keyward audit chain v1")
    }

    /// The hash before the first record.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The link for `event` after a record whose hash is `previous`.
    ///
    /// Fields are length-prefixed (absent ones marked apart from empty ones), so no two different
    /// records serialise alike.
    public static func link(after previous: [UInt8], _ event: AuditEvent, key: HMACKey) -> [UInt8] {
        var bytes = previous
        /// The low `width` bytes of `value`, most significant first.
        func append(_ value: UInt64, width: Int) {
            for shift in stride(from: (width - 1) * 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        func field(_ text: String?) {
            guard let text else {
                bytes.append(0)
                return
            }
            bytes.append(1)
            let utf8 = Array(text.utf8)
            append(UInt64(utf8.count), width: 4)
            bytes += utf8
        }
        append(UInt64(bitPattern: event.at), width: 8)
        for text in [event.actor, event.action, event.target, event.credential, event.sourceIP, event.reason, event.detail] {
            field(text)
        }
        return key.authenticationCode(bytes)
    }
}
