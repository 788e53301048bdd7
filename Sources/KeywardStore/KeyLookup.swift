import KeywardCore

/// The check's view of the store: API keys by public id, cached per connection.
///
/// The cache is dropped whenever a change has been committed, as the shared `Generation` stamp
/// reports, so a disable, delete or grant change is seen on the very next request without waiting
/// out a TTL. As a backstop for writers that do not stamp (a hand-run sqlite3, a replaced stamp
/// file), `PRAGMA data_version` is also consulted at most once a second. One per worker thread.
public final class KeyLookup: CredentialLookup {
    private let db: Connection
    private var cache: [String: CredentialRecord?] = [:]
    /// Signed-request credentials with their opened keys, and when a retiring key ends.
    private var requestKeyCache: [String: (record: RequestKeyRecord?, validUntil: Int64?)] = [:]
    private var revoked: Set<String>? = nil
    private var model: AccessModel? = nil
    private var services: [String: ServiceRecord?] = [:]
    private let sealer: KeySealer?
    private var seenStamp: UInt64? = nil
    private var seenDataVersion: Int64 = -1
    private var nextBackstop: Int64 = 0
    private let useCache: Bool
    private let changes: any ChangeWatcher
    private let clock: any Clock
    private let maxCached: Int

    /// Opens a read connection to `path`; `cache: false` measures the uncached path. At most
    /// `limits.credentialCache` records are kept. `sealer` opens services' JWT secrets and the HMAC
    /// secrets of signed-request credentials (nil: every service JWT is refused, and looking a
    /// signed-request credential up fails).
    public init(path: String, clock: any Clock, cache: Bool = true, limits: Limits = Limits(), sealer: KeySealer? = nil) throws {
        maxCached = limits.credentialCache
        self.sealer = sealer
        db = try Connection(path: path)
        useCache = cache
        changes = try Generation(databasePath: path, writable: false)
        self.clock = clock
    }

    /// The key with this id, or nil; served from the cache (misses included) until `refresh()` drops it.
    public func credential(id: String) throws -> CredentialRecord? {
        guard useCache else { return try load(id) }
        if let hit = cache[id] { return hit }
        let record = try load(id)
        cache[id] = .some(record)
        return record
    }

    /// The signed-request credential with its keys, or nil; cached like the records, and reloaded
    /// once a retiring key's deadline passes.
    public func requestKey(id: String) throws -> RequestKeyRecord? {
        let now = clock.now
        if useCache, let hit = requestKeyCache[id], hit.validUntil.map({ now < $0 }) ?? true { return hit.record }
        // The id's shape first: no query for what cannot be a signed-request credential.
        guard OpaqueSecret.isCredentialId(id, kind: .signedRequest), let record = try credential(id: id) else {
            if useCache { requestKeyCache[id] = (nil, nil) }
            return nil
        }
        let loaded = try Self.loadRequestKey(db, id: id, record: record, sealer: sealer, now: now)
        if useCache { requestKeyCache[id] = (loaded?.0, loaded?.validUntil) }
        return loaded?.0
    }

    /// True when the token id was revoked; the (small) revocation list is cached like the records.
    public func isRevoked(tokenId: String) throws -> Bool {
        if revoked == nil || !useCache {
            revoked = Set(try db.statement("SELECT jti FROM revoked_tokens").map { $0.text(0) })
        }
        return revoked!.contains(tokenId)
    }

    /// Groups, roles and resources, loaded once per committed change like the records.
    public func accessModel() throws -> AccessModel {
        if let model, useCache { return model }
        let loaded = try Store.accessModel(db, now: clock.now)
        model = loaded
        return loaded
    }

    /// The service `issuer` names, with its JWT secrets opened; cached like the records.
    public func service(issuer: String) throws -> ServiceRecord? {
        guard let sealer else { return nil }
        if useCache, let hit = services[issuer] { return hit }
        let loaded = try Store.serviceRecord(db, issuer: issuer, sealer: sealer)
        if useCache { services[issuer] = .some(loaded) }
        return loaded
    }

    /// Drops the caches when the generation stamp (or, once a second, `data_version`) says so:
    /// one 8-byte read per request.
    public func refresh() throws {
        guard useCache else { return }
        // Read the stamp before loading: a change committed meanwhile then shows on the next check.
        let stamp = changes.stamp
        var stale =
            stamp == nil || stamp != seenStamp || cache.count >= maxCached || services.count >= maxCached
            || requestKeyCache.count >= maxCached
        let now = clock.now
        if now >= nextBackstop {
            nextBackstop = now + 1
            let version = try db.dataVersion()
            stale = stale || version != seenDataVersion
            seenDataVersion = version
        }
        // An audience entry that ended (an approval's expiry) changes the model without a commit.
        if let end = model?.validUntil, now >= end { model = nil }
        if stale {
            cache.removeAll(keepingCapacity: true)
            services.removeAll(keepingCapacity: true)
            requestKeyCache.removeAll(keepingCapacity: true)
            revoked = nil
            model = nil
            seenStamp = stamp
        }
    }

    /// Loads one key. Stored scopes or networks that no longer parse refuse the lookup (the check
    /// answers 500) instead of silently widening the key to every path or address.
    private func load(_ id: String) throws -> CredentialRecord? {
        guard let schema = CredentialSchema.of(credentialId: id) else { return nil }
        return try db.statement(schema.lookupSQL).first([.text(id)]) { s in
            let scopeLines = Store.lines(s.text(7)), networkLines = Store.lines(s.text(8))
            let scopes = scopeLines.compactMap(PathScope.init), networks = networkLines.compactMap(CIDR.init)
            guard scopes.count == scopeLines.count, networks.count == networkLines.count else {
                throw StoreError(code: 1, message: "key \(id) has stored scopes or networks that do not parse")
            }
            return CredentialRecord(
                id: s.text(0), name: s.text(1), userName: s.text(2), userStatus: Status(rawValue: s.text(3)) ?? .disabled,
                status: Status(rawValue: s.text(4)) ?? .disabled, secretHash: s.blob(5), expiresAt: s.optionalInt64(6),
                scopes: scopes, allowedNetworks: networks, tokensValidAfter: s.optionalInt64(9), service: s.optionalText(12),
                previousSecretHash: s.isNull(10) ? nil : s.blob(10), previousValidUntil: s.optionalInt64(11))
        }
    }
}
