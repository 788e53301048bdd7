import KeywardCrypto
import Testing

@testable import KeywardCore

/// A lookup that counts what the check asks of the store.
final class CountingKeys: CredentialLookup {
    let inner: InMemoryKeys
    var refreshes = 0
    var lookups = 0
    init(_ records: [CredentialRecord]) { inner = InMemoryKeys(records) }
    func refresh() throws { refreshes += 1 }
    func credential(id: String) throws -> CredentialRecord? {
        lookups += 1
        return try inner.credential(id: id)
    }
    func isRevoked(tokenId: String) throws -> Bool { try inner.isRevoked(tokenId: tokenId) }
    func accessModel() throws -> AccessModel { try inner.accessModel() }
}

/// Issue 8, item 5: one client is one count however its address is written (IPv6 per /64).
@Suite struct ClientKeyTests {
    @Test(arguments: [
        "2001:DB8::5", "2001:db8:0::5", "2001:0db8:0000:0000:0000:0000:0000:0005", "2001:db8::ffff:1:2",
        "2001:db8:0:0:1:2:3:4",
    ])
    func ipv6CountsPerSlash64(_ text: String) {
        #expect(ClientAddress.key(text) == "2001:db8:0:0::/64")
    }

    @Test(arguments: ["198.51.100.5", "::ffff:198.51.100.5", "::FFFF:198.51.100.5", "::ffff:c633:6405", "0:0:0:0:0:ffff:c633:6405"])
    func ipv4AndIPv4MappedAreOne(_ text: String) {
        #expect(ClientAddress.key(text) == "198.51.100.5")
    }

    @Test func othersStayApart() {
        #expect(ClientAddress.key("2001:db8:0:1::5") == "2001:db8:0:1::/64")
        #expect(ClientAddress.key("198.51.100.6") == "198.51.100.6")
        #expect(ClientAddress.key("::1") == "0:0:0:0::/64")
        #expect(ClientAddress.key(ClientAddress.unparseable) == ClientAddress.unparseable)
        #expect(ClientAddress.key("unix:") == "unix:")
    }

    @Test func theThrottleCountsTheCanonicalClient() {
        let t = FailureThrottle(limit: 3, windowSeconds: 60)
        t.recordFailure("2001:DB8::5", now: 0)
        t.recordFailure("2001:db8:0::5", now: 0)
        #expect(t.retryAfter("2001:db8::77", now: 0) == nil)
        t.recordFailure("2001:db8::ffff:1", now: 0)
        #expect(t.retryAfter("2001:db8::5", now: 10) == 50)
        #expect(t.retryAfter("2001:db8:0:1::5", now: 10) == nil)  // the next /64 is someone else

        let v4 = FailureThrottle(limit: 2, windowSeconds: 60)
        v4.recordFailure("::ffff:198.51.100.5", now: 0)
        v4.recordFailure("198.51.100.5", now: 0)
        #expect(v4.retryAfter("::FFFF:c633:6405", now: 0) == 60)
    }
}

@Suite struct FailureCounterTests {
    @Test func countsInFixedWindowsAndForgets() {
        let c = FailureCounter<String>(limit: 2, windowSeconds: 60)
        c.record("a", now: 100)
        #expect(c.retryAfter("a", now: 100) == nil)
        c.record("a", now: 130)
        #expect(c.failures("a", now: 130) == 2)
        #expect(c.retryAfter("a", now: 130) == 30)
        #expect(c.retryAfter("a", now: 160) == nil)  // the window ended
        c.record("b", now: 0)
        c.record("b", now: 0)
        c.reset("b")
        #expect(c.retryAfter("b", now: 0) == nil && c.failures("b", now: 0) == 0)
    }

    @Test func offAtZero() {
        let c = FailureCounter<String>(limit: 0, windowSeconds: 60)
        for _ in 0..<10 { c.record("a", now: 0) }
        #expect(c.retryAfter("a", now: 0) == nil)
    }

    @Test func aFloodOfNewKeysDoesNotWipeRunningCounts() {
        let c = FailureCounter<Int>(limit: 2, windowSeconds: 60, maxTracked: 4)
        c.record(0, now: 0)
        c.record(0, now: 0)
        for k in 1..<1_000 { c.record(k, now: 1) }
        #expect(c.retryAfter(0, now: 2) == 58)
    }
}

/// Over its failure limit a client's cheap credentials are still verified: valid ones are served.
@Suite struct ThrottledCheckTests {
    let pepper = HMACKey(Array(repeating: 3, count: 32))
    let secret = OpaqueSecret.generate(.apiKey)
    let disabled = OpaqueSecret.generate(.apiKey)
    let clock = MovableClock(5_000)
    let sink = CollectingSink()

    func setUp(limit: Int = 3) -> (Authenticator, CountingKeys) {
        func record(_ s: OpaqueSecret, _ status: Status) -> CredentialRecord {
            CredentialRecord(
                id: s.id, name: "n", userName: "alice", userStatus: .active, status: status,
                secretHash: s.hash(with: pepper), expiresAt: nil, scopes: [PathScope("/api/")!], allowedNetworks: [])
        }
        let keys = CountingKeys([record(secret, .active), record(disabled, .disabled)])
        var limits = Limits()
        limits.failuresPerWindow = limit
        return (
            Authenticator(
                keys: keys, pepper: pepper, clock: clock, usage: sink, audit: sink,
                throttle: FailureThrottle(limit: limit, windowSeconds: 60), limits: limits), keys
        )
    }

    func request(_ auth: String?, ip: String = "2001:db8::5", path: String = "/api/x") -> CheckRequest {
        CheckRequest(
            method: "GET", path: PathNormalizer.normalize(requestURI: path, limits: Limits()), remoteAddress: ip,
            authorization: auth)
    }

    @Test func validCredentialsPassBadOnesGet429() throws {
        let (a, keys) = setUp()
        let unknown = OpaqueSecret.generate(.apiKey)
        for ip in ["2001:DB8::5", "2001:db8:0::5", "2001:db8::9"] {  // one /64: one client
            #expect(try a.check(request("Bearer \(unknown.token)", ip: ip)) == .deny(Denial(.invalidCredential, credential: unknown.id)))
        }
        // Past the limit: the valid key is served, from any spelling of the address.
        for ip in ["2001:db8::5", "2001:DB8:0:0::1"] {
            #expect(
                try a.check(request("Bearer \(secret.token)", ip: ip))
                    == .allow(Identity(user: "alice", subject: "alice", credential: secret.id, method: .apiKey, scopes: ["/api/"])))
        }
        // A well-formed key that does not verify: 429, after one lookup.
        let before = keys.lookups
        let wrong = OpaqueSecret.generate(.apiKey, publicId: String(secret.id.dropFirst(4)))
        #expect(try a.check(request("Bearer \(wrong.token)")) == .deny(Denial(.tooManyFailures, credential: secret.id, retryAfter: 60)))
        #expect(keys.lookups == before + 1)
        // Garbage (a typo fails the CRC32): 429 without touching the store at all.
        let (refreshes, lookups) = (keys.refreshes, keys.lookups)
        var typo = Array(secret.token)
        typo[30] = typo[30] == "A" ? "B" : "A"
        for garbage in ["Bearer \(String(typo))", "Bearer kwk_nope", "Bearer a.b.c", "x"] {
            if case .deny(let d) = try a.check(request(garbage)), d.reason == .tooManyFailures, d.retryAfter == 60 {
            } else {
                Issue.record("\(garbage) was not refused with 429")
            }
        }
        #expect(keys.refreshes == refreshes + 1 && keys.lookups == lookups)  // only the JWT path refreshed (no verifier)
        // A genuine but disabled key is no guess: it gets its own answer; so does a path out of scope.
        #expect(try a.check(request("Bearer \(disabled.token)")) == .deny(Denial(.credentialDisabled, credential: disabled.id, user: "alice")))
        #expect(
            try a.check(request("Bearer \(secret.token)", path: "/other/")) == .deny(Denial(.pathNotAllowed, credential: secret.id, user: "alice")))
        // No credential is no attempt.
        #expect(try a.check(request(nil)) == .deny(Denial(.missingCredential)))
        // Other clients are untouched; the window ends.
        #expect(try a.check(request("Bearer \(wrong.token)", ip: "2001:db8:0:1::5")) == .deny(Denial(.invalidCredential, credential: secret.id)))
        clock.now += 60
        #expect(try a.check(request("Bearer \(wrong.token)")) == .deny(Denial(.invalidCredential, credential: secret.id)))
        // Every refusal is audited, the 429s with the credential id they named.
        #expect(sink.events.contains { $0.reason == "too_many_failures" && $0.credential == secret.id })
    }

    @Test func aFloodIsAuditedAtEachDoublingNotEachRequest() throws {
        let (a, _) = setUp(limit: 2)
        for _ in 0..<2 { _ = try a.check(request("Bearer kwk_bad")) }
        for _ in 0..<100 { _ = try a.check(request("Bearer kwk_bad", ip: "2001:db8::\(Int.random(in: 1...9999))")) }
        let refusals = sink.events.filter { $0.reason == "too_many_failures" }
        #expect(sink.events.filter { $0.reason == "invalid_credential" }.count == 2)
        #expect(refusals.compactMap(\.detail) == [1, 2, 4, 8, 16, 32, 64].map { "GET /api/x (refusal \($0) of the window)" })
        // The next window starts over.
        clock.now += 60
        for _ in 0..<3 { _ = try a.check(request("Bearer kwk_bad")) }
        #expect(sink.events.filter { $0.reason == "too_many_failures" }.count == 8)
    }

    @Test func ipv4MappedIsTheSameClient() throws {
        let (a, _) = setUp(limit: 2)
        _ = try a.check(request("Bearer kwk_bad", ip: "::ffff:198.51.100.5"))
        _ = try a.check(request("Bearer kwk_bad", ip: "198.51.100.5"))
        if case .deny(let d) = try a.check(request("Bearer kwk_bad", ip: "::ffff:c633:6405")) {
            #expect(d.reason == .tooManyFailures)
        } else {
            Issue.record("expected 429")
        }
    }
}

/// Passwords: strangers are throttled per client, per (account, client) and per account; a client
/// that proved itself for the account is held to its own failures only.
@Suite struct SignInThrottleTests {
    func make(account: Int = 5, perClient: Int = 3, clientLimit: Int = 100) -> SignInThrottle {
        SignInThrottle(
            clients: FailureThrottle(limit: clientLimit, windowSeconds: 60), perClientLimit: perClient,
            accountLimit: account, windowSeconds: 60, trustSeconds: 1_000)
    }

    @Test func manyAddressesLockStrangersOutButNotProvenClients() {
        let t = make()
        t.recordSuccess(account: "root", address: "192.0.2.10", device: nil, now: 0)
        for i in 1...5 {
            let ip = "198.18.0.\(i)"
            let s = t.standing(account: "root", address: ip, device: nil, now: 1)
            #expect(s == .stranger && t.retryAfter(account: "root", address: ip, standing: s, now: 1) == nil)
            t.recordFailure(account: "root", address: ip, standing: s, now: 1)
        }
        // A never-seen client: locked out with everyone else it cannot be told apart from.
        #expect(t.retryAfter(account: "root", address: "203.0.113.1", standing: .stranger, now: 2) == 59)
        // The device that signed in before, and the address that did.
        let device = t.standing(account: "root", address: "203.0.113.1", device: "dev1", now: 2)
        #expect(device == .device("dev1") && t.retryAfter(account: "root", address: "203.0.113.1", standing: device, now: 2) == nil)
        let known = t.standing(account: "root", address: "192.0.2.10", device: nil, now: 2)
        #expect(known == .knownClient && t.retryAfter(account: "root", address: "192.0.2.10", standing: known, now: 2) == nil)
        // Other accounts are not affected; the lock ends with the window.
        #expect(t.retryAfter(account: "alice", address: "203.0.113.1", standing: .stranger, now: 2) == nil)
        #expect(t.retryAfter(account: "root", address: "203.0.113.1", standing: .stranger, now: 61) == nil)
    }

    @Test func unknownNamesAreThrottledExactlyLikeRealOnes() {
        // The throttle never asks whether a user exists: the same steps give the same answers.
        func run(_ name: String) -> [Int64?] {
            let t = make()
            var out: [Int64?] = []
            for i in 1...8 {
                let ip = "198.18.1.\(i % 3)"
                let s = t.standing(account: name, address: ip, device: nil, now: Int64(i))
                let wait = t.retryAfter(account: name, address: ip, standing: s, now: Int64(i))
                out.append(wait)
                if wait == nil { t.recordFailure(account: name, address: ip, standing: s, now: Int64(i)) }
            }
            return out
        }
        #expect(run("root") == run("no-such-user-\(Int.random(in: 0..<1_000))"))
        #expect(run("root").contains { $0 != nil })
    }

    @Test func perAccountAndClientLimit() {
        let t = make(account: 100, perClient: 3)
        for _ in 0..<3 { t.recordFailure(account: "root", address: "2001:db8::1", standing: .stranger, now: 0) }
        #expect(t.retryAfter(account: "root", address: "2001:DB8::2", standing: .stranger, now: 0) == 60)  // same /64
        #expect(t.retryAfter(account: "alice", address: "2001:db8::1", standing: .stranger, now: 0) == nil)
        #expect(t.retryAfter(account: "root", address: "2001:db8:1::1", standing: .stranger, now: 0) == nil)
        // Strangers' failures count toward the shared per-client throttle; a proven device's do not.
        #expect(t.clients.retryAfter("2001:db8::1", now: 0) == nil)
        let shared = make(account: 100, perClient: 100, clientLimit: 2)
        shared.recordFailure(account: "a", address: "192.0.2.1", standing: .stranger, now: 0)
        shared.recordFailure(account: "b", address: "192.0.2.1", standing: .device("d"), now: 0)
        #expect(shared.clients.retryAfter("192.0.2.1", now: 0) == nil)
        shared.recordFailure(account: "c", address: "192.0.2.1", standing: .stranger, now: 0)
        #expect(shared.retryAfter(account: "d", address: "192.0.2.1", standing: .stranger, now: 0) == 60)
        // A proven device is past the client's shared limit too (a NAT with a sprayer behind it).
        #expect(shared.retryAfter(account: "d", address: "192.0.2.1", standing: .device("d2"), now: 0) == nil)
    }

    @Test func aDeviceOverItsLimitIsAStrangerAgainAndSuccessForgives() {
        let t = make(account: 100, perClient: 2)
        for _ in 0..<2 { t.recordFailure(account: "root", address: "192.0.2.1", standing: .device("d"), now: 0) }
        #expect(t.standing(account: "root", address: "192.0.2.1", device: "d", now: 0) == .stranger)
        #expect(t.standing(account: "root", address: "192.0.2.1", device: "other", now: 0) == .device("other"))
        t.recordSuccess(account: "root", address: "192.0.2.1", device: "d", now: 1)
        #expect(t.standing(account: "root", address: "192.0.2.1", device: "d", now: 1) == .device("d"))
        // Known addresses are remembered for the trust period only, and per account.
        #expect(t.standing(account: "root", address: "192.0.2.1", device: nil, now: 1) == .knownClient)
        #expect(t.standing(account: "alice", address: "192.0.2.1", device: nil, now: 1) == .stranger)
        #expect(t.standing(account: "root", address: "::ffff:192.0.2.1", device: nil, now: 999) == .knownClient)
        #expect(t.standing(account: "root", address: "192.0.2.1", device: nil, now: 1_001) == .stranger)
    }

    @Test func offWithTheThrottle() {
        let t = SignInThrottle(clients: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        for _ in 0..<50 { t.recordFailure(account: "root", address: "192.0.2.1", standing: .stranger, now: 0) }
        #expect(t.retryAfter(account: "root", address: "192.0.2.1", standing: .stranger, now: 0) == nil)
    }
}

/// The scrypt slots: a flood from some clients cannot starve the others.
@Suite struct FairQueueTests {
    @Test func runWaitRefuse() {
        var q = FairQueue(slots: 2, maxWaiting: 1)
        let a1 = q.arrive(client: "a", priority: false)
        let b1 = q.arrive(client: "b", priority: false)
        #expect(a1.admission == .run && b1.admission == .run)
        let c1 = q.arrive(client: "c", priority: false)
        #expect(c1.admission == .wait)
        let d1 = q.arrive(client: "d", priority: false)  // equals: first come, first served
        #expect(d1.admission == .refused && d1.displaced == nil)
        #expect(q.finish(a1.ticket) == c1.ticket && q.isRunning(c1.ticket))
        q.abandon(c1.ticket)  // not waiting: nothing happens
        #expect(q.isRunning(c1.ticket))
    }

    @Test func aFloodingClientYieldsItsPlaces() {
        var q = FairQueue(slots: 2, maxWaiting: 2)
        let flood = (0..<4).map { _ in q.arrive(client: "flood", priority: false) }
        #expect(flood.map(\.admission) == [.run, .run, .wait, .wait])
        // A newcomer takes the latest flood waiter's place, and runs before the flood's first waiter.
        let admin = q.arrive(client: "admin", priority: false)
        #expect(admin.admission == .wait && admin.displaced == flood[3].ticket && !q.isWaiting(flood[3].ticket))
        #expect(q.finish(flood[0].ticket) == admin.ticket)
        #expect(q.finish(flood[1].ticket) == flood[2].ticket)
    }

    @Test func provenClientsGoFirst() {
        var q = FairQueue(slots: 1, maxWaiting: 2)
        let running = q.arrive(client: "x", priority: false)
        let w1 = q.arrive(client: "y", priority: false)
        let w2 = q.arrive(client: "z", priority: false)
        let owner = q.arrive(client: "w", priority: true)
        #expect(owner.admission == .wait && owner.displaced == w2.ticket)
        let other = q.arrive(client: "v", priority: true)  // priority does not displace priority
        #expect(other.displaced == w1.ticket)
        let third = q.arrive(client: "u", priority: true)
        #expect(third.admission == .refused)
        #expect(q.finish(running.ticket) == owner.ticket)
    }

    @Test func aFreedSlotGoesToTheClientRunningFewest() {
        var q = FairQueue(slots: 2, maxWaiting: 4)
        let a = q.arrive(client: "a", priority: false)
        let b = q.arrive(client: "a", priority: false)
        let a3 = q.arrive(client: "a", priority: false)
        let c = q.arrive(client: "c", priority: false)
        #expect(a.admission == .run && b.admission == .run && a3.admission == .wait && c.admission == .wait)
        #expect(q.finish(a.ticket) == c.ticket)
        #expect(q.finish(b.ticket) == a3.ticket)
        #expect(q.runningCount == 2 && q.waitingCount == 0)
    }

    @Test func noWaitingIsFailFast() {
        var q = FairQueue(slots: 2, maxWaiting: 0)
        _ = q.arrive(client: "a", priority: false)
        _ = q.arrive(client: "a", priority: false)
        #expect(q.arrive(client: "b", priority: true).admission == .refused)
    }
}
