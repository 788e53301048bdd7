import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// The signed-request credentials' pages: the list and the show-once page of the credential
/// pages, and each credential's secrets under the rotation rules (add, roll, discard, reactivate,
/// delete and reveal with the password), driven in-process like a browser.
@Suite struct HMACPagesTests {
    static let alicePassword = "alice's long password"

    private func fixture() throws -> (APIHarness, Browser) {
        let h = try APIHarness()
        let cli = h.f.admin()
        _ = try cli.addResource("api", ResourceSpec(path: PathScope("/api/")))
        try h.user("alice", privileges: [Privilege.manageOwnKeys, Privilege.access("api")])
        try h.user("carol", privileges: [Privilege.manageOwnKeys])
        try cli.setPassword("alice", Self.alicePassword)
        try cli.setPassword("carol", "carol's long password")
        return (h, try Browser.signedIn(h, user: "alice", password: Self.alicePassword))
    }

    /// alice's credential made on the page; its id and secret from the show-once page.
    private func created(_ alice: Browser) throws -> (id: String, secret: String) {
        let r = alice.post("/admin/hmac/new", form: ServicePagesTests.form([("name", "orders"), ("expires", "30d"), ("scope", "/api/")]))
        try #require(r.status == 200, "\(r.status) \(r.text.prefix(600))")
        let secret = try #require(ServicePagesTests.element("secret", in: r.text))
        let id = try #require(r.text.range(of: "kwh_").map { String(r.text[$0.lowerBound...].prefix(20)) })
        return (id, secret)
    }

    @Test func theListTheShowOncePageAndNoRegenerate() throws {
        let (h, alice) = try fixture()
        let empty = alice.get("/admin/hmac")
        #expect(empty.status == 200 && empty.text.contains(">Signed requests<") && empty.text.contains(">New credential<"))
        let (id, secret) = try created(alice)
        #expect(Base64.decode(secret)?.count == 32)
        let row = try h.f.store.requestKey(id)
        #expect(row.user == "alice" && row.scopes == ["/api/"] && row.algorithm == .hmacSHA256)
        let shown = alice.post("/admin/hmac/new", form: ServicePagesTests.form([("name", "other"), ("expires", "30d"), ("scope", "/api/")]))
        #expect(shown.header("Cache-Control") == "no-store" && shown.text.contains("Keyward keeps it encrypted"))
        #expect(shown.text.contains("Authorization: HMAC kwh_") && shown.text.contains("openssl dgst -sha256 -mac HMAC"))
        let list = alice.get("/admin/hmac")
        #expect(list.text.contains(id) && !list.text.contains(secret) && list.text.contains("/admin/hmac/\(id)/secrets"))
        #expect(!list.text.contains("/\(id)/regenerate"), "secrets rotate; the credential is not regenerated")
        #expect(alice.get("/admin/hmac/\(id)/regenerate").status == 404)
        #expect(alice.get("/admin/hmac/\(id)/disable").status == 200)
        #expect(alice.post("/admin/hmac/\(id)/disable", form: "").status == 303)
        #expect(try h.f.store.requestKey(id).status == .disabled)
    }

    @Test func secretsRotateWithTheRulesBesideTheButtons() throws {
        let (h, alice) = try fixture()
        let (id, first) = try created(alice)
        let base = "/admin/hmac/\(id)/secrets"
        let page = alice.get(base)
        #expect(page.status == 200 && page.text.contains("Secret 1") && !page.text.contains(first))
        // The only active secret: Discard disabled, with the rule tied to it.
        #expect(page.text.contains(#"aria-describedby="discard-1""#) && page.text.contains("at least one stays active"))
        #expect(alice.post(base + "/1/discard", form: "").status == 409)

        // Add: a second secret, shown once; then Add is disabled with its rule.
        let added = alice.post(base, form: ServicePagesTests.form([("grace", "")]))
        #expect(added.status == 200 && added.header("Cache-Control") == "no-store")
        let second = try #require(ServicePagesTests.element("secret", in: added.text))
        #expect(second != first && Base64.decode(second)?.count == 32)
        let two = alice.get(base)
        #expect(two.text.contains(#"aria-describedby="add-reason""#) && two.text.contains("at most two active"))
        #expect(!two.text.contains(second), "the secret is on the show-once page only")

        // Discard the first; reactivate; discard again; delete with the password.
        #expect(alice.post(base + "/1/discard", form: "").status == 303)
        #expect(try h.f.store.requestKeySecrets(id).map(\.state) == ["inactive", "active"])
        #expect(alice.post(base + "/1/reactivate", form: "").status == 303)
        #expect(alice.post(base + "/1/discard", form: "").status == 303)
        let confirm = alice.get(base + "/1/delete")
        #expect(confirm.status == 200 && confirm.text.contains(#"autocomplete="current-password""#))
        let wrong = alice.post(base + "/1/delete", form: ServicePagesTests.form([("password", "nope")]))
        #expect(wrong.status == 403 && wrong.text.contains("The password did not match."))
        #expect(alice.get(base + "/2/delete").status == 409, "an active secret is discarded first")
        #expect(alice.post(base + "/1/delete", form: ServicePagesTests.form([("password", Self.alicePassword)])).status == 303)
        #expect(try h.f.store.requestKeySecrets(id).map(\.serial) == [2])

        // A roll: the current one retires by itself after the grace.
        let rolled = alice.post(base, form: ServicePagesTests.form([("grace", "24h")]))
        #expect(rolled.status == 200)
        #expect(try h.f.store.requestKeySecrets(id).map(\.state) == ["retiring", "active"])
        #expect(alice.get(base).text.contains("until"))
        #expect(alice.post(base, form: ServicePagesTests.form([("grace", "99y")])).status == 400)
    }

    @Test func aRevealNeedsThePasswordAndWorksOnce() throws {
        let (h, alice) = try fixture()
        let (id, first) = try created(alice)
        let path = "/admin/hmac/\(id)/secrets/1/reveal"
        let form = alice.get(path)
        #expect(form.status == 200 && !form.text.contains(first))
        let token = try ServicePagesTests.revealToken(form.text)
        let wrong = alice.post(path, form: ServicePagesTests.form([("password", "nope"), ("reveal_token", token)]))
        #expect(wrong.status == 403 && !wrong.text.contains(first))
        let shown = alice.post(path, form: ServicePagesTests.form([("password", Self.alicePassword), ("reveal_token", token)]))
        #expect(shown.status == 200 && shown.header("Cache-Control") == "no-store")
        #expect(ServicePagesTests.element("secret", in: shown.text) == first)
        let again = alice.post(path, form: ServicePagesTests.form([("password", Self.alicePassword), ("reveal_token", token)]))
        #expect(again.status == 409 && !again.text.contains(first), "a reload does not show it again")
        #expect(try h.f.store.audit(action: "hmac.secret.reveal").count == 1)
        // Others' credentials look absent; a forged POST is refused.
        let carol = try Browser.signedIn(h, user: "carol", password: "carol's long password")
        #expect(carol.get("/admin/hmac/\(id)/secrets").status == 404)
        #expect(alice.post("/admin/hmac/\(id)/secrets/1/discard", form: "", csrf: false).status == 403)
    }
}
