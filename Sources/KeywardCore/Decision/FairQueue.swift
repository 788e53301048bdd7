/// Who gets one of a few expensive slots (password hashing), so that a flood from some clients
/// cannot starve the others. The bookkeeping only, as a value: the caller holds the lock and does
/// the waiting.
///
/// - Up to `slots` run at once. A newcomer runs at once only when a slot is free and nobody waits.
/// - Up to `maxWaiting` wait; each one is a worker thread the checks cannot use meanwhile, which is
///   why the list is short and a newcomer that finds it full is refused rather than queued.
/// - Unless it deserves its place more than someone already waiting: a **priority** newcomer (a
///   client that has proven itself for the account) takes the place of a waiter that has none, and
///   any newcomer takes the place of a waiter whose client holds at least two more places (running
///   or waiting) than its own. The one displaced is told so and answers 429 at once.
/// - A freed slot goes to the first priority waiter, else to the waiter whose client runs the
///   fewest, the earliest among equals. So one client cannot keep both slots while others wait.
public struct FairQueue: Sendable {
    /// One request's place.
    public struct Ticket: Hashable, Sendable {
        let number: UInt64
    }

    /// What a newcomer is told.
    public enum Admission: Sendable, Equatable {
        /// Take the slot now.
        case run
        /// Wait until `isRunning` (or until no longer `isWaiting`: displaced).
        case wait
        /// No place: answer at once.
        case refused
    }

    private struct Entry {
        let ticket: Ticket
        let client: String
        let priority: Bool
    }

    /// Slots that run at once.
    public let slots: Int
    /// Requests that may wait for a slot.
    public let maxWaiting: Int
    private var running: [Entry] = []
    private var waiting: [Entry] = []  // in arrival order
    private var issued: UInt64 = 0

    /// `slots` (at least 1) run, `maxWaiting` (at least 0) wait.
    public init(slots: Int, maxWaiting: Int) {
        self.slots = max(1, slots)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// A newcomer from `client` (its canonical address key); `priority` when it has proven itself.
    /// `displaced` is a waiter that lost its place to it.
    public mutating func arrive(client: String, priority: Bool) -> (ticket: Ticket, admission: Admission, displaced: Ticket?) {
        issued += 1
        let entry = Entry(ticket: Ticket(number: issued), client: client, priority: priority)
        if running.count < slots && waiting.isEmpty {
            running.append(entry)
            return (entry.ticket, .run, nil)
        }
        if waiting.count < maxWaiting {
            waiting.append(entry)
            return (entry.ticket, .wait, nil)
        }
        let mine = places(client)
        // Among the waiters that yield to the newcomer, the least deserving: no priority first,
        // then the client holding most places, then the latest to come.
        let victim = waiting.indices.filter { i in
            let w = waiting[i]
            return (priority && !w.priority) || (priority == w.priority && places(w.client) >= mine + 2)
        }.max { a, b in
            (waiting[a].priority ? 0 : 1, places(waiting[a].client), a) < (waiting[b].priority ? 0 : 1, places(waiting[b].client), b)
        }
        guard let victim else { return (entry.ticket, .refused, nil) }
        let displaced = waiting.remove(at: victim).ticket
        waiting.append(entry)
        return (entry.ticket, .wait, displaced)
    }

    /// The running `ticket` is done; the waiter that now runs in its slot, if any.
    public mutating func finish(_ ticket: Ticket) -> Ticket? {
        guard let i = running.firstIndex(where: { $0.ticket == ticket }) else {
            abandon(ticket)
            return nil
        }
        running.remove(at: i)
        guard !waiting.isEmpty else { return nil }
        let next =
            waiting.firstIndex(where: \.priority)
            ?? waiting.indices.min { a, b in runs(waiting[a].client) < runs(waiting[b].client) }!
        let entry = waiting.remove(at: next)
        running.append(entry)
        return entry.ticket
    }

    /// A waiter gives up (its deadline passed); nothing if it is no longer waiting.
    public mutating func abandon(_ ticket: Ticket) {
        waiting.removeAll { $0.ticket == ticket }
    }

    /// True while `ticket` holds a slot.
    public func isRunning(_ ticket: Ticket) -> Bool { running.contains { $0.ticket == ticket } }
    /// True while `ticket` waits for one.
    public func isWaiting(_ ticket: Ticket) -> Bool { waiting.contains { $0.ticket == ticket } }
    /// Requests holding a slot.
    public var runningCount: Int { running.count }
    /// Requests waiting.
    public var waitingCount: Int { waiting.count }

    private func runs(_ client: String) -> Int { running.reduce(0) { $0 + ($1.client == client ? 1 : 0) } }
    private func places(_ client: String) -> Int { runs(client) + waiting.reduce(0) { $0 + ($1.client == client ? 1 : 0) } }
}
