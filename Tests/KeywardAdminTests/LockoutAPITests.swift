import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

extension APIHarness {
    /// The API again, throttled: `limit` failures per client and per account from strangers,
    /// `perClient` per account and client, per 60 s.
    func lockout(limit: Int, perClient: Int) {
        var config = api.config
        config.limits.failuresPerWindow = limit
        config.limits.signInFailuresPerClient = perClient
        let throttle = FailureThrottle(limit: limit, windowSeconds: 60)
        api = AdminAPI(
            config: config, clock: clock, throttle: throttle, audit: sink, usage: sink,
            signIns: SignInGuard(throttle: throttle, limits: config.limits), log: { _ in })
    }

    /// `POST /admin/api/session` from `address`, with `cookie` (a `Cookie` header value) when given.
    func signInReply(_ user: String, _ password: String, from address: String, cookie: String? = nil) -> Reply {
        call(
            "POST", "/admin/api/session", json: #"{"user": "\#(user)", "password": "\#(password)"}"#,
            headers: cookie.map { ["HTTP_COOKIE": $0] } ?? [:], address: address)
    }
}

extension Reply {
    /// The `name=value` part of the `Set-Cookie` for `name`.
    func setCookie(_ name: String) -> String? {
        response.headers.first { $0.0 == "Set-Cookie" && $0.1.hasPrefix(name + "=") }
            .map { String($0.1.split(separator: ";")[0]) }
    }
}

/// Issue 8, item 5 (b): guessing a password from many addresses does not lock its owner out, and
/// unknown users are answered like known ones.
@Suite struct LockoutAPITests {
    static let wrong = "not the password"

    @Test func distributedGuessingLocksStrangersOutButNotTheOwner() throws {
        let h = try APIHarness()
        h.lockout(limit: 5, perClient: 3)
        // The owner signed in before: from a laptop that keeps cookies, and from a script's address.
        let laptop = try #require(h.signInReply("root", APIHarness.rootPassword, from: "192.0.2.10").setCookie("keyward_device"))
        #expect(h.signInReply("root", APIHarness.rootPassword, from: "192.0.2.20").status == 201)
        for i in 1...5 {
            let r = h.signInReply("root", Self.wrong, from: "198.18.0.\(i)")
            #expect(r.status == 401 && r.error == "unauthenticated")
        }
        // A never-seen client is refused before the hash, right password or wrong, alike.
        let right = h.signInReply("root", APIHarness.rootPassword, from: "203.0.113.9")
        let guess = h.signInReply("root", Self.wrong, from: "203.0.113.9")
        #expect(right.status == 429 && right.error == "too_many_requests" && right.header("Retry-After") == "60")
        #expect(guess.status == 429 && guess.text == right.text && guess.header("Retry-After") == right.header("Retry-After"))
        // The laptop, now on a network never seen before, and the script's address are let in.
        let back = h.signInReply("root", APIHarness.rootPassword, from: "203.0.113.9", cookie: laptop)
        #expect(back.status == 201)
        #expect(back.setCookie("keyward_device") != nil)
        #expect(h.signInReply("root", APIHarness.rootPassword, from: "::ffff:192.0.2.20").status == 201)
        // root's device cookie vouches for root only.
        let cli = h.f.admin()
        _ = try cli.addUser("alice")
        try cli.setPassword("alice", "alice's password")
        for i in 1...5 { #expect(h.signInReply("alice", Self.wrong, from: "198.18.1.\(i)").status == 401) }
        #expect(h.signInReply("alice", "alice's password", from: "203.0.113.9", cookie: laptop).status == 429)
        // A device that keeps failing loses its standing after its own limit (from an address that
        // has not signed in to root: 203.0.113.9 has now).
        for _ in 0..<3 { #expect(h.signInReply("root", Self.wrong, from: "203.0.113.77", cookie: laptop).status == 401) }
        #expect(h.signInReply("root", APIHarness.rootPassword, from: "203.0.113.77", cookie: laptop).status == 429)
        #expect(h.signInReply("root", APIHarness.rootPassword, from: "203.0.113.9").status == 201)
        // Refusals are audited.
        #expect(h.sink.events.contains { $0.action == "session.deny" && $0.reason == "too_many_failures" && $0.target == "user:root" })
    }

    @Test func unknownUsersAreAnsweredLikeKnownOnes() throws {
        let h = try APIHarness()
        h.lockout(limit: 3, perClient: 10)
        func attempt(_ user: String, _ i: Int) -> (Reply, Int) {
            let before = h.api.signIns.slots.hashed
            let r = h.signInReply(user, Self.wrong, from: "198.18.2.\(i)")
            return (r, h.api.signIns.slots.hashed - before)
        }
        let known = (1...4).map { attempt("root", $0) }
        let unknown = (1...4).map { attempt("nobody-here", $0 + 10) }
        #expect(known.map(\.0.status) == [401, 401, 401, 429])
        #expect(known.map(\.0.status) == unknown.map(\.0.status))
        #expect(known.map(\.0.text) == unknown.map(\.0.text))
        #expect(known.map { $0.0.header("Retry-After") } == unknown.map { $0.0.header("Retry-After") })
        // Both pay one scrypt per failure (the unknown name hashes against a decoy), and the 429s
        // none: the same work, counted rather than timed.
        #expect(known.map(\.1) == [1, 1, 1, 0] && unknown.map(\.1) == [1, 1, 1, 0])
    }

    @Test func throttledClientsStillUseValidKeysButNotBadOnes() throws {
        let h = try APIHarness()
        h.lockout(limit: 2, perClient: 10)
        for _ in 0..<2 { #expect(h.call("GET", "/admin/api/me", key: "kwk_nonsense", address: "2001:db8::1").status == 401) }
        // Another spelling of the same /64 is the same client.
        let garbage = h.call("GET", "/admin/api/me", key: "kwk_nonsense", address: "2001:DB8:0::99")
        #expect(garbage.status == 429 && garbage.header("Retry-After") == "60")
        let wrong = OpaqueSecret.generate(.apiKey, publicId: String(h.rootKey.id.dropFirst(4)))
        #expect(h.call("GET", "/admin/api/me", key: wrong.token, address: "2001:db8::1").status == 429)
        let me = h.call("GET", "/admin/api/me", key: h.rootKey.secret, address: "2001:db8::1")
        #expect(me.status == 200 && me.json["credential"] as? String == h.rootKey.id)
        // No credential at all is no attempt: the usual 401.
        #expect(h.call("GET", "/admin/api/me", address: "2001:db8::1").status == 401)
    }

    @Test func theDeviceCookie() throws {
        let h = try APIHarness()
        let r = h.signInReply("root", APIHarness.rootPassword, from: "192.0.2.1")
        let header = try #require(r.response.headers.first { $0.0 == "Set-Cookie" && $0.1.hasPrefix("keyward_device=") }?.1)
        let attributes = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"))
        #expect(attributes.contains("Path=/keyward/admin/api/session") && attributes.contains("Max-Age=2592000"))
        #expect(!attributes.contains("Secure"))
        let value = String(try #require(r.setCookie("keyward_device")).dropFirst("keyward_device=".count))
        let key = HMACKey(DeviceCookie.key(masterKey: h.f.keyFile.masterKey))
        let now = h.clock.now
        let id = try #require(DeviceCookie.verify(value, user: "root", now: now, lifetime: 100, key: key))
        #expect(DeviceCookie.rawId(id)?.count == 16)
        #expect(DeviceCookie.verify(value, user: "root2", now: now, lifetime: 100, key: key) == nil)
        #expect(DeviceCookie.verify(value, user: "root", now: now + 100, lifetime: 100, key: key) == nil)
        #expect(DeviceCookie.verify(value, user: "root", now: now - 1, lifetime: 100, key: key) == nil)
        var bytes = try #require(Base64URL.decode(value))
        bytes[3] ^= 1
        #expect(DeviceCookie.verify(Base64URL.encode(bytes), user: "root", now: now, lifetime: 100, key: key) == nil)
        let otherKey = HMACKey(Array(repeating: 1, count: 32))
        #expect(DeviceCookie.verify(value, user: "root", now: now, lifetime: 100, key: otherKey) == nil)
        // Signing in again with it keeps the device's id.
        let again = h.signInReply("root", APIHarness.rootPassword, from: "192.0.2.1", cookie: "keyward_device=\(value)")
        let renewed = String(try #require(again.setCookie("keyward_device")).dropFirst("keyward_device=".count))
        #expect(DeviceCookie.verify(renewed, user: "root", now: now, lifetime: 100, key: key) == id)
        // A failed sign-in sets nothing.
        #expect(h.signInReply("root", "wrong password", from: "192.0.2.1").setCookie("keyward_device") == nil)
    }

    @Test func aFloodCannotKeepANewcomerFromTheSlots() throws {
        final class Results: @unchecked Sendable {
            let lock = Lock()
            var values: [String: Bool] = [:]
            func set(_ k: String, _ v: Bool) { lock.withLock { values[k] = v } }
            func get(_ k: String) -> Bool? { lock.withLock { values[k] } }
        }
        let slots = HashingSlots(slots: 2, maxWaiting: 1, timeout: 10)
        let results = Results()
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for i in 0..<2 {
            DispatchQueue.global().async(group: group) {
                let r = slots.run(client: "flood", priority: false) { () -> Bool in
                    started.signal()
                    release.wait()
                    return true
                }
                results.set("run\(i)", r ?? false)
            }
        }
        started.wait()
        started.wait()
        DispatchQueue.global().async(group: group) { results.set("waiter", slots.run(client: "flood", priority: false) { true } ?? false) }
        func until(_ condition: () -> Bool) {
            let deadline = Date().addingTimeInterval(5)
            while !condition() && Date() < deadline { usleep(1_000) }
        }
        until { slots.waitingCount == 1 }
        DispatchQueue.global().async(group: group) { results.set("admin", slots.run(client: "admin", priority: false) { true } ?? false) }
        until { results.get("waiter") != nil }
        #expect(results.get("waiter") == false)  // displaced: answered 429 at once
        release.signal()
        release.signal()
        #expect(group.wait(timeout: .now() + 10) == .success)
        #expect(results.get("admin") == true && results.get("run0") == true && results.get("run1") == true)
    }
}
