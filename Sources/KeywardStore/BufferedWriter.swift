import Foundation
import KeywardCore
import KeywardCrypto

/// Takes usage facts and audit events from the workers and writes them in batches on its own
/// thread and connection, so no check waits on a write. `stop()` writes what is left (clean shutdown);
/// a batch that fails to write (a busy database) is kept for the next attempt.
public final class BufferedWriter: AuditSink, @unchecked Sendable {
    private let path: String
    private let auditKey: [UInt8]
    private let lock = Lock()
    /// Serialises flushes: the flusher thread and `stop()` / CGI mode share one connection.
    private let flushing = NSLock()
    private var usage: [String: UsageDelta] = [:]
    private var events: [AuditEvent] = []
    private var dropped = 0
    private let maxEvents: Int
    private let interval: TimeInterval
    private let wake = NSCondition()
    private var stopping = false
    private var thread: Thread?
    private let log: @Sendable (String) -> Void

    /// A writer for the database at `path`, flushing every `interval` seconds once started; `log` gets failed writes.
    /// At most `limits.bufferedEvents` events wait; past that they are counted and the drop is audited.
    public init(
        path: String, auditKey: [UInt8], interval: TimeInterval = 1.0, limits: Limits = Limits(),
        log: @escaping @Sendable (String) -> Void
    ) {
        self.maxEvents = limits.bufferedEvents
        self.auditKey = auditKey
        self.path = path
        self.interval = interval
        self.log = log
    }

    private var buffers: [UsageBuffer] = []

    /// A usage buffer for one worker thread: its lock is contended only when the flusher drains it.
    public func makeUsageRecorder() -> UsageBuffer {
        let buffer = UsageBuffer()
        lock.withLock { buffers.append(buffer) }
        return buffer
    }

    /// Queues `event`; past 50,000 queued it counts drops instead, reported as `audit.dropped`.
    public func record(_ event: AuditEvent) {
        lock.withLock {
            if events.count < maxEvents { events.append(event) } else { dropped += 1 }
        }
    }

    /// Starts the background flusher.
    public func start() {
        let t = Thread { [self] in run() }
        t.name = "keyward-writer"
        thread = t
        t.start()
    }

    /// Flushes everything buffered and stops the flusher; returns once the last write is done.
    public func stop() {
        wake.lock()
        stopping = true
        wake.signal()
        wake.unlock()
        while thread != nil && !(thread!.isFinished) { Thread.sleep(forTimeInterval: 0.005) }
        flush()
    }

    /// Writes what is buffered now.
    public func flush() {
        flushing.lock()
        defer { flushing.unlock() }
        var (u, e, d, workers) = lock.withLock { () -> ([String: UsageDelta], [AuditEvent], Int, [UsageBuffer]) in
            defer {
                usage.removeAll(keepingCapacity: true)
                events.removeAll(keepingCapacity: true)
                dropped = 0
            }
            return (usage, events, dropped, buffers)
        }
        for worker in workers {
            for (id, delta) in worker.drain() { UsageBuffer.merge(&u, id, delta) }
        }
        guard !u.isEmpty || !e.isEmpty || d > 0 else { return }
        var all = e
        if d > 0 {
            all.append(
                AuditEvent(
                    at: e.last?.at ?? 0, actor: "keyward", action: "audit.dropped",
                    detail: "\(d) events dropped: buffer full"))
        }
        do {
            let store = try writerStore()
            try store.db.transaction {
                try store.applyUsage(u)
                try store.appendAudit(all)
            }
        } catch {
            log("keyward[KW0201]: writing usage/audit failed, will retry: \(error)")
            lock.withLock {
                for (id, delta) in u { UsageBuffer.merge(&usage, id, delta) }
                events = Array((all + events).prefix(maxEvents))
            }
        }
    }

    private var store: Store?
    private func writerStore() throws -> Store {
        if let store { return store }
        // Usage and audit rows decide nothing: no need to make every worker drop its cache.
        let s = try Store(path: path, announcesChanges: false)
        s.auditKey = HMACKey(auditKey)
        store = s
        return s
    }

    private func run() {
        while true {
            wake.lock()
            if !stopping { _ = wake.wait(until: Date().addingTimeInterval(interval)) }
            let done = stopping
            wake.unlock()
            if done { return }
            flush()
        }
    }
}

/// Uses of credentials counted by one worker since the last flush.
public final class UsageBuffer: UsageRecorder, @unchecked Sendable {
    private let lock = Lock()
    /// Serialises flushes: the flusher thread and `stop()` / CGI mode share one connection.
    private let flushing = NSLock()
    private var usage: [String: UsageDelta] = [:]

    /// Counts one use, keeping the time and address of the latest.
    public func recordUse(credential: String, at: Int64, from address: String?) {
        lock.withLock { Self.add(&usage, credential: credential, at: at, from: address) }
    }

    func drain() -> [String: UsageDelta] {
        lock.withLock {
            defer { usage.removeAll(keepingCapacity: true) }
            return usage
        }
    }

    static func add(_ usage: inout [String: UsageDelta], credential: String, at: Int64, from address: String?) {
        merge(&usage, credential, UsageDelta(count: 1, lastAt: at, lastIP: address))
    }

    static func merge(_ usage: inout [String: UsageDelta], _ id: String, _ delta: UsageDelta) {
        guard var d = usage[id] else {
            usage[id] = delta
            return
        }
        d.count += delta.count
        if delta.lastAt >= d.lastAt {
            d.lastAt = delta.lastAt
            d.lastIP = delta.lastIP
        }
        usage[id] = d
    }
}
