import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardStore

/// Signed-request credentials (`kwh_`) through the admin operations, then verified by the check
/// as a worker sees the store.
@Suite struct RequestKeyAdminTests {
    func checker(_ f: AdminFixture) throws -> Authenticator {
        Authenticator(
            keys: try KeyLookup(path: f.path, clock: FixedClock(1_000_000), sealer: KeySealer(masterKey: f.keyFile.masterKey)),
            pepper: HMACKey(f.keyFile.pepper), clock: FixedClock(1_000_000), usage: CollectingSink(), audit: CollectingSink(),
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
    }

    /// `Authorization: HMAC <id>:<mac>` over `body`, with the body reaching Keyward.
    func hmacRequest(_ id: String, secret: [UInt8], body: [UInt8]) -> CheckRequest {
        CheckRequest(
            method: "POST", path: .success("/api/x"), remoteAddress: "192.0.2.3",
            authorization: "HMAC \(id):\(Base64.encode(HMACKey(secret).authenticationCode(body)))",
            source: BodySource(bytes: body))
    }

    struct BodySource: RequestSource {
        let bytes: [UInt8]
        var target: RequestTarget { RequestTarget(scheme: "https", authority: "h", raw: "/api/x") }
        func header(_ name: String) -> String? { nil }
        func body(limit: Int) -> [UInt8]? { bytes }
    }

    @Test func aGeneratedSecretIsShownOnceSealedAtRestAndVerifiesAtTheCheck() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        let created = try root.createRequestKey(
            user: "alice", name: "pdfc", material: .generatedSecret, expires: .never, scopes: [], networks: [])
        let shown = try #require(created.secret)
        let secret = try #require(Base64.decode(shown))
        #expect(secret.count == 32 && created.id.hasPrefix("kwh_") && created.algorithm == .hmacSHA256)
        // At rest the secret is sealed: its bytes are nowhere in the row.
        let stored = try #require(try f.sqlite.db.statement("SELECT material FROM request_key_secrets").first { $0.blob(0) })
        #expect(stored.count > 32 && !Data(stored).contains(Data(secret)))
        // Never in the listing or the audit.
        let listed = try JSONEncoder().encode(try root.requestKeys())
        #expect(!String(decoding: listed, as: UTF8.self).contains(created.secret!))
        let audit = try f.store.audit(action: "hmac.create")
        #expect(audit.count == 1 && audit[0].credential == created.id && !"\(audit)".contains(created.secret!))

        let body = Array("<compare/>".utf8)
        if case .allow(let id) = try checker(f).check(hmacRequest(created.id, secret: secret, body: body)) {
            #expect(id.user == "alice" && id.method == .hmac)
        } else {
            Issue.record("refused")
        }
        try root.setRequestKey(created.id, .disable)
        #expect(
            try checker(f).check(hmacRequest(created.id, secret: secret, body: body))
                == .deny(Denial(.credentialDisabled, credential: created.id, user: "alice")))
    }

    @Test func aSuppliedSecretIsUsedAsGivenAndNeverShownBack() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        let secret = Array("the client's own secret".utf8)
        let created = try root.createRequestKey(
            user: "alice", name: "legacy", material: .suppliedSecret(secret), expires: .seconds(3_600), scopes: [], networks: [])
        #expect(created.secret == nil && created.expiresAt == 1_003_600)
        #expect(try checker(f).check(hmacRequest(created.id, secret: secret, body: [1, 2, 3])).isAllowed)
        for bad in [Array(repeating: UInt8(1), count: 15), Array(repeating: UInt8(1), count: 1_025)] {
            #expect(throws: AdminError.self) {
                try root.createRequestKey(
                    user: "alice", name: "bad\(bad.count)", material: .suppliedSecret(bad), expires: .never, scopes: [], networks: [])
            }
        }
    }

    @Test func ed25519PublicKeysFromPEMOrRawBase64() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        let pair = try PrivateSigningKey.generate(.ed25519)
        let spki = pair.publicKey.subjectPublicKeyInfo()
        let pem = "-----BEGIN PUBLIC KEY-----\n\(Base64.encode(spki))\n-----END PUBLIC KEY-----\n"
        let raw = Array(spki.suffix(32))
        for text in [pem, Base64.encode(raw), Base64URL.encode(raw) + "\n"] {
            let material = try RequestKeyMaterial.ed25519(publicKeyText: text)
            #expect(material.algorithm == .ed25519)
        }
        for text in ["", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", Base64.encode(Array(raw.prefix(31))), "not a key"] {
            #expect(throws: AdminError.self, "\(text)") { try RequestKeyMaterial.ed25519(publicKeyText: text) }
        }
        let es256 = try PrivateSigningKey.generate(.es256).publicKey.subjectPublicKeyInfo()
        #expect(throws: AdminError.self) {
            try RequestKeyMaterial.ed25519(publicKeyText: "-----BEGIN PUBLIC KEY-----\n\(Base64.encode(es256))\n-----END PUBLIC KEY-----")
        }
        let created = try root.createRequestKey(
            user: "alice", name: "ed", material: try RequestKeyMaterial.ed25519(publicKeyText: pem), expires: .never, scopes: [], networks: [])
        #expect(created.secret == nil && created.algorithm == .ed25519)
        let key = try #require(
            try KeyLookup(path: f.path, clock: FixedClock(1_000_000), sealer: KeySealer(masterKey: f.keyFile.masterKey)).requestKey(id: created.id))
        #expect(key.verifies(pair.sign([1, 2]), over: [1, 2]))
    }

    @Test func selfServiceRulesAsForKeys() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("bob")
        _ = try root.addUser("carol")
        _ = try root.addResource("reports", ResourceSpec(path: PathScope("/reports/"), audience: [.user("bob")]))
        _ = try root.addRole("self-service", privileges: [Privilege.manageOwnKeys])
        try root.setGrant(role: "self-service", .user("bob"), grant: true)
        let bob = f.admin(.user("bob", privileges: try f.store.privileges(of: "bob"), credential: nil))
        let carol = f.admin(.user("carol", privileges: [], credential: nil))
        #expect(throws: AdminError.self) {  // unscoped
            try bob.createRequestKey(user: "bob", name: "all", material: .generatedSecret, expires: .seconds(60), scopes: [], networks: [])
        }
        #expect(throws: AdminError.self) {  // never expires
            try bob.createRequestKey(
                user: "bob", name: "long", material: .generatedSecret, expires: .never, scopes: [PathScope("/reports/")!], networks: [])
        }
        let own = try bob.createRequestKey(
            user: "bob", name: "r", material: .generatedSecret, expires: .seconds(60), scopes: [PathScope("/reports/")!], networks: [])
        #expect(throws: AdminError.self) {  // no manage-own-keys
            try carol.createRequestKey(user: "carol", name: "c", material: .generatedSecret, expires: .seconds(60), scopes: [], networks: [])
        }
        #expect(throws: AdminError.self) { try carol.requestKey(own.id) }  // others' look absent
        #expect(try carol.requestKeys().isEmpty)
        try bob.setRequestKey(own.id, .disable)
        #expect(throws: AdminError.self) { try bob.setRequestKey(own.id, .enable) }  // only admins enable
        try root.setRequestKey(own.id, .enable)
        try bob.setRequestKey(own.id, .delete)
        #expect(try f.store.audit(action: "hmac.delete").map(\.actor) == ["bob"])
    }
}

extension Decision {
    var isAllowed: Bool {
        if case .allow = self { return true }
        return false
    }
}
