import KeywardCore

/// The check's view of the store: API keys by public id, cached per connection.
///
/// The cache is dropped whenever a change has been committed by any process, as the shared
/// `Generation` stamp reports (or, without one, `PRAGMA data_version`), so a disable, delete or
/// grant change is seen on the very next request without waiting out a TTL. One per worker thread.
public final class KeyLookup: ApiKeyLookup {
    private let db: Connection
    private var cache: [String: ApiKeyRecord?] = [:]
    private var seenVersion: UInt64? = nil
    private let useCache: Bool
    private let generation: Generation?
    private let maxCached = 10_000

    /// Opens a read connection to `path`; `cache: false` measures the uncached path.
    public init(path: String, cache: Bool = true) throws {
        db = try Connection(path: path)
        useCache = cache
        generation = Generation(databasePath: path, create: true)
    }

    public func apiKey(id: String) throws -> ApiKeyRecord? {
        guard useCache else { return try load(id) }
        // Read the stamp before loading: a change committed meanwhile then shows on the next check.
        let version = try generation?.current ?? UInt64(bitPattern: db.dataVersion())
        if version != seenVersion || cache.count >= maxCached {
            cache.removeAll(keepingCapacity: true)
            seenVersion = version
        }
        if let hit = cache[id] { return hit }
        let record = try load(id)
        cache[id] = .some(record)
        return record
    }

    private func load(_ id: String) throws -> ApiKeyRecord? {
        try db.statement("""
            SELECT k.id, k.name, u.name, u.status, k.status, k.secret_hash, k.expires_at, k.scopes, k.allow_ips
            FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?
            """).first([.text(id)]) { s in ApiKeyRecord(
            id: s.text(0), name: s.text(1), userName: s.text(2), userStatus: Status(rawValue: s.text(3)) ?? .disabled,
            status: Status(rawValue: s.text(4)) ?? .disabled, secretHash: s.blob(5), expiresAt: s.optionalInt64(6),
            scopes: Store.lines(s.text(7)).compactMap(PathScope.init),
            allowedNetworks: Store.lines(s.text(8)).compactMap(CIDR.init)) }
    }
}
