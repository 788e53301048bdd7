import Foundation

/// A non-recursive mutex for the few places shared state is touched from many worker threads.
public final class Lock: @unchecked Sendable {
    private let lock = NSLock()
    /// A new, unlocked mutex.
    public init() {}
    /// Runs `body` while holding the lock.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
