/// Counts failed checks per client address in fixed windows and refuses an address that has had
/// too many, before any credential work is done for it.
///
/// Sharded by address so concurrent checks rarely wait on one another's lock.
public final class FailureThrottle: @unchecked Sendable {
    private struct Window { var start: Int64; var failures: Int }
    private final class Shard {
        let lock = Lock()
        var windows: [String: Window] = [:]
    }
    private let shards = (0..<16).map { _ in Shard() }
    private let limit: Int
    private let windowSeconds: Int64
    /// Bound on tracked addresses per shard; past it, finished windows are dropped.
    private let maxTracked = 4_096

    /// At most `limit` failures per fixed window of `windowSeconds` (at least 1); `limit` <= 0 turns it off.
    public init(limit: Int, windowSeconds: Int64) {
        self.limit = limit
        self.windowSeconds = max(1, windowSeconds)
    }

    private func shard(_ address: String) -> Shard {
        var h: UInt32 = 2_166_136_261  // FNV-1a: stable and cheap; no need for a seeded hash here
        for b in address.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return shards[Int(h % UInt32(shards.count))]
    }

    /// Seconds the address must wait, or nil when it may try.
    public func retryAfter(_ address: String, now: Int64) -> Int64? {
        guard limit > 0 else { return nil }
        let s = shard(address)
        return s.lock.withLock {
            guard let w = s.windows[address], now - w.start < windowSeconds, w.failures >= limit else { return nil }
            return w.start + windowSeconds - now
        }
    }

    /// Counts one failure for the address.
    public func recordFailure(_ address: String, now: Int64) {
        guard limit > 0 else { return }
        let s = shard(address)
        s.lock.withLock {
            if s.windows.count >= maxTracked && s.windows[address] == nil {
                s.windows = s.windows.filter { now - $0.value.start < windowSeconds }
                // Still full of running windows: keep counting those rather than let a flood of new
                // addresses wipe them; the newcomer goes untracked until a window ends.
                if s.windows.count >= maxTracked { return }
            }
            if let w = s.windows[address], now - w.start < windowSeconds {
                s.windows[address]!.failures = w.failures + 1
            } else {
                s.windows[address] = Window(start: now, failures: 1)
            }
        }
    }
}
