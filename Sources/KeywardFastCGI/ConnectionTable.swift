/// The connections no worker is serving: new ones still sending their request, kept-alive ones
/// between requests, and closing ones draining what their peer still sends.
///
/// A pure bookkeeping type (times in milliseconds, given by the caller) that the dispatcher thread
/// owns: which connections to watch and for what, when each must be given up, and which one to
/// drop when the table is full. Idle and half-sent connections therefore cost a table entry and a
/// file descriptor, never a worker.
struct ConnectionTable {
    enum State: Equatable {
        /// Waiting for a request: a new connection, or one kept alive between requests (`idle`).
        case awaiting(idle: Bool)
        /// Part of a request has arrived; look again at `retryAt` (peeking cannot wait for more
        /// bytes), then `backoff` ms later, doubling up to `maxBackoff`.
        case partial(retryAt: Int64, backoff: Int64)
        /// The response is sent and our side shut down; drain until the peer closes.
        case closing
    }

    struct Entry: Equatable {
        var state: State
        /// When the connection is given up: the head timeout, the idle timeout or the linger time.
        var deadline: Int64
        /// When it entered the table; the oldest goes first when the table is full.
        let since: Int64
    }

    /// What the dispatcher should wait for on a connection.
    enum Interest: Equatable {
        /// Readable: the first byte of a request, or bytes to drain.
        case readable
        /// Only a hang-up: bytes are already waiting, unconsumed (a partial head).
        case hangUp
    }

    let capacity: Int
    private(set) var entries: [Int32: Entry] = [:]

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// Adds a connection; returns the one dropped to make room (the oldest), if the table was full.
    mutating func add(_ fd: Int32, _ state: State, deadline: Int64, now: Int64) -> Int32? {
        var evicted: Int32? = nil
        if entries[fd] == nil && entries.count >= capacity, let oldest = entries.min(by: { $0.value.since < $1.value.since })?.key {
            entries[oldest] = nil
            evicted = oldest
        }
        entries[fd] = Entry(state: state, deadline: deadline, since: now)
        return evicted
    }

    mutating func remove(_ fd: Int32) { entries[fd] = nil }

    static let maxBackoff: Int64 = 256

    /// Records that part of a request has arrived: watch for a hang-up and look again after a
    /// backoff that doubles each time. An idle connection's first bytes start its head timeout.
    mutating func partial(_ fd: Int32, now: Int64, headTimeout: Int64) {
        guard var entry = entries[fd] else { return }
        var backoff: Int64 = 1
        switch entry.state {
        case .awaiting(idle: true): entry.deadline = now + headTimeout
        case .partial(_, let previous): backoff = min(previous * 2, Self.maxBackoff)
        case .awaiting(idle: false), .closing: break
        }
        entry.state = .partial(retryAt: now + backoff, backoff: backoff)
        entries[fd] = entry
    }

    /// The connections to poll and for what; partial ones whose retry time has come are listed
    /// separately, to be looked at again now.
    func watch(now: Int64) -> (poll: [(Int32, Interest)], due: [Int32]) {
        var poll: [(Int32, Interest)] = []
        var due: [Int32] = []
        poll.reserveCapacity(entries.count)
        for (fd, entry) in entries {
            switch entry.state {
            case .awaiting, .closing: poll.append((fd, .readable))
            case .partial(let retryAt, _):
                poll.append((fd, .hangUp))
                if retryAt <= now { due.append(fd) }
            }
        }
        return (poll, due)
    }

    /// Milliseconds until the next deadline or retry, at most `cap`; 0 when one has passed.
    func timeout(now: Int64, cap: Int64) -> Int64 {
        var next = now + cap
        for entry in entries.values {
            next = min(next, entry.deadline)
            if case .partial(let retryAt, _) = entry.state { next = min(next, retryAt) }
        }
        return max(0, next - now)
    }

    /// Removes and returns the connections whose deadline has passed, with the state they were in.
    mutating func expire(now: Int64) -> [(fd: Int32, state: State)] {
        let expired = entries.filter { $0.value.deadline <= now }
        for fd in expired.keys { entries[fd] = nil }
        return expired.map { ($0.key, $0.value.state) }
    }
}
