import KeywardCore
import KeywardCrypto
import KeywardStore
import Testing

@testable import KeywardAdmin
@testable import KeywardAdminHTTP

/// Rules that keep owners and self-service users within what they were given.
@Suite struct OwnershipLimitTests {
    func allowed(_ d: Decision) -> Bool {
        if case .allow = d { return true }
        return false
    }

    @Test(arguments: StoreBackend.allCases) func anOwnerChangesTheAudienceOnly(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let bob = try x.user("bob")
        let changed = try bob.updateResource("billing", ResourceSpec(audience: [.user("carol")]))
        #expect(changed.audience == ["user:carol"])
        for spec in [
            ResourceSpec(path: PathScope("/secret/inner/")), ResourceSpec(anonymous: true),
            ResourceSpec(owner: .some("carol")), ResourceSpec(allowedNetworks: []),
        ] {
            #expect(code { _ = try bob.updateResource("billing", spec) } == "forbidden")
        }
        #expect(try x.f.store.resource("billing").path == "/billing/")
        #expect(code { _ = try x.user("carol").updateResource("billing", ResourceSpec(audience: [])) } == "forbidden")
    }

    @Test(arguments: StoreBackend.allCases) func selfServiceCannotReEnableOrOutliveNinetyDays(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        _ = try root.addRole("self", privileges: [Privilege.manageOwnKeys])
        try root.setGrant(role: "self", .user("alice"), grant: true)
        try x.f.store.addAudience(resource: "reports", .user("alice"), until: nil)
        let alice = try x.user("alice")
        #expect(
            code { _ = try alice.createKey(user: "alice", name: "k", expires: .never, scopes: [PathScope("/reports/")!], networks: []) }
                == "forbidden")
        #expect(
            code {
                _ = try alice.createKey(user: "alice", name: "k", expires: .seconds(91 * 86_400), scopes: [PathScope("/reports/")!], networks: [])
            } == "forbidden")
        let key = try alice.createKey(user: "alice", name: "k", expires: .seconds(90 * 86_400), scopes: [PathScope("/reports/")!], networks: [])
        try root.setKey(key.id, .disable)
        #expect(code { try alice.setKey(key.id, .enable) } == "forbidden")
        #expect(try x.f.store.key(key.id).status == .disabled)
        #expect(code { try alice.setKey(key.id, .renew(.never)) } == "forbidden")
        try alice.setKey(key.id, .renew(.seconds(86_400)))
        try alice.setKey(key.id, .delete)
    }

    @Test(arguments: StoreBackend.allCases) func anApprovalsGrantEndsWithItsKey(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        let unscoped = try root.createKey(user: "alice", name: "old", expires: .never, scopes: [], networks: [])
        #expect(try !allowed(x.check(unscoped.secret, "GET", "/billing/x")))
        let request = try x.user("alice").requestAccess(user: "alice", resource: "billing", note: nil)
        _ = try x.user("bob").approveAccess(request.id, expires: .seconds(60))
        #expect(try allowed(x.check(unscoped.secret, "GET", "/billing/x")), "while the approval lasts, alice may call billing")
        #expect(try x.f.store.resource("billing", now: x.clock.now).audienceUntil == ["user:alice": x.clock.now + 60])
        x.clock.advance(60)
        #expect(try !allowed(x.check(unscoped.secret, "GET", "/billing/x")), "afterwards, none of her keys may")
        #expect(try x.f.store.resource("billing", now: x.clock.now).audience.isEmpty)
    }

    @Test func aCachedModelDropsAnEndedGrantWithoutACommit() throws {
        let x = try ApprovalFixture()
        let root = x.admin(.commandLine("root"))
        let key = try root.createKey(user: "alice", name: "k", expires: .never, scopes: [], networks: [])
        try x.f.store.addAudience(resource: "billing", .user("alice"), until: x.clock.now + 10)
        let lookup = try KeyLookup(path: x.f.path, clock: x.clock)
        let checker = Authenticator(
            keys: lookup, pepper: HMACKey(x.f.keyFile.pepper), clock: x.clock, usage: CollectingSink(),
            audit: CollectingSink(), throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        func check() throws -> Bool {
            allowed(
                try checker.check(
                    CheckRequest(
                        method: "GET", path: .success("/billing/a"), remoteAddress: "10.0.0.1",
                        authorization: "Bearer \(key.secret)")))
        }
        #expect(try check())
        x.clock.advance(9)
        #expect(try check())
        x.clock.advance(1)
        #expect(try !check())
    }

    @Test(arguments: StoreBackend.allCases) func aPathWithAndWithoutItsSlashIsOneResource(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let root = x.admin(.commandLine("root"))
        #expect(code { _ = try root.addResource("billing2", ResourceSpec(path: PathScope("/billing"))) } == "conflict")
        let added = try root.addResource("api", ResourceSpec(path: PathScope("GET:/api")))
        #expect(added.path == "/api/" && added.methods == ["GET"])
    }
}

@Suite struct ApprovalLimitTests {
    @Test(arguments: StoreBackend.allCases) func ownersCannotApproveTheirOwnRequestsOrBeyondNinetyDays(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        let bob = try x.user("bob")
        let own = try bob.requestAccess(user: "bob", resource: "billing", note: nil)
        #expect(code { _ = try bob.approveAccess(own.id, expires: .never) } == "forbidden")
        let alices = try x.user("alice").requestAccess(user: "alice", resource: "billing", note: nil)
        #expect(code { _ = try bob.approveAccess(alices.id, expires: .never) } == "forbidden")
        #expect(code { _ = try bob.approveAccess(alices.id, expires: .seconds(91 * 86_400)) } == "forbidden")
        #expect(try bob.approveAccess(alices.id, expires: .seconds(90 * 86_400)).status == "approved")
        #expect(try x.user("erin").approveAccess(own.id, expires: .never).status == "approved", "an admin may")
    }

    @Test(arguments: StoreBackend.allCases) func notesRefuseFormatCharacters(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        #expect(
            code { _ = try x.user("alice").requestAccess(user: "alice", resource: "billing", note: "pay \u{202E}lanigiro") } == "invalid_argument")
    }

    @Test(arguments: StoreBackend.allCases) func othersSeeWhichResourcesExistButNotWhoMayCallThem(_ backend: StoreBackend) throws {
        let x = try ApprovalFixture(backend)
        try x.f.store.addAudience(resource: "billing", .user("carol"), until: nil)
        let listed = try x.user("alice").resources().first { $0.name == "billing" }
        #expect(listed?.path == "/billing/" && listed?.owner == "bob" && listed?.audience == [])
        #expect(try x.user("bob").resource("billing").audience == ["user:carol"], "the owner sees the audience")
    }
}
