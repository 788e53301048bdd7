import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// The service pages (issue 12, item 1), driven in-process like a browser: the list and the
/// new-service form, the show-once page, the rotation buttons the rules disable (with the rule
/// beside them), delete and reveal behind the password, CSRF, an admin's view, hostile input.
@Suite struct ServicePagesTests {
    static let alicePassword = "alice's long password"

    /// root (admin); alice (manage-own-keys, may call /api/); bob (manage-own-keys); carol (nothing).
    private func fixture() throws -> (APIHarness, Browser) {
        let h = try APIHarness()
        let cli = h.f.admin()
        _ = try cli.addResource("api", ResourceSpec(path: PathScope("/api/")))
        try h.user("alice", privileges: [Privilege.manageOwnKeys, Privilege.access("api")])
        try h.user("bob", privileges: [Privilege.manageOwnKeys])
        try h.user("carol", privileges: [])
        try cli.setPassword("alice", Self.alicePassword)
        try cli.setPassword("bob", "bob's long password")
        try cli.setPassword("carol", "carol's long password")
        return (h, try Browser.signedIn(h, user: "alice", password: Self.alicePassword))
    }

    static func form(_ fields: [(String, String)]) -> String {
        let safe = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return fields.map { $0.0 + "=" + ($0.1.addingPercentEncoding(withAllowedCharacters: safe) ?? "") }.joined(separator: "&")
    }

    /// The text of the element with this id (`<code id="secret" ...>TEXT</code>`), as served (escaped).
    static func element(_ id: String, in text: String) -> String? {
        guard let start = text.range(of: "id=\"\(id)\"") else { return nil }
        guard let open = text[start.upperBound...].firstIndex(of: ">") else { return nil }
        let rest = text[text.index(after: open)...]
        return String(rest.prefix { $0 != "<" })
    }

    /// The value of the hidden `reveal_token` of a reveal form.
    static func revealToken(_ text: String) throws -> String {
        let range = try #require(text.range(of: #"name="reveal_token" value=""#))
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }

    /// alice's service made on the page; its two secrets from the show-once page.
    private func created(_ h: APIHarness, _ alice: Browser, name: String = "billing") throws -> (key: String, jwt: String, row: ServiceRow) {
        let r = alice.post("/admin/services", form: Self.form([("owner", "alice"), ("name", name), ("scope", "/api/")]))
        try #require(r.status == 200, "\(r.status) \(r.text.prefix(600))")
        let key = try #require(Self.element("service-key", in: r.text))
        let jwt = try #require(Self.element("jwt-secret", in: r.text))
        return (key, jwt, try h.f.store.service(name))
    }

    @Test func theListTheFormAndTheShowOncePage() throws {
        let (h, alice) = try fixture()
        let empty = alice.get("/admin/services")
        #expect(empty.status == 200 && empty.text.contains("No services yet.") && empty.text.contains(">New service<"))
        #expect(empty.text.contains(#"href="/keyward/admin/services" aria-current="page">Services<"#), "the navigation has Services")
        #expect(empty.text.contains(#"value="/api/""#), "the scopes offered are the resources alice may call")

        let r = alice.post(
            "/admin/services", form: Self.form([("owner", "alice"), ("name", "billing"), ("scope", "/api/"), ("networks", "10.0.0.0/8")]))
        #expect(r.status == 200 && r.header("Cache-Control") == "no-store")
        #expect(r.text.contains("Your new service billing") && r.text.contains("Copy the secrets now."))
        let key = try #require(Self.element("service-key", in: r.text))
        let jwt = try #require(Self.element("jwt-secret", in: r.text))
        let row = try h.f.store.service("billing")
        #expect(row.owner == "alice" && row.scopes == ["/api/"] && row.allowIPs == ["10.0.0.0/8"])
        let keyId = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        #expect(key.hasPrefix(keyId + "_") && key.count == keyId.count + 1 + 38)
        #expect(Base64.decode(jwt)?.count == 32)
        #expect(r.text.contains(#"data-copy="service-key""#) && r.text.contains(#"data-copy="jwt-secret""#))
        #expect(r.text.contains("curl -H &#39;Authorization: Bearer \(key)&#39; http://keys.example/api/"))
        #expect(r.text.contains("jwt.encode({&quot;iss&quot;: &quot;billing&quot;"))
        // The secrets are the stored ones, and appear nowhere else.
        let shown = try h.f.admin().revealServiceCredential("billing", keyId, password: Self.alicePassword)
        #expect(shown.secret == key)
        let list = alice.get("/admin/services")
        #expect(list.text.contains(#"href="/keyward/admin/services/billing">billing<"#) && list.text.contains("1 active"))
        let page = alice.get("/admin/services/billing")
        #expect(page.status == 200 && page.text.contains(#"<code class="masked">\#(keyId)<span>_••••</span></code>"#))
        for text in [list.text, page.text] { #expect(!text.contains(key) && !text.contains(jwt)) }
        #expect(try h.f.store.audit(action: "service.create").count == 1)
        // Sent again (a reload): the name is taken, no second service, no secret.
        let again = alice.post("/admin/services", form: Self.form([("owner", "alice"), ("name", "billing"), ("scope", "/api/")]))
        #expect(again.status == 409 && again.text.contains("A service with this name exists already.") && !again.text.contains(key))
    }

    @Test func badInputIsShownNextToItsFieldAsText() throws {
        let (h, alice) = try fixture()
        let hostile = "<script>alert(1)</script>"
        let r = alice.post("/admin/services", form: Self.form([("owner", "alice"), ("name", hostile), ("networks", "\"><img src=x>")]))
        #expect(r.status == 400 && !r.text.contains("<script>alert") && !r.text.contains("<img src"))
        #expect(r.text.contains(#"value="&lt;script&gt;alert(1)&lt;/script&gt;""#))
        #expect(r.text.contains(#"id="service_name-error""#) && r.text.contains(#"id="networks-error""#))
        // No scope at all: a self-service credential must name one.
        let noScope = alice.post("/admin/services", form: Self.form([("owner", "alice"), ("name", "billing")]))
        #expect(noScope.status == 403 && noScope.text.contains(#"id="scope-error""#))
        // An owner field sent by a non-admin is ignored: the service is alice's.
        _ = alice.post("/admin/services", form: Self.form([("owner", "bob"), ("name", "mine"), ("scope", "/api/")]))
        #expect(try h.f.store.service("mine").owner == "alice")
        #expect(try h.f.store.services(owner: nil).map(\.name) == ["mine"])
        // Markup in an admin's other scopes comes back as text.
        let root = try Browser.signedIn(h)
        let scoped = root.post("/admin/services", form: Self.form([("owner", "alice"), ("name", "x"), ("other_scopes", "<b>bold</b>")]))
        #expect(scoped.status == 400 && scoped.text.contains("Not a path scope: &lt;b&gt;bold&lt;/b&gt;"))
        // An unknown owner (markup and all): 404, next to the owner field, as text.
        let nobody = root.post("/admin/services", form: Self.form([("owner", "<img src=x>"), ("name", "x")]))
        #expect(nobody.status == 404 && nobody.text.contains(#"id="service_owner-error""#) && !nobody.text.contains("<img src"))
        #expect(nobody.text.contains(#"value="&lt;img src=x&gt;""#))
        // Looking at alice's services, the form makes the next one for her.
        #expect(root.get("/admin/services?user=alice").text.contains(#"id="service_owner" name="owner" value="alice""#))
    }

    @Test func buttonsTheRulesForbidAreDisabledWithTheirReason() throws {
        let (h, alice) = try fixture()
        let (_, _, row) = try created(h, alice)
        let k1 = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        var page = alice.get("/admin/services/billing").text
        // The only active key: Discard disabled, the rule tied to it; Add enabled.
        #expect(page.contains(#"aria-label="Discard \#(k1)" disabled aria-describedby="discard-\#(k1)">Discard</button>"#))
        #expect(
            page.contains(#"id="discard-\#(k1)">\#(k1) is the only active credential; add or reactivate another first (at least one stays active).<"#)
        )
        #expect(page.contains(#"<button type="submit">Add service key</button>"#))
        // Sent anyway: refused with the rule, nothing changed.
        let forced = alice.post("/admin/services/billing/credentials/\(k1)/discard", form: "")
        #expect(forced.status == 409 && forced.text.contains("is the only active credential"))
        #expect(try h.f.store.service("billing").credentials.allSatisfy { $0.status == "active" })

        // A second key, shown once: now Add is disabled (two active), both may be discarded.
        let added = alice.post("/admin/services/billing/credentials", form: "type=service-key")
        #expect(added.status == 200 && added.text.contains("New service key for billing"))
        let second = try #require(Self.element("secret", in: added.text))
        let k2 = try #require(try h.f.store.service("billing").credentials.last?.id)
        #expect(second.hasPrefix(k2 + "_"))
        page = alice.get("/admin/services/billing").text
        #expect(!page.contains(second))
        #expect(page.contains(#"<button type="submit" disabled aria-describedby="add-service-key-reason">Add service key</button>"#))
        #expect(page.contains("\(k1) and \(k2) are active already; discard one first (at most two active)."))
        #expect(page.contains(#"aria-label="Discard \#(k1)">Discard</button>"#) && page.contains(#"aria-label="Discard \#(k2)">Discard</button>"#))
        // Adding again (a reload of that POST): refused, no secret.
        let reload = alice.post("/admin/services/billing/credentials", form: "type=service-key")
        #expect(reload.status == 409 && reload.text.contains("are active already") && !reload.text.contains(second))

        // Discard the first: k2 is now the only active one; k1 may be reactivated or deleted.
        let discard = alice.post("/admin/services/billing/credentials/\(k1)/discard", form: "")
        #expect(discard.status == 303 && discard.header("Location") == "/keyward/admin/services/billing?done=discard&credential=\(k1)")
        page = alice.get("/admin/services/billing?done=discard&credential=\(k1)").text
        #expect(page.contains("The credential is discarded") && page.contains(#"aria-describedby="discard-\#(k2)""#))
        #expect(page.contains(#"aria-label="Reactivate \#(k1)">Reactivate</button>"#))
        #expect(page.contains(#"href="/keyward/admin/services/billing/credentials/\#(k1)/delete""#))
        // A third: two active and one inactive, so Reactivate is disabled, and so is Discard (one inactive already).
        #expect(alice.post("/admin/services/billing/credentials", form: "type=service-key").status == 200)
        page = alice.get("/admin/services/billing").text
        #expect(page.contains(#"aria-label="Reactivate \#(k1)" disabled aria-describedby="reactivate-\#(k1)""#))
        #expect(page.contains("\(k1) is inactive already; delete or reactivate it first (at most one inactive)."))
        #expect(try h.f.store.audit(action: "service.credential.discard").count == 1)
        // The JWT secrets have their own table and rules.
        #expect(page.contains(#"<h2 id="jwt-secrets">JWT secrets</h2>"#) && page.contains(#"<button type="submit">Add JWT secret</button>"#))
    }

    @Test func revealNeedsThePasswordAndShowsTheSecretOnce() throws {
        let (h, alice) = try fixture()
        let (key, _, row) = try created(h, alice)
        let id = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        let path = "/admin/services/billing/credentials/\(id)/reveal"
        let confirm = alice.get(path)
        #expect(confirm.status == 200 && !confirm.text.contains(key))
        #expect(confirm.text.contains(#"<label for="password">Your password"#))
        #expect(confirm.text.contains(#"type="password" id="password" name="password" autocomplete="current-password" required"#))
        let token = try Self.revealToken(confirm.text)

        let wrong = alice.post(path, form: Self.form([("password", "not it"), ("reveal_token", token)]))
        #expect(wrong.status == 403 && wrong.text.contains(#"id="password-error">The password did not match.<"#) && !wrong.text.contains(key))
        #expect(try h.f.store.audit(action: "service.password.refused").count == 1)
        let empty = alice.post(path, form: Self.form([("password", ""), ("reveal_token", token)]))
        #expect(empty.status == 400 && empty.text.contains("Enter your password."))
        #expect(try h.f.store.audit(action: "service.credential.reveal").isEmpty)

        let shown = alice.post(path, form: Self.form([("password", Self.alicePassword), ("reveal_token", token)]))
        #expect(shown.status == 200 && shown.header("Cache-Control") == "no-store" && Self.element("secret", in: shown.text) == key)
        #expect(try h.f.store.audit(action: "service.credential.reveal").map(\.credential) == [id])
        // The same POST again (a reload): the form is used, no secret.
        let reload = alice.post(path, form: Self.form([("password", Self.alicePassword), ("reveal_token", token)]))
        #expect(reload.status == 409 && reload.text.contains("This form was sent already") && !reload.text.contains(key))
        // Nothing else shows it; a forged or missing token is refused.
        for later in [alice.get("/admin/services/billing"), alice.get(path), alice.get("/admin/services")] { #expect(!later.text.contains(key)) }
        let forged = alice.post(path, form: Self.form([("password", Self.alicePassword), ("reveal_token", "1.0.AAAA")]))
        #expect(forged.status == 400 && !forged.text.contains(key))
        #expect(alice.post(path, form: Self.form([("password", Self.alicePassword)])).status == 400)
        // A form made in another session does not work in this one.
        let other = try Browser.signedIn(h, user: "alice", password: Self.alicePassword)
        let elsewhere = other.post(
            path, form: Self.form([("password", Self.alicePassword), ("reveal_token", try Self.revealToken(alice.get(path).text))]))
        #expect(elsewhere.status == 400 && !elsewhere.text.contains(key))
        // An expired form: shown again with a fresh token.
        let stale = try Self.revealToken(alice.get(path).text)
        h.clock.now += AdminAPI.revealFormLifetime + 1
        let late = alice.post(path, form: Self.form([("password", Self.alicePassword), ("reveal_token", stale)]))
        #expect(late.status == 400 && late.text.contains("This form has expired") && !late.text.contains(key))
        #expect(try h.f.store.audit(action: "service.credential.reveal").count == 1)
    }

    @Test func deleteAsksForThePasswordAndOnlyForAnInactiveCredential() throws {
        let (h, alice) = try fixture()
        let (_, _, row) = try created(h, alice)
        let k1 = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        // Active: the rule, not a password field.
        let active = alice.get("/admin/services/billing/credentials/\(k1)/delete")
        #expect(active.status == 409 && active.text.contains("discard it first") && !active.text.contains(#"id="password""#))
        _ = try h.f.admin().addServiceCredential("billing", type: .serviceKey)
        #expect(alice.post("/admin/services/billing/credentials/\(k1)/discard", form: "").status == 303)
        let path = "/admin/services/billing/credentials/\(k1)/delete"
        #expect(alice.get(path).text.contains(#"autocomplete="current-password""#))
        let wrong = alice.post(path, form: "password=nope")
        #expect(wrong.status == 403 && wrong.text.contains("The password did not match."))
        #expect(try h.f.store.service("billing").credentials.contains { $0.id == k1 })
        let done = alice.post(path, form: Self.form([("password", Self.alicePassword)]))
        #expect(done.status == 303 && done.header("Location") == "/keyward/admin/services/billing?done=delete&credential=\(k1)")
        #expect(try !h.f.store.service("billing").credentials.contains { $0.id == k1 })

        // The service itself.
        let confirm = alice.get("/admin/services/billing/delete")
        #expect(confirm.status == 200 && confirm.text.contains("Delete service billing?") && confirm.text.contains(#"type="password""#))
        #expect(alice.post("/admin/services/billing/delete", form: "password=nope").status == 403)
        #expect(alice.post("/admin/services/billing/delete", form: "").status == 400)
        let gone = alice.post("/admin/services/billing/delete", form: Self.form([("password", Self.alicePassword)]))
        #expect(gone.status == 303 && gone.header("Location") == "/keyward/admin/services?done=deleted")
        #expect(try h.f.store.services(owner: nil).isEmpty && alice.get("/admin/services/billing").status == 404)
        #expect(try h.f.store.audit(action: "service.delete").count == 1)
    }

    @Test func formsNeedTheCSRFToken() throws {
        let (h, alice) = try fixture()
        let (key, _, row) = try created(h, alice)
        let id = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        for (path, form) in [
            ("/admin/services", "owner=alice&name=other&scope=%2Fapi%2F"), ("/admin/services/billing/credentials", "type=jwt-secret"),
            ("/admin/services/billing/credentials/\(id)/discard", ""),
            ("/admin/services/billing/credentials/\(id)/reveal", Self.form([("password", Self.alicePassword)])),
            ("/admin/services/billing/delete", "password=x"),
        ] {
            let r = alice.post(path, form: form, csrf: false)
            #expect(r.status == 403 && r.text.contains("<code>csrf_failed</code>") && !r.text.contains(key), "\(path): \(r.status)")
            let foreign = alice.post(path, form: form, headers: ["HTTP_ORIGIN": "https://evil.example"])
            #expect(foreign.status == 403, "\(path): \(foreign.status)")
        }
        #expect(try h.f.store.service("billing") == row)
        #expect(try h.f.store.services(owner: nil).count == 1)
    }

    @Test func anAdminSeesAndManagesAnyonesOthersSeeNothing() throws {
        let (h, alice) = try fixture()
        let (key, _, row) = try created(h, alice)
        let id = try #require(row.credentials.first { $0.type == .serviceKey }?.id)
        let root = try Browser.signedIn(h)
        #expect(!root.get("/admin/services").text.contains("/admin/services/billing"), "an admin's list is their own by default")
        let theirs = root.get("/admin/services?user=alice")
        #expect(theirs.status == 200 && theirs.text.contains("Services of alice") && theirs.text.contains(#"href="/keyward/admin/services/billing""#))
        #expect(root.get("/admin/services?user=*").text.contains("All services"))
        #expect(root.get("/admin/services/billing").status == 200)
        // The admin's own password, not the owner's.
        let path = "/admin/services/billing/credentials/\(id)/reveal"
        let confirm = root.get(path)
        #expect(confirm.text.contains("as root"))
        let token = try Self.revealToken(confirm.text)
        #expect(root.post(path, form: Self.form([("password", Self.alicePassword + "x"), ("reveal_token", token)])).status == 403)
        let shown = root.post(path, form: Self.form([("password", APIHarness.rootPassword), ("reveal_token", token)]))
        #expect(shown.status == 200 && Self.element("secret", in: shown.text) == key)
        // An admin makes a service for someone else, with any scope.
        let made = root.post("/admin/services", form: Self.form([("owner", "bob"), ("name", "reports"), ("other_scopes", "/reports/")]))
        #expect(try made.status == 200 && h.f.store.service("reports").owner == "bob")

        // bob: alice's service is absent, whatever he tries; his own list is empty.
        let bob = try Browser.signedIn(h, user: "bob", password: "bob's long password")
        #expect(bob.get("/admin/services/billing").status == 404)
        #expect(bob.get(path).status == 404)
        #expect(bob.post("/admin/services/billing/credentials/\(id)/discard", form: "").status == 404)
        #expect(bob.post("/admin/services/billing/credentials", form: "type=service-key").status == 404)
        #expect(bob.post("/admin/services/billing/delete", form: "password=x").status == 404)
        #expect(bob.get("/admin/services?user=alice").status == 403)
        #expect(!bob.get("/admin/services").text.contains("billing"))
        // carol, with no privilege: no Services in the navigation, no form.
        let carol = try Browser.signedIn(h, user: "carol", password: "carol's long password")
        #expect(!carol.get("/admin/").text.contains("/keyward/admin/services"))
        let hers = carol.get("/admin/services")
        #expect(hers.status == 200 && !hers.text.contains(">New service<"))
        #expect(carol.post("/admin/services", form: "owner=carol&name=c&scope=%2Fapi%2F").status == 403)
        #expect(try h.f.store.service("billing").credentials.allSatisfy { $0.status == "active" })
    }
}
