import Foundation
import Testing

/// `keyward hmac` and `keyward signature explain`, as an administrator and a client run them.
@Suite struct SignedRequestCLITests {
    @Test func hmacCredentialsWithExitCodes() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        let created = try cli.run("hmac", "create", "--user", "alice", "--name", "pdfc", "--json")
        #expect(created.status == 0)
        let obj = try #require(created.json as? [String: Any])
        let id = try #require(obj["id"] as? String), secret = try #require(obj["secret"] as? String)
        #expect(id.hasPrefix("kwh_") && id.count == 20 && obj["algorithm"] as? String == "hmac-sha256")
        #expect(Data(base64Encoded: secret)?.count == 32)
        let supplied = try cli.run(
            arguments: ["hmac", "create", "--user", "alice", "--name", "seed", "--secret-stdin"], input: "seed secret, long enough\n")
        #expect(supplied.status == 0 && supplied.out.contains("not shown") && !supplied.out.contains("seed secret"))
        let short = try cli.run(arguments: ["hmac", "create", "--user", "alice", "--name", "short", "--secret-stdin"], input: "short\n")
        #expect(short.status == 1 && short.err.contains("16 to 1024 bytes"))
        #expect(try cli.run("hmac", "create", "--user", "alice", "--name", "x", "--alg", "ed25519").status == 2)
        #expect(try cli.run("hmac", "create", "--user", "alice", "--name", "x", "--alg", "rsa").status == 2)
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"
        let ed = try cli.run(
            arguments: ["hmac", "create", "--user", "alice", "--name", "ed", "--alg", "ed25519", "--public-key-stdin", "--json"], input: pem)
        #expect(ed.status == 0 && (ed.json as? [String: Any])?["algorithm"] as? String == "ed25519")
        for args in [
            ["hmac", "list"], ["hmac", "list", "--json"], ["hmac", "show", id], ["hmac", "show", id, "--json"], ["audit", "list", "--json"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 0 && !r.out.contains(secret) && !r.out.contains("seed secret"), "\(args)")
        }
        #expect(try cli.run("hmac", "disable", id).status == 0)
        #expect(
            ((try cli.run("hmac", "show", id, "--json").json as? [String: Any])?["credential"] as? [String: Any])?["status"] as? String == "disabled")
        #expect(try cli.run("hmac", "show", "kwk_0123456789abcdef").status == 2)
        #expect(try cli.run("hmac", "delete", id).status == 0)
        #expect(try cli.run("hmac", "show", id).status == 1)
    }

    /// RFC 9421 B.2.5's request, explained: the base is the RFC's byte for byte.
    @Test func explainPrintsTheSignatureBase() throws {
        let cli = try CLI()
        let base =
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@authority\": example.com\n\"content-type\": application/json\n"
            + "\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
        let r = try cli.run(
            "signature", "explain", "--url", "https://example.com/foo?param=Value&Pet=dog", "--method", "POST",
            "--header", "Date: Tue, 20 Apr 2021 02:07:55 GMT", "--header", "Content-Type: application/json",
            "--header", #"Signature-Input: sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
            "--header", "Signature: sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:", "--now", "1618884473", "--json")
        #expect(r.status == 0)
        let signatures = try #require((r.json as? [String: Any])?["signatures"] as? [[String: Any]])
        #expect(signatures.first?["signature_base"] as? String == base)
        #expect(signatures.first?["keyward_credential"] as? Bool == false)

        // A raw request on standard input, signed for a Keyward credential, with a body whose
        // digest is wrong and without @method: both are named, exit 1.
        let raw = [
            "POST /api/orders?x=1 HTTP/1.1", "Host: api.example.com", "Content-Type: application/json", "Content-Length: 2",
            "Content-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            #"Signature-Input: sig1=("@target-uri" "content-digest");created=1700000000;keyid="kwh_0123456789abcdef""#,
            "Signature: sig1=:AAAA:", "", "{}",
        ].joined(separator: "\r\n")
        let explained = try cli.run(arguments: ["signature", "explain", "--request-stdin", "--now", "1700000100"], input: raw)
        #expect(explained.status == 1)
        #expect(explained.out.contains("\"@target-uri\": https://api.example.com/api/orders?x=1\n\"content-digest\": sha-256=:X48E"))
        #expect(
            explained.out.contains("does not cover @method")
                && explained.out.contains("does not match the body; for this body: sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:"))
        let stale = try cli.run(arguments: ["signature", "explain", "--request-stdin", "--now", "1700000400"], input: raw)
        #expect(stale.out.contains("outside the window"))
        #expect(try cli.run("signature", "explain").status == 2)
    }
}
