import KeywardCrypto

/// Where a password sign-in comes from, as far as the account it names is concerned.
public enum SignInStanding: Sendable, Equatable {
    /// It presented a device cookie issued when this account signed in from it (the cookie's
    /// random id here), and that device is not over its own failure limit.
    case device(String)
    /// Its client (address, or the /64 of an IPv6 one) signed in to this account within the trust period.
    case knownClient
    /// Neither: anyone, the attacker included.
    case stranger
}

/// When a password sign-in may go on to the (expensive) password hash, and what a failure counts
/// against; the rules OWASP's "device cookies" describe, as a plain function of values and `now`.
///
/// - A **stranger** is held to three limits: its client's failures of every kind (the shared
///   `FailureThrottle`, so one address spraying many accounts stops), its failures for this
///   account (`perClientLimit`), and the account's failures from all strangers together
///   (`accountLimit`, so many addresses guessing one password stop too).
/// - A client that has **proven itself for this account** (a device cookie from an earlier
///   sign-in, or an address that signed in recently) is held to its own failures for the account
///   alone. The account limit exists to stop strangers; applied to everybody it would hand any
///   attacker a way to lock the owner out, from as many addresses as they like.
///
/// Every limit is checked before the hash, so a refusal is cheap. Accounts are counted by name,
/// whether or not such a user exists: an unknown name is throttled exactly like a real one, and
/// the answers say nothing about which names exist. State is in memory: a restart forgets the
/// counts and the known addresses (device cookies outlive it; they are signed, not stored).
public final class SignInThrottle: @unchecked Sendable {
    /// The shared per-client counts (checks, token endpoints, API keys and sign-ins alike).
    public let clients: FailureThrottle
    /// Failures for one account from one client or device, per window.
    private let perClient: FailureCounter<Tag>
    /// Failures for one account from strangers, per window.
    private let accounts: FailureCounter<Tag>
    /// How long a successful sign-in makes its client known to the account, in seconds.
    public let trustSeconds: Int64
    private let lock = Lock()
    private var known: [Tag: Int64] = [:]
    private let maxKnown: Int

    /// Limits of `perClientLimit` failures for one account from one client or device and
    /// `accountLimit` from strangers altogether, per window of `windowSeconds`; a client is known
    /// for `trustSeconds` after a successful sign-in. `accountLimit` <= 0 turns the account and
    /// per-client limits off.
    public init(
        clients: FailureThrottle, perClientLimit: Int, accountLimit: Int, windowSeconds: Int64,
        trustSeconds: Int64, maxKnown: Int = 65_536
    ) {
        self.clients = clients
        let on = accountLimit > 0
        perClient = FailureCounter(limit: on ? max(1, perClientLimit) : 0, windowSeconds: windowSeconds)
        accounts = FailureCounter(limit: on ? accountLimit : 0, windowSeconds: windowSeconds)
        self.trustSeconds = max(0, trustSeconds)
        self.maxKnown = max(1, maxKnown)
    }

    /// `limits`' sign-in limits, with the account limit and the window of `clients` (`--failure-limit`
    /// and `--failure-window`), so that turning that throttle off turns these off too.
    public convenience init(clients: FailureThrottle, limits: Limits) {
        self.init(
            clients: clients, perClientLimit: limits.signInFailuresPerClient, accountLimit: clients.limit,
            windowSeconds: clients.windowSeconds, trustSeconds: limits.signInTrustSeconds,
            maxKnown: limits.knownSignInClients)
    }

    /// The standing of a sign-in for `account` from `address`, presenting the verified device id
    /// `device` (nil: no valid device cookie). A device over its own limit is a stranger again.
    public func standing(account: String, address: String?, device: String?, now: Int64) -> SignInStanding {
        if let device, perClient.retryAfter(Tag("device", account, device), now: now) == nil { return .device(device) }
        if let address, trustSeconds > 0 {
            let tag = Tag("client", account, ClientAddress.key(address))
            let seen = lock.withLock { known[tag] }
            if let seen, now - seen < trustSeconds { return .knownClient }
        }
        return .stranger
    }

    /// Seconds to wait before this sign-in may be tried, or nil when it may go on to the hash.
    public func retryAfter(account: String, address: String?, standing: SignInStanding, now: Int64) -> Int64? {
        switch standing {
        case .device(let id):
            return perClient.retryAfter(Tag("device", account, id), now: now)
        case .knownClient:
            return address.flatMap { perClient.retryAfter(Tag("client", account, ClientAddress.key($0)), now: now) }
        case .stranger:
            let waits = [
                address.flatMap { clients.retryAfter($0, now: now) },
                address.flatMap { perClient.retryAfter(Tag("client", account, ClientAddress.key($0)), now: now) },
                accounts.retryAfter(Tag("account", account), now: now),
            ]
            return waits.compactMap { $0 }.max()
        }
    }

    /// Counts a wrong password (or an unknown or disabled user) against what the standing is held to.
    public func recordFailure(account: String, address: String?, standing: SignInStanding, now: Int64) {
        switch standing {
        case .device(let id):
            perClient.record(Tag("device", account, id), now: now)
        case .knownClient:
            if let address { perClient.record(Tag("client", account, ClientAddress.key(address)), now: now) }
        case .stranger:
            if let address {
                clients.recordFailure(address, now: now)
                perClient.record(Tag("client", account, ClientAddress.key(address)), now: now)
            }
            accounts.record(Tag("account", account), now: now)
        }
    }

    /// A correct password: the client is known to the account from now on (for `trustSeconds`),
    /// and its own failures for the account, and those of the device it presented, are forgotten.
    /// The account's count from strangers is not: someone else may still be guessing.
    public func recordSuccess(account: String, address: String?, device: String?, now: Int64) {
        if let device { perClient.reset(Tag("device", account, device)) }
        guard let address else { return }
        let tag = Tag("client", account, ClientAddress.key(address))
        perClient.reset(tag)
        guard trustSeconds > 0 else { return }
        lock.withLock {
            if known.count >= maxKnown && known[tag] == nil {
                known = known.filter { now - $0.value < trustSeconds }
                // Still full of live entries: the oldest half makes room.
                if known.count >= maxKnown {
                    let cut = known.values.sorted()[known.count / 2]
                    known = known.filter { $0.value > cut }
                }
            }
            known[tag] = now
        }
    }

    /// 128 bits of SHA-256 over the parts: a fixed-size key however long the account name.
    struct Tag: Hashable, Sendable {
        let high: UInt64
        let low: UInt64
        init(_ parts: String...) {
            // Length-prefixed parts: two different lists never hash the same text.
            let digest = Digest.sha256(parts.map { "\($0.utf8.count):\($0)" }.joined(separator: "\u{0}"))
            high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }
}
