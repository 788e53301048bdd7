import KeywardCrypto

/// Wall-clock time in Unix seconds; injected so every rule is testable with fixed values.
public protocol Clock: Sendable {
    var now: Int64 { get }
}

/// Looks API keys up by public id. One instance per worker thread; need not be Sendable.
///
/// Implementations may cache; `refresh()` brings the caches up to date with every committed
/// change, and the lookups answer as of the last `refresh()`. A request calls it once, first, so a
/// check costs one freshness test however many lookups it makes.
public protocol CredentialLookup {
    /// Drops whatever cached state a committed change has made stale. Throws only on infrastructure failure.
    func refresh() throws
    /// The credential (API key `kwk_...` or OAuth2 client `kwc_...`) and its owner, or nil when none
    /// has this id. Throws only on infrastructure failure.
    func credential(id: String) throws -> CredentialRecord?
    /// True when the access token with this `jti` was revoked (RFC 7009).
    func isRevoked(tokenId: String) throws -> Bool
    /// Groups, roles and resources.
    func accessModel() throws -> AccessModel
    /// The signed-request credential (`kwh_...`) with its active keys, or nil when none has this
    /// id. Throws only on infrastructure failure.
    func requestKey(id: String) throws -> RequestKeyRecord?
    /// The service a service JWT's `iss` names (its name, or one of its active service-key ids)
    /// with its JWT secrets unsealed, or nil when none does. Throws only on infrastructure failure.
    func service(issuer: String) throws -> ServiceRecord?
}

extension CredentialLookup {
    /// No signed-request credentials: a lookup that has none.
    public func requestKey(id: String) throws -> RequestKeyRecord? { nil }
    /// No services: a lookup that does not know them refuses every service JWT.
    public func service(issuer: String) throws -> ServiceRecord? { nil }
}

/// The keys access tokens are signed and verified with (RFC 7517 key ids).
public protocol SigningKeyRing {
    /// The public key with this `kid`, while it is published; nil for an unknown or expired one.
    func verificationKey(kid: String) throws -> PublicVerificationKey?
    /// The key new tokens are signed with: the newest active one.
    func signingKey() throws -> PrivateSigningKey
    /// Every published public key, newest first: the JWKS (RFC 7517 §5).
    func publishedKeys() throws -> [PublicVerificationKey]
}

/// Records revoked access tokens (RFC 7009); the change reaches every worker's next check.
public protocol TokenRevoker {
    /// Revokes the token with this `jti` until `expiresAt`, when it would have expired anyway.
    func revoke(tokenId: String, expiresAt: Int64, now: Int64) throws
    /// Revokes every token issued to the OAuth2 client `credentialId` up to `now` (RFC 7009 §2.1:
    /// the client revokes its grant with its own secret).
    func revokeGrant(credentialId: String, now: Int64) throws
}

/// Receives the facts of successful uses without making the check wait for a write.
public protocol UsageRecorder: Sendable {
    func recordUse(credential: String, at: Int64, from address: String?)
}

/// Receives audit events; implementations buffer and write them off the request path.
public protocol AuditSink: Sendable {
    func record(_ event: AuditEvent)
}

/// A clock fixed at a value, for tests and the in-process benchmark.
public struct FixedClock: Clock {
    /// The instant every read returns, in Unix seconds.
    public var now: Int64
    /// A clock stopped at `now` (Unix seconds).
    public init(_ now: Int64) { self.now = now }
}

/// An in-memory key table, for tests and the in-process benchmark.
public final class InMemoryKeys: CredentialLookup {
    /// Keys by public id; change between checks only (no locking).
    public var records: [String: CredentialRecord]
    /// A table of `records`; traps on duplicate ids.
    public init(_ records: [CredentialRecord] = []) {
        self.records = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
    }
    /// Nothing to do: the table is always current.
    public func refresh() throws {}
    /// The record with this id, or nil; never throws.
    public func credential(id: String) throws -> CredentialRecord? { records[id] }
    /// Revoked token ids.
    public var revoked: Set<String> = []
    /// True when `tokenId` is in `revoked`.
    public func isRevoked(tokenId: String) throws -> Bool { revoked.contains(tokenId) }
    /// Groups, roles and resources; empty unless a test sets it.
    public var access = AccessModel()
    /// `access`; never throws.
    public func accessModel() throws -> AccessModel { access }
    /// Signed-request credentials by id.
    public var requestKeys: [String: RequestKeyRecord] = [:]
    /// The one in `requestKeys`, or nil; never throws.
    public func requestKey(id: String) throws -> RequestKeyRecord? { requestKeys[id] }
    /// Services, for service JWTs.
    public var services: [ServiceRecord] = []
    /// The service named `issuer`, or the one whose active service key (in `records`) has that id.
    public func service(issuer: String) throws -> ServiceRecord? {
        if let named = services.first(where: { $0.name == issuer }) { return named }
        guard let key = records[issuer], key.status == .active, let name = key.service else { return nil }
        return services.first { $0.name == name }
    }
}

/// Collects audit events and the ids of used credentials, for tests.
public final class CollectingSink: UsageRecorder, AuditSink, @unchecked Sendable {
    private let lock = Lock()
    private var _events: [AuditEvent] = []
    private var _uses: [String] = []
    /// An empty collector.
    public init() {}
    /// Keeps the credential id only; the time and address are dropped.
    public func recordUse(credential: String, at: Int64, from address: String?) { lock.withLock { _uses.append(credential) } }
    /// Appends `event` to `events`.
    public func record(_ event: AuditEvent) { lock.withLock { _events.append(event) } }
    /// A copy of the audit events so far, in arrival order.
    public var events: [AuditEvent] { lock.withLock { _events } }
    /// Credential ids of the uses so far, one per use, in arrival order.
    public var uses: [String] { lock.withLock { _uses } }
}
