import Foundation
import Testing

/// `keyward group|role|resource|explain` and `user email`, driven through the built binary.
@Suite struct AccessCLITests {
    /// A database with users alice, bob and carol.
    func setUp() throws -> CLI {
        let cli = try CLI()
        #expect(try cli.run("init").status == 0)
        for u in ["alice", "bob", "carol"] { #expect(try cli.run("user", "add", u).status == 0) }
        return cli
    }

    /// Expects exit `status` and, for refusals, one `keyward: ` line containing `message`.
    func expect(_ r: CLI.Result, _ status: Int32, _ message: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, "\(r.err)", sourceLocation: sourceLocation)
        if status != 0 {
            #expect(r.err.hasPrefix("keyward: ") && r.err.split(separator: "\n").count == 1, "\(r.err)", sourceLocation: sourceLocation)
            #expect(r.err.contains(message), "\(r.err)", sourceLocation: sourceLocation)
        }
    }

    @Test func groupsAndMembers() throws {
        let cli = try setUp()
        expect(try cli.run("group", "add", "ops"), 0)
        expect(try cli.run("group", "add", "ops"), 1, "group already exists: ops")
        expect(try cli.run("group", "add", "bad name"), 1, "invalid group name")
        expect(try cli.run("group", "add"), 2, "missing GROUP")
        expect(try cli.run("group", "member", "add", "ops", "alice"), 0)
        expect(try cli.run("group", "member", "add", "ops", "bob"), 0)
        expect(try cli.run("group", "member", "add", "ops", "alice"), 1, "user alice is already in group ops")
        expect(try cli.run("group", "member", "add", "nope", "alice"), 1, "no such group: nope")
        expect(try cli.run("group", "member", "add", "ops", "nobody"), 1, "no such user: nobody")
        expect(try cli.run("group", "member", "remove", "ops", "carol"), 1, "user carol is not in group ops")
        expect(try cli.run("group", "member", "join", "ops", "carol"), 2, "one of add|remove")
        expect(try cli.run("group", "member", "add", "ops"), 2, "missing USER")
        expect(try cli.run("group", "member", "remove", "ops", "bob"), 0)

        let shown = try #require(try cli.run("group", "show", "ops", "--json").json as? [String: Any])
        #expect(shown["name"] as? String == "ops" && shown["members"] as? [String] == ["alice"])
        let list = try #require(try cli.run("group", "list", "--json").json as? [[String: Any]])
        #expect(list.count == 1)
        let text = try cli.run("group", "show", "ops")
        #expect(text.status == 0 && text.out.contains("members  alice"))
        let user = try #require(try cli.run("user", "show", "alice", "--json").json as? [String: Any])
        #expect(user["groups"] as? [String] == ["ops"])

        expect(try cli.run("group", "show", "nope"), 1, "no such group: nope")
        expect(try cli.run("group", "delete", "ops"), 0)
        expect(try cli.run("group", "delete", "ops"), 1, "no such group: ops")
        #expect(try cli.run("group", "list").out.contains("no groups"))

        let audit = try #require(try cli.run("audit", "list", "--json").json as? [[String: Any]])
        for action in ["group.add", "group.member.add", "group.member.remove", "group.delete"] {
            #expect(audit.contains { $0["action"] as? String == action && ($0["actor"] as? String)?.hasPrefix("cli:") == true }, "\(action)")
        }
    }

    @Test func rolesCarryPrivilegesAndAreGranted() throws {
        let cli = try setUp()
        try cli.run("group", "add", "ops")
        try cli.run("resource", "add", "billing", "--path", "/billing/")
        expect(try cli.run("role", "add", "r"), 2, "--privilege is required")
        expect(try cli.run("role", "add", "r", "--privilege", "superuser"), 1, "unknown privilege superuser")
        expect(try cli.run("role", "add", "r", "--privilege", "access:nothing"), 1, "no such resource: nothing")
        expect(try cli.run("role", "add", "bad/name", "--privilege", "admin"), 1, "invalid role name")
        expect(try cli.run("role", "add", "biller", "--privilege", "access:billing", "--privilege", "manage-own-keys"), 0)
        expect(try cli.run("role", "add", "biller", "--privilege", "admin"), 1, "role already exists: biller")

        expect(try cli.run("role", "grant", "biller"), 2, "exactly one of --group G and --user U")
        expect(try cli.run("role", "grant", "biller", "--group", "ops", "--user", "alice"), 2, "exactly one")
        expect(try cli.run("role", "grant", "nope", "--group", "ops"), 1, "no such role: nope")
        expect(try cli.run("role", "grant", "biller", "--group", "nope"), 1, "no such group: nope")
        expect(try cli.run("role", "grant", "biller", "--group", "ops"), 0)
        expect(try cli.run("role", "grant", "biller", "--user", "carol"), 0)
        expect(try cli.run("role", "grant", "biller", "--user", "carol"), 1, "role biller is already granted to user:carol")

        let role = try #require(try cli.run("role", "show", "biller", "--json").json as? [String: Any])
        #expect(role["privileges"] as? [String] == ["access:billing", "manage-own-keys"])
        #expect(role["granted_to"] as? [String] == ["group:ops", "user:carol"])
        try cli.run("group", "member", "add", "ops", "alice")
        let alice = try #require(try cli.run("user", "show", "alice", "--json").json as? [String: Any])
        #expect(alice["roles"] as? [String] == ["biller"])

        expect(try cli.run("role", "revoke", "biller", "--user", "carol"), 0)
        expect(try cli.run("role", "revoke", "biller", "--user", "carol"), 1, "role biller is not granted to user:carol")
        let list = try #require(try cli.run("role", "list", "--json").json as? [[String: Any]])
        #expect(list.count == 1 && list[0]["granted_to"] as? [String] == ["group:ops"])
        #expect(try cli.run("role", "list").out.contains("access:billing manage-own-keys"))
        expect(try cli.run("role", "delete", "biller"), 0)
        expect(try cli.run("role", "delete", "biller"), 1, "no such role: biller")
    }

    @Test func resourcesAddShowUpdateDelete() throws {
        let cli = try setUp()
        try cli.run("group", "add", "ops")
        let added = try cli.run(
            "resource", "add", "billing", "--path", "/billing/", "--method", "get", "--method", "POST",
            "--audience", "group:ops", "--audience", "user:bob", "--owner", "alice",
            "--allow-ip", "10.0.0.0/8", "--allow-ip", "2001:db8::/32", "--json")
        expect(added, 0)
        let row = try #require(added.json as? [String: Any])
        #expect(row["path"] as? String == "/billing/" && row["methods"] as? [String] == ["GET", "POST"])
        #expect(row["audience"] as? [String] == ["group:ops", "user:bob"] && row["owner"] as? String == "alice")
        #expect(row["anonymous"] as? Bool == false && (row["allow_ips"] as? [String])?.count == 2)

        // Refusals: usage (2) before the store is asked, the store's rules (1) after.
        for (args, message) in [
            (["resource", "add", "x"], "--path is required"),
            (["resource", "add", "x", "--path", "relative/"], "invalid --path"),
            (["resource", "add", "x", "--path", "/a/../b/"], "invalid --path"),
            (["resource", "add", "x", "--path", "/x/", "--method", "G-T"], "invalid --method"),
            (["resource", "add", "x", "--path", "/x/", "--audience", "ops"], "invalid --audience"),
            (["resource", "add", "x", "--path", "/x/", "--allow-ip", "10.0.0.0/40"], "invalid --allow-ip"),
            (["resource", "add", "x", "--path", "/x/", "--bogus"], "unknown option"),
            (["resource", "update", "billing"], "nothing to change"),
            (["resource", "update", "billing", "--anonymous", "--no-anonymous"], "exclude each other"),
            (["resource", "update", "billing", "--audience", "user:bob", "--clear-audience"], "exclude each other"),
        ] {
            expect(try cli.run(args[0], Array(args.dropFirst())), 2, message)
        }
        expect(try cli.run("resource", "add", "billing", "--path", "/other/"), 1, "already exists: billing")
        expect(try cli.run("resource", "add", "other", "--path", "/billing/"), 1, "already exists: other")
        expect(try cli.run("resource", "add", "x", "--path", "/x/", "--audience", "group:nope"), 1, "no such group: nope")
        expect(try cli.run("resource", "add", "x", "--path", "/x/", "--owner", "nobody"), 1, "no such user: nobody")
        expect(try cli.run("resource", "add", "bad name", "--path", "/x/"), 1, "invalid resource name")
        expect(try cli.run("resource", "update", "nope", "--anonymous"), 1, "no such resource: nope")

        // Update: only what is given changes; a given list replaces the stored one.
        var updated = try #require(try cli.run("resource", "update", "billing", "--method", "DELETE", "--anonymous", "--json").json as? [String: Any])
        #expect(updated["path"] as? String == "/billing/" && updated["methods"] as? [String] == ["DELETE"])
        #expect(updated["anonymous"] as? Bool == true && updated["owner"] as? String == "alice")
        #expect(updated["audience"] as? [String] == ["group:ops", "user:bob"])
        updated = try #require(
            try cli.run("resource", "update", "billing", "--path", "/bills/", "--audience", "user:carol", "--json").json as? [String: Any])
        #expect(updated["path"] as? String == "/bills/" && updated["methods"] as? [String] == ["DELETE"])
        #expect(updated["audience"] as? [String] == ["user:carol"])
        updated = try #require(
            try cli.run(
                "resource", "update", "billing", "--any-method", "--no-anonymous", "--clear-audience",
                "--no-owner", "--clear-allow-ip", "--json"
            ).json as? [String: Any])
        #expect(updated["methods"] as? [String] == [] && updated["anonymous"] as? Bool == false)
        #expect(updated["audience"] as? [String] == [] && updated["owner"] is NSNull && updated["allow_ips"] as? [String] == [])

        let text = try cli.run("resource", "show", "billing")
        #expect(text.status == 0 && text.out.contains("path       /bills/") && text.out.contains("methods    every method"))
        let list = try cli.run("resource", "list")
        #expect(list.status == 0 && list.out.contains("billing") && list.out.contains("/bills/"))

        // Deleting a resource takes its access: privilege out of roles.
        try cli.run("role", "add", "biller", "--privilege", "access:billing", "--privilege", "use-api-key")
        expect(try cli.run("resource", "delete", "billing"), 0)
        expect(try cli.run("resource", "delete", "billing"), 1, "no such resource: billing")
        let role = try #require(try cli.run("role", "show", "biller", "--json").json as? [String: Any])
        #expect(role["privileges"] as? [String] == ["use-api-key"])
        let audit = try #require(try cli.run("audit", "list", "--json").json as? [[String: Any]])
        for action in ["resource.add", "resource.update", "resource.delete"] {
            #expect(audit.contains { $0["action"] as? String == action && $0["target"] as? String == "resource:billing" }, "\(action)")
        }
    }

    @Test func explainPrintsTheStepsAndExitsByTheDecision() throws {
        let cli = try setUp()
        try cli.run("group", "add", "team")
        try cli.run("group", "member", "add", "team", "bob")
        try cli.run("resource", "add", "team", "--path", "/team/", "--audience", "group:team", "--allow-ip", "10.0.0.0/8")
        try cli.run("resource", "add", "pub", "--path", "/pub/", "--anonymous", "--method", "GET")
        func key(_ user: String, _ extra: String...) throws -> String {
            let r = try cli.run("key", ["create", "--user", user, "--name", "k", "--json"] + extra)
            return try #require((r.json as? [String: Any])?["id"] as? String)
        }
        let bob = try key("bob", "--scope", "/team/reports/"), alice = try key("alice")

        let allowed = try cli.run("explain", "--credential", bob, "--path", "/team/reports/1", "--ip", "10.1.2.3")
        expect(allowed, 0)
        #expect(allowed.out.contains("resource team") && allowed.out.contains("scope /team/reports/ allows GET /team/reports/1"))
        #expect(allowed.out.contains("audience group:team of resource team") && allowed.out.hasSuffix("decision: allow (200)\n"))

        let denied = try cli.run("explain", "--credential", alice, "--path", "/team/x", "--ip", "10.1.2.3", "--json")
        #expect(denied.status == 1)
        let obj = try #require(denied.json as? [String: Any])
        #expect(obj["allowed"] as? Bool == false && obj["status"] as? Int == 403 && obj["code"] as? String == "resource_not_allowed")
        #expect(obj["user"] as? String == "alice" && obj["credential"] as? String == alice)
        let steps = try #require(obj["steps"] as? [String])
        #expect(steps.first?.contains("resource team") == true && steps.last?.contains("holds no access:team") == true)

        let outside = try cli.run("explain", "--credential", bob, "--path", "/team/x", "--ip", "10.1.2.3")
        #expect(outside.status == 1 && outside.out.contains("decision: deny (403 path_not_allowed)"))
        let noIP = try cli.run("explain", "--credential", bob, "--path", "/team/reports/1")
        #expect(noIP.status == 1 && noIP.out.contains("ip_not_allowed"))
        let v6 = try cli.run("explain", "--credential", bob, "--path", "/team/reports/1", "--ip", "2001:db8::1")
        #expect(v6.status == 1 && v6.out.contains("ip_not_allowed"))

        let anonymous = try #require(try cli.run("explain", "--path", "/pub/x", "--json").json as? [String: Any])
        #expect(anonymous["allowed"] as? Bool == true && anonymous["status"] as? Int == 200 && anonymous["user"] as? String == "anonymous")
        let post = try cli.run("explain", "--path", "/pub/x", "--method", "post")
        #expect(post.status == 1 && post.out.contains("method_not_allowed"))
        let missing = try cli.run("explain", "--path", "/team/x")
        #expect(missing.status == 1 && missing.out.contains("401 missing_credential"))
        let unknown = try cli.run("explain", "--credential", "kwk_0000000000000000", "--path", "/team/x")
        #expect(unknown.status == 1 && unknown.out.contains("no credential has the id kwk_0000000000000000"))

        // Bad usage: exit 2; a pasted secret is named by its id and never echoed.
        let secret = try #require(
            (try cli.run("key", "create", "--user", "carol", "--name", "s", "--json").json as? [String: Any])?["secret"] as? String)
        let pasted = try cli.run("explain", "--credential", secret, "--path", "/x")
        expect(pasted, 2, String(secret.prefix(20)))
        #expect(!pasted.err.contains(secret) && !pasted.out.contains(secret))
        for (args, message) in [
            (["explain"], "--path is required"), (["explain", "--path", "x"], "invalid --path"),
            (["explain", "--credential", "nope", "--path", "/x"], "not a credential id"),
            (["explain", "--path", "/x", "--ip", "10.0.0.300"], "invalid --ip"),
            (["explain", "--path", "/x", "--method", "G T"], "invalid --method"),
        ] {
            expect(try cli.run(args[0], Array(args.dropFirst())), 2, message)
        }
        // explain records nothing.
        let audit = try #require(try cli.run("audit", "list", "--json").json as? [[String: Any]])
        #expect(!audit.contains { ($0["action"] as? String)?.hasPrefix("check") == true })
    }

    @Test func userEmailAndTheReservedName() throws {
        let cli = try setUp()
        expect(try cli.run("user", "add", "dave", "--email", "dave@example.com"), 0)
        expect(try cli.run("user", "add", "erin", "--email", "not an address"), 1, "invalid e-mail address")
        expect(try cli.run("user", "show", "erin"), 1, "no such user: erin")
        expect(try cli.run("user", "add", "anonymous"), 1, "reserved")
        expect(try cli.run("user", "email", "alice", "alice@example.com"), 0)
        expect(try cli.run("user", "email", "alice", "a\nb@example.com"), 1, "invalid e-mail address")
        expect(try cli.run("user", "email", "alice"), 2, "missing ADDR")
        expect(try cli.run("user", "email", "nobody", "x@example.com"), 1, "no such user: nobody")
        let users = try #require(try cli.run("user", "list", "--json").json as? [[String: Any]])
        #expect(users.first { $0["name"] as? String == "dave" }?["email"] as? String == "dave@example.com")
        #expect(users.first { $0["name"] as? String == "alice" }?["email"] as? String == "alice@example.com")
        #expect(try cli.run("user", "list").out.contains("alice@example.com"))
        expect(try cli.run("user", "email", "alice", "--clear"), 0)
        let alice = try #require(try cli.run("user", "show", "alice", "--json").json as? [String: Any])
        #expect((alice["user"] as? [String: Any])?["email"] is NSNull)
        #expect(try cli.run("user", "show", "dave").out.contains("email    dave@example.com"))
    }

    @Test func helpForTheNewCommands() throws {
        let cli = try CLI()
        for args in [
            ["group", "--help"], ["group", "member", "--help"], ["role", "--help"], ["role", "add", "--help"],
            ["role", "grant", "--help"], ["resource", "--help"], ["resource", "add", "--help"],
            ["resource", "update", "--help"], ["explain", "--help"], ["user", "email", "--help"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 0 && r.out.contains("usage: keyward"), "\(args)")
        }
        let top = try cli.run("--help")
        for word in ["group add", "role add", "resource add", "explain", "access:RESOURCE"] { #expect(top.out.contains(word), "\(word)") }
        #expect(try cli.run("resource", "update", "--help").out.contains("--clear-allow-ip"))
        #expect(try cli.run("group").status == 2 && cli.run("role", "frobnicate").status == 2)
    }
}
