import Foundation
import KeywardCore

/// Takes usage facts and audit events from the workers and writes them in batches on its own
/// thread and connection, so no check waits on a write. `stop()` writes what is left (clean shutdown).
public final class BufferedWriter: UsageRecorder, AuditSink, @unchecked Sendable {
    private let path: String
    private let lock = Lock()
    private var usage: [String: UsageDelta] = [:]
    private var events: [AuditEvent] = []
    private var dropped = 0
    private let maxEvents = 50_000
    private let interval: TimeInterval
    private let wake = NSCondition()
    private var stopping = false
    private var thread: Thread?
    private let log: @Sendable (String) -> Void

    public init(path: String, interval: TimeInterval = 1.0, log: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.interval = interval
        self.log = log
    }

    public func recordUse(credential: String, at: Int64, from address: String?) {
        lock.withLock {
            if var d = usage[credential] {
                d.count += 1
                if at >= d.lastAt { d.lastAt = at; d.lastIP = address }
                usage[credential] = d
            } else {
                usage[credential] = UsageDelta(count: 1, lastAt: at, lastIP: address)
            }
        }
    }

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
        while thread != nil && !(thread!.isFinished) { usleep(5_000) }
        flush()
    }

    /// Writes what is buffered now.
    public func flush() {
        let (u, e, d) = lock.withLock { () -> ([String: UsageDelta], [AuditEvent], Int) in
            defer { usage.removeAll(keepingCapacity: true); events.removeAll(keepingCapacity: true); dropped = 0 }
            return (usage, events, dropped)
        }
        guard !u.isEmpty || !e.isEmpty || d > 0 else { return }
        do {
            let store = try writerStore()
            try store.applyUsage(u)
            var all = e
            if d > 0 {
                all.append(AuditEvent(at: e.last?.at ?? 0, actor: "keyward", action: "audit.dropped",
                                      detail: "\(d) events dropped: buffer full"))
            }
            try store.appendAudit(all)
        } catch {
            log("keyward[KW0201]: writing usage/audit failed: \(error)")
        }
    }

    private var store: Store?
    private func writerStore() throws -> Store {
        if let store { return store }
        let s = try Store(path: path)
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
