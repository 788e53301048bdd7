import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// A signed-in browser on the admin pages: its session cookie and the CSRF token of its forms.
private struct AdminBrowser {
    let h: APIHarness
    let cookie: String
    var csrf: String { Sessions.csrfToken(forSession: cookie, key: h.api.csrfKey) }

    init(_ h: APIHarness, _ user: String = "root", _ password: String = APIHarness.rootPassword) throws {
        self.h = h
        cookie = try h.signIn(user, password).cookie
    }

    func get(_ path: String) -> Reply {
        h.call("GET", path, headers: ["HTTP_COOKIE": "keyward_session=" + cookie])
    }

    /// POSTs `fields` as a form, with the CSRF token unless `token` is false.
    func post(_ path: String, _ fields: [(String, String)] = [], token: Bool = true) -> Reply {
        let all = (token ? [("csrf_token", csrf)] : []) + fields
        let body = all.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        return h.call(
            "POST", path, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded",
            headers: ["HTTP_COOKIE": "keyward_session=" + cookie])
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))
            ?? ""
    }
}

extension Reply {
    /// Where a 303 sends the browser.
    fileprivate var location: String? { header("Location") }
}

/// The admin-only pages: users, groups, roles, resources, signing keys, audit and explain.
@Suite struct AdminPageTests {
    /// A harness with a plain user (`plain`, manage-own-keys) and one of everything to open.
    private func fixture() throws -> (APIHarness, AdminBrowser) {
        let h = try APIHarness()
        try h.user("plain", privileges: [Privilege.manageOwnKeys])
        let cli = h.f.admin()
        try cli.setPassword("plain", "plain password 1")
        _ = try cli.addGroup("ops")
        _ = try cli.addResource("reports", ResourceSpec(path: PathScope("/reports/")))
        _ = try cli.addRole("readers", privileges: [Privilege.access("reports")])
        return (h, try AdminBrowser(h))
    }

    private func audited(_ h: APIHarness, _ action: String, target: String? = nil) throws -> [AuditEvent] {
        try h.f.store.audit(since: nil, user: nil, action: action, limit: 100).filter { target == nil || $0.target == target }
    }

    static let pages = [
        "/admin/users", "/admin/users/plain", "/admin/users/plain/disable", "/admin/groups", "/admin/groups/ops", "/admin/groups/ops/delete",
        "/admin/roles", "/admin/roles/readers", "/admin/roles/readers/delete", "/admin/resources", "/admin/resources/reports",
        "/admin/resources/reports/delete", "/admin/signing-keys", "/admin/audit", "/admin/explain", "/admin/explain?path=/reports/x",
    ]

    @Test func everyAdminPageOpensForAnAdminAndIsRefusedToOthers() throws {
        let (h, root) = try fixture()
        for path in Self.pages {
            let page = root.get(path)
            #expect(page.status == 200, "\(path): \(page.text.prefix(400))")
            #expect(page.header("Content-Type") == "text/html; charset=utf-8" && page.header("Cache-Control") == "no-store", "\(path)")
        }
        let home = root.get("/admin/")
        for section in ["users", "groups", "roles", "resources", "signing-keys", "audit", "explain"] {
            #expect(home.text.contains("href=\"/keyward/admin/\(section)\""), "nav: \(section)")
        }

        let plain = try AdminBrowser(h, "plain", "plain password 1")
        for path in Self.pages {
            let page = plain.get(path)
            #expect(page.status == 403 && page.text.contains("<code>forbidden</code>"), "\(path): \(page.status)")
        }
        #expect(!plain.get("/admin/").text.contains("/admin/users"), "the navigation hides the admin pages")
        for (path, fields) in [
            ("/admin/users", [("name", "mallory")]), ("/admin/users/plain/email", [("email", "p@example.com")]),
            ("/admin/users/plain/password", [("password", "new password 1"), ("password_confirm", "new password 1")]),
            ("/admin/groups", [("name", "x")]), ("/admin/groups/ops/members", [("user", "plain")]),
            ("/admin/roles/readers/grants", [("to", "user:plain")]),
            ("/admin/resources/reports", [("path", "/reports/"), ("anonymous", "on")]),
            ("/admin/signing-keys/rotate", [("alg", "ES256"), ("retire_after", "1h")]),
            ("/admin/resources/reports/delete", []),
        ] {
            let r = plain.post(path, fields)
            #expect(r.status == 403 && r.text.contains("<code>forbidden</code>"), "\(path): \(r.status)")
        }
        #expect(try h.f.store.user("plain").email == nil)
        #expect(try h.f.store.resource("reports", now: 0).anonymous == false)
        #expect(try h.f.store.users().map(\.name) == ["plain", "root"])
    }

    @Test func aPostWithoutTheCSRFTokenIsRefused() throws {
        let (h, root) = try fixture()
        for (path, fields) in [
            ("/admin/users", [("name", "mallory")]), ("/admin/users/plain/disable", []), ("/admin/groups/ops/delete", []),
            ("/admin/roles/readers/grants", [("to", "group:ops")]), ("/admin/resources/reports/delete", []),
            ("/admin/signing-keys/rotate", [("alg", "ES256"), ("retire_after", "1h")]),
        ] {
            let r = root.post(path, fields, token: false)
            #expect(r.status == 403 && r.text.contains("<code>csrf_failed</code>"), "\(path): \(r.status)")
            let forged = root.post(path, [("csrf_token", String(root.csrf.reversed()))] + fields, token: false)
            #expect(forged.status == 403 && forged.text.contains("<code>csrf_failed</code>"), "\(path): \(forged.status)")
        }
        #expect(try h.f.store.users().map(\.name) == ["plain", "root"])
        #expect(try h.f.store.user("plain").status == .active)
        #expect(try h.f.store.group("ops").name == "ops")
        #expect(try h.f.store.signingKeys(now: 0).isEmpty)
    }

    @Test func usersAreAddedAndChanged() throws {
        let (h, root) = try fixture()
        let added = root.post("/admin/users", [("name", "alice"), ("email", "alice@example.com")])
        #expect(added.status == 303 && added.location == "/keyward/admin/users/alice?done=added")
        #expect(try h.f.store.user("alice").email == "alice@example.com")
        #expect(try audited(h, "user.add", target: "user:alice").first?.actor == "root")
        #expect(root.get("/admin/users/alice?done=added").text.contains("The user is added."))

        // Errors come back next to their field, with a 4xx status and nothing written.
        let taken = root.post("/admin/users", [("name", "alice")])
        #expect(taken.status == 409 && taken.text.contains(#"aria-invalid="true""#) && taken.text.contains("exists already"))
        let badMail = root.post("/admin/users", [("name", "bob"), ("email", "not an address")])
        #expect(badMail.status == 400 && badMail.text.contains(#"id="email-error""#))
        #expect((try? h.f.store.user("bob")) == nil)

        let mismatch = root.post("/admin/users/alice/password", [("password", "a long password"), ("password_confirm", "another one")])
        #expect(mismatch.status == 400 && mismatch.text.contains(#"id="password_confirm-error""#))
        #expect(!mismatch.text.contains("a long password"), "a password is never shown again")
        #expect(root.post("/admin/users/alice/password", [("password", "short"), ("password_confirm", "short")]).status == 400)
        #expect(try audited(h, "user.passwd", target: "user:alice").isEmpty)
        let set = root.post("/admin/users/alice/password", [("password", "a long password"), ("password_confirm", "a long password")])
        #expect(set.status == 303 && set.location == "/keyward/admin/users/alice?done=password")
        #expect(try audited(h, "user.passwd", target: "user:alice").count == 1)
        #expect(try h.signIn("alice", "a long password").cookie.isEmpty == false)

        #expect(root.post("/admin/users/alice/email", []).status == 303)
        #expect(try h.f.store.user("alice").email == nil)

        // Disable: a confirmation page first, then the POST.
        let confirm = root.get("/admin/users/alice/disable")
        #expect(confirm.status == 200 && confirm.text.contains(#"action="/keyward/admin/users/alice/disable""#))
        #expect(try h.f.store.user("alice").status == .active)
        #expect(root.post("/admin/users/alice/disable").location == "/keyward/admin/users/alice?done=disable")
        #expect(try h.f.store.user("alice").status == .disabled)
        #expect(try audited(h, "user.disable", target: "user:alice").count == 1)
        #expect(root.post("/admin/users/alice/enable").status == 303)
        #expect(try h.f.store.user("alice").status == .active)
        #expect(root.get("/admin/users/alice/explode").status == 404)
        #expect(root.get("/admin/users/nobody").status == 404)

        // An admin setting their own password keeps this session.
        #expect(root.post("/admin/users/root/password", [("password", "root's new one"), ("password_confirm", "root's new one")]).status == 303)
        #expect(root.get("/admin/users").status == 200)
    }

    @Test func groupsRolesAndResourcesAreChanged() throws {
        let (h, root) = try fixture()
        // Groups: add, a member in and out, delete behind a confirmation.
        #expect(root.post("/admin/groups", [("name", "auditors")]).location == "/keyward/admin/groups/auditors?done=added")
        #expect(root.post("/admin/groups/auditors/members", [("user", "plain")]).location == "/keyward/admin/groups/auditors?done=member-added")
        #expect(try h.f.store.group("auditors").members == ["plain"])
        #expect(root.post("/admin/groups/auditors/members", [("user", "nobody")]).status == 404)
        #expect(root.post("/admin/groups/auditors/members/plain/remove").status == 303)
        #expect(try h.f.store.group("auditors").members.isEmpty)
        #expect(root.get("/admin/groups/auditors/delete").text.contains("cannot be undone"))
        #expect(root.post("/admin/groups/auditors/delete").location == "/keyward/admin/groups?done=deleted")
        #expect((try? h.f.store.group("auditors")) == nil)
        for action in ["group.add", "group.member.add", "group.member.remove", "group.delete"] {
            #expect(try audited(h, action, target: "group:auditors").first?.actor == "root", "\(action)")
        }

        // Roles: privileges picked from the known ones; grant and revoke.
        let form = root.get("/admin/roles").text
        #expect(form.contains(#"value="access:reports""#) && form.contains(#"value="manage-own-keys""#))
        #expect(root.post("/admin/roles", [("name", "empty")]).status == 400)
        #expect(root.post("/admin/roles", [("name", "bad"), ("privilege", "fly")]).status == 400)
        let role = root.post("/admin/roles", [("name", "report-readers"), ("privilege", "access:reports"), ("privilege", "use-api-key")])
        #expect(role.location == "/keyward/admin/roles/report-readers?done=added")
        #expect(try h.f.store.role("report-readers").privileges == ["access:reports", "use-api-key"])
        #expect(root.post("/admin/roles/report-readers/grants", [("to", "ops")]).status == 400)
        #expect(root.post("/admin/roles/report-readers/grants", [("to", "group:ops")]).status == 303)
        #expect(try h.f.store.role("report-readers").grantedTo == ["group:ops"])
        #expect(try audited(h, "role.grant", target: "role:report-readers").first?.detail?.hasPrefix("group:ops") == true)
        #expect(root.post("/admin/roles/report-readers/grants/group:ops/revoke").status == 303)
        #expect(try h.f.store.role("report-readers").grantedTo.isEmpty)
        #expect(root.post("/admin/roles/report-readers/delete").status == 303)
        #expect(try audited(h, "role.delete", target: "role:report-readers").count == 1)

        // Resources: add, edit (only what changed), delete.
        let resource = root.post(
            "/admin/resources",
            [
                ("name", "billing"), ("path", "/billing/"), ("methods", "get post"), ("anonymous", "on"), ("audience", "group:ops"),
                ("owner", "plain"), ("networks", "10.0.0.0/8 2001:db8:0:0::/32"),
            ])
        #expect(resource.location == "/keyward/admin/resources/billing?done=added", "\(resource.text.prefix(2000))")
        var row = try h.f.store.resource("billing", now: 0)
        #expect(row.methods == ["GET", "POST"] && row.anonymous && row.audience == ["group:ops"] && row.owner == "plain")
        #expect(row.allowIPs.count == 2)
        #expect(root.get("/admin/resources").text.contains("2001:db8::/32"), "IPv6 compressed")
        let bad = root.post("/admin/resources", [("name", "x"), ("path", "/x/"), ("audience", "ops"), ("networks", "10.0.0.300")])
        #expect(bad.status == 400 && bad.text.contains(#"id="audience-error""#) && bad.text.contains(#"id="networks-error""#))
        #expect((try? h.f.store.resource("x", now: 0)) == nil)

        // A time-limited audience entry (an approved request) survives an edit that leaves the audience alone.
        try h.f.store.addAudience(resource: "billing", .user("root"), until: 2_000_000)
        let edit = root.post(
            "/admin/resources/billing",
            [
                ("path", "/billing/"), ("methods", "GET"), ("audience", "group:ops user:root"), ("owner", "plain"),
                ("networks", "10.0.0.0/8 2001:db8::/32"),
            ])
        #expect(edit.location == "/keyward/admin/resources/billing?done=saved")
        row = try h.f.store.resource("billing", now: 0)
        #expect(row.methods == ["GET"] && !row.anonymous && row.audienceUntil["user:root"] == 2_000_000)
        #expect(try audited(h, "resource.update", target: "resource:billing").count == 1)
        let same = root.post(
            "/admin/resources/billing",
            [
                ("path", "/billing/"), ("methods", "GET"), ("audience", "user:root group:ops"), ("owner", "plain"),
                ("networks", "10.0.0.0/8 2001:db8::/32"),
            ])
        #expect(same.location == "/keyward/admin/resources/billing?done=unchanged")
        #expect(try audited(h, "resource.update", target: "resource:billing").count == 1)
        #expect(root.post("/admin/resources/billing", [("path", "/billing/"), ("owner", "")]).status == 303)
        #expect(try h.f.store.resource("billing", now: 0).owner == nil)
        #expect(root.post("/admin/resources/billing/delete").location == "/keyward/admin/resources?done=deleted")
        #expect((try? h.f.store.resource("billing", now: 0)) == nil)
        #expect(try audited(h, "resource.delete", target: "resource:billing").count == 1)
    }

    @Test func signingKeysAreRotated() throws {
        let (h, root) = try fixture()
        let bad = root.post("/admin/signing-keys/rotate", [("alg", "HS256"), ("retire_after", "soon")])
        #expect(bad.status == 400 && bad.text.contains(#"id="alg-error""#) && bad.text.contains(#"id="retire_after-error""#))
        let page = root.get("/admin/signing-keys").text
        #expect(page.contains(#"id="alg-ES256" name="alg" value="ES256" checked"#))
        #expect(root.post("/admin/signing-keys/rotate", [("alg", "ES256"), ("retire_after", "1h")]).status == 303)
        let rotated = root.post("/admin/signing-keys/rotate", [("alg", "Ed25519"), ("retire_after", "2h")])
        #expect(rotated.location == "/keyward/admin/signing-keys?done=rotated")
        let keys = try h.f.store.signingKeys(now: h.clock.now)
        #expect(keys.map(\.alg) == ["Ed25519", "ES256"] && keys.last?.publishedUntil == h.clock.now + 7_200)
        #expect(try audited(h, "signing-key.rotate").map { $0.detail?.split(separator: ";").first } == ["ES256", "Ed25519"])
        let list = root.get("/admin/signing-keys?done=rotated").text
        #expect(list.contains(keys[0].kid) && list.contains("signs now") && list.contains("A new signing key now signs"))
    }

    @Test func theAuditPageFiltersPagesAndVerifiesTheChain() throws {
        let (h, root) = try fixture()
        for n in 0..<60 { #expect(root.post("/admin/groups", [("name", "g\(n)")]).status == 303) }
        let first = root.get("/admin/audit?action=group.add")
        #expect(first.status == 200 && first.text.contains("The hash chain verifies:") && first.text.contains("61 records, newest first"))
        #expect(first.text.contains("group:g59") && !first.text.contains("group:g9<"), "newest first: g59 on page 1, g9 on page 2")
        #expect(first.text.contains("/keyward/admin/audit?action=group.add&amp;page=2"))
        let second = root.get("/admin/audit?action=group.add&page=2")
        #expect(second.text.contains("group:g0<") && second.text.contains("group:ops<") && !second.text.contains("group:g59"))
        #expect(root.get("/admin/audit?user=plain").text.contains("user.add"))
        #expect(root.get("/admin/audit?until=1970-01-11").text.contains("No records match."))
        #expect(root.get("/admin/audit?since=1970-01-12&action=group.add").text.contains("61 records"))
        #expect(
            root.get("/admin/audit?since=1970-01-12T13:48:00Z&action=group.add").text.contains("60 records"), "the CLI's group at 13:46:40 is older")
        let badTime = root.get("/admin/audit?since=yesterday-ish")
        #expect(badTime.status == 400 && badTime.text.contains(#"id="since-error""#))

        // By credential: records about a key, and those made with it.
        let key = try h.f.admin().createKey(user: "plain", name: "k", expires: .never, scopes: [], networks: [])
        let byKey = root.get("/admin/audit?credential=" + key.id)
        #expect(byKey.text.contains("1 record,") && byKey.text.contains("key.create"))

        try h.f.sqlite.db.statement("UPDATE audit SET detail = 'forged' WHERE id = 3").run()
        let broken = root.get("/admin/audit")
        #expect(broken.status == 200 && broken.text.contains("The hash chain is broken at record #3."))
    }

    @Test func explainShowsTheDecisionAndItsSteps() throws {
        let (h, root) = try fixture()
        let cli = h.f.admin()
        let key = try cli.createKey(user: "plain", name: "reports key", expires: .never, scopes: [], networks: [])
        try cli.setGrant(role: "readers", .user("plain"), grant: true)
        let allowed = root.get("/admin/explain?credential=\(key.id)&method=GET&path=/reports/1&ip=2001:db8:0:0:0:0:0:1")
        #expect(allowed.status == 200 && allowed.text.contains(">allowed</span> 200") && allowed.text.contains("<li>"))
        let denied = root.get("/admin/explain?path=/reports/1")
        #expect(denied.text.contains(">denied</span> 401") && denied.text.contains("missing_credential"))
        let bad = root.get("/admin/explain?credential=nope&path=/x&ip=300.1.1.1&method=G%20T")
        #expect(bad.status == 400 && bad.text.contains(#"id="ip-error""#) && bad.text.contains(#"id="method-error""#))
        #expect(root.get("/admin/explain?credential=nope&path=/x").text.contains(#"id="credential-error""#))
    }

    @Test func hostileTextRendersAsText() throws {
        let (h, root) = try fixture()
        let hostile = [#"<script>alert(1)</script>"#, #""><img src=x onerror=alert(1)>"#, #"it's "quoted""#]
        let cli = h.f.admin()
        for (n, text) in hostile.enumerated() {
            // Names the rules refuse come back in the form, escaped.
            for (path, extra) in [
                ("/admin/users", []), ("/admin/groups", []), ("/admin/roles", [("privilege", "admin")]), ("/admin/resources", [("path", "/ok\(n)/")]),
            ] {
                let r = root.post(path, [("name", text)] + extra)
                #expect(r.status == 400, "\(path)")
                #expect(r.text.contains(HTML.escaped(text)) && !r.text.contains(text), "\(path): \(text)")
            }
            // Free text the store holds (a key's name) shows in the audit and in explain, escaped.
            let key = try cli.createKey(user: "plain", name: text, expires: .never, scopes: [], networks: [])
            let explained = root.get("/admin/explain?credential=\(key.id)&path=" + AdminBrowser.encode("/reports/" + text))
            #expect(explained.text.contains("(" + HTML.escaped(text) + ") of user plain</li>") && !explained.text.contains(text), "\(text)")
            let audit = root.get("/admin/audit?action=" + AdminBrowser.encode(text))
            #expect(audit.text.contains(HTML.escaped(text)) && !audit.text.contains(text))
            let role = root.post("/admin/roles/readers/grants", [("to", "user:" + text)])
            #expect(role.status == 404 && !role.text.contains(text))
        }
    }
}
