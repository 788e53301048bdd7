/// The nonces of signed requests seen while their signatures are fresh, shared by every worker
/// thread of the process, so a signature with a `nonce` (RFC 9421 §2.3, §7.2.2) is accepted once.
///
/// An entry is kept until the signature it came from falls out of the `created` window (its
/// `until`), then forgotten: by then the window refuses the signature anyway. Memory is bounded:
/// at most `capacity` entries (16 shards, each a dictionary of 64-bit keyed hashes to expiry,
/// about 40 bytes an entry). A shard that fills up first forgets its expired entries; when it is
/// still full, new nonces are refused (the check answers 429 until entries expire) instead of
/// forgetting live ones, which would let their requests be replayed. Only verified signatures
/// reach the cache, so only holders of a credential can fill it.
public final class NonceCache: @unchecked Sendable {
    /// What `admit` decided.
    public enum Admission: Sendable, Equatable {
        /// First time seen: recorded.
        case fresh
        /// Seen before, and still fresh: a replay.
        case replayed
        /// The cache is full of live entries; the earliest frees up after this many seconds.
        case full(retryAfter: Int64)
    }

    private final class Shard {
        let lock = Lock()
        var expiries: [Int: Int64] = [:]
        var nextSweep: Int64 = 0
    }

    private let shards = (0..<16).map { _ in Shard() }
    /// Entries allowed in all.
    public let capacity: Int
    private let perShard: Int

    /// A cache of at most `capacity` live nonces (at least 16).
    public init(capacity: Int) {
        self.capacity = max(16, capacity)
        perShard = self.capacity / 16
    }

    /// Records that `credential` used `nonce` in a signature valid until `until` (Unix seconds);
    /// answers whether it was the first time.
    public func admit(credential: String, nonce: String, until: Int64, now: Int64) -> Admission {
        // The process's seeded hash (SipHash): not guessable from outside, so collisions cannot be
        // aimed; a chance one costs one client one retry.
        var hasher = Hasher()
        hasher.combine(credential)
        hasher.combine(nonce)
        let key = hasher.finalize()
        let shard = shards[Int(UInt(bitPattern: key) % UInt(shards.count))]
        return shard.lock.withLock {
            if let seen = shard.expiries[key], seen > now { return .replayed }
            if shard.expiries.count >= perShard || now >= shard.nextSweep {
                shard.expiries = shard.expiries.filter { $0.value > now }
                shard.nextSweep = now + 60
                if shard.expiries.count >= perShard {
                    return .full(retryAfter: max(1, (shard.expiries.values.min() ?? now + 1) - now))
                }
            }
            shard.expiries[key] = until
            return .fresh
        }
    }

    /// Live entries, for tests and metrics.
    public func count(now: Int64) -> Int {
        shards.reduce(0) { total, shard in total + shard.lock.withLock { shard.expiries.values.count(where: { $0 > now }) } }
    }
}
