import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// A clock the test moves.
final class TestClock: Clock, @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
}

/// One reply of the API, with its JSON body parsed.
struct Reply {
    let response: Response
    var status: Int { response.status }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:] }
    var error: String? { json["error"] as? String }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    func header(_ name: String) -> String? { response.header(name) }
    var text: String { String(decoding: response.body, as: UTF8.self) }
}

/// A database with an admin (`root`, password and API key), the API over it, and helpers to call it.
final class APIHarness {
    let f: AdminFixture
    let clock = TestClock(1_000_100)
    let sink = CollectingSink()
    var api: AdminAPI
    let rootKey: CreatedKey
    static let rootPassword = "correct horse battery"

    init(failureLimit: Int = 0, secureCookies: Bool = false, sessionLifetime: Int64 = 8 * 3_600, bodyLimit: Int = 64 * 1024) throws {
        f = try AdminFixture()
        let cli = f.admin()
        _ = try cli.addUser("root")
        try cli.setPassword("root", Self.rootPassword)
        _ = try cli.addRole("admins", privileges: [Privilege.admin, Privilege.useAPIKey])
        try cli.setGrant(role: "admins", .user("root"), grant: true)
        rootKey = try cli.createKey(user: "root", name: "automation", expires: .never, scopes: [], networks: [])
        var limits = Limits()
        limits.maxBodyBytes = bodyLimit
        api = AdminAPI(
            config: AdminAPIConfig(
                databasePath: f.path, keyFile: f.keyFile, mount: "/keyward/", secureCookies: secureCookies,
                sessionLifetime: sessionLifetime, limits: limits),
            clock: clock, throttle: FailureThrottle(limit: failureLimit, windowSeconds: 60), audit: sink, usage: sink, log: { _ in })
    }

    /// Calls `method path` (with its query) as `key` (an API key secret), or with `headers` alone when nil.
    func call(
        _ method: String, _ path: String, key: String? = nil, json: String? = nil, body: [UInt8]? = nil,
        contentType: String? = "application/json", headers: [String: String] = [:], address: String = "10.0.0.5"
    ) -> Reply {
        var values = ["REQUEST_METHOD": method, "REQUEST_URI": "/keyward" + path, "REMOTE_ADDR": address]
        if let key { values["HTTP_AUTHORIZATION"] = "Bearer " + key }
        let bytes = body ?? json.map { Array($0.utf8) } ?? []
        if !bytes.isEmpty || json != nil, let contentType { values["CONTENT_TYPE"] = contentType }
        values["CONTENT_LENGTH"] = String(bytes.count)
        values.merge(headers) { $1 }
        let route = String(path.split(separator: "?", maxSplits: 1).first ?? "")
        return Reply(response: api.respond(DictionaryParams(values, body: bytes), path: route, method: method))
    }

    /// As root's API key.
    func root(_ method: String, _ path: String, json: String? = nil) -> Reply {
        call(method, path, key: rootKey.secret, json: json)
    }

    /// Signs in; the cookie value and CSRF token.
    func signIn(_ user: String = "root", _ password: String = APIHarness.rootPassword) throws -> (cookie: String, csrf: String) {
        let r = call("POST", "/admin/api/session", json: #"{"user": "\#(user)", "password": "\#(password)"}"#)
        try #require(r.status == 201, "sign-in failed: \(r.text)")
        let setCookie = try #require(r.header("Set-Cookie"))
        let value = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
        return (String(value), try #require(r.json["csrf_token"] as? String))
    }

    func user(_ name: String, privileges: [String]) throws {
        let cli = f.admin()
        _ = try cli.addUser(name)
        if !privileges.isEmpty {
            _ = try cli.addRole("role-" + name, privileges: privileges)
            try cli.setGrant(role: "role-" + name, .user(name), grant: true)
        }
    }
}

@Suite struct AdminAPITests {
    // MARK: Authentication

    @Test func everyEndpointButTheDocumentAndSignInNeedsAuthentication() throws {
        let h = try APIHarness()
        let r = h.call("GET", "/admin/api/users")
        #expect(r.status == 401)
        #expect(r.error == "unauthenticated")
        #expect(r.header("WWW-Authenticate") == #"Bearer realm="keyward""#)
        #expect(r.json.keys.sorted() == ["code", "error", "error_description"])
        #expect(h.call("GET", "/admin/api/openapi.json").status == 200)
        for (method, path) in [
            ("GET", "/admin/api/me"), ("POST", "/admin/api/groups"), ("DELETE", "/admin/api/session"),
            ("GET", "/admin/api/audit"), ("GET", "/admin/api/explain?path=/x"),
        ] {
            #expect(h.call(method, path, json: "{}").status == 401, "\(method) \(path)")
        }
    }

    @Test func apiKeysAreVerifiedLikeTheCheckAndNeedUseAPIKey() throws {
        let h = try APIHarness()
        let me = h.root("GET", "/admin/api/me")
        #expect(me.status == 200)
        #expect(me.json["auth"] as? String == "api-key")
        #expect(me.json["credential"] as? String == h.rootKey.id)
        #expect((me.json["privileges"] as? [String]) == ["admin", "use-api-key"])
        #expect(h.call("GET", "/admin/api/me", headers: ["HTTP_X_API_KEY": h.rootKey.secret]).status == 200)

        let cli = h.f.admin()
        // A user without use-api-key: a valid key, refused with 403.
        try h.user("plain", privileges: [Privilege.admin])
        let plain = try cli.createKey(user: "plain", name: "k", expires: .never, scopes: [], networks: [])
        let refused = h.call("GET", "/admin/api/me", key: plain.secret)
        #expect(refused.status == 403 && refused.error == "forbidden")

        // Wrong secret, disabled key, disabled user, expired key: 401, audited, never the secret.
        let wrong = OpaqueSecret.generate(.apiKey, publicId: String(h.rootKey.id.dropFirst(4)))
        #expect(wrong.id == h.rootKey.id)
        #expect(h.call("GET", "/admin/api/me", key: wrong.token).status == 401)
        #expect(h.call("GET", "/admin/api/me", key: "kwk_nonsense").status == 401)
        #expect(h.call("GET", "/admin/api/me", key: "a.b.c").status == 401)
        try h.user("ops", privileges: [Privilege.admin, Privilege.useAPIKey])
        let ops = try cli.createKey(user: "ops", name: "k", expires: .seconds(500), scopes: [], networks: [])
        #expect(h.call("GET", "/admin/api/me", key: ops.secret).status == 200)
        try cli.setKey(ops.id, .disable)
        #expect(h.call("GET", "/admin/api/me", key: ops.secret).status == 401)
        try cli.setKey(ops.id, .enable)
        try cli.setUser("ops", .disable)
        #expect(h.call("GET", "/admin/api/me", key: ops.secret).status == 401)
        try cli.setUser("ops", .enable)
        h.clock.now = 1_000_000 + 500
        let expired = h.call("GET", "/admin/api/me", key: ops.secret)
        #expect(expired.status == 401 && expired.json["error_description"] as? String == "The API key has expired.")
        h.clock.now = 1_000_100

        // The key's --allow-ip holds here too.
        let fenced = try cli.createKey(user: "ops", name: "fenced", expires: .never, scopes: [], networks: [CIDR("192.0.2.0/24")!])
        #expect(h.call("GET", "/admin/api/me", key: fenced.secret, address: "192.0.2.9").status == 200)
        #expect(h.call("GET", "/admin/api/me", key: fenced.secret, address: "10.0.0.5").status == 403)

        let denials = h.sink.events.filter { $0.action == "admin.auth.deny" }
        #expect(
            Set(denials.compactMap(\.reason)) == [
                "privilege_missing", "invalid_credential", "credential_disabled",
                "user_disabled", "credential_expired", "ip_not_allowed",
            ])
        #expect(denials.contains { $0.credential == h.rootKey.id && $0.reason == "invalid_credential" })
        #expect(!denials.contains { e in [e.actor, e.detail, e.credential].contains { $0?.contains(h.rootKey.secret.suffix(20)) == true } })
    }

    @Test func badKeysAndFailedSignInsCountTowardTheThrottle() throws {
        let h = try APIHarness(failureLimit: 3)
        #expect(h.call("GET", "/admin/api/me", key: "kwk_nonsense").status == 401)
        #expect(h.call("POST", "/admin/api/session", json: #"{"user":"root","password":"wrong password"}"#).status == 401)
        #expect(h.call("GET", "/admin/api/me", key: "kwk_nonsense").status == 401)
        let throttled = h.call("GET", "/admin/api/me", key: "kwk_nonsense")
        #expect(throttled.status == 429 && throttled.error == "too_many_requests")
        #expect(throttled.header("Retry-After") == "60")
        // Issue 8, item 5: root's valid key from the throttled address is still served; a stranger's
        // sign-in from it is refused before the password hash, right password or not.
        #expect(h.call("GET", "/admin/api/me", key: h.rootKey.secret).status == 200)
        #expect(h.call("POST", "/admin/api/session", json: #"{"user":"root","password":"\#(APIHarness.rootPassword)"}"#).status == 429)
        // Another address is not held back.
        #expect(h.call("GET", "/admin/api/me", key: h.rootKey.secret, address: "10.0.0.6").status == 200)
    }

    // MARK: Sessions and CSRF

    @Test func signInSetsAStrictCookieAndNeedsTheCSRFTokenForChanges() throws {
        let h = try APIHarness()
        let login = h.call("POST", "/admin/api/session", json: #"{"user": "root", "password": "\#(APIHarness.rootPassword)"}"#)
        #expect(login.status == 201)
        let cookie = try #require(login.header("Set-Cookie"))
        let attributes = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(attributes.first?.hasPrefix("keyward_session=") == true)
        #expect(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict") && attributes.contains("Path=/keyward/admin"))
        #expect(attributes.contains("Max-Age=28800"))
        #expect(!attributes.contains("Secure"))
        #expect(login.json["user"] as? String == "root")
        #expect(login.json["expires_at"] as? Int == 1_000_100 + 28_800)
        let (session, csrf) = try h.signIn()

        // Only hashes are stored.
        let stored = try h.f.sqlite.db.statement("SELECT id_hash, csrf_hash FROM sessions").map { [$0.blob(0), $0.blob(1)] }
        #expect(stored.count == 2)
        #expect(stored.contains { $0[0] == Digest.sha256(session) && $0[1] == Digest.sha256(csrf) })

        let asCookie = ["HTTP_COOKIE": "theme=dark; keyward_session=\(session)"]
        let me = h.call("GET", "/admin/api/me", headers: asCookie)
        #expect(me.status == 200 && me.json["auth"] as? String == "session")
        #expect((me.json["credential"] as? String)?.hasPrefix("ses_") == true)

        let noToken = h.call("POST", "/admin/api/groups", json: #"{"name":"ops"}"#, headers: asCookie)
        #expect(noToken.status == 403 && noToken.error == "csrf_failed")
        let badToken = h.call(
            "POST", "/admin/api/groups", json: #"{"name":"ops"}"#, headers: asCookie.merging(["HTTP_X_CSRF_TOKEN": csrf + "x"]) { $1 })
        #expect(badToken.status == 403 && badToken.error == "csrf_failed")
        let otherToken = h.call(
            "POST", "/admin/api/groups", json: #"{"name":"ops"}"#,
            headers: asCookie.merging(["HTTP_X_CSRF_TOKEN": try h.signIn().csrf]) { $1 })
        #expect(otherToken.status == 403)
        let withToken = asCookie.merging(["HTTP_X_CSRF_TOKEN": csrf]) { $1 }
        #expect(h.call("POST", "/admin/api/groups", json: #"{"name":"ops"}"#, headers: withToken).status == 201)
        #expect(h.call("DELETE", "/admin/api/groups/ops", headers: asCookie).status == 403)
        // API keys need no CSRF token.
        #expect(h.root("DELETE", "/admin/api/groups/ops").status == 204)

        // The session's actions carry its public id in the audit.
        let created = try h.f.store.audit(action: "group.add")
        #expect(created.first?.actor == "root")
        #expect([created.first?.credential, created.first?.detail].contains { $0?.contains("ses_") == true })

        let out = h.call("DELETE", "/admin/api/session", headers: withToken)
        #expect(out.status == 204)
        #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(h.call("GET", "/admin/api/me", headers: asCookie).status == 401)
        // Signing out with an API key: there is no session.
        #expect(h.root("DELETE", "/admin/api/session").status == 400)
    }

    @Test func wrongPasswordsAndUnknownUsersAreAnsweredAlike() throws {
        let h = try APIHarness()
        try h.user("nopassword", privileges: [])
        try h.user("gone", privileges: [])
        try h.f.admin().setPassword("gone", "a long enough one")
        try h.f.admin().setUser("gone", .disable)
        var answers: [String] = []
        for body in [
            #"{"user":"root","password":"wrong password"}"#, #"{"user":"nobody","password":"wrong password"}"#,
            #"{"user":"nopassword","password":"wrong password"}"#, #"{"user":"gone","password":"a long enough one"}"#,
            #"{"user":"bad name!","password":"x"}"#,
        ] {
            let r = h.call("POST", "/admin/api/session", json: body)
            #expect(r.status == 401)
            #expect(r.header("Set-Cookie") == nil)
            answers.append(r.text)
        }
        #expect(Set(answers).count == 1)
        #expect(h.sink.events.filter { $0.action == "session.deny" }.count == 5)
        #expect(!h.sink.events.contains { ($0.detail ?? "").contains("wrong") })
        // Sessions of a disabled user stop working; they expire after their lifetime.
        let (cookie, _) = try h.signIn()
        try h.f.admin().setUser("root", .disable)
        #expect(h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(cookie)"]).status == 401)
        try h.f.admin().setUser("root", .enable)
        #expect(
            h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(cookie)"]).status == 401,
            "disabling a user ends their sessions for good")
        let (again, _) = try h.signIn()
        #expect(h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(again)"]).status == 200)
        #expect(
            h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(again); keyward_session=\(again)"]).status == 401,
            "two session cookies (one planted by a sibling domain) are refused")
        h.clock.now += 8 * 3_600
        #expect(h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(again)"]).status == 401)
    }

    @Test func cookiesAreSecureForAnHTTPSSite() throws {
        let secure = try APIHarness(secureCookies: true, sessionLifetime: 600)
        let r = secure.call("POST", "/admin/api/session", json: #"{"user":"root","password":"\#(APIHarness.rootPassword)"}"#)
        #expect(r.header("Set-Cookie")?.hasSuffix("; Max-Age=600; Secure") == true)
        let plain = try APIHarness()
        let overTLS = plain.call(
            "POST", "/admin/api/session", json: #"{"user":"root","password":"\#(APIHarness.rootPassword)"}"#,
            headers: ["HTTPS": "on"])
        #expect(overTLS.header("Set-Cookie")?.hasSuffix("; Secure") == true)
    }

    // MARK: Errors and input

    @Test func badInputGetsAStableFourHundred() throws {
        let h = try APIHarness(bodyLimit: 1024)
        func expect(_ r: Reply, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
            #expect(r.error == code, sourceLocation: sourceLocation)
            #expect(r.json["error_description"] is String, sourceLocation: sourceLocation)
        }
        let key = h.rootKey.secret
        expect(
            h.call("POST", "/admin/api/groups", key: key, json: #"name=ops"#, contentType: "application/x-www-form-urlencoded"),
            415, "unsupported_media_type")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"ops"}"#, contentType: nil), 415, "unsupported_media_type")
        expect(
            h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"ops"}"#, contentType: "application/json; charset=latin1"),
            415, "unsupported_media_type")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"ops""#), 400, "invalid_json")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"["ops"]"#), 400, "invalid_json")
        expect(h.call("POST", "/admin/api/groups", key: key, json: ""), 400, "invalid_json")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"a","name":"b"}"#), 400, "invalid_json")
        expect(h.call("POST", "/admin/api/groups", key: key, body: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), 400, "invalid_json")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"ops","admin":true}"#), 400, "invalid_argument")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{"name":7}"#), 400, "invalid_argument")
        expect(h.call("POST", "/admin/api/groups", key: key, json: #"{}"#), 400, "invalid_argument")
        expect(h.call("POST", "/admin/api/roles", key: key, json: #"{"name":"r","privileges":"admin"}"#), 400, "invalid_argument")
        expect(h.call("POST", "/admin/api/roles", key: key, json: #"{"name":"r","privileges":[1]}"#), 400, "invalid_argument")
        expect(
            h.call("POST", "/admin/api/groups", key: key, json: #"{"name":"\#(String(repeating: "x", count: 2000))"}"#),
            413, "body_too_large")
        expect(h.call("GET", "/admin/api/nothing", key: key), 404, "not_found")
        expect(h.call("GET", "/admin/api/users/", key: key), 404, "not_found")
        // Outside /admin/api/ are the pages: an unknown one is a 404 page with the same code.
        let page = h.call("GET", "/admin/pages", key: key)
        #expect(page.status == 404 && page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.text.contains("<code>not_found</code>"))
        expect(h.call("GET", "/admin/api/users/nobody", key: key), 404, "not_found")
        let wrongMethod = h.call("PUT", "/admin/api/users", key: key, json: "{}")
        expect(wrongMethod, 405, "method_not_allowed")
        #expect(wrongMethod.header("Allow") == "GET, POST")
        #expect(h.call("PATCH", "/admin/api/openapi.json").header("Allow") == "GET")
        expect(h.call("GET", "/admin/api/users?limit=2&sort=name", key: key), 400, "invalid_argument")
        expect(h.call("GET", "/admin/api/users?limit=2&limit=3", key: key), 400, "invalid_argument")
        expect(h.call("GET", "/admin/api/users?limit=%ZZ", key: key), 400, "invalid_argument")
        expect(h.call("POST", "/admin/api/groups/x/members", key: key, json: #"{"user":"root"}"#), 404, "not_found")
        #expect(h.root("POST", "/admin/api/groups", json: #"{"name":"ops"}"#).status == 201)
        expect(h.root("POST", "/admin/api/groups", json: #"{"name":"ops"}"#), 409, "conflict")
        expect(h.root("POST", "/admin/api/groups", json: #"{"name":"no spaces"}"#), 400, "invalid_argument")
        expect(h.root("POST", "/admin/api/keys/kwk_0000000000000000/enable"), 404, "not_found")
        expect(h.root("POST", "/admin/api/keys", json: #"{"name":"k","expires":"soon"}"#), 400, "invalid_argument")
        expect(h.root("POST", "/admin/api/keys", json: #"{"name":"k","scopes":["../etc"]}"#), 400, "invalid_argument")
        expect(h.root("POST", "/admin/api/keys", json: #"{"name":"k","allow_ips":["10.0.0.0/99"]}"#), 400, "invalid_argument")
        expect(h.root("POST", "/admin/api/keys/\(h.rootKey.id)/disable", json: #"{"why":"because"}"#), 400, "invalid_argument")
        expect(h.root("GET", "/admin/api/explain"), 400, "invalid_argument")
        expect(h.root("GET", "/admin/api/explain?path=/x&ip=nowhere"), 400, "invalid_argument")
        expect(h.root("GET", "/admin/api/explain?path=/x&credential=kwk_x"), 400, "invalid_argument")
        expect(h.root("GET", "/admin/api/audit?since=yesterday"), 400, "invalid_argument")
    }

    @Test func listsArePaged() throws {
        let h = try APIHarness()
        for name in ["g1", "g2", "g3", "g4", "g5", "g6", "g7"] {
            #expect(h.root("POST", "/admin/api/groups", json: #"{"name":"\#(name)"}"#).status == 201)
        }
        var seen: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let r = h.root("GET", "/admin/api/groups?limit=3" + (cursor.map { "&cursor=" + $0 } ?? ""))
            #expect(r.status == 200)
            seen += r.items.compactMap { $0["name"] as? String }
            cursor = r.json["next_cursor"] as? String
            #expect(r.json.keys.contains("next_cursor"))
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == ["g1", "g2", "g3", "g4", "g5", "g6", "g7"])
        #expect(pages == 3)
        // A deleted item does not derail the next page.
        let first = h.root("GET", "/admin/api/groups?limit=2")
        #expect(h.root("DELETE", "/admin/api/groups/g2").status == 204)
        let second = h.root("GET", "/admin/api/groups?limit=2&cursor=" + (first.json["next_cursor"] as! String))
        #expect(second.items.compactMap { $0["name"] as? String } == ["g3", "g4"])
        #expect(h.root("GET", "/admin/api/groups").items.count == 6)

        for bad in [
            "limit=0", "limit=501", "limit=abc", "limit=-1", "limit=", "cursor=%%%", "cursor=bm9wZQ",
            "cursor=" + Base64URL.encode("users:g1"),
        ] where bad != "limit=" {
            let r = h.root("GET", "/admin/api/groups?" + bad)
            #expect(r.status == 400 && r.error == "invalid_argument", "\(bad)")
        }
        #expect(h.root("GET", "/admin/api/groups?limit=").status == 200)
        #expect(h.root("GET", "/admin/api/groups?limit=500").status == 200)
        #expect(h.root("POST", "/admin/api/resources", json: #"{"name":"r1","path":"/r1/"}"#).status == 201)
        #expect(h.root("POST", "/admin/api/resources", json: #"{"name":"r2","path":"/r2/"}"#).status == 201)
        for list in ["users", "roles", "resources", "keys", "audit"] {
            let r = h.root("GET", "/admin/api/\(list)?limit=1")
            #expect(r.status == 200 && r.items.count == 1, "\(list)")
            #expect(r.json["next_cursor"] != nil, "\(list)")
        }
    }

    // MARK: Self-service

    @Test func selfServiceUsersManageOnlyTheirOwnKeys() throws {
        let h = try APIHarness()
        try h.user("bob", privileges: [Privilege.manageOwnKeys, Privilege.useAPIKey])
        try h.user("carol", privileges: [])
        let cli = h.f.admin()
        _ = try cli.addResource("reports", ResourceSpec(path: PathScope("/reports/"), audience: [.user("bob")]))
        let bobs = try cli.createKey(user: "bob", name: "bootstrap", expires: .never, scopes: [PathScope("/keyward/admin/api/")!], networks: [])
        let carols = try cli.createKey(user: "carol", name: "c", expires: .never, scopes: [], networks: [])
        // A key scoped to an API is no admin credential, nor one scoped to reading only.
        let reportsKey = try cli.createKey(user: "bob", name: "reports", expires: .never, scopes: [PathScope("/reports/")!], networks: [])
        #expect(h.call("GET", "/admin/api/keys", key: reportsKey.secret).status == 403)
        let readOnly = try cli.createKey(user: "bob", name: "ro", expires: .never, scopes: [PathScope("GET:/keyward/admin/api/")!], networks: [])
        #expect(h.call("GET", "/admin/api/keys", key: readOnly.secret).status == 200)
        #expect(h.call("POST", "/admin/api/keys", key: readOnly.secret, json: #"{"name":"x","scopes":["/reports/"],"expires":"1d"}"#).status == 403)

        let created = h.call("POST", "/admin/api/keys", key: bobs.secret, json: #"{"name":"daily","scopes":["GET:/reports/daily/"],"expires":"7d"}"#)
        #expect(created.status == 201)
        #expect(created.json["user"] as? String == "bob")
        #expect((created.json["secret"] as? String)?.hasPrefix("kwk_") == true)
        #expect(created.json["expires_at"] as? Int == 1_000_100 + 7 * 86_400)
        let newId = try #require(created.json["id"] as? String)

        // The secret is in the create answer only.
        let shown = h.call("GET", "/admin/api/keys/\(newId)", key: bobs.secret)
        #expect(shown.status == 200 && shown.json["secret"] == nil)
        #expect(!shown.text.contains((created.json["secret"] as! String).suffix(30)))

        let mine = h.call("GET", "/admin/api/keys", key: bobs.secret)
        #expect(Set(mine.items.compactMap { $0["id"] as? String }) == [bobs.id, reportsKey.id, readOnly.id, newId])
        #expect(h.call("GET", "/admin/api/keys?user=carol", key: bobs.secret).status == 403)
        #expect(h.call("GET", "/admin/api/keys/\(carols.id)", key: bobs.secret).status == 404)
        #expect(h.call("POST", "/admin/api/keys/\(carols.id)/disable", key: bobs.secret).status == 404)
        #expect(h.call("DELETE", "/admin/api/keys/\(carols.id)", key: bobs.secret).status == 404)
        #expect(h.call("POST", "/admin/api/keys", key: bobs.secret, json: #"{"user":"carol","name":"x","scopes":["/reports/"]}"#).status == 403)
        // Never more than bob has: no scopes means everything; a path outside his resources.
        #expect(h.call("POST", "/admin/api/keys", key: bobs.secret, json: #"{"name":"all"}"#).status == 403)
        #expect(h.call("POST", "/admin/api/keys", key: bobs.secret, json: #"{"name":"x","scopes":["/billing/"]}"#).status == 403)
        // One scope that would reach the backend as two (issue 8, item 3).
        for scope in [#"/reports/ /admin/"#, #"/reports/,/admin/"#, #"/reports/\t/admin/"#, #"/reports/\u0085/admin/"#] {
            let r = h.call("POST", "/admin/api/keys", key: bobs.secret, json: "{\"name\":\"x\",\"scopes\":[\"\(scope)\"]}")
            #expect(r.status == 400 && r.error == "invalid_argument", "\(scope) \(r.text)")
        }
        // Nothing but his own objects.
        #expect(h.call("GET", "/admin/api/groups", key: bobs.secret).status == 403)
        #expect(h.call("GET", "/admin/api/audit", key: bobs.secret).status == 403)
        #expect(h.call("POST", "/admin/api/users", key: bobs.secret, json: #"{"name":"mallory"}"#).status == 403)
        #expect(h.call("GET", "/admin/api/users", key: bobs.secret).items.compactMap { $0["name"] as? String } == ["bob"])
        #expect(h.call("GET", "/admin/api/users/carol", key: bobs.secret).status == 403)

        for verb in ["disable", "renew"] {
            let r = h.call("POST", "/admin/api/keys/\(newId)/\(verb)", key: bobs.secret)
            #expect(r.status == 200, "\(verb): \(r.text)")
        }
        // A disabled key stays disabled until an admin enables it.
        #expect(h.call("POST", "/admin/api/keys/\(newId)/enable", key: bobs.secret).status == 403)
        let regenerated = h.call("POST", "/admin/api/keys/\(newId)/regenerate", key: bobs.secret)
        #expect(regenerated.status == 200)
        #expect(regenerated.json["secret"] as? String != created.json["secret"] as? String)
        #expect(h.call("DELETE", "/admin/api/keys/\(newId)", key: bobs.secret).status == 204)

        // API users act under their own name, with the key they used.
        let events = try h.f.store.audit(user: "bob").filter { $0.action.hasPrefix("key.") && $0.actor == "bob" }
        #expect(events.map(\.action) == ["key.create", "key.disable", "key.renew", "key.regenerate", "key.delete"])
        #expect(try h.f.store.audit(action: "key.create").last?.credential == newId)
        #expect(try h.f.store.audit(action: "key.disable").last?.credential == newId)
        // Without use-api-key the same user cannot use a key here at all.
        try cli.setGrant(role: "role-bob", .user("bob"), grant: false)
        #expect(h.call("GET", "/admin/api/me", key: bobs.secret).status == 403)
    }

    // MARK: Every resource kind

    @Test func usersGroupsRolesResourcesKeysAuditAndExplain() throws {
        let h = try APIHarness()
        // Users
        let alice = h.root("POST", "/admin/api/users", json: #"{"name":"alice","email":"alice@example.org","password":"alice's password"}"#)
        #expect(alice.status == 201)
        #expect(alice.json["email"] as? String == "alice@example.org" && alice.json["status"] as? String == "active")
        #expect(h.root("POST", "/admin/api/users", json: #"{"name":"short","password":"short"}"#).error == "invalid_argument")
        #expect(h.root("GET", "/admin/api/users/short").status == 404)
        #expect(h.root("GET", "/admin/api/users/alice").json["key_count"] as? Int == 0)
        #expect(h.root("POST", "/admin/api/users/alice/disable").json["status"] as? String == "disabled")
        #expect(h.root("POST", "/admin/api/users/alice/enable").json["status"] as? String == "active")
        #expect(h.root("PUT", "/admin/api/users/alice/email", json: #"{"email":null}"#).json["email"] is NSNull)
        #expect(h.root("PUT", "/admin/api/users/alice/email", json: #"{"email":"a b@c"}"#).error == "invalid_argument")
        #expect(h.root("PUT", "/admin/api/users/alice/password", json: #"{"password":"a new password"}"#).status == 204)
        _ = try h.signIn("alice", "a new password")

        // Groups and members
        #expect(h.root("POST", "/admin/api/groups", json: #"{"name":"finance"}"#).status == 201)
        let member = h.root("POST", "/admin/api/groups/finance/members", json: #"{"user":"alice"}"#)
        #expect(member.status == 200 && (member.json["members"] as? [String]) == ["alice"])
        #expect(h.root("POST", "/admin/api/groups/finance/members", json: #"{"user":"alice"}"#).error == "conflict")

        // Resources
        let billing = h.root(
            "POST", "/admin/api/resources",
            json: """
                {"name":"billing","path":"/billing/","methods":["GET","POST"],"audience":["group:finance"],"owner":"alice","allow_ips":["10.0.0.0/8"]}
                """)
        #expect(billing.status == 201, "\(billing.text)")
        #expect((billing.json["methods"] as? [String]) == ["GET", "POST"] && billing.json["owner"] as? String == "alice")
        #expect(h.root("POST", "/admin/api/resources", json: #"{"name":"bad","path":"billing"}"#).error == "invalid_argument")
        #expect(h.root("POST", "/admin/api/resources", json: #"{"name":"dup","path":"/billing/"}"#).error == "conflict")
        let patched = h.root("PATCH", "/admin/api/resources/billing", json: #"{"anonymous":true,"owner":null,"methods":["GET"]}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched.json["anonymous"] as? Bool == true && patched.json["owner"] is NSNull)
        #expect((patched.json["methods"] as? [String]) == ["GET"] && patched.json["path"] as? String == "/billing/")
        #expect(h.root("GET", "/admin/api/resources/billing").json["audience"] as? [String] == ["group:finance"])
        #expect(h.root("PATCH", "/admin/api/resources/billing", json: "{}").error == "invalid_argument")
        #expect(h.root("PATCH", "/admin/api/resources/billing", json: #"{"path":null,"methods":["GET"]}"#).error == "invalid_argument")

        // Roles and grants
        let role = h.root("POST", "/admin/api/roles", json: #"{"name":"billing-reader","privileges":["access:billing"]}"#)
        #expect(role.status == 201)
        let granted = h.root("POST", "/admin/api/roles/billing-reader/grants", json: #"{"to":"group:finance"}"#)
        #expect((granted.json["granted_to"] as? [String]) == ["group:finance"])
        #expect(h.root("POST", "/admin/api/roles/billing-reader/grants", json: #"{"to":"team:x"}"#).error == "invalid_argument")
        #expect(h.root("DELETE", "/admin/api/roles/billing-reader/grants/group:finance").status == 204)
        #expect(h.root("DELETE", "/admin/api/roles/billing-reader/grants/group:finance").error == "not_found")
        #expect(h.root("GET", "/admin/api/roles/billing-reader").json["granted_to"] as? [String] == [])

        // Keys: create (secret once), show, list by user, renew, explain, delete
        let key = h.root("POST", "/admin/api/keys", json: #"{"user":"alice","name":"billing","scopes":["/billing/"],"expires":"never"}"#)
        #expect(key.status == 201 && key.json["expires_at"] is NSNull)
        let id = try #require(key.json["id"] as? String)
        #expect(h.root("GET", "/admin/api/keys?user=alice").items.compactMap { $0["id"] as? String } == [id])
        #expect(h.root("POST", "/admin/api/keys/\(id)/renew", json: #"{"expires":"1d"}"#).json["expires_at"] as? Int == 1_000_100 + 86_400)
        let explained = h.root("GET", "/admin/api/explain?credential=\(id)&path=/billing/x&method=get&ip=10.1.2.3")
        #expect(explained.status == 200)
        #expect(explained.json["decision"] as? String == "allow")
        #expect((explained.json["steps"] as? [String])?.contains { $0.contains("billing") } == true)
        let outside = h.root("GET", "/admin/api/explain?credential=\(id)&path=/billing/x&method=POST&ip=10.1.2.3")
        #expect(outside.json["decision"] as? String == "deny" && outside.json["status"] as? Int == 403)
        #expect(h.root("GET", "/admin/api/explain?path=/billing/x").json["reason"] as? String == "ip_not_allowed")
        #expect(h.root("DELETE", "/admin/api/keys/\(id)").status == 204)

        // Deletes
        #expect(h.root("DELETE", "/admin/api/groups/finance/members/alice").status == 204)
        #expect(h.root("DELETE", "/admin/api/roles/billing-reader").status == 204)
        #expect(h.root("DELETE", "/admin/api/resources/billing").status == 204)
        #expect(h.root("DELETE", "/admin/api/groups/finance").status == 204)
        #expect(h.root("DELETE", "/admin/api/users/alice").status == 204)
        #expect(h.root("GET", "/admin/api/users/alice").status == 404)

        // Audit: filtered, paged, exported; under root's name with the key used.
        let audit = h.root("GET", "/admin/api/audit?user=root&action=group.add&limit=500")
        #expect(audit.items.count == 1)
        #expect(["credential", "detail"].contains { (audit.items.first?[$0] as? String)?.contains(h.rootKey.id) == true })
        var ids: [Int] = []
        var cursor: String? = nil
        repeat {
            let r = h.root("GET", "/admin/api/audit?limit=4" + (cursor.map { "&cursor=" + $0 } ?? ""))
            ids += r.items.compactMap { $0["id"] as? Int }
            cursor = r.json["next_cursor"] as? String
        } while cursor != nil
        #expect(ids == ids.sorted() && Set(ids).count == ids.count && ids.count > 20)
        #expect(h.root("GET", "/admin/api/audit?since=1000100&limit=500").items.count == ids.count - 5)  // not the CLI's five setup records
        let export = h.root("GET", "/admin/api/audit/export?action=user.delete")
        #expect(export.header("Content-Type") == "application/x-ndjson")
        let lines = export.text.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(#""target":"user:alice""#))
        let partial = h.root("GET", "/admin/api/audit/export?limit=3")
        #expect(partial.text.split(separator: "\n").count == 3)
        let next = try #require(partial.header("X-Next-Cursor"))
        let rest = h.root("GET", "/admin/api/audit/export?cursor=\(next)")
        #expect(rest.text.split(separator: "\n").count == ids.count - 3)
        // The same lines as text/plain for a client whose Accept prefers it; application/x-ndjson otherwise.
        func exported(_ accept: String) -> Reply {
            h.call("GET", "/admin/api/audit/export?action=user.delete", key: h.rootKey.secret, headers: ["HTTP_ACCEPT": accept])
        }
        for accept in ["text/plain", "text/*", "application/x-ndjson;q=0.5, text/plain", "text/plain;q=1, */*;q=0.1"] {
            let r = exported(accept)
            #expect(r.header("Content-Type") == "text/plain; charset=utf-8" && r.text == export.text, "Accept: \(accept)")
            #expect(r.header("Vary") == "Accept")
        }
        for accept in ["*/*", "application/x-ndjson", "text/plain;q=0.5, */*", "text/plain, application/x-ndjson", "image/png", "text/plain;q=0"] {
            let r = exported(accept)
            #expect(r.header("Content-Type") == "application/x-ndjson" && r.text == export.text, "Accept: \(accept)")
        }
        #expect(try h.f.store.verifyAudit(key: HMACKey(AuditChain.key(masterKey: h.f.keyFile.masterKey))).firstBroken == nil)
    }

    // MARK: The OpenAPI document

    @Test func theServedDocumentIsTheOneInTheRepository() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try Data(contentsOf: repo.appendingPathComponent("docs/admin-openapi.json"))
        let h = try APIHarness()
        let served = h.call("GET", "/admin/api/openapi.json")
        #expect(served.status == 200 && served.header("Content-Type") == "application/json")
        let identical = served.response.body == Array(file)
        #expect(identical, "the served document is not docs/admin-openapi.json")
        let document = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        // Every route is documented, and every documented operation is routed.
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var documented: Set<String> = []
        for (path, operations) in paths {
            for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                documented.insert(method.uppercased() + " " + path)
            }
        }
        var routed: Set<String> = []
        for route in AdminAPI.routes() {
            var n = 0
            let path =
                "/admin/api/"
                + route.pattern.segments.map { part -> String in
                    guard part == "{}" else { return part }
                    n += 1
                    return "{\(n)}"
                }.joined(separator: "/")
            routed.insert(route.method + " " + path)
        }
        let normalise: (String) -> String = { $0.replacingOccurrences(of: #"\{[a-z_]+\}"#, with: "{}", options: .regularExpression) }
        // The reveal link is served beside the API, by the same endpoint.
        let routedShapes = Set(routed.map { $0.replacingOccurrences(of: #"\{[0-9]+\}"#, with: "{}", options: .regularExpression) })
            .union(["GET /admin/reveal/{}", "POST /admin/reveal/{}"])
        let documentedShapes = Set(documented.map(normalise))
        #expect(documentedShapes.subtracting(routedShapes).isEmpty, "documented, not routed: \(documentedShapes.subtracting(routedShapes))")
        #expect(routedShapes.subtracting(documentedShapes).isEmpty, "routed, not documented: \(routedShapes.subtracting(documentedShapes))")
    }
}

@Suite struct AccessRequestAPITests {
    /// The harness with mail going to a capturing sendmail and reveal links under https://api.example.com/keyward.
    func harness() throws -> (APIHarness, CapturingSendmail) {
        let h = try APIHarness()
        let sendmail = try CapturingSendmail(in: h.f.dir)
        let settings = try MailSettings(sendmail: sendmail.script, from: "keyward@example.com", publicURL: "https://api.example.com/keyward")
        let api = AdminAPI(
            config: AdminAPIConfig(databasePath: h.f.path, keyFile: h.f.keyFile, mount: "/keyward", mail: settings),
            clock: h.clock, throttle: FailureThrottle(limit: 0, windowSeconds: 60), audit: h.sink, usage: h.sink, log: { _ in })
        h.api = api
        let cli = h.f.admin()
        _ = try cli.addUser("alice", email: "alice@example.com")
        _ = try cli.addUser("bob", email: "bob@example.com")
        _ = try cli.addRole("consumers", privileges: [Privilege.useAPIKey])
        try cli.setGrant(role: "consumers", .user("alice"), grant: true)
        try cli.setGrant(role: "consumers", .user("bob"), grant: true)
        _ = try cli.addResource("billing", ResourceSpec(path: PathScope("GET:/billing/"), owner: "bob"))
        return (h, sendmail)
    }

    @Test func requestApproveAndRevealOnce() throws {
        let (h, sendmail) = try harness()
        let cli = h.f.admin()
        let alice = try cli.createKey(user: "alice", name: "a", expires: .never, scopes: [PathScope("/keyward/admin/api/")!], networks: [])
        let bob = try cli.createKey(user: "bob", name: "b", expires: .never, scopes: [PathScope("/keyward/admin/api/")!], networks: [])

        let asked = h.call("POST", "/admin/api/access-requests", key: alice.secret, json: #"{"resource":"billing","note":"invoices"}"#)
        #expect(asked.status == 201, "\(asked.text)")
        let request = try #require(asked.json["request"] as? [String: Any])
        let id = try #require(request["id"] as? Int)
        #expect(request["status"] as? String == "pending" && request["user"] as? String == "alice" && request["note"] as? String == "invoices")
        let mail = try #require(asked.json["mail"] as? [[String: Any]])
        #expect(mail.first?["result"] as? String == "sent" && mail.first?["user"] as? String == "bob")
        #expect(mail.first?["address"] is NSNull)  // bob's address is not alice's business
        #expect(h.call("POST", "/admin/api/access-requests", key: alice.secret, json: #"{"resource":"billing"}"#).error == "conflict")
        #expect(h.call("POST", "/admin/api/access-requests", key: alice.secret, json: #"{"resource":"billing","user":"bob"}"#).error == "forbidden")

        // Listing: alice sees hers, bob the requests for what he owns; paged and filtered.
        #expect(h.call("GET", "/admin/api/access-requests", key: alice.secret).items.count == 1)
        #expect(h.call("GET", "/admin/api/access-requests?status=pending&limit=1", key: bob.secret).items.first?["id"] as? Int == id)
        #expect(h.call("GET", "/admin/api/access-requests?status=done", key: bob.secret).error == "invalid_argument")
        #expect(h.call("GET", "/admin/api/access-requests/\(id)", key: bob.secret).json["resource"] as? String == "billing")
        #expect(h.call("GET", "/admin/api/access-requests/x1", key: bob.secret).error == "not_found")
        #expect(h.call("GET", "/admin/api/access-requests/99", key: bob.secret).error == "not_found")

        // Only the owner (or an admin) decides.
        #expect(h.call("POST", "/admin/api/access-requests/\(id)/approve", key: alice.secret).error == "forbidden")
        let approved = h.call("POST", "/admin/api/access-requests/\(id)/approve", key: bob.secret, json: #"{"expires":"7d"}"#)
        #expect(approved.status == 200, "\(approved.text)")
        let decided = try #require(approved.json["request"] as? [String: Any])
        #expect(decided["status"] as? String == "approved" && decided["decided_by"] as? String == "bob")
        #expect(decided["expires_at"] as? Int == 1_000_100 + 7 * 86_400)
        let keyId = try #require(decided["key_id"] as? String)
        #expect(!approved.text.contains("kwk_" + keyId.dropFirst(4) + "_"))  // the secret went by mail only
        #expect(h.call("POST", "/admin/api/access-requests/\(id)/reject", key: bob.secret).error == "conflict")

        // The mailed link reveals the secret once: GET shows a button, POST the secret, then 410.
        let message = try #require(sendmail.messages.first { $0.contains("/admin/reveal/") })
        let token = try #require(
            message.range(of: "https://api.example.com/keyward/admin/reveal/").map {
                String(message[$0.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            })
        let page = h.call("GET", "/admin/reveal/\(token)")
        #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/html") == true && page.text.contains("<form method=\"post\">"))
        let shown = h.call("POST", "/admin/reveal/\(token)", headers: ["HTTP_ACCEPT": "application/json"])
        #expect(shown.status == 200 && shown.json["key_id"] as? String == keyId)
        #expect((shown.json["secret"] as? String)?.hasPrefix(keyId + "_") == true)
        #expect(h.call("POST", "/admin/reveal/\(token)", headers: ["HTTP_ACCEPT": "application/json"]).status == 410)
        #expect(h.call("GET", "/admin/reveal/\(token)/x").status == 404)

        // A rejection, by an admin.
        _ = try cli.addResource("reports", ResourceSpec(path: PathScope("/reports/")))
        let second = h.call("POST", "/admin/api/access-requests", key: alice.secret, json: #"{"resource":"reports"}"#)
        let secondId = try #require((second.json["request"] as? [String: Any])?["id"] as? Int)
        let rejected = h.root("POST", "/admin/api/access-requests/\(secondId)/reject", json: #"{"reason":"use billing"}"#)
        #expect((rejected.json["request"] as? [String: Any])?["status"] as? String == "rejected")
        #expect(h.root("GET", "/admin/api/access-requests?status=rejected").items.count == 1)
    }
}

/// Passwords: a user changes their own in a session with the current one; every other session ends.
@Suite struct PasswordChangeTests {
    @Test func ownPasswordNeedsTheCurrentOneAndASession() throws {
        let h = try APIHarness()
        try h.user("dana", privileges: [Privilege.useAPIKey])
        let cli = h.f.admin()
        try cli.setPassword("dana", "dana's first password")
        let key = try cli.createKey(user: "dana", name: "k", expires: .never, scopes: [], networks: [])
        let (first, _) = try h.signIn("dana", "dana's first password")
        let (second, csrf) = try h.signIn("dana", "dana's first password")
        func me(_ cookie: String) -> Int { h.call("GET", "/admin/api/me", headers: ["HTTP_COOKIE": "keyward_session=\(cookie)"]).status }

        let withKey = h.call("PUT", "/admin/api/users/dana/password", key: key.secret, json: #"{"password":"taken over 12345"}"#)
        #expect(withKey.status == 403, "an API key alone cannot change its user's password")
        let session = ["HTTP_COOKIE": "keyward_session=\(second)", "HTTP_X_CSRF_TOKEN": csrf]
        #expect(h.call("PUT", "/admin/api/users/dana/password", json: #"{"password":"new password 123"}"#, headers: session).status == 403)
        #expect(
            h.call(
                "PUT", "/admin/api/users/dana/password",
                json: #"{"password":"new password 123","current_password":"wrong one!"}"#, headers: session
            ).status == 403)
        #expect(
            h.call(
                "PUT", "/admin/api/users/dana/password",
                json: #"{"password":"new password 123","current_password":"dana's first password"}"#, headers: session
            ).status == 204)
        #expect(me(second) == 200, "the session that changed it goes on")
        #expect(me(first) == 401, "every other session ends")
        _ = try h.signIn("dana", "new password 123")
        #expect(h.root("PUT", "/admin/api/users/dana/password", json: #"{"password":"admin reset 12345"}"#).status == 204)
        #expect(me(second) == 401, "an admin reset ends all of them")
    }
}
