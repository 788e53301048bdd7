import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// Signed requests at Keyward's own endpoint, where the body always arrives: the admin API takes
/// a request signed for a `kwh_` credential (RFC 9421, with a nonce) as it takes an API key, held
/// to the same rules; not `Authorization: HMAC`, which a captured request would replay for ever.
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

    @Test func theHMACFormIsRefusedHere() throws {
        let (h, id, secret) = try harness(privileges: [Privilege.useAPIKey, Privilege.admin])
        let me = hmac(h, "GET", "/admin/api/me", id: id, secret: secret)
        #expect(me.status == 401 && me.text.contains("does not take Authorization: HMAC"), "\(me.text)")
        let body = #"{"user": "alice", "name": "made-by-hmac", "expires": "7d"}"#
        #expect(hmac(h, "POST", "/admin/api/keys", id: id, secret: secret, json: body).status == 401)
        #expect(try h.f.store.keys(user: "alice").isEmpty)
    }

    /// A signed POST: its body covered by Content-Digest, and a nonce, or it is refused.
    @Test func aSignedPostNeedsItsDigestAndANonce() throws {
        let (h, id, secret) = try harness(privileges: [Privilege.useAPIKey, Privilege.admin])
        let body = #"{"user": "alice", "name": "made-signed", "expires": "7d"}"#
        func post(_ sent: String, nonce: String?) -> Reply {
            let digest = ContentDigest.field(for: Array(body.utf8))
            var params = #"("@method" "@target-uri" "content-digest");created=\#(h.clock.now);keyid="\#(id)";alg="hmac-sha256""#
            if let nonce { params += #";nonce="\#(nonce)""# }
            let base =
                "\"@method\": POST\n\"@target-uri\": http://keyward.test/keyward/admin/api/keys\n\"content-digest\": \(digest)\n\"@signature-params\": \(params)"
            return h.call(
                "POST", "/admin/api/keys", json: sent,
                headers: [
                    "HTTP_HOST": "keyward.test", "REQUEST_SCHEME": "http", "HTTP_CONTENT_DIGEST": digest, "HTTP_SIGNATURE_INPUT": "sig1=\(params)",
                    "HTTP_SIGNATURE": "sig1=:\(Base64.encode(HMACKey(secret).authenticationCode(Array(base.utf8)))):",
                ])
        }
        let noNonce = post(body, nonce: nil)
        #expect(noNonce.status == 401 && noNonce.text.contains("signature_incomplete"), "\(noNonce.text)")
        let tampered = post(body.replacingOccurrences(of: "made-signed", with: "made-tamper"), nonce: "p-1")
        #expect(tampered.status == 401 && tampered.text.contains("digest_mismatch"), "\(tampered.text)")
        let made = post(body, nonce: "p-2")
        #expect(made.status == 201, "\(made.text)")
        #expect(post(body, nonce: "p-2").status == 401, "the same request again is a replay")
        #expect(try h.f.store.keys(user: "alice").map(\.name) == ["made-signed"])
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
        let r = signed(h, "/admin/api/me", id: id, secret: secret, created: h.clock.now, nonce: "r-1")
        #expect(r.status == 403 && r.text.contains(Privilege.useAPIKey), "\(r.text)")
        // Scoped to some API: not an admin credential.
        let (h2, id2, secret2) = try harness(scopes: [PathScope("/api/")!])
        #expect(signed(h2, "/admin/api/me", id: id2, secret: secret2, created: h2.clock.now, nonce: "r-2").status == 403)
        // Disabled: 401 on the next request.
        let (h3, id3, secret3) = try harness()
        #expect(signed(h3, "/admin/api/me", id: id3, secret: secret3, created: h3.clock.now, nonce: "r-3").status == 200)
        try h3.f.admin().setRequestKey(id3, .disable)
        #expect(signed(h3, "/admin/api/me", id: id3, secret: secret3, created: h3.clock.now, nonce: "r-4").status == 401)
    }
}
