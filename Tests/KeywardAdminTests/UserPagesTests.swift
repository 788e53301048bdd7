import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// A browser signed in to the pages: its session cookie, the page CSRF token derived from it,
/// and same-origin GETs and form POSTs.
private struct PageBrowser {
    let h: APIHarness
    let cookie: String
    static let host = "keys.example"

    init(_ h: APIHarness, _ user: String = "root", _ password: String = APIHarness.rootPassword) throws {
        self.h = h
        cookie = try h.signIn(user, password).cookie
    }

    var csrf: String {
        Sessions.csrfToken(forSession: cookie, key: HMACKey(Sessions.csrfKey(masterKey: h.f.keyFile.masterKey)))
    }

    /// The session's public id (`ses_...`).
    var sessionId: String { Sessions.publicId(Sessions.hash(cookie)) }

    var headers: [String: String] { ["HTTP_COOKIE": "keyward_session=\(cookie)", "HTTP_HOST": Self.host] }

    func get(_ path: String) -> Reply { h.call("GET", path, headers: headers) }

    /// A form POST from the page's own origin, with the CSRF token unless `csrf` is false.
    func post(_ path: String, _ fields: [(String, String)] = [], csrf: Bool = true) -> Reply {
        let all = (csrf ? [("csrf_token", self.csrf)] : []) + fields
        let body = all.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        return h.call(
            "POST", path, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded",
            headers: headers.merging(["HTTP_ORIGIN": "http://" + Self.host]) { $1 })
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}

extension Reply {
    /// The secret on a show-once page (`<code id="secret" ...>`), if there is one.
    fileprivate var shownSecret: String? {
        guard let start = text.range(of: #"<code id="secret" aria-labelledby="secret-label">"#) else { return nil }
        return String(text[start.upperBound...].prefix { $0 != "<" })
    }

    fileprivate var location: String? { header("Location") }
}

/// A harness with a self-service user (`dana`, manage-own-keys) who may call the resource
/// `billing`, and mail off.
private func pagesHarness() throws -> APIHarness {
    let h = try APIHarness()
    h.api = AdminAPI(
        config: AdminAPIConfig(databasePath: h.f.path, keyFile: h.f.keyFile, mount: "/keyward"),
        clock: h.clock, throttle: FailureThrottle(limit: 0, windowSeconds: 60), audit: h.sink, usage: h.sink, log: { _ in })
    let cli = h.f.admin()
    try h.user("dana", privileges: [Privilege.manageOwnKeys])
    try cli.setPassword("dana", "dana's password 1")
    _ = try cli.addResource("billing", ResourceSpec(path: PathScope("GET:/billing/"), audience: [.user("dana")]))
    return h
}

@Suite struct ClientPagesTests {
    @Test func aNewClientsSecretIsShownOnceAndNeverListed() throws {
        let h = try pagesHarness()
        let dana = try PageBrowser(h, "dana", "dana's password 1")
        let form = dana.get("/admin/clients/new")
        #expect(form.status == 200 && form.text.contains(#"name="csrf_token""#) && form.text.contains("GET:/billing/"))
        #expect(!form.text.contains(#"value="never""#), "never only where allowed")
        #expect(form.text.contains(#"<label for="name">"#) && form.text.contains(#"<label for="expires-30">"#))

        // Errors next to the field; nothing created.
        let empty = dana.post("/admin/clients/new", [("user", "dana"), ("name", ""), ("expires", "30d"), ("scope", "GET:/billing/")])
        #expect(empty.status == 400 && empty.text.contains(#"id="name-error""#) && empty.text.contains("Give the client a name."))
        let outside = dana.post("/admin/clients/new", [("user", "dana"), ("name", "etl"), ("expires", "30d")])
        #expect(outside.status == 403 && outside.text.contains(#"id="scope-error""#))
        #expect(try h.f.store.clients(user: "dana").isEmpty)
        #expect(dana.post("/admin/clients/new", [("user", "dana"), ("name", "etl")], csrf: false).error == nil)
        #expect(dana.post("/admin/clients/new", [("user", "dana"), ("name", "etl")], csrf: false).status == 403)

        let created = dana.post("/admin/clients/new", [("user", "dana"), ("name", "etl <b>"), ("expires", "7d"), ("scope", "GET:/billing/")])
        #expect(created.status == 200 && created.header("Cache-Control") == "no-store")
        let secret = try #require(created.shownSecret)
        let client = try #require(try h.f.store.clients(user: "dana").first)
        #expect(secret.hasPrefix(client.clientId + "_") && client.name == "etl <b>" && client.expiresAt == h.clock.now + 7 * 86_400)
        #expect(created.text.contains("grant_type=client_credentials") && created.text.contains("http://keys.example/keyward/token"))
        #expect(created.text.contains("etl &lt;b&gt;") && !created.text.contains("etl <b>"))
        #expect(created.text.contains(#"aria-current="page">Clients"#))

        // The list, a reload of it, the confirmation pages: never the secret.
        let secretPart = String(secret.dropFirst(client.clientId.count + 1))
        let list = dana.get("/admin/clients")
        #expect(list.status == 200 && list.text.contains(client.clientId) && list.text.contains("etl &lt;b&gt;"))
        for page in [list, dana.get("/admin/clients"), dana.get("/admin/clients/\(client.clientId)/renew"), dana.get("/admin/clients/new")] {
            #expect(!page.text.contains(secretPart))
        }
        #expect(try !h.f.store.audit().contains { "\($0)".contains(secretPart) })
        #expect(try h.f.store.audit(action: "client.create").first?.credential == client.clientId)
    }

    @Test func changesAreConfirmedAndDone() throws {
        let h = try pagesHarness()
        let root = try PageBrowser(h)
        let created = root.post(
            "/admin/clients/new", [("user", "dana"), ("name", "reports"), ("expires", "never"), ("other_scopes", "/reports/")])
        let first = try #require(created.shownSecret)
        let id = try #require(try h.f.store.clients(user: "dana").first?.clientId)
        #expect(try h.f.store.client(id).expiresAt == nil && h.f.store.client(id).scopes == ["/reports/"])

        // The owner's list through an admin's eyes.
        #expect(root.get("/admin/clients?user=dana").text.contains("Clients of dana"))
        #expect(root.get("/admin/clients?user=*").text.contains(id))

        for verb in ["disable", "renew", "regenerate", "delete"] {
            let confirm = root.get("/admin/clients/\(id)/\(verb)")
            #expect(confirm.status == 200 && confirm.text.contains(#"method="post""#) && confirm.text.contains("Cancel"), "\(verb)")
        }
        #expect(root.get("/admin/clients/\(id)/explode").status == 404)

        let disabled = root.post("/admin/clients/\(id)/disable")
        #expect(disabled.status == 303 && disabled.location == "/keyward/admin/clients?done=disable&client=\(id)&user=dana")
        #expect(try h.f.store.client(id).status == .disabled)
        #expect(root.get("/admin/clients?done=disable&client=\(id)&user=dana").text.contains("The client is disabled."))
        #expect(root.post("/admin/clients/\(id)/enable").status == 303)
        #expect(try h.f.store.client(id).status == .active)

        #expect(root.post("/admin/clients/\(id)/renew", [("expires", "90d")]).status == 303)
        #expect(try h.f.store.client(id).expiresAt == h.clock.now + 90 * 86_400)
        #expect(root.post("/admin/clients/\(id)/renew", [("expires", "5d")]).status == 400)

        let regenerated = root.post("/admin/clients/\(id)/regenerate")
        let second = try #require(regenerated.shownSecret)
        #expect(regenerated.status == 200 && second != first && second.hasPrefix(id + "_"))
        #expect(!root.get("/admin/clients?user=dana").text.contains(String(second.dropFirst(id.count + 1))))

        // The owner may renew within 90 days but not enable what an admin disabled.
        let dana = try PageBrowser(h, "dana", "dana's password 1")
        #expect(dana.post("/admin/clients/\(id)/renew", [("expires", "never")]).status == 403)
        #expect(root.post("/admin/clients/\(id)/disable").status == 303)
        #expect(dana.post("/admin/clients/\(id)/enable").status == 403)
        #expect(dana.post("/admin/clients/\(id)/delete").status == 303)
        #expect(throws: (any Error).self) { try h.f.store.client(id) }
        #expect(
            try h.f.store.audit().map(\.action).filter { $0.hasPrefix("client.") } == [
                "client.create", "client.disable", "client.enable", "client.renew", "client.regenerate", "client.disable", "client.delete",
            ])
    }
}

@Suite struct SessionPagesTests {
    @Test func anIdleSessionIsSentToSignIn() throws {
        let h = try pagesHarness()
        let root = try PageBrowser(h)
        #expect(root.get("/admin/sessions").status == 200)
        h.clock.now += 29 * 60
        #expect(root.get("/admin/clients").status == 200)
        h.clock.now += 30 * 60
        let ended = root.get("/admin/clients")
        #expect(ended.status == 303 && ended.location == "/keyward/admin/login?next=%2Fkeyward%2Fadmin%2Fclients&ended=1", "\(ended.location ?? "")")
        #expect(root.get("/admin/login?ended=1").text.contains("Your session has ended."))
        #expect(root.post("/admin/sessions/x/revoke").status == 303, "a POST too goes to sign-in, doing nothing")
        #expect(try h.f.store.audit(action: "session.expire").count == 1)
    }

    @Test func aSessionEndsTwelveHoursAfterSignInHoweverBusy() throws {
        let h = try pagesHarness()
        let root = try PageBrowser(h)
        for _ in 0..<(12 * 4 - 1) {
            h.clock.now += 15 * 60
            #expect(root.get("/admin/").status == 200)
        }
        h.clock.now += 15 * 60
        #expect(root.get("/admin/").location?.hasPrefix("/keyward/admin/login?") == true)
    }

    @Test func sessionsAreListedAndEndedByTheirOwnerAndAdmins() throws {
        let h = try pagesHarness()
        let first = try PageBrowser(h)
        h.clock.now += 60
        let second = try PageBrowser(h)
        let dana = try PageBrowser(h, "dana", "dana's password 1")
        let (firstId, secondId, danaId) = (first.sessionId, second.sessionId, dana.sessionId)

        let list = first.get("/admin/sessions")
        #expect(list.status == 200 && list.text.contains(firstId) && list.text.contains(secondId) && !list.text.contains(danaId))
        #expect(list.text.components(separatedBy: "this session").count == 2, "the current one marked, once")
        #expect(list.text.contains("End (sign out)") && list.text.contains(#"action="/keyward/admin/sessions/\#(secondId)/revoke""#))
        #expect(!list.text.contains(first.cookie) && !list.text.contains(second.cookie))
        #expect(list.text.contains("30 minutes without use") && list.text.contains("12 hours"))
        #expect(first.get("/admin/sessions?user=*").text.contains(danaId))
        #expect(first.get("/admin/sessions?user=dana").text.contains(danaId))

        // dana: her own only; root's look absent; no token, no change.
        #expect(dana.get("/admin/sessions?user=root").status == 403)
        #expect(dana.post("/admin/sessions/\(secondId)/revoke").status == 404)
        #expect(first.post("/admin/sessions/\(secondId)/revoke", csrf: false).status == 403)
        #expect(second.get("/admin/sessions").status == 200)

        let revoked = first.post("/admin/sessions/\(secondId)/revoke")
        #expect(revoked.status == 303 && revoked.location == "/keyward/admin/sessions?done=revoke")
        #expect(second.get("/admin/sessions").location?.hasSuffix("ended=1") == true)
        #expect(first.get("/admin/sessions?done=revoke").text.contains("The session is ended."))

        // An admin ends dana's; and ending one's own signs out.
        #expect(first.post("/admin/sessions/\(danaId)/revoke").location == "/keyward/admin/sessions?done=revoke&user=dana")
        #expect(dana.get("/admin/").status == 303)
        let out = first.post("/admin/sessions/\(firstId)/revoke")
        #expect(out.status == 303 && out.location == "/keyward/admin/login?signed_out=1")
        #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(first.get("/admin/").status == 303)
        #expect(try h.f.store.audit(action: "session.revoke").map(\.credential) == [secondId, danaId, firstId])
    }
}

@Suite struct RequestPagesTests {
    /// Consumers alice and carol, bob owning `billing`, mail to a capturing sendmail with reveal
    /// links under https://api.example.com/keyward (or no mail at all).
    private func harness(mail: Bool = true) throws -> (APIHarness, CapturingSendmail) {
        let h = try APIHarness()
        let sendmail = try CapturingSendmail(in: h.f.dir)
        let settings = try MailSettings(sendmail: sendmail.script, from: "keyward@example.com", publicURL: "https://api.example.com/keyward")
        h.api = AdminAPI(
            config: AdminAPIConfig(databasePath: h.f.path, keyFile: h.f.keyFile, mount: "/keyward", mail: mail ? settings : nil),
            clock: h.clock, throttle: FailureThrottle(limit: 0, windowSeconds: 60), audit: h.sink, usage: h.sink, log: { _ in })
        let cli = h.f.admin()
        for name in ["alice", "bob", "carol"] {
            _ = try cli.addUser(name, email: "\(name)@example.com")
            try cli.setPassword(name, "\(name)'s password 1")
        }
        _ = try cli.addResource("billing", ResourceSpec(path: PathScope("GET:/billing/"), owner: "bob"))
        _ = try cli.addResource("reports", ResourceSpec(path: PathScope("/reports/")))
        _ = try cli.addResource("open", ResourceSpec(path: PathScope("/open/"), anonymous: true))
        return (h, sendmail)
    }

    /// The real check's answer for `secret` on `GET path`.
    private func allowed(_ h: APIHarness, _ secret: String, _ path: String) throws -> Bool {
        let checker = Authenticator(
            keys: try h.f.store.credentialLookup(clock: h.clock, limits: Limits()), pepper: HMACKey(h.f.keyFile.pepper), clock: h.clock,
            usage: CollectingSink(), audit: CollectingSink(), throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        let decision = try checker.check(
            CheckRequest(method: "GET", path: .success(path), remoteAddress: "10.0.0.1", authorization: "Bearer \(secret)"))
        if case .allow = decision { return true }
        return false
    }

    @Test func fromRequestToApprovalToTheKeyCollectedOnce() throws {
        let (h, sendmail) = try harness()
        let alice = try PageBrowser(h, "alice", "alice's password 1")
        let bob = try PageBrowser(h, "bob", "bob's password 1")

        let form = alice.get("/admin/requests")
        #expect(form.status == 200 && form.text.contains(#"value="billing""#) && form.text.contains(#"value="reports""#))
        #expect(!form.text.contains(#"value="open""#), "an anonymous resource needs no key")
        #expect(form.text.contains(#"<label for="note">"#) && form.text.contains(#"name="csrf_token""#))
        #expect(form.text.contains(#"aria-current="page">Access requests"#))

        // Asking: errors next to the field, then the request and the owner's mail.
        let missing = alice.post("/admin/requests", [("note", "x")])
        #expect(missing.status == 400 && missing.text.contains(#"id="resource-error""#))
        let badNote = alice.post("/admin/requests", [("resource", "billing"), ("note", "bell\u{7}")])
        #expect(badNote.status == 400 && badNote.text.contains(#"id="note-error""#))
        #expect(alice.post("/admin/requests", [("resource", "billing")], csrf: false).status == 403)
        let asked = alice.post("/admin/requests", [("resource", "billing"), ("note", #"monthly <script>"quotes"</script>"#)])
        #expect(asked.status == 303 && asked.location == "/keyward/admin/requests?done=request&request=1&mail=sent")
        #expect(sendmail.messages.count == 1 && header(sendmail.messages[0], "To") == "bob@example.com")
        let twice = alice.post("/admin/requests", [("resource", "billing")])
        #expect(twice.status == 409 && twice.text.contains(#"id="resource-error""#) && twice.text.contains("pending request"))
        let mine = alice.get("/admin/requests?done=request&request=1&mail=sent")
        #expect(mine.text.contains("Your request #1 is sent") && mine.text.contains("(asked already)"))
        #expect(mine.text.contains("&lt;script&gt;&quot;quotes&quot;") && !mine.text.contains("<script>\""))
        #expect(!mine.text.contains("Collect your key"))

        // The requester does not decide; the owner sees it waiting and decides after confirming.
        #expect(alice.get("/admin/requests/1/approve").status == 403)
        #expect(alice.post("/admin/requests/1/approve", [("expires", "7d")]).status == 403)
        let waiting = bob.get("/admin/requests")
        #expect(waiting.text.contains("Waiting for your decision") && waiting.text.contains("/keyward/admin/requests/1/approve"))
        let confirm = bob.get("/admin/requests/1/approve")
        #expect(confirm.status == 200 && confirm.text.contains(#"value="7d""#) && !confirm.text.contains(#"value="never""#))
        #expect(bob.post("/admin/requests/1/approve", [("expires", "never")]).status == 403, "an owner grants 90 days at most")
        let approved = bob.post("/admin/requests/1/approve", [("expires", "7d")])
        #expect(approved.status == 303 && approved.location == "/keyward/admin/requests?done=approve&request=1&mail=sent")
        let row = try #require(try h.f.store.accessRequest(1))
        let keyId = try #require(row.keyId)
        #expect(row.status == "approved" && row.decidedBy == "bob" && row.expiresAt == h.clock.now + 7 * 86_400)
        let toAlice = try #require(sendmail.messages.first { header($0, "To") == "alice@example.com" })
        let link = try #require(token(inLinkOf: toAlice))
        #expect(bob.get("/admin/requests/1/reject").status == 409, "decided once")

        // The requester sees the outcome and collects the key: once.
        let outcome = alice.get("/admin/requests")
        #expect(outcome.text.contains("approved") && outcome.text.contains(PageFormat.masked(keyId)))
        #expect(outcome.text.contains(#"action="/keyward/admin/requests/1/collect""#) && outcome.text.contains("Collect your key"))
        #expect(bob.post("/admin/requests/1/collect").status == 403, "only the requester collects")
        let collected = alice.post("/admin/requests/1/collect")
        #expect(collected.status == 200 && collected.header("Cache-Control") == "no-store")
        let secret = try #require(collected.shownSecret)
        #expect(secret.hasPrefix(keyId + "_") && collected.text.contains("Your key for billing"))
        #expect(collected.text.contains("curl -H &#39;Authorization: Bearer \(secret)&#39; http://keys.example/billing/"))
        #expect(try allowed(h, secret, "/billing/invoices") && !(try allowed(h, secret, "/reports/x")))

        let again = alice.post("/admin/requests/1/collect")
        #expect(again.status == 410 && again.shownSecret == nil && again.text.contains("collected already"))
        let after = alice.get("/admin/requests")
        #expect(!after.text.contains("Collect your key") && after.text.contains("Key collected, or no longer waiting"))
        #expect(!after.text.contains(String(secret.dropFirst(keyId.count + 1))))
        // The mailed link was the same one: used up too.
        #expect(h.call("POST", "/admin/reveal/\(link)").status == 410)

        let reveal = try h.f.store.audit(action: "access.reveal")
        #expect(reveal.count == 1 && reveal.first?.actor == "alice" && reveal.first?.credential == keyId)
        #expect(try !h.f.store.audit().contains { "\($0)".contains(String(secret.dropFirst(keyId.count + 1))) })
    }

    @Test func theMailedLinkAndThePageShareOneSecret() throws {
        let (h, sendmail) = try harness()
        let carol = try PageBrowser(h, "carol", "carol's password 1")
        let root = try PageBrowser(h)
        #expect(carol.post("/admin/requests", [("resource", "reports")]).status == 303)
        // No owner: the admins decide; root rejects a second one with a reason.
        let reject = root.get("/admin/requests/1/reject")
        #expect(reject.status == 200 && reject.text.contains(#"<label for="reason">"#))
        #expect(root.post("/admin/requests/1/approve", [("expires", "30d")]).status == 303)
        let link = try #require(sendmail.messages.compactMap { token(inLinkOf: $0) }.first)
        #expect(h.call("POST", "/admin/reveal/\(link)").status == 200)
        let list = carol.get("/admin/requests")
        #expect(!list.text.contains("Collect your key"))
        #expect(carol.post("/admin/requests/1/collect").status == 410)

        #expect(carol.post("/admin/requests", [("resource", "billing"), ("note", "again")]).status == 303)
        let rejected = root.post("/admin/requests/2/reject", [("reason", "use reports")])
        #expect(rejected.location == "/keyward/admin/requests?done=reject&request=2&mail=sent")
        #expect(sendmail.messages.last?.contains("use reports") == true)
        let seen = carol.get("/admin/requests")
        #expect(seen.text.contains("rejected") && seen.text.contains("by root"))
        #expect(carol.post("/admin/requests/2/collect").status == 409)
    }

    @Test func withoutMailTheKeyWaitsOnThePage() throws {
        let (h, sendmail) = try harness(mail: false)
        let alice = try PageBrowser(h, "alice", "alice's password 1")
        let bob = try PageBrowser(h, "bob", "bob's password 1")
        #expect(alice.post("/admin/requests", [("resource", "billing")]).location == "/keyward/admin/requests?done=request&request=1&mail=not_sent")
        #expect(
            bob.post("/admin/requests/1/approve", [("expires", "30d")]).location == "/keyward/admin/requests?done=approve&request=1&mail=not_sent")
        #expect(sendmail.messages.isEmpty)
        let secret = try #require(alice.post("/admin/requests/1/collect").shownSecret)
        #expect(try allowed(h, secret, "/billing/x"))
        // A key not collected in time is gone.
        #expect(alice.post("/admin/requests", [("resource", "reports")]).status == 303)
        let root = try PageBrowser(h)
        #expect(root.post("/admin/requests/2/approve", [("expires", "7d")]).status == 303)
        h.clock.now += Limits().revealLinkLifetime
        let alice2 = try PageBrowser(h, "alice", "alice's password 1")
        #expect(!alice2.get("/admin/requests").text.contains("Collect your key"))
        #expect(alice2.post("/admin/requests/2/collect").status == 410)
    }
}
