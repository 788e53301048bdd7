import Foundation
import KeywardCore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// What the admin pages do with a request before any handler runs: the redirect to sign-in under
/// the mount, a body refused for what it is before its CSRF token is looked for, and a browser's
/// own form POST from a `no-referrer` page (`Origin: null`, `Sec-Fetch-Site: same-origin`).
@Suite struct PageRequestTests {
    let form = "application/x-www-form-urlencoded"

    /// A signed-in root session: the page-request headers and the form's CSRF token.
    func session(_ h: APIHarness) throws -> (headers: [String: String], csrf: String) {
        let (cookie, csrf) = try h.signIn()
        return (["HTTP_COOKIE": "keyward_session=\(cookie)", "HTTP_HOST": "keys.example.com"], csrf)
    }

    @Test func signedOutPagesRedirectToSignInUnderTheMount() throws {
        let h = try APIHarness()
        let r = h.call("GET", "/admin/", contentType: nil)
        #expect(r.status == 303)
        #expect(r.header("Location") == "/keyward/admin/login?next=%2Fkeyward%2Fadmin%2F")
        let ended = h.call("GET", "/admin/keys/new", contentType: nil, headers: ["HTTP_COOKIE": "keyward_session=gone"])
        #expect(ended.header("Location") == "/keyward/admin/login?next=%2Fkeyward%2Fadmin%2Fkeys%2Fnew&ended=1")
    }

    @Test func aBodyIsRefusedForWhatItIsBeforeItsToken() throws {
        let h = try APIHarness(bodyLimit: 1024)
        let (headers, csrf) = try session(h)
        func post(_ body: [UInt8], _ type: String?) -> Reply {
            h.call("POST", "/admin/keys/new", body: body, contentType: type, headers: headers)
        }
        let token = Array("csrf_token=\(csrf)&name=".utf8)
        #expect(post(token + Array("x".utf8), "text/plain").status == 415)
        #expect(post(token + [0xFF, 0xFE], form).status == 400)
        #expect(post(token + Array("caf%FF".utf8), form).status == 400)
        #expect(post(token + Array(repeating: 0x61, count: 2048), form).status == 413)
        #expect(post(Array("name=x".utf8), form).status == 403)  // a form without its token
        #expect(post([], nil).status == 403)  // no body at all: an empty form, no token
        #expect(post(Array("csrf_token=\(csrf)&csrf_token=\(csrf)".utf8), form).status == 403)  // twice
        #expect(try h.f.admin().keys(user: "root").count == 1)  // nothing was made
    }

    @Test func aBrowsersOwnFormFromANoReferrerPageIsAccepted() throws {
        let h = try APIHarness()
        let (headers, csrf) = try session(h)
        let body = Array("csrf_token=\(csrf)&user=root&name=from-the-page&expires=7d".utf8)
        func post(_ extra: [String: String]) -> Reply {
            h.call("POST", "/admin/keys/new", body: body, contentType: form, headers: headers.merging(extra) { $1 })
        }
        #expect(post(["HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "cross-site"]).status == 403)
        #expect(post(["HTTP_ORIGIN": "null"]).status == 403)
        let made = post(["HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "same-origin"])
        #expect(made.status == 200, "\(made.text)")
        #expect(made.header("Cache-Control") == "no-store")
        #expect(made.text.contains("id=\"secret\""))
    }
}
