/// Wall-clock time in Unix seconds; injected so every rule is testable with fixed values.
public protocol Clock: Sendable {
    var now: Int64 { get }
}

/// Looks API keys up by public id. One instance per worker thread; need not be Sendable.
public protocol ApiKeyLookup {
    /// The key and its owner, or nil when no key has this id. Throws only on infrastructure failure.
    func apiKey(id: String) throws -> ApiKeyRecord?
}

/// Receives the facts of successful uses without making the check wait for a write.
public protocol UsageRecorder: Sendable {
    func recordUse(credential: String, at: Int64, from address: String?)
}

/// Receives audit events; implementations buffer and write them off the request path.
public protocol AuditSink: Sendable {
    func record(_ event: AuditEvent)
}

/// A clock fixed at a value, for tests and the in-process benchmark.
public struct FixedClock: Clock {
    public var now: Int64
    public init(_ now: Int64) { self.now = now }
}

/// An in-memory key table, for tests and the in-process benchmark.
public final class InMemoryKeys: ApiKeyLookup {
    public var records: [String: ApiKeyRecord]
    public init(_ records: [ApiKeyRecord] = []) {
        self.records = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
    }
    public func apiKey(id: String) throws -> ApiKeyRecord? { records[id] }
}

/// Discards usage and audit; collects them when asked to (tests).
public final class CollectingSink: UsageRecorder, AuditSink, @unchecked Sendable {
    private let lock = Lock()
    private var _events: [AuditEvent] = []
    private var _uses: [String] = []
    public init() {}
    public func recordUse(credential: String, at: Int64, from address: String?) { lock.withLock { _uses.append(credential) } }
    public func record(_ event: AuditEvent) { lock.withLock { _events.append(event) } }
    public var events: [AuditEvent] { lock.withLock { _events } }
    public var uses: [String] { lock.withLock { _uses } }
}
