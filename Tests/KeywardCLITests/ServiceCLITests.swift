import Foundation
import Testing

/// `keyward service ...` and `key roll` as an administrator runs them: exit codes, one-line
/// reasons, secrets shown once and masked after.
@Suite struct ServiceCLITests {
    @Test func serviceRotationExitCodesAndReasons() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        let created = try cli.run("service", "create", "billing", "--owner", "alice", "--scope", "/api/", "--json")
        #expect(created.status == 0, "\(created.err)")
        let obj = try #require(created.json as? [String: Any])
        let key = try #require(obj["service_key"] as? String), jwtId = try #require(obj["jwt_secret_id"] as? String)
        let jwtSecret = try #require(obj["jwt_secret"] as? String)
        #expect(key.hasPrefix("kws_") && key.count == 59 && Data(base64Encoded: jwtSecret)?.count == 32)
        for args in [
            ["service", "list"], ["service", "list", "--json"], ["service", "show", "billing"], ["service", "show", "billing", "--json"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 0 && !r.out.contains(String(key.dropFirst(21))) && !r.out.contains(jwtSecret), "\(args)")
            #expect(r.out.contains(String(key.prefix(20)) + "_••••"), "\(args)")
        }
        let last = try cli.run("service", "credential", "discard", "billing", jwtId)
        #expect(last.status == 1 && last.err.contains("at least one stays active") && last.err.split(separator: "\n").count == 1)
        #expect(try cli.run("service", "credential", "add", "billing", "jwt-secret").status == 0)
        let third = try cli.run("service", "credential", "add", "billing", "jwt-secret")
        #expect(third.status == 1 && third.err.contains("at most two active"))
        #expect(try cli.run("service", "credential", "add", "billing", "hmac").status == 2)
        #expect(try cli.run("service", "credential", "discard", "billing", key).status == 2, "a pasted secret is bad usage, not echoed")
        #expect(try cli.run("service", "credential", "delete", "billing", jwtId).status == 2, "--password-stdin is required")
        #expect(try cli.run("service", "credential", "discard", "billing", jwtId).status == 0)
        #expect(try cli.run("service", "delete", "nothing", "--password-stdin").status == 1)
    }

    @Test func keyRollNeedsAGraceAndRefusesASecondOne() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        let created = try #require(try cli.run("key", "create", "--user", "alice", "--name", "k", "--json").json as? [String: Any])
        let id = try #require(created["id"] as? String)
        #expect(try cli.run("key", "roll", id).status == 2)
        let rolled = try cli.run("key", "roll", id, "--grace", "1h", "--json")
        #expect(rolled.status == 0)
        let obj = try #require(rolled.json as? [String: Any])
        #expect((obj["key"] as? [String: Any])?["id"] as? String == id && obj["previous_valid_until"] is Int)
        let again = try cli.run("key", "roll", id, "--grace", "1h")
        #expect(again.status == 1 && again.err.contains("at most two active"))
        #expect(try cli.run("key", "show", id).out.contains("the previous secret works until"))
    }
}
