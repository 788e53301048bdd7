import Foundation
import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// A fresh database of `backend` and a key file, and the admin operations over it.
struct AdminFixture {
    let dir: String
    let path: String
    let keyFile: KeyFile
    /// The store, through its seam only.
    let store: any AdminStore

    init(_ backend: StoreBackend = .sqlite) throws {
        dir = NSTemporaryDirectory() + "keyward-admin-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/k.db"
        try backend.initialize(path)
        keyFile = try KeyFile.create(path: path + ".key")
        store = try backend.open(path)
    }

    /// The SQLite store underneath, for the tests that read its rows directly.
    var sqlite: Store { store as! Store }

    func admin(_ actor: Actor = .commandLine("root")) -> Admin {
        Admin(store: store, keyFile: keyFile, clock: FixedClock(1_000_000), actor: actor)
    }
}

@Suite struct AdminTests {
    @Test func groupAndRoleChangesReachTheNextCheck() throws {
        let f = try AdminFixture()
        let root = f.admin()
        _ = try root.addUser("alice")
        let key = try root.createKey(user: "alice", name: "k", expires: .never, scopes: [], networks: [])
        _ = try root.addResource("billing", ResourceSpec(path: PathScope("/billing/")))
        _ = try root.addGroup("finance")
        _ = try root.addRole("billing-reader", privileges: [Privilege.access("billing")])

        let lookup = try KeyLookup(path: f.path, clock: FixedClock(1_000_000))
        let checker = Authenticator(
            keys: lookup, pepper: HMACKey(f.keyFile.pepper), clock: FixedClock(1_000_000),
            usage: CollectingSink(), audit: CollectingSink(),
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        func allowed() throws -> Bool {
            let d = try checker.check(
                CheckRequest(
                    method: "GET", path: .success("/billing/x"), remoteAddress: "10.0.0.1",
                    authorization: "Bearer \(key.secret)"))
            if case .allow = d { return true }
            return false
        }
        #expect(try !allowed())
        try root.setGrant(role: "billing-reader", .group("finance"), grant: true)
        try root.setMember(group: "finance", user: "alice", add: true)
        #expect(try allowed())
        try root.setMember(group: "finance", user: "alice", add: false)
        #expect(try !allowed())
        try root.setMember(group: "finance", user: "alice", add: true)
        #expect(try allowed())
        try root.setGrant(role: "billing-reader", .group("finance"), grant: false)
        #expect(try !allowed())

        let (decision, steps) = try root.explain(credential: key.id, path: "/billing/x", method: "get", ip: nil)
        #expect(decision != .allow(Identity(user: "alice", subject: "alice", credential: key.id, method: .apiKey, scopes: ["*"])))
        #expect(steps.last?.hasPrefix("denied: user alice is not the owner of resource billing") == true)
    }

    @Test(arguments: StoreBackend.allCases) func selfServiceKeysStayWithinTheUsersAccess(_ backend: StoreBackend) throws {
        let f = try AdminFixture(backend)
        let root = f.admin()
        _ = try root.addUser("bob")
        _ = try root.addResource("reports", ResourceSpec(path: PathScope("/reports/"), audience: [.user("bob")]))
        _ = try root.addRole("self-service", privileges: [Privilege.manageOwnKeys])
        try root.setGrant(role: "self-service", .user("bob"), grant: true)
        let bob = f.admin(.user("bob", privileges: try f.store.privileges(of: "bob"), credential: nil))

        #expect(throws: AdminError.self) { try bob.createKey(user: "bob", name: "all", expires: .never, scopes: [], networks: []) }
        #expect(throws: AdminError.self) {
            try bob.createKey(user: "bob", name: "other", expires: .never, scopes: [PathScope("/billing/")!], networks: [])
        }
        let own = try bob.createKey(user: "bob", name: "reports", expires: .seconds(60), scopes: [PathScope("GET:/reports/daily/")!], networks: [])
        #expect(try bob.keys().map(\.id) == [own.id])
        #expect(throws: AdminError.self) { try bob.addGroup("x") }
        _ = try root.addUser("carol")
        let carols = try root.createKey(user: "carol", name: "c", expires: .never, scopes: [], networks: [])
        #expect(throws: AdminError.self) { try bob.setKey(carols.id, .disable) }
        #expect(throws: AdminError.self) {
            try bob.createKey(user: "carol", name: "x", expires: .never, scopes: [PathScope("/reports/")!], networks: [])
        }
        try bob.setKey(own.id, .disable)
        #expect(try f.store.key(own.id).status == .disabled)

        let events = try f.store.audit(action: "key.disable")
        #expect(events.map(\.actor) == ["bob"])
        #expect(try f.store.verifyAudit(key: HMACKey(AuditChain.key(masterKey: f.keyFile.masterKey))).firstBroken == nil)
    }

    @Test(arguments: StoreBackend.allCases) func refusalsCarryStableCodes(_ backend: StoreBackend) throws {
        let f = try AdminFixture(backend)
        let root = f.admin()
        #expect(throws: AdminError.invalid("invalid group name (letters, digits, . _ @ -, not dots alone; at most 64)")) {
            try root.addGroup("bad name")
        }
        _ = try root.addGroup("ops")
        do {
            _ = try root.addGroup("ops")
            Issue.record("duplicate accepted")
        } catch { #expect(AdminError.from(error)?.code == "conflict") }
        do {
            try root.deleteRole("nope")
            Issue.record("unknown role deleted")
        } catch { #expect(AdminError.from(error)?.status == 404) }
        do {
            _ = try root.addRole("r", privileges: ["fly"])
            Issue.record("unknown privilege accepted")
        } catch {
            #expect(AdminError.from(error)?.code == "invalid_argument")
        }
        do {
            _ = try root.addRole("r", privileges: ["access:nothing"])
            Issue.record("unknown resource accepted")
        } catch {
            #expect(AdminError.from(error)?.status == 404)
        }
    }
}
