import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// Signed requests at Keyward's own endpoint, where the body always arrives: the admin API takes
/// a request signed for a `kwh_` credential (RFC 9421, or `Authorization: HMAC <id>:<mac>` over
/// the body) as it takes an API key, held to the same rules.
@Suite struct AdminAPISignedTests {
    /// The harness, alice (use-api-key, manage-own-keys) and her signing credential's id and secret.
    func harness(privileges: [String] = [Privilege.useAPIKey, Privilege.manageOwnKeys], scopes: [PathScope] = []) throws
        -> (APIHarness, id: String, secret: [UInt8])
    {
        let h = try APIHarness()
        try h.user("alice", privileges: privileges)
        let created = try h.f.admin().createRequestKey(
            user: "alice", name: "automation", material: .generatedSecret, expires: .never, scopes: scopes, networks: [])
        return (h, created.id, try #require(Base64.decode(created.secret!)))
    }

    func hmac(_ h: APIHarness, _ method: String, _ path: String, id: String, secret: [UInt8], json: String = "", signed: String? = nil)
        -> Reply
    {
        let mac = Base64.encode(HMACKey(secret).authenticationCode(Array((signed ?? json).utf8)))
        return h.call(method, path, json: json.isEmpty ? nil : json, headers: ["HTTP_AUTHORIZATION": "HMAC \(id):\(mac)"])
    }

    /// An RFC 9421 hmac-sha256 signature over @method and @target-uri (a bodiless request).
    func signed(_ h: APIHarness, _ path: String, id: String, secret: [UInt8], created: Int64, nonce: String) -> Reply {
        let params = #"("@method" "@target-uri");created=\#(created);keyid="\#(id)";alg="hmac-sha256";nonce="\#(nonce)""#
        let base = "\"@method\": GET\n\"@target-uri\": http://keyward.test/keyward\(path)\n\"@signature-params\": \(params)"
        let signature = Base64.encode(HMACKey(secret).authenticationCode(Array(base.utf8)))
        return h.call(
            "GET", path,
            headers: [
                "HTTP_HOST": "keyward.test", "REQUEST_SCHEME": "http", "HTTP_SIGNATURE_INPUT": "sig1=\(params)",
                "HTTP_SIGNATURE": "sig1=:\(signature):",
            ])
    }

    @Test func theHMACFormOverTheBodyAuthenticatesAndATamperedBodyDoesNot() throws {
        let (h, id, secret) = try harness(privileges: [Privilege.useAPIKey, Privilege.admin])
        let me = hmac(h, "GET", "/admin/api/me", id: id, secret: secret)
        #expect(me.status == 200 && (me.json["user"] as? [String: Any])?["name"] as? String == "alice", "\(me.text)")
        #expect(me.json["auth"] as? String == "hmac" && me.json["credential"] as? String == id)
        let body = #"{"user": "alice", "name": "made-by-hmac", "expires": "7d"}"#
        let made = hmac(h, "POST", "/admin/api/keys", id: id, secret: secret, json: body)
        #expect(made.status == 201, "\(made.text)")
        let tampered = hmac(h, "POST", "/admin/api/keys", id: id, secret: secret, json: body, signed: body + " ")
        #expect(tampered.status == 401 && tampered.text.contains("signature_invalid"), "\(tampered.text)")
        #expect(hmac(h, "GET", "/admin/api/me", id: id, secret: Array("wrong secret, 16+ bytes".utf8)).status == 401)
        let audit = h.sink.events.filter { $0.action == "admin.auth.deny" }
        #expect(audit.contains { $0.reason == "signature_invalid" && $0.credential == id })
    }

    @Test func anRFC9421SignatureAuthenticatesOnceWithinItsWindow() throws {
        let (h, id, secret) = try harness()
        let now = h.clock.now
        let first = signed(h, "/admin/api/me", id: id, secret: secret, created: now, nonce: "n-1")
        #expect(first.status == 200 && first.json["auth"] as? String == "http-signature", "\(first.text)")
        let replayed = signed(h, "/admin/api/me", id: id, secret: secret, created: now, nonce: "n-1")
        #expect(replayed.status == 401 && replayed.text.contains("signature_replayed"), "\(replayed.text)")
        let stale = signed(h, "/admin/api/me", id: id, secret: secret, created: now - 3_600, nonce: "n-2")
        #expect(stale.status == 401 && stale.text.contains("signature_expired"), "\(stale.text)")
        // The signature covers the target: the same one sent to another path does not verify.
        let params = #"("@method" "@target-uri");created=\#(now);keyid="\#(id)";alg="hmac-sha256";nonce="n-3""#
        let base = "\"@method\": GET\n\"@target-uri\": http://keyward.test/keyward/admin/api/me\n\"@signature-params\": \(params)"
        let moved = h.call(
            "GET", "/admin/api/users",
            headers: [
                "HTTP_HOST": "keyward.test", "REQUEST_SCHEME": "http", "HTTP_SIGNATURE_INPUT": "sig1=\(params)",
                "HTTP_SIGNATURE": "sig1=:\(Base64.encode(HMACKey(secret).authenticationCode(Array(base.utf8)))):",
            ])
        #expect(moved.status == 401, "\(moved.text)")
    }

    @Test func theCredentialsRulesHoldAsForAnAPIKey() throws {
        // Without use-api-key: 403 after the signature verifies.
        let (h, id, secret) = try harness(privileges: [Privilege.manageOwnKeys])
        let r = hmac(h, "GET", "/admin/api/me", id: id, secret: secret)
        #expect(r.status == 403 && r.text.contains(Privilege.useAPIKey), "\(r.text)")
        // Scoped to some API: not an admin credential.
        let (h2, id2, secret2) = try harness(scopes: [PathScope("/api/")!])
        #expect(hmac(h2, "GET", "/admin/api/me", id: id2, secret: secret2).status == 403)
        // Disabled: 401 on the next request.
        let (h3, id3, secret3) = try harness()
        #expect(hmac(h3, "GET", "/admin/api/me", id: id3, secret: secret3).status == 200)
        try h3.f.admin().setRequestKey(id3, .disable)
        #expect(hmac(h3, "GET", "/admin/api/me", id: id3, secret: secret3).status == 401)
    }
}
