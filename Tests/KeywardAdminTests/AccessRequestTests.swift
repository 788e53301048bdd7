import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP
@testable import KeywardStore

/// A clock the test moves.
final class SteppingClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64
    init(_ now: Int64) { value = now }
    var now: Int64 { lock.withLock { value } }
    func advance(_ seconds: Int64) { lock.withLock { value += seconds } }
}

/// A sendmail stand-in: a shell script that keeps each message (stdin) as `N.eml` and its
/// arguments as `N.args`, or fails with a given status without reading.
struct CapturingSendmail {
    let dir: String
    let script: String

    init(in parent: String, exitStatus: Int = 0) throws {
        dir = parent + "/mail-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        script = dir + "/sendmail"
        let body =
            exitStatus == 0
            ? """
            #!/bin/sh
            dir=$(dirname "$0")
            n=$(ls "$dir" | grep -c '\\.eml$')
            n=$((n + 1))
            printf '%s\\n' "$@" > "$dir/$n.args"
            cat > "$dir/$n.eml"
            """
            : """
            #!/bin/sh
            exit \(exitStatus)
            """
        try (body + "\n").write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    }

    /// The captured messages, in the order sent.
    var messages: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let count = names.filter { $0.hasSuffix(".eml") }.count
        return (0..<count).map { (try? String(contentsOfFile: "\(dir)/\($0 + 1).eml", encoding: .utf8)) ?? "" }
    }

    func arguments(_ n: Int) -> [String] {
        ((try? String(contentsOfFile: "\(dir)/\(n).args", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// The value of the first header `name` in a captured message.
func header(_ message: String, _ name: String) -> String? {
    let head = message.components(separatedBy: "\n\n").first ?? ""
    return head.split(separator: "\n").first { $0.lowercased().hasPrefix(name.lowercased() + ": ") }
        .map { String($0.dropFirst(name.count + 2)) }
}

/// Users, a resource owned by bob, an admin user, a capturing sendmail.
struct ApprovalFixture {
    let f: AdminFixture
    let clock = SteppingClock(1_000_000)
    let sendmail: CapturingSendmail
    let settings: MailSettings

    init(_ backend: StoreBackend = .sqlite, inline: Bool = false, publicURL: String? = "https://api.example.com/keyward") throws {
        f = try AdminFixture(backend)
        sendmail = try CapturingSendmail(in: f.dir)
        settings = try MailSettings(sendmail: sendmail.script, from: "keyward@example.com", publicURL: publicURL, secretInline: inline)
        let root = admin(.commandLine("root"))
        _ = try root.addUser("alice", email: "alice@example.com")
        _ = try root.addUser("bob", email: "bob@example.com")
        _ = try root.addUser("carol", email: "carol@example.com")
        _ = try root.addUser("dave")
        _ = try root.addUser("erin", email: "erin@example.com")
        _ = try root.addResource("billing", ResourceSpec(path: PathScope("GET,POST:/billing/"), owner: "bob"))
        _ = try root.addResource("reports", ResourceSpec(path: PathScope("/reports/")))
        _ = try root.addRole("admins", privileges: [Privilege.admin])
        try root.setGrant(role: "admins", .user("erin"), grant: true)
    }

    func admin(_ actor: Actor) -> Admin {
        let a = Admin(store: f.store, keyFile: f.keyFile, clock: clock, actor: actor)
        a.mail = settings
        return a
    }

    func user(_ name: String) throws -> Admin {
        admin(.user(name, privileges: try f.store.privileges(of: name), credential: nil))
    }

    /// The decision of the real check for `secret` on `method path`.
    func check(_ secret: String, _ method: String, _ path: String) throws -> Decision {
        let lookup = try f.store.credentialLookup(clock: clock, limits: Limits())
        let checker = Authenticator(
            keys: lookup, pepper: HMACKey(f.keyFile.pepper), clock: clock, usage: CollectingSink(),
            audit: CollectingSink(), throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        return try checker.check(
            CheckRequest(
                method: method, path: .success(path), remoteAddress: "10.0.0.1",
                authorization: "Bearer \(secret)"))
    }

    func revealRows() throws -> Int64 {
        try f.sqlite.db.statement("SELECT count(*) FROM reveal_links").first { $0.int64(0) } ?? -1
    }
}

func code(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch { return AdminError.from(error)?.code ?? "\(error)" }
}

func token(inLinkOf message: String) -> String? {
    guard let range = message.range(of: "https://api.example.com/keyward/admin/reveal/") else { return nil }
    return String(message[range.upperBound...].prefix { $0.isLetter || $0.isNumber })
}

func text(_ r: Response) -> String { String(decoding: r.body, as: UTF8.self) }

@Suite struct AccessRequestTests {
    @Test func approvalMailsBothSidesAndTheLinkRevealsOnce() throws {
        let x = try ApprovalFixture()
        let alice = try x.user("alice")
        let request = try alice.requestAccess(user: "alice", resource: "billing", note: "monthly invoices ünd more")
        #expect(request.status == "pending" && request.user == "alice" && request.note == "monthly invoices ünd more")
        #expect(alice.notices == [MailNotice(user: "bob", address: "bob@example.com", about: "access.request", result: "sent")])
        #expect(x.sendmail.messages.count == 1)
        #expect(header(x.sendmail.messages[0], "To") == "bob@example.com")
        #expect(x.sendmail.messages[0].contains("keyward access approve \(request.id)"))
        #expect(x.sendmail.arguments(1) == ["-t", "-i"])

        let bob = try x.user("bob")
        #expect(try bob.accessRequests(status: "pending").map(\.id) == [request.id])
        let approved = try bob.approveAccess(request.id, expires: .seconds(7 * 86_400))
        #expect(approved.status == "approved" && approved.decidedBy == "bob" && approved.decidedAt == x.clock.now)
        #expect(approved.expiresAt == x.clock.now + 7 * 86_400)
        let keyId = try #require(approved.keyId)
        #expect(bob.notices.map(\.user) == ["alice", "bob"] && bob.notices.allSatisfy { $0.result == "sent" })

        // Two mails: the requester's with key id, expiry and the link; the owner's without the secret.
        let mails = x.sendmail.messages
        try #require(mails.count == 3)
        let (toAlice, toBob) = (mails[1], mails[2])
        for mail in [toAlice, toBob] {
            for name in ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Auto-Submitted"] {
                #expect(header(mail, name) != nil, "no \(name) header")
            }
            #expect(header(mail, "Content-Type") == "text/plain; charset=utf-8")
            #expect(header(mail, "Auto-Submitted") == "auto-generated")
            #expect(header(mail, "From") == "Keyward <keyward@example.com>")
        }
        #expect(header(toAlice, "To") == "alice@example.com" && header(toBob, "To") == "bob@example.com")
        #expect(toAlice.contains(keyId) && toAlice.contains("1970-01-19T13:46:40Z") && toBob.contains(keyId))
        let link = try #require(token(inLinkOf: toAlice))
        #expect(link.count == 43)
        #expect(try x.revealRows() == 1)
        let sealed = try x.f.sqlite.db.statement("SELECT sealed_secret, token_hash FROM reveal_links").first { ($0.blob(0), $0.blob(1)) }
        #expect(sealed?.1 == Digest.sha256(link))

        // GET shows a button and uses nothing up; POST reveals once; then 410.
        let anonymous = x.admin(.commandLine("nobody"))
        for _ in 0..<2 {
            let page = anonymous.revealResponse(method: "GET", token: link, wantsJSON: false)
            #expect(page.status == 200 && text(page).contains("<form method=\"post\">") && text(page).contains(keyId))
            #expect(page.header("Cache-Control") == "no-store" && page.header("Referrer-Policy") == "no-referrer")
        }
        let shown = anonymous.revealResponse(method: "POST", token: link, wantsJSON: true)
        #expect(shown.status == 200 && shown.header("Cache-Control") == "no-store")
        let json = try JSONSerialization.jsonObject(with: Data(shown.body)) as? [String: String]
        let secret = try #require(json?["secret"])
        #expect(json?["key_id"] == keyId && secret.hasPrefix(keyId + "_"))
        #expect(try x.revealRows() == 0)
        for (method, wantsJSON) in [("POST", true), ("POST", false), ("GET", false), ("GET", true)] {
            let again = anonymous.revealResponse(method: method, token: link, wantsJSON: wantsJSON)
            #expect(again.status == 410 && again.header("Cache-Control") == "no-store")
            #expect(text(again).contains("link_used_or_expired") == wantsJSON)
        }
        #expect(String(decoding: again410().serialized().prefix(17), as: UTF8.self) == "Status: 410 Gone\r")

        // The secret is in neither the owner's mail, nor the requester's, nor the sealed row, nor the audit.
        let secretPart = String(secret.dropFirst(keyId.count + 1))
        for mail in mails { #expect(!mail.contains(secretPart)) }
        let sealedBytes = try #require(sealed?.0)
        #expect(!sealedBytes.containsSubsequence(Array(secretPart.utf8)))
        let audit = try x.f.store.audit()
        #expect(!audit.contains { "\($0)".contains(secretPart) })
        #expect(Array(audit.map(\.action).suffix(4)) == ["access.request", "key.create", "access.approve", "access.reveal"])
        #expect(audit.last?.credential == keyId && audit.last?.actor == "anonymous")
        #expect(try x.f.store.verifyAudit(key: HMACKey(AuditChain.key(masterKey: x.f.keyFile.masterKey))).firstBroken == nil)

        // The issued key works on the resource's path and methods, and nowhere else.
        if case .allow(let identity) = try x.check(secret, "GET", "/billing/invoices/1") {
            #expect(identity.user == "alice" && identity.credential == keyId)
        } else {
            Issue.record("the approved key is refused on its resource")
        }
        for (method, path) in [("DELETE", "/billing/x"), ("GET", "/reports/x"), ("GET", "/other")] {
            guard case .deny(let denial) = try x.check(secret, method, path) else {
                Issue.record("\(method) \(path) allowed")
                continue
            }
            #expect(denial.reason.kind == .forbid)
        }
        #expect(try x.f.store.resource("billing").audience == ["user:alice"])
        #expect(try x.f.store.key(keyId).scopes == [PathScope("GET,POST:/billing/")!.description])

        // Decided once.
        #expect(code { _ = try bob.approveAccess(request.id, expires: .seconds(60)) } == "conflict")
        #expect(code { _ = try bob.rejectAccess(request.id, reason: nil) } == "conflict")
    }

    @Test(arguments: StoreBackend.allCases) func anExpiredLinkIsRefused(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        let request = try root.requestAccess(user: "alice", resource: "billing", note: nil)
        _ = try root.approveAccess(request.id, expires: .never)
        // The CLI approves: no approver mail; the owner gets the confirmation.
        #expect(root.notices.map(\.user) == ["alice", "bob"])
        let link = try #require(token(inLinkOf: x.sendmail.messages[1]))
        x.clock.advance(Limits().revealLinkLifetime - 1)
        #expect(root.revealResponse(method: "GET", token: link, wantsJSON: false).status == 200)
        x.clock.advance(1)
        let late = root.revealResponse(method: "POST", token: link, wantsJSON: true)
        #expect(late.status == 410 && text(late).contains("\"error\":\"link_used_or_expired\""))
        #expect(try x.revealRows() == 1, "refusing a link takes no write lock; the next new link purges it")
        for bad in ["", "short", String(repeating: "a", count: 42) + "/", String(repeating: "a", count: 43)] {
            #expect(root.revealResponse(method: "POST", token: bad, wantsJSON: false).status == 410)
        }
        let put = root.revealResponse(method: "PUT", token: link, wantsJSON: false)
        #expect(put.status == 405 && put.header("Allow") == "GET, HEAD, POST")
        #expect(code { _ = try Admin.reveal(store: x.f.store, keyFile: x.f.keyFile, clock: x.clock, token: link) } == "link_used_or_expired")
    }

    @Test(arguments: StoreBackend.allCases) func aDeletedKeysLinkRevealsNothing(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        let request = try root.requestAccess(user: "alice", resource: "billing", note: nil)
        let approved = try root.approveAccess(request.id, expires: .seconds(3_600))
        let link = try #require(token(inLinkOf: x.sendmail.messages[1]))
        try root.setKey(try #require(approved.keyId), .delete)
        #expect(root.revealResponse(method: "POST", token: link, wantsJSON: false).status == 410)
    }

    @Test(arguments: StoreBackend.allCases) func inlineModeMailsTheSecretAndKeepsNoLink(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend, inline: true, publicURL: nil)
        let root = x.admin(.commandLine("root"))
        let request = try root.requestAccess(user: "alice", resource: "billing", note: nil)
        let approved = try root.approveAccess(request.id, expires: .seconds(3_600))
        let toAlice = x.sendmail.messages[1]
        let keyId = try #require(approved.keyId)
        let secret = try #require(
            toAlice.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix(keyId + "_") })
        #expect(try x.revealRows() == 0)
        #expect(token(inLinkOf: toAlice) == nil)
        guard case .allow = try x.check(secret, "POST", "/billing/x") else {
            Issue.record("inline secret refused")
            return
        }
        #expect(!x.sendmail.messages[2].contains(String(secret.suffix(38))))
    }

    @Test(arguments: StoreBackend.allCases) func rejectionMailsTheRequester(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let bob = try x.user("bob")
        let request = try x.user("alice").requestAccess(user: "alice", resource: "billing", note: "please")
        let rejected = try bob.rejectAccess(request.id, reason: "use the reports API instead")
        #expect(rejected.status == "rejected" && rejected.keyId == nil && rejected.decidedBy == "bob")
        let mail = try #require(x.sendmail.messages.last)
        #expect(header(mail, "To") == "alice@example.com" && mail.contains("use the reports API instead"))
        #expect(try x.f.store.keys(user: "alice").isEmpty && x.f.store.resource("billing").audience.isEmpty)
        #expect(try x.f.store.audit(action: "access.reject").first?.detail?.contains("reason: use the reports API") == true)
        // A new request is allowed once the old one is decided.
        _ = try x.user("alice").requestAccess(user: "alice", resource: "billing", note: nil)
    }

    @Test(arguments: StoreBackend.allCases) func ownersAdminsAndOthers(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let alice = try x.user("alice"), bob = try x.user("bob"), carol = try x.user("carol"), erin = try x.user("erin")
        let mine = try alice.requestAccess(user: "alice", resource: "billing", note: nil)
        #expect(code { _ = try alice.requestAccess(user: "alice", resource: "billing", note: nil) } == "conflict")
        #expect(code { _ = try carol.requestAccess(user: "alice", resource: "reports", note: nil) } == "forbidden")
        #expect(code { _ = try alice.requestAccess(user: "alice", resource: "nope", note: nil) } == "not_found")
        #expect(
            code { _ = try alice.requestAccess(user: "alice", resource: "reports", note: String(repeating: "x", count: 501)) } == "invalid_argument")
        #expect(code { _ = try alice.requestAccess(user: "alice", resource: "reports", note: "two\nlines") } == "invalid_argument")
        #expect(code { _ = try alice.requestAccess(user: "alice", resource: "reports", note: "bell\u{7}") } == "invalid_argument")

        // No owner: every admin with an address hears of it (erin; dave is no admin).
        let sent = x.sendmail.messages.count
        let carols = try carol.requestAccess(user: "carol", resource: "reports", note: String(repeating: "é", count: 500))
        #expect(carol.notices == [MailNotice(user: "erin", address: "erin@example.com", about: "access.request", result: "sent")])
        #expect(x.sendmail.messages.count == sent + 1)

        // Listing: admins all, owners theirs, others their own.
        #expect(try erin.accessRequests(status: nil).map(\.id) == [mine.id, carols.id])
        #expect(try bob.accessRequests(status: nil).map(\.id) == [mine.id])
        #expect(try carol.accessRequests(status: nil).map(\.id) == [carols.id])
        #expect(try alice.accessRequests(status: "pending").map(\.id) == [mine.id])
        #expect(try alice.accessRequests(status: "approved").isEmpty)
        #expect(code { _ = try alice.accessRequests(status: "bogus") } == "invalid_argument")
        #expect(code { _ = try carol.accessRequest(mine.id) } == "not_found")
        #expect(try bob.accessRequest(mine.id).user == "alice")
        #expect(code { _ = try alice.accessRequest(999) } == "not_found")

        // Deciding: the owner or an admin; not the requester, not a stranger.
        #expect(code { _ = try alice.approveAccess(mine.id, expires: .seconds(60)) } == "forbidden")
        #expect(code { _ = try carol.approveAccess(mine.id, expires: .seconds(60)) } == "not_found")
        #expect(code { _ = try carol.rejectAccess(mine.id, reason: nil) } == "not_found")
        #expect(code { _ = try bob.approveAccess(carols.id, expires: .seconds(60)) } == "not_found")
        let byAdmin = try erin.approveAccess(carols.id, expires: .seconds(60))
        #expect(byAdmin.decidedBy == "erin")
        // erin approved a resource without owner: she gets the confirmation, carol the link.
        #expect(erin.notices.map(\.user) == ["carol", "erin"])
        _ = try bob.approveAccess(mine.id, expires: .seconds(60))
        #expect(try x.f.store.keys(user: "alice").count == 1 && x.f.store.keys(user: "carol").count == 1)
        #expect(try x.f.store.audit(action: "key.create").map(\.actor) == ["erin", "bob"])

        // Requests for anonymous resources, and by disabled users, are refused.
        let root = x.admin(.commandLine("root"))
        _ = try root.addResource("open", ResourceSpec(path: PathScope("/open/"), anonymous: true))
        #expect(code { _ = try root.requestAccess(user: "alice", resource: "open", note: nil) } == "invalid_argument")
        try root.setUser("carol", .disable)
        #expect(code { _ = try root.requestAccess(user: "carol", resource: "billing", note: nil) } == "conflict")
    }

    @Test(arguments: StoreBackend.allCases) func usersWithoutAnAddressAreSkippedAndFailuresReported(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        let request = try root.requestAccess(user: "dave", resource: "billing", note: nil)
        let approved = try root.approveAccess(request.id, expires: .seconds(60))
        #expect(root.notices.map(\.result) == ["no_email", "sent"] && root.notices.first?.user == "dave")
        #expect(approved.status == "approved")
        #expect(try x.revealRows() == 1, "not mailed, the key waits for dave to collect it on the access requests page")

        // A failing sendmail: the decision stands, the notice says why, the link stays for the page.
        let failing = try CapturingSendmail(in: x.f.dir, exitStatus: 75)
        root.mail = try MailSettings(sendmail: failing.script, publicURL: "https://api.example.com/keyward")
        let second = try root.requestAccess(user: "alice", resource: "billing", note: nil)
        #expect(root.notices.first?.result == "failed" && root.notices.first?.error?.contains("status 75") == true)
        _ = try root.approveAccess(second.id, expires: .seconds(60))
        #expect(root.notices.map(\.result) == ["failed", "failed"])
        #expect(try x.revealRows() == 2)

        // A missing sendmail is an error, not a crash; and without mail settings nothing is sent.
        root.mail = try MailSettings(sendmail: x.f.dir + "/no-such-sendmail")
        let third = try root.requestAccess(user: "carol", resource: "billing", note: nil)
        #expect(root.notices.first?.error?.contains("missing or not executable") == true)
        root.mail = nil
        _ = try root.rejectAccess(third.id, reason: nil)
        #expect(root.notices == [MailNotice(user: "carol", address: "carol@example.com", about: "access.reject", result: "mail_off")])

        // No public URL and no inline secret: the requester cannot be sent anything useful.
        root.mail = try MailSettings(sendmail: x.sendmail.script)
        let fourth = try root.requestAccess(user: "carol", resource: "billing", note: nil)
        _ = try root.approveAccess(fourth.id, expires: .seconds(60))
        #expect(root.notices.first?.result == "failed" && root.notices.first?.error?.contains("public_url") == true)
    }

    @Test(arguments: StoreBackend.allCases) func expiryNoticesGoOncePerKeyAndAgainAfterRenewal(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        let soon = try root.createKey(user: "alice", name: "soon", expires: .seconds(3 * 86_400), scopes: [], networks: [])
        _ = try root.createKey(user: "dave", name: "no-address", expires: .seconds(2 * 86_400), scopes: [], networks: [])
        _ = try root.createKey(user: "bob", name: "later", expires: .seconds(30 * 86_400), scopes: [], networks: [])
        _ = try root.createKey(user: "bob", name: "never", expires: .never, scopes: [], networks: [])
        let off = try root.createKey(user: "carol", name: "off", expires: .seconds(86_400), scopes: [], networks: [])
        try root.setKey(off.id, .disable)

        #expect(code { _ = try x.user("alice").notifyExpiring(within: 7 * 86_400) } == "forbidden")
        #expect(code { _ = try root.notifyExpiring(within: 0) } == "invalid_argument")
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 1)
        #expect(root.notices.map(\.result) == ["no_email", "sent"] && root.notices.map(\.user) == ["dave", "alice"])
        let mail = try #require(x.sendmail.messages.last)
        #expect(header(mail, "To") == "alice@example.com" && mail.contains(soon.id) && header(mail, "Subject")?.contains("soon") == true)
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 0)
        #expect(x.sendmail.messages.count == 1)

        try root.setKey(soon.id, .renew(.seconds(5 * 86_400)))
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 1)
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 0)
        #expect(try x.f.store.audit(action: "key.expiry.notify").map(\.credential) == [soon.id, soon.id])

        // A failed notice is tried again next time.
        let bobs = try x.f.store.keys(user: "bob").first { $0.name == "later" }!
        x.clock.advance(25 * 86_400)
        root.mail = try MailSettings(sendmail: try CapturingSendmail(in: x.f.dir, exitStatus: 1).script)
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 0)
        #expect(root.notices.contains { $0.user == "bob" && $0.result == "failed" })
        root.mail = x.settings
        #expect(try root.notifyExpiring(within: 7 * 86_400) == 1)
        #expect(x.sendmail.messages.last?.contains(bobs.id) == true)
    }

    @Test(arguments: StoreBackend.allCases) func headersCannotBeInjected(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let mailer = Mailer(settings: x.settings)
        for to in [
            "alice@example.com\r\nBcc: evil@example.net", "alice@example.com\nBcc: evil@example.net", "a@b, evil@example.net",
            "Evil <evil@example.net>", "\"a\"@example.com", "(x)a@example.com", "group:a@example.com;", "",
        ] {
            #expect(code { _ = try mailer.render(MailMessage(to: to, subject: "s", body: "b"), now: 0) } == "invalid_argument", "\(to)")
        }
        let rendered = String(
            decoding: try mailer.render(
                MailMessage(
                    to: "alice@example.com", subject: "hi\r\nBcc: evil@example.net\nX: y",
                    body: "body\r\n.\nBcc: not a header\n"), now: 0), as: UTF8.self)
        let head = rendered.components(separatedBy: "\n\n")[0]
        #expect(!head.split(separator: "\n").contains { $0.hasPrefix("Bcc") || $0.hasPrefix("X:") })
        #expect(header(rendered, "Subject") == "hi  Bcc: evil@example.net X: y")
        #expect(header(rendered, "Date") == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(!rendered.contains("\r"))
        #expect(head.split(separator: "\n").count == 9)
        let utf8 = String(
            decoding: try mailer.render(MailMessage(to: "a@b.example", subject: "Zugriff für Ärger", body: "ü"), now: 0),
            as: UTF8.self)
        #expect(header(utf8, "Subject") == "=?UTF-8?B?" + Base64.encode(Array("Zugriff für Ärger".utf8)) + "?=")

        let long = String(
            decoding: try mailer.render(
                MailMessage(
                    to: "a@b.example", subject: "s",
                    body: "note " + String(repeating: "é", count: 1_500) + "\nend"), now: 0),
            as: UTF8.self)
        #expect(long.split(separator: "\n").allSatisfy { $0.utf8.count <= 998 })
        #expect(long.replacingOccurrences(of: "\n", with: "").contains("note " + String(repeating: "é", count: 1_500) + "end"))

        #expect(code { _ = try MailSettings(from: "keyward@example.com\nBcc: evil@example.net") } == "invalid_argument")
        #expect(code { _ = try MailSettings(sendmail: "sendmail -t") } == "invalid_argument")
        #expect(code { _ = try MailSettings(publicURL: "javascript:alert(1)") } == "invalid_argument")
        #expect(code { _ = try MailSettings(publicURL: "https://x.example/\"><script>") } == "invalid_argument")
        #expect(code { _ = try MailSettings(config: ["mail_secret_inline": "maybe"]) } == "invalid_argument")
        let configured = try MailSettings(config: [
            "sendmail": "/usr/sbin/sendmail -oi -f bounce@example.com", "mail_from": "k@example.com",
            "public_url": "https://api.example.com/kw/", "mail_secret_inline": "yes",
        ])
        #expect(configured.command == ["/usr/sbin/sendmail", "-oi", "-f", "bounce@example.com", "-t", "-i"])
        #expect(configured.publicURL == "https://api.example.com/kw" && configured.secretInline && configured.from == "k@example.com")
        #expect(try MailSettings().command == ["/usr/sbin/sendmail", "-t", "-i"])
        #expect(try MailSettings(config: [:], sendmail: "/opt/capture").command == ["/opt/capture", "-t", "-i"])
        #expect(try MailSettings().from.hasPrefix("keyward@"))
    }
}

/// A 410 answer, to check its status line.
func again410() -> Response { Admin.gone(true) }

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
