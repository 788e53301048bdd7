import Foundation
import KeywardCore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// The HTTP adapter's guards for browsers: CSRF token from a header or a form field, the
/// `Origin` / `Sec-Fetch-Site` check, and form bodies.
@Suite struct RequestGuardTests {
    /// A signed-in root session, and a key to act on.
    func session(_ h: APIHarness) throws -> (cookie: [String: String], csrf: String, key: String) {
        let (cookie, csrf) = try h.signIn()
        let key = try h.f.admin().createKey(user: "root", name: "target", expires: .never, scopes: [], networks: [])
        return (["HTTP_COOKIE": "keyward_session=\(cookie)", "HTTP_HOST": "keys.example.com"], csrf, key.id)
    }

    @Test func aPagesFormCarriesTheCSRFTokenInAField() throws {
        let h = try APIHarness()
        let (cookie, csrf, key) = try session(h)
        let form = "application/x-www-form-urlencoded"
        let ok = h.call("POST", "/admin/api/keys/\(key)/disable", body: Array("csrf_token=\(csrf)".utf8), contentType: form, headers: cookie)
        #expect(ok.status == 200, "\(ok.text)")
        #expect(ok.json["status"] as? String == "disabled")
        let wrong = h.call("POST", "/admin/api/keys/\(key)/enable", body: Array("csrf_token=nope".utf8), contentType: form, headers: cookie)
        #expect(wrong.status == 403 && wrong.error == "csrf_failed")
        let none = h.call("POST", "/admin/api/keys/\(key)/enable", body: Array("x=1".utf8), contentType: form, headers: cookie)
        #expect(none.status == 403 && none.error == "csrf_failed")
        // An API key needs no CSRF token, and a JSON endpoint still wants JSON.
        #expect(h.root("POST", "/admin/api/keys/\(key)/enable").status == 200)
    }

    @Test func aBrowsersCrossSiteRequestIsRefusedEvenWithTheToken() throws {
        let h = try APIHarness()
        let (cookie, csrf, key) = try session(h)
        func disable(_ extra: [String: String]) -> Reply {
            h.call(
                "POST", "/admin/api/keys/\(key)/disable", json: "{}",
                headers: cookie.merging(["HTTP_X_CSRF_TOKEN": csrf]) { $1 }.merging(extra) { $1 })
        }
        for origin in [
            "https://evil.example", "null", "https://keys.example.com.evil.example", "https://user@keys.example.com",
            "file://", "https://keys.example.com:8443",
        ] {
            let r = disable(["HTTP_ORIGIN": origin])
            #expect(r.status == 403 && r.error == "csrf_failed", "Origin: \(origin)")
        }
        for site in ["cross-site", "same-site"] {
            let r = disable(["HTTP_SEC_FETCH_SITE": site])
            #expect(r.status == 403 && r.error == "csrf_failed", "Sec-Fetch-Site: \(site)")
        }
        #expect(disable(["HTTP_ORIGIN": "https://keys.example.com", "HTTP_SEC_FETCH_SITE": "same-origin"]).status == 200)
        #expect(disable(["HTTP_ORIGIN": "https://KEYS.example.com:443"]).status == 200)
        // A page with `Referrer-Policy: no-referrer` makes the browser's own form POST say
        // `Origin: null`; Sec-Fetch-Site, which no page can set, says where it came from.
        #expect(disable(["HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "same-origin"]).status == 200)
        for site in ["cross-site", "same-site", "none"] {
            let r = disable(["HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": site])
            #expect(r.status == 403 && r.error == "csrf_failed", "Origin: null, Sec-Fetch-Site: \(site)")
        }
        #expect(disable([:]).status == 200)  // scripts send no Origin; the token still has to match
        // A safe method is never refused for its origin.
        #expect(h.call("GET", "/admin/api/me", headers: cookie.merging(["HTTP_ORIGIN": "https://evil.example"]) { $1 }).status == 200)
    }

    @Test func formBodies() throws {
        let scopes = try FormBody(Array("scope=%2Fa%2F&scope=/b/&name=my+key&csrf_token=t".utf8), allowed: ["scope", "name", "csrf_token"])
        #expect(try scopes.strings("scope") == ["/a/", "/b/"])
        #expect(try scopes.string("name") == "my key")
        #expect(throws: AdminError.self) { try scopes.string("scope") }  // two values where one is wanted
        #expect(throws: AdminError.self) { try FormBody(Array("name=%zz".utf8), allowed: ["name"]) }
        #expect(throws: AdminError.self) { try FormBody([0x6E, 0x3D, 0xFF], allowed: ["n"]) }
        #expect(throws: AdminError.self) { try FormBody(Array("admin=1".utf8), allowed: ["name"]) }
        #expect(try FormBody(Array("admin=1&name=x".utf8), allowed: ["name"], ignoringOthers: true).string("name") == "x")
        #expect(APIRequest.authority(ofOrigin: "https://a.example:443") == "a.example")
        #expect(APIRequest.authority(ofOrigin: "http://a.example:8080") == "a.example:8080")
        #expect(APIRequest.authority(ofOrigin: "null") == nil)
        #expect(APIRequest.normalized("A.example:80") == "a.example")
    }
}
