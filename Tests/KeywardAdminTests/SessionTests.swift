import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// Sessions end after `Limits.sessionIdle` unused and `Limits.sessionLifetime` at most; their
/// owner and admins list and revoke them (`/admin/api/sessions`); both endings are audited.
@Suite struct SessionTests {
    /// The harness's database behind an API with the shipped limits (12 h, 30 min idle).
    private func harness() throws -> APIHarness {
        let h = try APIHarness()
        h.api = AdminAPI(
            config: AdminAPIConfig(databasePath: h.f.path, keyFile: h.f.keyFile, mount: "/keyward"),
            clock: h.clock, throttle: FailureThrottle(limit: 0, windowSeconds: 60), audit: h.sink, usage: h.sink, log: { _ in })
        return h
    }

    private func me(_ h: APIHarness, _ cookie: String) -> Int {
        h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(cookie)"]).status
    }

    @Test func theDefaultsAreTwelveHoursAndThirtyMinutesUnused() throws {
        #expect(Limits().sessionLifetime == 12 * 3_600 && Limits().sessionIdle == 30 * 60)
        let h = try harness()
        let r = h.call("POST", "/admin/api/session", json: #"{"user": "root", "password": "\#(APIHarness.rootPassword)"}"#)
        #expect(r.header("Set-Cookie")?.contains("Max-Age=43200") == true)
        #expect(r.json["expires_at"] as? Int == Int(h.clock.now) + 43_200)
    }

    @Test func aSessionUnusedForThirtyMinutesEnds() throws {
        let h = try harness()
        let (cookie, _) = try h.signIn()
        h.clock.now += 29 * 60
        #expect(me(h, cookie) == 200)
        h.clock.now += 29 * 60
        #expect(me(h, cookie) == 200, "each use starts the idle time again")
        h.clock.now += 30 * 60
        #expect(me(h, cookie) == 401)
        h.clock.now -= 60
        #expect(me(h, cookie) == 401, "gone for good: the expired session was removed")
        let expired = try h.f.store.audit(action: "session.expire")
        #expect(expired.count == 1 && expired.first?.actor == "root" && expired.first?.target == "user:root")
        #expect(expired.first?.credential == Sessions.publicId(Sessions.hash(cookie)))
        #expect(expired.first?.detail?.contains("unused for 30 minutes") == true)
    }

    @Test func aBusySessionEndsAfterTwelveHours() throws {
        let h = try harness()
        let (cookie, _) = try h.signIn()
        let (other, _) = try h.signIn()
        for _ in 0..<(12 * 3 - 1) {
            h.clock.now += 20 * 60
            #expect(me(h, cookie) == 200)
        }
        h.clock.now += 20 * 60 - 1
        #expect(me(h, cookie) == 200)
        h.clock.now += 1
        #expect(me(h, cookie) == 401)
        #expect(try h.f.store.audit(action: "session.expire").first?.detail?.contains("lifetime of 720 minutes over") == true)
        // The unused one was ended long ago; the next sign-in removes it, audited too.
        _ = try h.signIn()
        let expired = try h.f.store.audit(action: "session.expire")
        #expect(expired.map(\.credential) == [cookie, other].map { Sessions.publicId(Sessions.hash($0)) })
        #expect(expired.map(\.sourceIP) == ["10.0.0.5", nil], "the address of the request that found it, and none for the purged one")
        #expect(me(h, other) == 401)
    }

    @Test func aSessionsUseIsRecordedAtMostOnceAMinute() throws {
        let h = try harness()
        let (cookie, _) = try h.signIn()
        let signedIn = h.clock.now
        let idHash = Sessions.hash(cookie)
        func lastSeen() throws -> Int64? { try h.f.store.session(idHash: idHash, now: h.clock.now, idle: 1_800)?.lastSeenAt }
        h.clock.now += 59
        #expect(me(h, cookie) == 200)
        #expect(try lastSeen() == signedIn)
        h.clock.now += 1
        #expect(me(h, cookie) == 200)
        #expect(try lastSeen() == signedIn + 60)
    }

    @Test func ownersAndAdminsListAndRevokeSessions() throws {
        let h = try harness()
        try h.user("dana", privileges: [])
        try h.f.admin().setPassword("dana", "dana's password 1")
        let (root1, csrf1) = try h.signIn()
        h.clock.now += 5
        let (root2, _) = try h.signIn()
        let (dana, danaCSRF) = try h.signIn("dana", "dana's password 1")
        let asRoot = ["HTTP_COOKIE": "keyward_session=\(root1)", "HTTP_X_CSRF_TOKEN": csrf1]
        let asDana = ["HTTP_COOKIE": "keyward_session=\(dana)", "HTTP_X_CSRF_TOKEN": danaCSRF]

        let listed = h.call("GET", "/admin/api/sessions", headers: asRoot)
        #expect(listed.status == 200)
        #expect(listed.items.map { $0["id"] as? String } == [root1, root2].map { Sessions.publicId(Sessions.hash($0)) })
        #expect(listed.items.map { $0["current"] as? Bool } == [true, false])
        #expect(listed.items.first?["idle_expires_at"] as? Int == (listed.items.first?["last_seen_at"] as? Int).map { $0 + 1_800 })
        #expect(!listed.text.contains(root1) && !listed.text.contains(root2) && !listed.text.contains(csrf1))
        #expect(h.call("GET", "/admin/api/sessions?user=*", headers: asRoot).items.count == 3)
        #expect(h.call("GET", "/admin/api/sessions?user=dana", headers: asRoot).items.count == 1)
        #expect(h.call("GET", "/admin/api/sessions?user=nobody", headers: asRoot).error == "not_found")
        #expect(h.root("GET", "/admin/api/sessions").items.map { $0["current"] as? Bool } == [false, false], "an API key is no session")

        // dana sees and ends only her own; root's look absent.
        #expect(h.call("GET", "/admin/api/sessions", headers: asDana).items.count == 1)
        #expect(h.call("GET", "/admin/api/sessions?user=root", headers: asDana).error == "forbidden")
        #expect(h.call("GET", "/admin/api/sessions?user=*", headers: asDana).error == "forbidden")
        let root2Id = Sessions.publicId(Sessions.hash(root2))
        #expect(h.call("DELETE", "/admin/api/sessions/\(root2Id)", headers: asDana).error == "not_found")
        #expect(me(h, root2) == 200)

        // Without the CSRF token, nothing; with it, the session ends at once.
        #expect(h.call("DELETE", "/admin/api/sessions/\(root2Id)", headers: ["HTTP_COOKIE": "keyward_session=\(root1)"]).error == "csrf_failed")
        let revoked = h.call("DELETE", "/admin/api/sessions/\(root2Id)", headers: asRoot)
        #expect(revoked.status == 204 && revoked.header("Set-Cookie") == nil)
        #expect(me(h, root2) == 401 && me(h, root1) == 200)
        #expect(h.call("DELETE", "/admin/api/sessions/\(root2Id)", headers: asRoot).error == "not_found")
        let audit = try h.f.store.audit(action: "session.revoke")
        #expect(audit.count == 1 && audit.first?.actor == "root" && audit.first?.credential == root2Id)
        #expect(audit.first?.detail == "via \(Sessions.publicId(Sessions.hash(root1)))")

        // An admin ends dana's; dana ends her own, and its cookie is cleared.
        let (dana2, _) = try h.signIn("dana", "dana's password 1")
        #expect(h.root("DELETE", "/admin/api/sessions/\(Sessions.publicId(Sessions.hash(dana2)))").status == 204)
        #expect(me(h, dana2) == 401)
        let own = h.call("DELETE", "/admin/api/sessions/\(Sessions.publicId(Sessions.hash(dana)))", headers: asDana)
        #expect(own.status == 204 && own.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(me(h, dana) == 401)
    }
}
