/// Counts failed checks per client address in fixed windows and refuses an address that has had
/// too many, before any credential work is done for it.
public final class FailureThrottle: @unchecked Sendable {
    private struct Window { var start: Int64; var failures: Int }
    private let lock = Lock()
    private var windows: [String: Window] = [:]
    private let limit: Int
    private let windowSeconds: Int64
    /// Bound on tracked addresses; past it, finished windows are dropped.
    private let maxTracked = 65_536

    public init(limit: Int, windowSeconds: Int64) {
        self.limit = limit
        self.windowSeconds = max(1, windowSeconds)
    }

    /// Seconds the address must wait, or nil when it may try.
    public func retryAfter(_ address: String, now: Int64) -> Int64? {
        guard limit > 0 else { return nil }
        return lock.withLock {
            guard let w = windows[address], now - w.start < windowSeconds, w.failures >= limit else { return nil }
            return w.start + windowSeconds - now
        }
    }

    /// Counts one failure for the address.
    public func recordFailure(_ address: String, now: Int64) {
        guard limit > 0 else { return }
        lock.withLock {
            if windows.count >= maxTracked {
                windows = windows.filter { now - $0.value.start < windowSeconds }
                if windows.count >= maxTracked { windows.removeAll(keepingCapacity: true) }
            }
            if let w = windows[address], now - w.start < windowSeconds {
                windows[address]!.failures = w.failures + 1
            } else {
                windows[address] = Window(start: now, failures: 1)
            }
        }
    }
}
