import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// A browser's view of the pages: a session cookie and the CSRF token its forms carry.
struct Browser {
    let h: APIHarness
    var cookie: String?

    func get(_ path: String, headers: [String: String] = [:]) -> Reply {
        var all = headers
        if let cookie { all["HTTP_COOKIE"] = "keyward_session=" + cookie }
        return h.call("GET", path, headers: all)
    }

    func post(_ path: String, form: String, csrf: Bool = true, headers: [String: String] = [:]) -> Reply {
        var all = ["HTTP_ORIGIN": "https://keys.example", "HTTP_HOST": "keys.example"].merging(headers) { $1 }
        if let cookie { all["HTTP_COOKIE"] = "keyward_session=" + cookie }
        var body = form
        if csrf, let token { body += (body.isEmpty ? "" : "&") + "csrf_token=" + token }
        return h.call("POST", path, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded", headers: all)
    }

    /// The token the pages put in `csrf_token` fields: derived from the cookie.
    var token: String? { cookie.map { Sessions.csrfToken(forSession: $0, key: h.api.csrfKey) } }

    /// Signs in through the sign-in form.
    static func signedIn(_ h: APIHarness, user: String = "root", password: String = APIHarness.rootPassword) throws -> Browser {
        let r = Browser(h: h).post(
            "/admin/login", form: "user=\(user)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", csrf: false)
        try #require(r.status == 303, "sign-in failed: \(r.status) \(r.text)")
        let setCookie = try #require(r.response.headers.first { $0.0 == "Set-Cookie" && $0.1.hasPrefix("keyward_session=") }?.1)
        let value = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
        return Browser(h: h, cookie: String(value))
    }
}

@Suite struct PageTests {
    @Test func theWriterEscapesEveryValue() {
        #expect(HTML.escaped(#"<script>"'&"#) == "&lt;script&gt;&quot;&#39;&amp;")
        #expect(HTML.escaped("a\u{0}b\u{1B}c\td\n") == "a\u{FFFD}b\u{FFFD}c\td\n")
        var html = HTML()
        html.element("a", [.init("href", #"x" onclick="alert(1)"#), "hidden"], text: "<b>")
        #expect(String(decoding: html.bytes, as: UTF8.self) == #"<a href="x&quot; onclick=&quot;alert(1)" hidden>&lt;b&gt;</a>"#)
    }

    @Test func datesAndAddressesAsPagesShowThem() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for t: Int64 in [0, -1, -86_400 * 365 * 70 - 7, 951_782_400, 951_868_799, 1_796_497_749, 4_102_444_800, 253_402_300_799] {
            #expect(PageFormat.machine(t) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(t))), "\(t)")
        }
        #expect(PageFormat.iso(1_796_497_749) == "2026-12-05 19:09Z")
        #expect(PageFormat.relative(1_000 + 29 * 86_400 + 5, now: 1_000) == "in 29 days")
        #expect(PageFormat.relative(1_000, now: 1_000 + 3 * 3_600) == "3 hours ago")
        // Nearest, not rounded down: a fresh 7-day key.
        #expect(PageFormat.relative(1_000 + 7 * 86_400 - 30, now: 1_000) == "in 7 days")
        #expect(PageFormat.relative(1_000 + 3_570, now: 1_000) == "in 1 hour")
        #expect(PageFormat.relative(1_000, now: 1_000 + 89) == "1 minute ago")
        #expect(PageFormat.relative(1_000, now: 1_000 + 91) == "2 minutes ago")
        #expect(PageFormat.relative(1_000 + 3 * 365 * 86_400, now: 1_000) == "in 3 years")
        #expect(PageFormat.address("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1")
        #expect(PageFormat.address("2001:db8:0:1:0:0:0:1") == "2001:db8:0:1::1")
        #expect(PageFormat.address("0:0:0:0:0:0:0:1") == "::1" && PageFormat.address("10.0.0.5") == "10.0.0.5")
        #expect(PageFormat.address("2001:db8:1:1:1:1:0:0") == "2001:db8:1:1:1:1::")
    }

    @Test func signedOutPagesGoToSignInAndBackNeverOffSite() throws {
        let h = try APIHarness()
        let r = Browser(h: h).get("/admin/keys/new")
        #expect(
            r.status == 303 && r.header("Location") == "/keyward/admin/login?next=%2Fkeyward%2Fadmin%2Fkeys%2Fnew", "\(r.header("Location") ?? "")")
        let login = Browser(h: h).get("/admin/login?next=%2Fkeyward%2Fadmin%2Fkeys%2Fnew")
        #expect(login.status == 200 && login.text.contains(#"name="next" value="/keyward/admin/keys/new""#))
        for bad in ["//evil.example/", "https://evil.example/keyward/admin/", "/keyward/admin//evil", "/keyward/admin/\\evil", "/elsewhere/"] {
            #expect(AdminAPI.localNext(bad, mount: "/keyward") == nil, "\(bad)")
        }
        #expect(AdminAPI.localNext("/keyward/admin/users", mount: "/keyward") == "/keyward/admin/users")
    }

    @Test func signInAnswersAlikeForUnknownUsersAndWrongPasswords() throws {
        let h = try APIHarness()
        let wrong = Browser(h: h).post("/admin/login", form: "user=root&password=nope", csrf: false)
        let unknown = Browser(h: h).post("/admin/login", form: "user=nobody&password=nope", csrf: false)
        #expect(wrong.status == 401 && unknown.status == 401)
        #expect(wrong.text.contains("Unknown user or wrong password.") && unknown.text.contains("Unknown user or wrong password."))
        // A cross-site sign-in form (login CSRF) is refused before any password is checked.
        let forged = Browser(h: h).post("/admin/login", form: "user=root&password=x", csrf: false, headers: ["HTTP_ORIGIN": "https://evil.example"])
        #expect(forged.status == 403 && forged.text.contains("csrf_failed"))
    }

    @Test func pagesCarryTheirSecurityHeaders() throws {
        let h = try APIHarness()
        let page = try Browser.signedIn(h).get("/admin/")
        #expect(page.status == 200)
        let csp = try #require(page.header("Content-Security-Policy"))
        #expect(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"))
        #expect(page.header("Cache-Control") == "no-store" && page.header("X-Content-Type-Options") == "nosniff")
        #expect(page.header("Referrer-Policy") == "no-referrer")
        // The stylesheet and the script: cached for a year under their hashed names.
        for asset in [Assets.stylesheet, Assets.script] {
            #expect(page.text.contains("/keyward" + asset.path))
            let r = Browser(h: h).get(asset.path)
            #expect(r.status == 200 && r.header("Cache-Control") == "public, max-age=31536000, immutable" && r.response.body == asset.bytes)
        }
        #expect(Browser(h: h).get("/admin/assets/keyward-000000000000.css").status == 404)
    }

    @Test func aNewKeysSecretIsShownOnceAndNowhereElse() throws {
        let h = try APIHarness()
        let browser = try Browser.signedIn(h)
        let created = browser.post("/admin/keys/new", form: "user=root&name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&expires=7d&other_scopes=%2Fapi%2F")
        #expect(created.status == 200 && created.header("Cache-Control") == "no-store")
        let key = try #require(try h.f.admin().keys(user: "root").first { $0.name == "<script>alert(1)</script>" })
        let secret = try #require(
            created.text.range(of: key.id + "_").map { String(created.text[$0.lowerBound...].prefix { !"<'\" ".contains($0) }) })
        #expect(secret.count > key.id.count + 10 && !created.text.contains("<script>alert"))
        #expect(created.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        let list = browser.get("/admin/")
        #expect(list.text.contains(key.id + "<span>_••••</span>") && !list.text.contains(secret))
        #expect(!browser.get("/admin/keys/\(key.id)/regenerate").text.contains(secret))
        // The audit names the key, never the secret.
        #expect(try h.f.admin().audit().allSatisfy { !($0.detail ?? "").contains(secret) })
    }

    @Test func formsNeedTheTokenAndTheOrigin() throws {
        let h = try APIHarness()
        let browser = try Browser.signedIn(h)
        let noToken = browser.post("/admin/keys/new", form: "user=root&name=a&expires=7d", csrf: false)
        #expect(noToken.status == 403 && noToken.text.contains("csrf_failed"))
        let foreign = browser.post("/admin/keys/new", form: "user=root&name=a&expires=7d", headers: ["HTTP_ORIGIN": "https://evil.example"])
        #expect(foreign.status == 403)
        let sameSite = browser.post("/admin/keys/new", form: "user=root&name=a&expires=7d", headers: ["HTTP_SEC_FETCH_SITE": "same-site"])
        #expect(sameSite.status == 403)
        #expect(try h.f.admin().keys(user: "root").allSatisfy { $0.name != "a" })
        // A session made by the API has the same token: pages and API share sessions.
        let (cookie, csrf) = try h.signIn()
        #expect(Sessions.csrfToken(forSession: cookie, key: h.api.csrfKey) == csrf)
    }

    @Test func keyChangesAreConfirmedThenDone() throws {
        let h = try APIHarness()
        let browser = try Browser.signedIn(h)
        let key = try h.f.admin().createKey(user: "root", name: "k", expires: .seconds(86_400), scopes: [], networks: [])
        let confirm = browser.get("/admin/keys/\(key.id)/disable")
        #expect(confirm.status == 200 && confirm.text.contains("Disable key k?"))
        #expect(try h.f.admin().key(key.id).status == .active)
        let done = browser.post("/admin/keys/\(key.id)/disable", form: "")
        #expect(done.status == 303 && done.header("Location") == "/keyward/admin/?done=disable&key=\(key.id)")
        #expect(try h.f.admin().key(key.id).status == .disabled)
        #expect(browser.get("/admin/?done=disable&key=\(key.id)").text.contains("The key is disabled."))
        let regenerated = browser.post("/admin/keys/\(key.id)/regenerate", form: "")
        #expect(regenerated.status == 200 && !regenerated.text.contains(key.secret) && regenerated.text.contains(key.id + "_"))
        #expect(browser.post("/admin/keys/\(key.id)/explode", form: "").status == 404)
        #expect(browser.post("/admin/keys/\(key.id)/delete", form: "").status == 303)
        #expect(browser.get("/admin/keys/\(key.id)/delete").status == 404)
    }

    @Test func signOutEndsTheSessionOnTheServer() throws {
        let h = try APIHarness()
        let browser = try Browser.signedIn(h)
        #expect(browser.get("/admin/").status == 200)
        let out = browser.post("/admin/logout", form: "")
        #expect(out.status == 303 && out.header("Set-Cookie")?.hasPrefix("keyward_session=;") == true)
        let after = browser.get("/admin/")
        #expect(after.status == 303 && after.header("Location")?.contains("ended=1") == true)
    }

    @Test func badInputGetsAReadablePageWithACode() throws {
        let h = try APIHarness()
        let browser = try Browser.signedIn(h)
        let unknown = browser.get("/admin/nowhere")
        #expect(unknown.status == 404 && unknown.text.contains("not_found") && unknown.header("Content-Type")?.hasPrefix("text/html") == true)
        let json = browser.post("/admin/keys/new", form: "", headers: [:])
        #expect(json.status == 400 || json.status == 403)
        let twice = browser.post("/admin/keys/new", form: "name=a&name=b&expires=7d")
        #expect(twice.status == 400)
        let method = browser.post("/admin/", form: "")
        #expect(method.status == 405 && method.header("Allow") == "GET")
    }
}
