import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// SplitMix64, as in the core's rotation tests: a failing sequence replays from its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Services through the admin operations and the store: privileges, passwords, the rotation
/// rules as stored, the check over the real lookup, and `key roll`.
@Suite struct ServiceTests {
    static let password = "correct horse battery"

    func fixture() throws -> (AdminFixture, Admin) {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        try root.setPassword("alice", Self.password)
        return (f, root)
    }

    /// The members of one type as stored, judged by the rules: a store never holds a state they forbid.
    func stored(_ admin: Admin, _ type: ServiceCredentialType) throws -> [RotationMember] {
        let members = try admin.store.service("billing").credentials.filter { $0.type == type }.map(\.rotationMember)
        #expect(RotationSet.violation(of: members, now: admin.clock.now) == nil, "stored \(members)")
        return members
    }

    /// Random operations through the admin operations: each is allowed exactly when the machine
    /// allows it on a model, and the rows then equal the model's members.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func randomRotationsThroughTheStoreKeepTheRules(seed: UInt64) throws {
        let (_, root) = try fixture()
        let created = try root.createService("billing", owner: "alice", scopes: [], networks: [])
        var models: [ServiceCredentialType: RotationSet] = [:]
        for type in ServiceCredentialType.allCases {
            models[type] = try RotationSet(validating: try stored(root, type), now: root.clock.now)
        }
        #expect(models[.jwtSecret]?.members.map(\.id) == [created.jwtSecretId])
        var rng = SeededRandom(state: seed)
        var deletions = 0
        for _ in 0..<40 {
            let type = ServiceCredentialType.allCases.randomElement(using: &rng)!
            var model = models[type]!
            let ids = model.members.map(\.id)
            let id = ids.randomElement(using: &rng)!
            let verb = ["add", "discard", "reactivate", "delete"].randomElement(using: &rng)!
            // Deletions cost an scrypt each: a few per sequence.
            if verb == "delete" && deletions >= 4 { continue }
            switch verb {
            case "add":
                let refusal = model.refusal(of: .add("new"), now: root.clock.now)
                do {
                    let shown = try root.addServiceCredential("billing", type: type)
                    #expect(refusal == nil, "seed \(seed): add allowed against \(String(describing: refusal))")
                    model = try model.applying(.add(shown.id), now: root.clock.now)
                } catch let error as RotationRefusal {
                    // The model's refusal names a placeholder id; the rule and reason are the same.
                    #expect(error.rule == refusal?.rule && error.description == refusal?.description)
                }
            case "discard", "reactivate":
                let op: RotationOperation = verb == "discard" ? .discard(id) : .reactivate(id)
                let expected = model.refusal(of: op, now: root.clock.now)
                do {
                    try root.setServiceCredential("billing", id, ServiceCredentialChange(rawValue: verb)!)
                    #expect(expected == nil, "seed \(seed): \(verb) \(id) allowed against \(String(describing: expected))")
                    model = try model.applying(op, now: root.clock.now)
                } catch let error as RotationRefusal {
                    #expect(error == expected)
                }
            default:
                let expected = model.refusal(of: .delete(id), now: root.clock.now)
                if expected == nil { deletions += 1 }
                do {
                    try root.deleteServiceCredential("billing", id, password: Self.password, passwordOf: "alice")
                    #expect(expected == nil)
                    model = try model.applying(.delete(id), now: root.clock.now)
                } catch let error as RotationRefusal {
                    #expect(error == expected)
                }
            }
            models[type] = model
            #expect(try stored(root, type) == model.members, "seed \(seed) after \(verb)")
        }
    }

    @Test func createShowsBothSecretsOnceAndMasksThemAfter() throws {
        let (f, root) = try fixture()
        let created = try root.createService("billing", owner: "alice", scopes: [PathScope("/api/")!], networks: [])
        #expect(OpaqueSecret(parsing: Substring(created.serviceKey))?.kind == .serviceKey)
        #expect(Base64.decode(created.jwtSecret)?.count == 32)
        let row = try root.service("billing")
        #expect(row.credentials.map(\.type) == [.serviceKey, .jwtSecret])
        #expect(row.credentials.allSatisfy { $0.masked.hasSuffix("_••••") && $0.status == "active" })
        // The database holds no secret in the clear.
        let file = try #require(FileManager.default.contents(atPath: f.path))
        #expect(file.range(of: Data(created.serviceKey.utf8)) == nil)
        #expect(file.range(of: Data(Base64.decode(created.jwtSecret)!)) == nil)
        // Reveal gives back what creation showed, with the password, audited.
        let keyId = row.credentials[0].id, jwtId = row.credentials[1].id
        #expect(try root.revealServiceCredential("billing", keyId, password: Self.password).secret == created.serviceKey)
        #expect(try root.revealServiceCredential("billing", jwtId, password: Self.password).secret == created.jwtSecret)
        #expect(throws: AdminError.self) { try root.revealServiceCredential("billing", jwtId, password: "wrong one") }
        let actions = try f.store.audit().map(\.action)
        #expect(actions.filter { $0 == "service.credential.reveal" }.count == 2)
        #expect(actions.contains("service.password.refused"))
        #expect(try f.store.audit().allSatisfy { !($0.detail ?? "").contains(created.jwtSecret) })
        // A name that reads as a credential id is refused.
        #expect(throws: AdminError.self) { try root.createService("kws_x", owner: "alice", scopes: [], networks: []) }
        #expect { try root.createService("billing", owner: "alice", scopes: [], networks: []) } throws: {
            AdminError.from($0)?.reason == .conflict
        }
    }

    @Test func ownersAndAdminsOnly() throws {
        let (f, root) = try fixture()
        _ = try root.addUser("bob")
        try root.setPassword("bob", "bob's password")
        _ = try root.addRole("self", privileges: [Privilege.manageOwnKeys])
        try root.setGrant(role: "self", .user("alice"), grant: true)
        try root.setGrant(role: "self", .user("bob"), grant: true)
        _ = try root.addResource("api", ResourceSpec(path: PathScope("/api/"), owner: "alice"))
        let alice = f.admin(.user("alice", privileges: [Privilege.manageOwnKeys], credential: nil))
        let bob = f.admin(.user("bob", privileges: [Privilege.manageOwnKeys], credential: nil))
        // Self-service: scoped within what the owner may call, for oneself only.
        #expect(throws: AdminError.self) { try alice.createService("billing", owner: "alice", scopes: [], networks: []) }
        #expect(throws: AdminError.self) { try bob.createService("billing", owner: "alice", scopes: [PathScope("/api/")!], networks: []) }
        let created = try alice.createService("billing", owner: "alice", scopes: [PathScope("/api/")!], networks: [])
        let jwtId = created.jwtSecretId
        // To bob, alice's service looks absent.
        #expect(try bob.services().isEmpty)
        for attempt in [
            { _ = try bob.service("billing") }, { _ = try bob.addServiceCredential("billing", type: .jwtSecret) },
            { try bob.setServiceCredential("billing", jwtId, .discard) },
            { _ = try bob.revealServiceCredential("billing", jwtId, password: "bob's password") },
            { try bob.deleteService("billing", password: "bob's password") },
        ] {
            #expect { try attempt() } throws: { ($0 as? AdminError)?.reason == .notFound }
        }
        // The owner needs their own password; an admin's does on the command line.
        #expect(throws: AdminError.self) { try alice.revealServiceCredential("billing", jwtId, password: "bob's password") }
        #expect(try alice.revealServiceCredential("billing", jwtId, password: Self.password).secret == created.jwtSecret)
        #expect(throws: AdminError.self) {
            try root.revealServiceCredential("billing", jwtId, password: "bob's password", passwordOf: "bob")
        }
        _ = try root.addRole("admins", privileges: [Privilege.admin])
        try root.setGrant(role: "admins", .user("bob"), grant: true)
        #expect(try root.revealServiceCredential("billing", jwtId, password: "bob's password", passwordOf: "bob").id == jwtId)
        try alice.deleteService("billing", password: Self.password)
        #expect(try root.services().isEmpty)
    }

    /// The check over the store: a service key and a service JWT allowed with the service's
    /// identity; a discard reaches the next request; both JWT secrets verify during a rotation.
    @Test func theCheckSeesServicesAndTheirRotation() throws {
        let (f, root) = try fixture()
        let created = try root.createService("billing", owner: "alice", scopes: [PathScope("/api/")!], networks: [])
        let clock = FixedClock(1_000_000)
        let lookup = try KeyLookup(path: f.path, clock: clock, sealer: KeySealer(masterKey: f.keyFile.masterKey))
        let checker = Authenticator(
            keys: lookup, pepper: HMACKey(f.keyFile.pepper), clock: clock, usage: CollectingSink(), audit: CollectingSink(),
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        func check(bearer: String? = nil, apiKey: String? = nil) throws -> Decision {
            try checker.check(
                CheckRequest(
                    method: "GET", path: .success("/api/x"), remoteAddress: "10.0.0.1", authorization: bearer.map { "Bearer " + $0 },
                    apiKeyHeader: apiKey))
        }
        func method(_ d: Decision) -> String {
            switch d {
            case .allow(let identity): "\(identity.method.rawValue) \(identity.user) \(identity.subject) \(identity.service ?? "-")"
            case .deny(let denial): denial.reason.rawValue
            }
        }
        func jwt(_ secret: String, iat: Int64 = 1_000_000) -> String {
            let input =
                Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "."
                + Base64URL.encode(Array(#"{"iss":"billing","iat":\#(iat),"exp":\#(iat + 600)}"#.utf8))
            return input + "." + Base64URL.encode(HMACKey(Base64.decode(secret)!).authenticationCode(Array(input.utf8)))
        }
        #expect(method(try check(apiKey: created.serviceKey)) == "service-key alice service:billing billing")
        let old = jwt(created.jwtSecret)
        #expect(method(try check(bearer: old)) == "service-jwt alice service:billing billing")
        let added = try root.addServiceCredential("billing", type: .jwtSecret)
        let new = jwt(added.secret, iat: 999_990)
        #expect(method(try check(bearer: new)) == "service-jwt alice service:billing billing")
        #expect(method(try check(bearer: old)) == "service-jwt alice service:billing billing")
        try root.setServiceCredential("billing", created.jwtSecretId, .discard)
        #expect(method(try check(bearer: old)) == "credential_disabled")
        #expect(method(try check(bearer: new)) == "service-jwt alice service:billing billing")
        try root.setServiceCredential("billing", created.jwtSecretId, .reactivate)
        #expect(method(try check(bearer: old)) == "service-jwt alice service:billing billing")
        // The service key rotates the same way.
        let key2 = try root.addServiceCredential("billing", type: .serviceKey)
        let keyId = OpaqueSecret(parsing: Substring(created.serviceKey))!.id
        try root.setServiceCredential("billing", keyId, .discard)
        #expect(method(try check(apiKey: created.serviceKey)) == "credential_disabled")
        #expect(method(try check(apiKey: key2.secret)) == "service-key alice service:billing billing")
        try root.deleteServiceCredential("billing", keyId, password: Self.password)
        #expect(method(try check(apiKey: created.serviceKey)) == "invalid_credential")
        try root.setUser("alice", .disable)
        #expect(method(try check(bearer: new)) == "user_disabled")
    }

    /// `key roll`: both secrets work until the grace ends; a second roll waits for it; a
    /// regeneration ends it at once.
    @Test func keyRollKeepsTheOldSecretUntilTheGraceEnds() throws {
        let (f, root) = try fixture()
        let key = try root.createKey(user: "alice", name: "k", expires: .never, scopes: [], networks: [])
        let (rolled, until) = try root.rollKey(key.id, grace: 3_600)
        #expect(rolled.id == key.id && rolled.secret != key.secret && until == 1_000_000 + 3_600)
        #expect(try root.key(key.id).previousValidUntil == until)
        func allowed(_ secret: String, at now: Int64) throws -> Bool {
            let clock = FixedClock(now)
            let checker = Authenticator(
                keys: try KeyLookup(path: f.path, clock: clock), pepper: HMACKey(f.keyFile.pepper), clock: clock, usage: CollectingSink(),
                audit: CollectingSink(), throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
            if case .allow = try checker.check(CheckRequest(method: "GET", path: .success("/x"), remoteAddress: nil, apiKeyHeader: secret)) {
                return true
            }
            return false
        }
        #expect(try allowed(key.secret, at: until - 1) && allowed(rolled.secret, at: until - 1))
        #expect(try !allowed(key.secret, at: until) && allowed(rolled.secret, at: until))
        #expect { try root.rollKey(key.id, grace: 60) } throws: { ($0 as? RotationRefusal)?.rule == .activeFull }
        #expect { try root.rollKey(key.id, grace: 0) } throws: { ($0 as? AdminError)?.reason == .invalidArgument }
        let regenerated = try root.regenerateKey(key.id)
        #expect(try !allowed(rolled.secret, at: until - 1) && allowed(regenerated.secret, at: until - 1))
        #expect(try root.key(key.id).previousValidUntil == nil)
        // After a regeneration (or the grace), a roll is allowed again.
        _ = try root.rollKey(key.id, grace: 60)
        #expect(try f.store.audit().map(\.action).filter { $0 == "key.roll" }.count == 2)
    }

    /// The admin API: create (secrets once), list masked, rotate with 409 and the reason, delete
    /// and reveal with the caller's password again.
    @Test func theAdminAPIRotatesWithPasswords() throws {
        let h = try APIHarness()
        _ = try h.f.admin().addUser("alice")
        let created = h.root("POST", "/admin/api/services", json: #"{"name":"billing","owner":"alice","scopes":["/api/"]}"#)
        #expect(created.status == 201, "\(created.text)")
        let key = try #require(created.json["service_key"] as? String)
        let jwtId = try #require(created.json["jwt_secret_id"] as? String)
        let jwtSecret = try #require(created.json["jwt_secret"] as? String)
        let listed = h.root("GET", "/admin/api/services")
        #expect(listed.status == 200 && listed.items.count == 1)
        #expect(!listed.text.contains(String(key.dropFirst(21))) && !listed.text.contains(jwtSecret) && listed.text.contains("_••••"))
        let refused = h.root("POST", "/admin/api/services/billing/credentials/\(jwtId)/discard")
        #expect(refused.status == 409 && refused.error == "conflict" && (refused.json["error_description"] as? String ?? "").contains("at least one"))
        let added = h.root("POST", "/admin/api/services/billing/credentials", json: #"{"type":"jwt-secret"}"#)
        #expect(added.status == 201 && added.json["type"] as? String == "jwt-secret")
        #expect(h.root("POST", "/admin/api/services/billing/credentials/\(jwtId)/discard").status == 200)
        let wrong = h.root("POST", "/admin/api/services/billing/credentials/\(jwtId)/delete", json: #"{"password":"nope"}"#)
        #expect(wrong.status == 403)
        let revealed = h.root(
            "POST", "/admin/api/services/billing/credentials/\(jwtId)/reveal", json: #"{"password":"\#(APIHarness.rootPassword)"}"#)
        #expect(revealed.status == 200 && revealed.json["secret"] as? String == jwtSecret)
        #expect(revealed.header("Cache-Control") == "no-store")
        let deleted = h.root(
            "POST", "/admin/api/services/billing/credentials/\(jwtId)/delete", json: #"{"password":"\#(APIHarness.rootPassword)"}"#)
        #expect(deleted.status == 200 && (deleted.json["credentials"] as? [Any])?.count == 2)
        #expect(h.root("POST", "/admin/api/services/billing/credentials/kwx_AAAAAAAAAAAAAAAA/discard").status == 404)
        #expect(h.root("POST", "/admin/api/services/billing/delete", json: #"{"password":"\#(APIHarness.rootPassword)"}"#).status == 204)
        #expect(h.root("GET", "/admin/api/services/billing").status == 404)
    }
}
