import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// Signed-request credentials (`kwh_`) through the admin API: `/admin/api/hmac`, its verbs and
/// the rotation of its secrets, checked against the check as a worker sees the store.
@Suite struct RequestKeyAPITests {
    /// True when `Authorization: HMAC <id>:<mac>` under `secret` passes the check now.
    func allowed(_ h: APIHarness, _ id: String, _ secret: [UInt8]) throws -> Bool {
        let checker = Authenticator(
            keys: try KeyLookup(path: h.f.path, clock: h.clock, sealer: KeySealer(masterKey: h.f.keyFile.masterKey)),
            pepper: HMACKey(h.f.keyFile.pepper), clock: h.clock, usage: CollectingSink(), audit: CollectingSink(),
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        let decision: Decision = try checker.check(RequestKeyAdminTests().hmacRequest(id, secret: secret, body: Array("{}".utf8)))
        return decision.isAllowed
    }

    /// The secret an answer shows, decoded.
    func secretBytes(_ reply: Reply) throws -> [UInt8] {
        let text = try #require(reply.json["secret"] as? String, "\(reply.text)")
        return try #require(Base64.decode(text))
    }

    func states(_ reply: Reply) -> [String] {
        (reply.json["secrets"] as? [[String: Any]] ?? []).map { "\($0["serial"] ?? "?") \($0["state"] ?? "?")" }
    }

    /// Create (the secret once), list and show without it, a second secret, the first discarded,
    /// then deleted with the caller's password again; the rules' refusals are 409 with the reason.
    @Test func theAdminAPIRotatesSecretsWithPasswords() throws {
        let h = try APIHarness()
        _ = try h.f.admin().addUser("alice")
        let created = h.root("POST", "/admin/api/hmac", json: #"{"name":"orders","user":"alice","scopes":["/api/"]}"#)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.header("Cache-Control") == "no-store")
        let id = try #require(created.json["id"] as? String)
        let secret = try #require(created.json["secret"] as? String)
        let first = try #require(Base64.decode(secret))
        #expect(first.count == 32 && id.hasPrefix("kwh_"))
        #expect(created.json["algorithm"] as? String == "hmac-sha256" && created.json["user"] as? String == "alice")
        #expect(created.json["expires_at"] as? Int == 1_000_100 + Int(Limits().defaultKeyLifetime))
        #expect(states(created) == ["1 active"])
        #expect(try allowed(h, id, first))

        let listed = h.root("GET", "/admin/api/hmac?user=alice")
        #expect(listed.status == 200 && listed.items.map { $0["id"] as? String } == [id])
        #expect(listed.items.first?["secret"] == nil && !listed.text.contains(secret))
        #expect(h.root("GET", "/admin/api/hmac?user=root").items.isEmpty)
        let shown = h.root("GET", "/admin/api/hmac/\(id)")
        #expect(shown.status == 200 && shown.json["secret"] == nil && !shown.text.contains(secret) && states(shown) == ["1 active"])

        let last = h.root("POST", "/admin/api/hmac/\(id)/secrets/1/discard")
        #expect(last.status == 409 && last.error == "conflict", "\(last.text)")
        #expect((last.json["error_description"] as? String ?? "").contains("at least one"), "\(last.text)")

        let added = h.root("POST", "/admin/api/hmac/\(id)/secrets")
        #expect(added.status == 201 && added.header("Cache-Control") == "no-store", "\(added.text)")
        #expect(added.json["id"] as? String == id && added.json["serial"] as? Int == 2 && states(added) == ["1 active", "2 active"])
        let second = try secretBytes(added)
        #expect(try allowed(h, id, first) && allowed(h, id, second))
        let full = h.root("POST", "/admin/api/hmac/\(id)/secrets", json: "{}")
        #expect(full.status == 409 && full.error == "conflict")

        let discarded = h.root("POST", "/admin/api/hmac/\(id)/secrets/1/discard")
        #expect(discarded.status == 200 && states(discarded) == ["1 inactive", "2 active"], "\(discarded.text)")
        #expect(try !allowed(h, id, first) && allowed(h, id, second))
        #expect(states(h.root("POST", "/admin/api/hmac/\(id)/secrets/1/reactivate")) == ["1 active", "2 active"])
        #expect(try allowed(h, id, first))
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/1/discard").status == 200)

        let password = #"{"password":"\#(APIHarness.rootPassword)"}"#
        let wrong = h.root("POST", "/admin/api/hmac/\(id)/secrets/1/delete", json: #"{"password":"nope"}"#)
        #expect(wrong.status == 403 && wrong.error == "forbidden")
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/1/delete", json: "{}").error == "invalid_argument")
        let active = h.root("POST", "/admin/api/hmac/\(id)/secrets/2/delete", json: password)
        #expect(active.status == 409 && active.error == "conflict", "an active secret is discarded first")
        let deleted = h.root("POST", "/admin/api/hmac/\(id)/secrets/1/delete", json: password)
        #expect(deleted.status == 200 && states(deleted) == ["2 active"], "\(deleted.text)")
        #expect(try !allowed(h, id, first) && allowed(h, id, second))

        // Serials the credential does not have, or that are no serial at all, name nothing.
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/1/discard").status == 404)
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/99/delete", json: password).status == 404)
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/x2/discard").status == 404)
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/0/reactivate").status == 404)
        #expect(h.root("POST", "/admin/api/hmac/kwh_AAAAAAAAAAAAAAAA/secrets/1/discard").status == 404)

        // A roll: the old secret retires by itself when the grace ends.
        let rolled = h.root("POST", "/admin/api/hmac/\(id)/secrets", json: #"{"grace":"1h"}"#)
        #expect(rolled.status == 201 && states(rolled) == ["2 retiring", "3 active"], "\(rolled.text)")
        let retiring = (rolled.json["secrets"] as? [[String: Any]])?.first
        #expect(retiring?["retire_at"] as? Int == 1_000_100 + 3_600)
        let third = try secretBytes(rolled)
        #expect(try allowed(h, id, second) && allowed(h, id, third))
        h.clock.now += 3_600
        #expect(try !allowed(h, id, second) && allowed(h, id, third))
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets", json: #"{"grace":"never"}"#).error == "invalid_argument")
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets", json: #"{"grace":"90d"}"#).error == "invalid_argument")

        // A reveal: the caller's password again, the secret in a no-store answer, audited.
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/3/reveal", json: #"{"password":"nope"}"#).status == 403)
        let revealed = h.root("POST", "/admin/api/hmac/\(id)/secrets/3/reveal", json: password)
        #expect(revealed.status == 200 && revealed.header("Cache-Control") == "no-store", "\(revealed.text)")
        #expect(revealed.json["secret"] as? String == rolled.json["secret"] as? String && revealed.json["serial"] as? Int == 3)
        #expect(h.root("POST", "/admin/api/hmac/\(id)/secrets/7/reveal", json: password).status == 404)

        // No secret in the audit trail; every step is in it.
        let audit = try h.f.store.audit()
        for shown in [secret, added.json["secret"] as? String, rolled.json["secret"] as? String].compactMap({ $0 }) {
            #expect(!audit.contains { "\($0)".contains(shown) })
        }
        let actions = audit.map(\.action).filter { $0.hasPrefix("hmac.") }
        #expect(
            actions == [
                "hmac.create", "hmac.secret.add", "hmac.secret.discard", "hmac.secret.reactivate", "hmac.secret.discard",
                "hmac.password.refused", "hmac.secret.delete", "hmac.secret.roll", "hmac.password.refused", "hmac.secret.reveal",
            ], "\(actions)")
    }

    /// disable, enable, renew and delete have the HTTP shape of the keys' verbs.
    @Test func theVerbsOfKeys() throws {
        let h = try APIHarness()
        _ = try h.f.admin().addUser("alice")
        let created = h.root("POST", "/admin/api/hmac", json: #"{"name":"orders","user":"alice","expires":"never"}"#)
        let id = try #require(created.json["id"] as? String)
        let secret = try secretBytes(created)
        #expect(created.json["expires_at"] is NSNull)
        let disabled = h.root("POST", "/admin/api/hmac/\(id)/disable")
        #expect(disabled.status == 200 && disabled.json["status"] as? String == "disabled")
        #expect(try !allowed(h, id, secret))
        #expect(h.root("POST", "/admin/api/hmac/\(id)/enable").json["status"] as? String == "active")
        #expect(try allowed(h, id, secret))
        #expect(h.root("POST", "/admin/api/hmac/\(id)/enable", json: #"{"x":1}"#).error == "invalid_argument")
        let renewed = h.root("POST", "/admin/api/hmac/\(id)/renew", json: #"{"expires":"7d"}"#)
        #expect(renewed.status == 200 && renewed.json["expires_at"] as? Int == 1_000_100 + 7 * 86_400)
        #expect(h.root("POST", "/admin/api/hmac/\(id)/renew").json["expires_at"] as? Int == 1_000_100 + Int(Limits().defaultKeyLifetime))
        #expect(h.root("POST", "/admin/api/hmac", json: #"{"name":"orders","user":"alice"}"#).error == "conflict")
        #expect(h.root("DELETE", "/admin/api/hmac/\(id)").status == 204)
        #expect(h.root("GET", "/admin/api/hmac/\(id)").status == 404)
        #expect(try !allowed(h, id, secret))
        #expect(h.root("GET", "/admin/api/hmac/kwk_AAAAAAAAAAAAAAAA").status == 404)
    }

    /// What proves the credential: a generated secret, the client's own in base64, or an
    /// Ed25519 public key; bad input is a 400 that does not repeat it.
    @Test func secretsAndPublicKeysFromTheBody() throws {
        let h = try APIHarness()
        _ = try h.f.admin().addUser("alice")
        let own = Array("sixteen bytes or more of secret".utf8)
        let supplied = h.root("POST", "/admin/api/hmac", json: #"{"name":"own","user":"alice","secret":"\#(Base64.encode(own))"}"#)
        #expect(supplied.status == 201 && supplied.json["secret"] is NSNull, "\(supplied.text)")
        let suppliedId = try #require(supplied.json["id"] as? String)
        #expect(try allowed(h, suppliedId, own))

        let key = try PrivateSigningKey.generate(.ed25519).publicKey
        let pem = "-----BEGIN PUBLIC KEY-----\\n\(Base64.encode(key.subjectPublicKeyInfo()))\\n-----END PUBLIC KEY-----\\n"
        let ed = h.root("POST", "/admin/api/hmac", json: #"{"name":"ed","user":"alice","public_key":"\#(pem)"}"#)
        #expect(ed.status == 201 && ed.json["algorithm"] as? String == "ed25519" && ed.json["secret"] is NSNull, "\(ed.text)")
        let edId = try #require(ed.json["id"] as? String)
        let another = try PrivateSigningKey.generate(.ed25519).publicKey.subjectPublicKeyInfo()
        let raw = Base64.encode(Array(another.suffix(32)))
        let addedKey = h.root("POST", "/admin/api/hmac/\(edId)/secrets", json: #"{"public_key":"\#(raw)"}"#)
        #expect(addedKey.status == 201 && addedKey.json["secret"] is NSNull && states(addedKey) == ["1 active", "2 active"], "\(addedKey.text)")

        func refused(_ body: String, _ path: String = "/admin/api/hmac") -> Reply {
            let r = h.root("POST", path, json: body)
            #expect(r.status == 400 && r.error == "invalid_argument", "\(body): \(r.text)")
            return r
        }
        let notBase64 = refused(#"{"name":"a","user":"alice","secret":"not base64 at all: s3cr3t-value"}"#)
        #expect(!notBase64.text.contains("s3cr3t-value"))
        _ = refused(#"{"name":"a","user":"alice","secret":"\#(Base64.encode(Array("short".utf8)))"}"#)
        _ = refused(#"{"name":"a","user":"alice","algorithm":"hmac-sha512"}"#)
        _ = refused(#"{"name":"a","user":"alice","algorithm":"hmac-sha256","public_key":"\#(raw)"}"#)
        _ = refused(#"{"name":"a","user":"alice","algorithm":"ed25519"}"#)
        _ = refused(#"{"name":"a","user":"alice","algorithm":"ed25519","secret":"\#(Base64.encode(own))"}"#)
        _ = refused(#"{"name":"a","user":"alice","public_key":"AAAA"}"#)
        _ = refused(#"{"name":"a","user":"alice","material":"x"}"#)
        _ = refused(#"{"name":"a","user":"alice","expires":"soon"}"#)
        _ = refused(#"{"secret":"\#(Base64.encode(own))"}"#, "/admin/api/hmac/\(edId)/secrets")
        _ = refused(#"{"public_key":"\#(raw)"}"#, "/admin/api/hmac/\(suppliedId)/secrets")
        #expect(h.root("POST", "/admin/api/hmac", json: #"{"name":"a","user":"nobody"}"#).status == 404)
    }

    /// Self-service users manage their own credentials only, within resources they may call.
    @Test func selfServiceAsForKeys() throws {
        let h = try APIHarness()
        _ = try h.f.admin().addResource("reports", ResourceSpec(path: PathScope("/api/reports/")))
        try h.user("alice", privileges: [Privilege.manageOwnKeys, Privilege.useAPIKey, "access:reports"])
        _ = try h.f.admin().addUser("bob")
        let alice = try h.f.admin().createKey(user: "alice", name: "k", expires: .never, scopes: [], networks: [])
        let own = h.call("POST", "/admin/api/hmac", key: alice.secret, json: #"{"name":"mine","scopes":["/api/reports/"]}"#)
        #expect(own.status == 201 && own.json["user"] as? String == "alice", "\(own.text)")
        let other = h.call("POST", "/admin/api/hmac", key: alice.secret, json: #"{"name":"his","user":"bob","scopes":["/api/reports/"]}"#)
        #expect(other.status == 403)
        _ = h.root("POST", "/admin/api/hmac", json: #"{"name":"his","user":"bob"}"#)
        #expect(h.call("GET", "/admin/api/hmac", key: alice.secret).items.map { $0["user"] as? String } == ["alice"])
        let bobs = try #require(h.root("GET", "/admin/api/hmac?user=bob").items.first?["id"] as? String)
        #expect(h.call("GET", "/admin/api/hmac/\(bobs)", key: alice.secret).status == 404)
        #expect(h.call("POST", "/admin/api/hmac/\(bobs)/secrets", key: alice.secret).status == 404)
    }
}
