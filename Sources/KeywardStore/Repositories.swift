import KeywardCore
import KeywardCrypto

// The store seam: what the admin operations, the CLI and the servers need from a database, as
// protocols. `Store` (SQLite) is the one implementation today; a second backend implements these
// and runs the same store and admin tests (see `StoreBackend` in the tests). The SQL such a
// backend would write differently is gathered in `SQLDialect`.

/// Runs writes atomically: one transaction, committed on return, rolled back on a throw; a
/// nested call joins the open one. A committed change is announced (`ChangeAnnouncer`).
public protocol Transactions: AnyObject {
    func transaction<T>(_ body: () throws -> T) throws -> T
}

/// Users and their passwords.
public protocol UserRepository: AnyObject {
    func addUser(_ name: String, now: Int64) throws
    func users(named: String?) throws -> [UserRow]
    func user(_ name: String) throws -> UserRow
    func setUserStatus(_ name: String, _ status: Status) throws
    func setUserEmail(_ name: String, _ email: String?) throws
    func setUserPassword(_ name: String, hash: String) throws
    func userPassword(_ name: String) throws -> String?
    func deleteUser(_ name: String) throws
}

/// The writes every credential kind shares, each on its own kind's rows. One per kind
/// (`apiKeys`, `clients`, `serviceCredentials`), never chosen by the prefix of an id.
public protocol CredentialRepository: AnyObject {
    /// The kind whose rows these are.
    var kind: SecretKind { get }
    /// Enables or disables it: it (and its tokens) fail from the next request on.
    func setStatus(_ id: String, _ status: Status) throws
    /// Replaces its secret hash (same id).
    func setSecretHash(_ id: String, _ hash: [UInt8]) throws
    /// Revokes every access token issued from it so far (its revocation epoch moves).
    func revokeTokens(issuedFrom id: String, now: Int64) throws
    /// Deletes it.
    func delete(_ id: String) throws
    /// Adds buffered usage to the credentials of this kind that still exist.
    func applyUsage(_ usage: [String: UsageDelta]) throws
}

/// API keys: what only keys have (names per user, expiry notices).
public protocol APIKeyRepository: AnyObject {
    func insertKey(_ key: NewKey) throws
    func keys(user: String?) throws -> [KeyRow]
    func key(_ id: String) throws -> KeyRow
    func setKeyExpiry(_ id: String, _ expiresAt: Int64?) throws
    func rollKeySecret(_ id: String, secretHash: [UInt8], graceUntil: Int64) throws
    func keysToNotify(now: Int64, until: Int64) throws -> [ExpiringKey]
    func claimExpiryNotice(_ keyId: String, now: Int64) throws -> Bool
    func releaseExpiryNotice(_ keyId: String) throws
}

/// OAuth2 clients.
public protocol ClientRepository: AnyObject {
    func insertClient(
        id: String, user: String, name: String, secretHash: [UInt8], now: Int64, expiresAt: Int64?,
        scopes: [PathScope]) throws
    func clients(user: String?) throws -> [ClientRow]
    func client(_ id: String) throws -> ClientRow
    func setClientExpiry(_ id: String, _ expiresAt: Int64?) throws
}

/// Signed-request credentials (`kwh_`): what only they have (an algorithm, secrets of their own).
public protocol RequestKeyRepository: AnyObject {
    /// Stores a new credential with its first secret, active; throws `noSuchUser` or `keyNameTaken`.
    func insertRequestKey(_ key: NewRequestKey) throws
    func requestKeys(user: String?) throws -> [RequestKeyRow]
    func requestKey(_ id: String) throws -> RequestKeyRow
    func setRequestKeyExpiry(_ id: String, _ expiresAt: Int64?) throws
    /// The credential's secrets, oldest first, as the rotation rules see them (serial and state).
    func requestKeySecrets(_ id: String) throws -> [RequestKeySecretRow]
    /// The serial a new secret of `id` gets (one more than any it ever had).
    func nextRequestKeySecretSerial(_ id: String) throws -> Int64
    /// Adds an active secret, its material sealed or public as at `insertRequestKey`.
    func insertRequestKeySecret(_ id: String, serial: Int64, material: [UInt8], createdAt: Int64) throws
    /// Sets one secret's state, as the rotation rules (`RotationSet`) have allowed.
    func setRequestKeySecretState(_ id: String, serial: Int64, _ state: RotationState) throws
    /// Removes one secret.
    func deleteRequestKeySecret(_ id: String, serial: Int64) throws
    /// One HMAC secret, opened with `sealer`: for a reveal only.
    func requestKeySecret(_ id: String, serial: Int64, sealer: KeySealer) throws -> [UInt8]
    /// Removes the retiring secrets whose grace ended by `now`.
    func pruneRetiredRequestKeySecrets(_ id: String, now: Int64) throws
}

/// Services and what only their credentials have: a type, a sealed secret for reveal. Status
/// changes and deletions of the credentials go through `AdminStore.serviceCredentials`, after
/// the rotation rules (`RotationSet`) have allowed them.
public protocol ServiceRepository: AnyObject {
    func insertService(_ service: NewService) throws
    func services(owner: String?) throws -> [ServiceRow]
    func service(_ name: String) throws -> ServiceRow
    func deleteService(_ name: String) throws
    func insertServiceCredential(
        id: String, service: String, type: ServiceCredentialType, secret: [UInt8], secretHash: [UInt8]?, sealer: KeySealer, now: Int64
    ) throws
    func serviceCredentialSecret(_ id: String, sealer: KeySealer) throws -> [UInt8]
}

/// The keys access tokens are signed with, private halves sealed (`KeySealer`).
public protocol SigningKeyRepository: AnyObject {
    func addSigningKey(_ key: PrivateSigningKey, sealer: KeySealer, now: Int64, retireOthersAfter: Int64) throws
    func signingKeys(now: Int64) throws -> [SigningKeyRow]
}

/// Revoked access tokens (RFC 7009).
public protocol RevocationRepository: AnyObject {
    func revokeToken(id: String, expiresAt: Int64, now: Int64) throws
}

/// The audit trail and its hash chain.
public protocol AuditRepository: AnyObject {
    func appendAudit(_ events: [AuditEvent]) throws
    func verifyAudit(key: HMACKey) throws -> (records: Int, firstBroken: Int64?, head: [UInt8])
    func auditEvents(since: Int64?, user: String?, action: String?, limit: Int) throws -> [AuditEvent]
    func auditRecords(afterId: Int64, since: Int64?, user: String?, action: String?, limit: Int) throws -> [AuditRecord]
}

/// Groups, roles, grants and resources.
public protocol AccessRepository: AnyObject {
    func addGroup(_ name: String, now: Int64) throws
    func groups(named: String?) throws -> [GroupRow]
    func group(_ name: String) throws -> GroupRow
    func deleteGroup(_ name: String) throws
    func addMember(group: String, user: String) throws
    func removeMember(group: String, user: String) throws
    func addRole(_ name: String, privileges: [String], now: Int64) throws
    func roles(named: String?) throws -> [RoleRow]
    func role(_ name: String) throws -> RoleRow
    func deleteRole(_ name: String) throws
    func grantRole(_ role: String, to principal: Principal) throws
    func revokeRole(_ role: String, from principal: Principal) throws
    func privileges(of user: String) throws -> Set<String>
    func addResource(_ name: String, _ spec: ResourceSpec, now: Int64) throws
    func updateResource(_ name: String, _ spec: ResourceSpec) throws
    func addAudience(resource: String, _ principal: Principal, until: Int64?) throws
    func resources(now: Int64, named: String?) throws -> [ResourceRow]
    func resource(_ name: String, now: Int64) throws -> ResourceRow
    func deleteResource(_ name: String) throws
    func accessModel(now: Int64) throws -> AccessModel
}

/// Access requests and the one-time links that reveal an approved key.
public protocol AccessRequestRepository: AnyObject {
    func insertAccessRequest(user: String, resource: String, note: String?, now: Int64) throws -> Int64
    func pendingAccessRequest(user: String, resource: String) throws -> Int64?
    func accessRequests(status: String?) throws -> [AccessRequestRow]
    func accessRequest(_ id: Int64) throws -> AccessRequestRow?
    func decideAccessRequest(_ id: Int64, status: String, at: Int64, by: String, keyId: String?, expiresAt: Int64?) throws -> Bool
    func adminEmails() throws -> [(user: String, email: String)]
    func addRevealLink(keyId: String, secret: String, sealer: KeySealer, now: Int64, lifetime: Int64) throws -> String
    func addRevealLink(keyId: String, secret: String, token: String, sealer: KeySealer, now: Int64, lifetime: Int64) throws
    func revealLinkKey(token: String, now: Int64) throws -> String?
    func takeRevealLink(token: String, sealer: KeySealer, now: Int64) throws -> (keyId: String, secret: String)?
    func deleteRevealLink(token: String) throws
    func purgeRevealLinks(now: Int64) throws
}

/// Admin sessions.
public protocol SessionRepository: AnyObject {
    func insertSession(idHash: [UInt8], user: String, csrfHash: [UInt8], now: Int64, expiresAt: Int64) throws
    func session(idHash: [UInt8], now: Int64, idle: Int64) throws -> SessionRow?
    func touchSession(idHash: [UInt8], now: Int64) throws
    func sessions(user: String?, now: Int64, idle: Int64) throws -> [SessionInfo]
    func deleteSession(idHash: [UInt8]) throws -> Bool
    func deleteSession(publicId: String) throws -> SessionInfo?
    func deleteSessions(user: String, except: [UInt8]?) throws
    func expiredSessions(now: Int64, idle: Int64, idHash: [UInt8]?) throws -> [SessionInfo]
    func deleteExpiredSessions(now: Int64, idle: Int64, idHash: [UInt8]?) throws -> [SessionInfo]
}

/// Everything the admin operations and the CLI write and read, behind one seam.
public protocol AdminStore: Transactions, UserRepository, APIKeyRepository, ClientRepository, RequestKeyRepository,
    SigningKeyRepository, RevocationRepository, AuditRepository, AccessRepository, AccessRequestRepository, SessionRepository,
    ServiceRepository
{
    /// API keys' shared credential writes.
    var apiKeys: any CredentialRepository { get }
    /// OAuth2 clients' shared credential writes.
    var clients: any CredentialRepository { get }
    /// Signed-request credentials' shared credential writes (status, delete, usage).
    var requestKeys: any CredentialRepository { get }
    /// Service keys' and JWT secrets' shared credential writes (status: active or inactive).
    var serviceCredentials: any CredentialRepository { get }
    /// The audit chain's key; appending needs it.
    var auditKey: HMACKey? { get set }
    /// Adds buffered usage (counts, last use) to the credentials that still exist, each kind to its own.
    func applyUsage(_ usage: [String: UsageDelta]) throws
    /// A fresh, uncached credential lookup of this store, as the check would see it (for explain);
    /// with `sealer`, it opens signed-request secrets too.
    func credentialLookup(clock: any Clock, limits: Limits, sealer: KeySealer?) throws -> any CredentialLookup
}

// MARK: The common defaults (protocol requirements take none)

extension UserRepository {
    /// Every user, by name.
    public func users() throws -> [UserRow] { try users(named: nil) }
}

extension APIKeyRepository {
    /// Everyone's keys, by user.
    public func keys() throws -> [KeyRow] { try keys(user: nil) }
}

extension ClientRepository {
    /// Everyone's clients, by user.
    public func clients() throws -> [ClientRow] { try clients(user: nil) }
}

extension RequestKeyRepository {
    /// Everyone's signed-request credentials, by user.
    public func requestKeys() throws -> [RequestKeyRow] { try requestKeys(user: nil) }
}

extension AdminStore {
    /// An uncached lookup without signed-request secrets.
    public func credentialLookup(clock: any Clock, limits: Limits) throws -> any CredentialLookup {
        try credentialLookup(clock: clock, limits: limits, sealer: nil)
    }
}

extension AuditRepository {
    /// Audit events, oldest first, filtered by time, by the user they concern and by action; the latest `limit`.
    public func audit(since: Int64? = nil, user: String? = nil, action: String? = nil, limit: Int = 1000) throws -> [AuditEvent] {
        try auditEvents(since: since, user: user, action: action, limit: limit)
    }
}

extension ServiceRepository {
    /// Everyone's services, by name.
    public func services() throws -> [ServiceRow] { try services(owner: nil) }
}

extension AccessRepository {
    /// Every group, by name.
    public func groups() throws -> [GroupRow] { try groups(named: nil) }
    /// Every role, by name.
    public func roles() throws -> [RoleRow] { try roles(named: nil) }
    /// Every resource, with audience entries current at `now` (all of them by default).
    public func resources(now: Int64 = Int64.min) throws -> [ResourceRow] { try resources(now: now, named: nil) }
    /// One resource, with every audience entry.
    public func resource(_ name: String) throws -> ResourceRow { try resource(name, now: Int64.min) }
}

extension AccessRequestRepository {
    /// Every access request.
    public func accessRequests() throws -> [AccessRequestRow] { try accessRequests(status: nil) }
}

// MARK: Change notification

/// Told after every committed change, so that every serving process drops what it cached.
public protocol ChangeAnnouncer: AnyObject {
    func announce() throws
}

/// Answers whether anything changed since a stamp was last read: one small read per check.
public protocol ChangeWatcher: AnyObject {
    /// The current stamp; any difference from the last one read means "changed"; nil: reload.
    var stamp: UInt64? { get }
}

extension Generation: ChangeAnnouncer, ChangeWatcher {
    /// `bump()`.
    public func announce() throws { try bump() }
    /// `current`.
    public var stamp: UInt64? { current }
}
