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

    @Test func explainTakesTheirIds() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        let created = try root.createRequestKey(
            user: "alice", name: "o", material: .generatedSecret, expires: .never, scopes: [PathScope("/api/")!], networks: [])
        guard case .allow(let identity) = try root.explain(credential: created.id, path: "/api/x", method: "POST", ip: nil).decision else {
            Issue.record("refused")
            return
        }
        #expect(identity.method == .httpSignature && identity.credential == created.id)
        #expect(!(try root.explain(credential: created.id, path: "/other", method: "GET", ip: nil).decision.isAllowed))
        #expect(throws: AdminError.self) { try root.explain(credential: "kwz_aaaaaaaaaaaaaaaa", path: "/", method: "GET", ip: nil) }
    }

    // MARK: Rotation

    /// The secrets as stored, judged by the rules: a store never holds a state they forbid.
    func stored(_ admin: Admin, _ id: String) throws -> [RotationMember] {
        let members = try admin.store.requestKeySecrets(id).map(\.rotationMember)
        #expect(RotationSet.violation(of: members, now: admin.clock.now) == nil, "stored \(members)")
        return members
    }

    /// Random adds, rolls, discards, reactivations and deletions, with time passing so that rolls'
    /// grace periods end: each is allowed exactly when the machine allows it on a model, and the
    /// rows then equal the model's members (retired ones pruned by the next change).
    @Test(arguments: [UInt64(11), 12, 13, 14, 15, 16])
    func randomRotationsOfSecretsKeepTheRules(seed: UInt64) throws {
        let f = try AdminFixture()
        let clock = TestClock(1_000_000)
        let root = Admin(store: f.store, keyFile: f.keyFile, clock: clock, actor: .commandLine("root"))
        _ = try root.addUser("alice")
        try root.setPassword("alice", ServiceTests.password)
        let id = try root.createRequestKey(user: "alice", name: "o", material: .generatedSecret, expires: .never, scopes: [], networks: [])
            .id
        var model = try RotationSet(validating: try stored(root, id), now: clock.now)
        var rng = SeededRandom(state: seed)
        var deletions = 0
        for _ in 0..<40 {
            clock.now += Int64.random(in: 0...120, using: &rng)
            let label = model.members.map(\.id).randomElement(using: &rng)!
            let serial = try #require(RequestKeySecretRow.serial(label: label))
            let verb = ["add", "roll", "discard", "reactivate", "delete"].randomElement(using: &rng)!
            if verb == "delete" && deletions >= 4 { continue }  // an scrypt each
            let next = RequestKeySecretRow.label(try f.store.nextRequestKeySecretSerial(id))
            let op: RotationOperation =
                switch verb {
                case "add": .add(next)
                case "roll": .roll(next, graceUntil: clock.now + 60)
                case "discard": .discard(label)
                case "reactivate": .reactivate(label)
                default: .delete(label)
                }
            let expected = model.refusal(of: op, now: clock.now)
            do {
                switch verb {
                case "add", "roll":
                    let added = try root.addRequestKeySecret(id, material: .generatedSecret, grace: verb == "roll" ? 60 : nil)
                    #expect(RequestKeySecretRow.label(added.serial) == next && added.secret != nil)
                case "discard", "reactivate":
                    try root.setRequestKeySecret(id, serial: serial, RequestKeySecretChange(rawValue: verb)!)
                default:
                    deletions += 1
                    try root.deleteRequestKeySecret(id, serial: serial, password: ServiceTests.password, passwordOf: "alice")
                }
                #expect(expected == nil, "seed \(seed): \(verb) \(op.id) allowed against \(String(describing: expected))")
                model = try model.applying(op, now: clock.now)
            } catch let error as RotationRefusal {
                #expect(error == expected, "seed \(seed): \(verb)")
            }
            // The model keeps a retired member until an operation drops it; compare what is live.
            let live = { (members: [RotationMember]) in
                members.filter {
                    if case .retiring(let until) = $0.state { return until > clock.now } else { return true }
                }
            }
            #expect(live(try stored(root, id)) == live(model.members), "seed \(seed) after \(verb)")
        }
    }

    @Test func aSecondSecretVerifiesUntilTheFirstIsDiscardedAndARollRetiresTheOldOne() throws {
        let f = try AdminFixture()
        let clock = TestClock(1_000_000)
        let root = Admin(store: f.store, keyFile: f.keyFile, clock: clock, actor: .commandLine("root"))
        _ = try root.addUser("alice")
        try root.setPassword("alice", ServiceTests.password)
        let created = try root.createRequestKey(user: "alice", name: "o", material: .generatedSecret, expires: .never, scopes: [], networks: [])
        let first = try #require(Base64.decode(created.secret!))
        let body = Array("{}".utf8)
        func allowed(_ secret: [UInt8]) throws -> Bool {
            let checker = Authenticator(
                keys: try KeyLookup(path: f.path, clock: clock, sealer: KeySealer(masterKey: f.keyFile.masterKey)),
                pepper: HMACKey(f.keyFile.pepper), clock: clock, usage: CollectingSink(), audit: CollectingSink(),
                throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
            let decision: Decision = try checker.check(hmacRequest(created.id, secret: secret, body: body))
            return decision.isAllowed
        }
        // The rules refuse, with their reason, before anything is written.
        #expect(throws: RotationRefusal.self) { try root.setRequestKeySecret(created.id, serial: 1, .discard) }
        #expect(throws: AdminError.self) { try root.addRequestKeySecret(created.id, material: .ed25519(try Self.publicKey())) }

        let added = try root.addRequestKeySecret(created.id, material: .generatedSecret)
        let second = try #require(Base64.decode(added.secret!))
        #expect(added.serial == 2 && added.secrets.map(\.state) == ["active", "active"])
        #expect(try allowed(first) && allowed(second))
        #expect(throws: RotationRefusal.self) { try root.addRequestKeySecret(created.id, material: .generatedSecret) }
        try root.setRequestKeySecret(created.id, serial: 1, .discard)
        #expect(try !allowed(first) && allowed(second))
        #expect(throws: AdminError.self) {
            try root.deleteRequestKeySecret(created.id, serial: 1, password: "wrong", passwordOf: "alice")
        }
        try root.deleteRequestKeySecret(created.id, serial: 1, password: ServiceTests.password, passwordOf: "alice")
        #expect(try f.store.requestKeySecrets(created.id).map(\.serial) == [2])

        // A roll: the new secret now, the old one until the grace ends, then nothing to discard.
        let rolled = try root.addRequestKeySecret(created.id, material: .generatedSecret, grace: 3_600)
        let third = try #require(Base64.decode(rolled.secret!))
        #expect(rolled.serial == 3 && rolled.secrets.map(\.state) == ["retiring", "active"])
        #expect(try allowed(second) && allowed(third))
        clock.now += 3_600
        #expect(try !allowed(second) && allowed(third))
        #expect(throws: AdminError.self) { try root.addRequestKeySecret(created.id, material: .generatedSecret, grace: 0) }
        _ = try root.addRequestKeySecret(created.id, material: .generatedSecret)
        #expect(try f.store.requestKeySecrets(created.id).map(\.serial) == [3, 4])  // the retired one pruned
        // A reveal needs the password again, shows the secret the client signs with, and is audited.
        #expect(throws: AdminError.self) { try root.revealRequestKeySecret(created.id, serial: 3, password: "wrong", passwordOf: "alice") }
        #expect(try root.revealRequestKeySecret(created.id, serial: 3, password: ServiceTests.password, passwordOf: "alice") == rolled.secret)
        let actions = try f.store.audit().map(\.action).filter { $0.hasPrefix("hmac.") }
        #expect(
            actions == [
                "hmac.create", "hmac.secret.add", "hmac.secret.discard", "hmac.password.refused", "hmac.secret.delete", "hmac.secret.roll",
                "hmac.secret.add", "hmac.password.refused", "hmac.secret.reveal",
            ], "\(actions)")
        let revealed = try f.store.audit(action: "hmac.secret.reveal")
        #expect(revealed.count == 1 && !"\(revealed)".contains(rolled.secret!))
    }

    /// Wrong passwords given again are bounded per user (the audit counts them, so every process
    /// and CGI run agrees): past the limit even the right one is refused until the window passes.
    @Test func wrongPasswordsAreBoundedPerUser() throws {
        let f = try AdminFixture()
        let clock = TestClock(1_000_000)
        let root = Admin(store: f.store, keyFile: f.keyFile, clock: clock, actor: .commandLine("root"))
        _ = try root.addUser("alice")
        try root.setPassword("alice", ServiceTests.password)
        let created = try root.createRequestKey(user: "alice", name: "o", material: .generatedSecret, expires: .never, scopes: [], networks: [])
        for _ in 0..<Limits().maxPasswordRefusals {
            #expect(throws: AdminError.forbidden("This needs the password of alice again; it did not match.")) {
                try root.revealRequestKeySecret(created.id, serial: 1, password: "guess", passwordOf: "alice")
            }
        }
        do {
            _ = try root.revealRequestKeySecret(created.id, serial: 1, password: ServiceTests.password, passwordOf: "alice")
            Issue.record("the right password was taken past the limit")
        } catch let error as AdminError {
            #expect(error.reason == .tooManyRequests)
        }
        clock.now += Limits().passwordRefusalWindow + 1
        #expect(try root.revealRequestKeySecret(created.id, serial: 1, password: ServiceTests.password, passwordOf: "alice") == created.secret)
    }

    static func publicKey() throws -> PublicVerificationKey {
        try PrivateSigningKey.generate(.ed25519).publicKey
    }
}

extension Decision {
    var isAllowed: Bool {
        if case .allow = self { return true }
        return false
    }
}
