/// Failures per key in fixed windows: the counting under every throttle. Pure: time comes in as
/// `now` (Unix seconds), so every rule built on it is a function of values.
///
/// Sharded by key so concurrent workers rarely wait on one another's lock, and bounded: past
/// `maxTracked` keys per shard, finished windows are dropped first; if the shard is still full of
/// running windows, those keep counting and a newcomer goes uncounted until one ends, so a flood
/// of fresh keys cannot wipe the counts that matter.
public final class FailureCounter<Key: Hashable & Sendable>: @unchecked Sendable {
    private struct Window {
        var start: Int64
        var failures: Int
        var refusals = 0
    }
    private final class Shard {
        let lock = Lock()
        var windows: [Key: Window] = [:]
    }
    private let shards = (0..<16).map { _ in Shard() }
    /// Failures allowed per window; at or past it the key must wait. At most 0: never.
    public let limit: Int
    /// The window, in seconds.
    public let windowSeconds: Int64
    private let maxTracked: Int

    /// At most `limit` failures per fixed window of `windowSeconds` (at least 1); `limit` <= 0
    /// counts nothing and never asks anyone to wait.
    public init(limit: Int, windowSeconds: Int64, maxTracked: Int = 4_096) {
        self.limit = limit
        self.windowSeconds = max(1, windowSeconds)
        self.maxTracked = max(1, maxTracked)
    }

    private func shard(_ key: Key) -> Shard {
        // The process's seeded hash: stable for the process, not guessable from outside.
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// Seconds `key` must wait, or nil when it may try.
    public func retryAfter(_ key: Key, now: Int64) -> Int64? {
        guard limit > 0 else { return nil }
        let s = shard(key)
        return s.lock.withLock {
            guard let w = s.windows[key], now - w.start < windowSeconds, w.failures >= limit else { return nil }
            return max(1, w.start + windowSeconds - now)
        }
    }

    /// Failures counted for `key` in its running window.
    public func failures(_ key: Key, now: Int64) -> Int {
        let s = shard(key)
        return s.lock.withLock {
            guard let w = s.windows[key], now - w.start < windowSeconds else { return 0 }
            return w.failures
        }
    }

    /// Counts one failure for `key`.
    public func record(_ key: Key, now: Int64) {
        guard limit > 0 else { return }
        let s = shard(key)
        s.lock.withLock {
            if s.windows.count >= maxTracked && s.windows[key] == nil {
                s.windows = s.windows.filter { now - $0.value.start < windowSeconds }
                if s.windows.count >= maxTracked { return }
            }
            if let w = s.windows[key], now - w.start < windowSeconds {
                s.windows[key]!.failures = w.failures + 1
            } else {
                s.windows[key] = Window(start: now, failures: 1)
            }
        }
    }

    /// Counts one refusal of `key` while it is past its limit; the refusals of its running window so
    /// far (1 for the first, and 1 when `key` has no running window).
    public func recordRefusal(_ key: Key, now: Int64) -> Int {
        let s = shard(key)
        return s.lock.withLock {
            guard let w = s.windows[key], now - w.start < windowSeconds else { return 1 }
            s.windows[key]!.refusals = w.refusals + 1
            return w.refusals + 1
        }
    }

    /// Forgets `key`'s failures (its owner has just proven itself).
    public func reset(_ key: Key) {
        let s = shard(key)
        s.lock.withLock { _ = s.windows.removeValue(forKey: key) }
    }
}

/// Counts failed attempts per client and says when a client is over its limit.
///
/// A client is its canonical address (`ClientAddress.key`): `2001:DB8::5`, `2001:db8:0::5` and
/// any other address of that /64 are one client, `::ffff:198.51.100.5` and `198.51.100.5` too.
///
/// Being over the limit does not shut a client out. What the limit changes is the answer to a
/// credential that does not prove itself: 429 with `Retry-After` instead of 401. Cheap
/// credentials (API keys and client secrets, an HMAC and a lookup; tokens, a signature check)
/// are still verified, so a valid one from a shared address (NAT, proxy, a neighbour with a
/// broken client) is served as usual while a guesser learns no more, and pays no more, than a
/// lookup. Password sign-ins, which cost an scrypt each, are refused before the hash instead
/// (see `SignInThrottle`).
public final class FailureThrottle: @unchecked Sendable {
    private let counter: FailureCounter<String>
    /// Failures allowed per client per window; 0: the throttle is off.
    public var limit: Int { counter.limit }
    /// The window, in seconds.
    public var windowSeconds: Int64 { counter.windowSeconds }

    /// At most `limit` failures per fixed window of `windowSeconds` (at least 1); `limit` <= 0 turns it off.
    public init(limit: Int, windowSeconds: Int64) {
        counter = FailureCounter(limit: limit, windowSeconds: windowSeconds)
    }

    /// The throttle `limits` configure: `failuresPerWindow` per `failureWindowSeconds`, tracking
    /// `throttledClients` clients per shard.
    public init(limits: Limits) {
        counter = FailureCounter(
            limit: limits.failuresPerWindow, windowSeconds: limits.failureWindowSeconds,
            maxTracked: limits.throttledClients)
    }

    /// Seconds the client at `address` must wait, or nil when it is under its limit.
    public func retryAfter(_ address: String, now: Int64) -> Int64? {
        counter.retryAfter(ClientAddress.key(address), now: now)
    }

    /// Counts one failure for the client at `address`.
    public func recordFailure(_ address: String, now: Int64) {
        counter.record(ClientAddress.key(address), now: now)
    }

    /// Counts one 429 answered to the client at `address` and says whether to audit it: the 1st,
    /// 2nd, 4th, 8th... of the client's window (the number is returned for the record), so a flood
    /// writes about twenty audit rows per client and window instead of one per request. Under its
    /// limit a client's refusals are all audited, and there are at most `limit` of them.
    public func auditedRefusal(_ address: String, now: Int64) -> Int? {
        let n = counter.recordRefusal(ClientAddress.key(address), now: now)
        return n & (n - 1) == 0 ? n : nil
    }
}
