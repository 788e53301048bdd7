import KeywardCrypto
import Testing

@testable import KeywardCore

/// Resources, audience, groups and roles in the decision: effective access = key scopes ∩ the
/// user's access, the most specific resource wins, anonymous resources need no credential.
@Suite struct AccessModelTests {
    let pepper = HMACKey(Array(repeating: 7, count: 32))
    let secret = OpaqueSecret.generate(.apiKey)
    let sink = CollectingSink()

    func keys(scopes: [String] = [], user: String = "alice", model: AccessModel) -> InMemoryKeys {
        let keys = InMemoryKeys([
            CredentialRecord(
                id: secret.id, name: "k", userName: user, userStatus: .active, status: .active, secretHash: secret.hash(with: pepper),
                expiresAt: nil, scopes: scopes.compactMap(PathScope.init), allowedNetworks: [])
        ])
        keys.access = model
        return keys
    }

    func check(_ keys: InMemoryKeys, path: String, method: String = "GET", ip: String = "10.0.0.5", credential: Bool = true) throws -> Decision {
        try Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(1_000), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits()
        )
        .check(
            CheckRequest(
                method: method, path: .success(path), remoteAddress: ip,
                authorization: credential ? "Bearer \(secret.token)" : nil))
    }

    func reason(_ d: Decision) -> DenyReason? {
        if case .deny(let denial) = d { return denial.reason }
        return nil
    }

    static func resource(
        _ name: String, _ scope: String, anonymous: Bool = false, audience: [String] = [], owner: String? = nil,
        ips: [String] = []
    ) -> Resource {
        Resource(
            name: name, scope: PathScope(scope)!, anonymous: anonymous, audience: audience.compactMap(Principal.init),
            owner: owner, allowedNetworks: ips.compactMap(CIDR.init))
    }

    @Test func pathsUnderNoResourceKeepTheKeyScopes() throws {
        let model = AccessModel(resources: [Self.resource("billing", "/billing/")], memberships: [], grants: [], rolePrivileges: [])
        #expect(reason(try check(keys(model: model), path: "/other/x")) == nil)
        #expect(reason(try check(keys(scopes: ["/api/"], model: model), path: "/other/x")) == .pathNotAllowed)
        #expect(reason(try check(keys(model: model), path: "/billing/x")) == .resourceNotAllowed)
    }

    @Test func audienceGroupsAndRolesGrantAccess() throws {
        let r = Self.resource("billing", "/billing/", audience: ["group:finance", "user:carol"])
        func model(
            _ memberships: [(user: String, group: String)] = [], grants: [(role: String, to: Principal)] = [],
            privileges: [(role: String, privilege: String)] = []
        ) -> AccessModel {
            AccessModel(resources: [r], memberships: memberships, grants: grants, rolePrivileges: privileges)
        }
        #expect(reason(try check(keys(model: model()), path: "/billing/a")) == .resourceNotAllowed)
        #expect(reason(try check(keys(model: model([(user: "alice", group: "finance")])), path: "/billing/a")) == nil)
        #expect(reason(try check(keys(user: "carol", model: model()), path: "/billing/a")) == nil)
        let viaRole = model(
            [(user: "alice", group: "ops")], grants: [(role: "reader", to: .group("ops"))],
            privileges: [(role: "reader", privilege: Privilege.access("billing"))])
        #expect(reason(try check(keys(model: viaRole), path: "/billing/a")) == nil)
        #expect(viaRole.grant(for: "alice", to: r) == "access:billing through role reader granted to group:ops")
        let wrongPrivilege = model(
            [(user: "alice", group: "ops")], grants: [(role: "reader", to: .group("ops"))],
            privileges: [(role: "reader", privilege: Privilege.admin)])
        #expect(reason(try check(keys(model: wrongPrivilege), path: "/billing/a")) == .resourceNotAllowed)
        let owner = AccessModel(resources: [Self.resource("billing", "/billing/", owner: "alice")], memberships: [], grants: [], rolePrivileges: [])
        #expect(reason(try check(keys(model: owner), path: "/billing/a")) == nil)
    }

    @Test func keyScopesIntersectWithTheGrant() throws {
        let model = AccessModel(
            resources: [Self.resource("billing", "GET,POST:/billing/", audience: ["user:alice"])],
            memberships: [], grants: [], rolePrivileges: [])
        #expect(reason(try check(keys(scopes: ["/billing/reports/"], model: model), path: "/billing/invoices")) == .pathNotAllowed)
        #expect(reason(try check(keys(scopes: ["/billing/reports/"], model: model), path: "/billing/reports/1")) == nil)
        #expect(reason(try check(keys(model: model), path: "/billing/x", method: "DELETE")) == .methodNotAllowed)
        #expect(reason(try check(keys(scopes: ["GET:/billing/"], model: model), path: "/billing/x", method: "POST")) == .methodNotAllowed)
    }

    @Test func theMostSpecificResourceDecides() throws {
        let model = AccessModel(
            resources: [
                Self.resource("api", "/api/", audience: ["user:alice"]),
                Self.resource("admin", "/api/admin/"),
                Self.resource("public", "/api/public/", anonymous: true),
            ],
            memberships: [], grants: [], rolePrivileges: [])
        #expect(model.resource(covering: "/api/admin/x")?.name == "admin")
        #expect(model.resource(covering: "/api/adminx")?.name == "api")
        #expect(reason(try check(keys(model: model), path: "/api/x")) == nil)
        #expect(reason(try check(keys(model: model), path: "/api/admin/x")) == .resourceNotAllowed)
        #expect(
            try check(keys(model: model), path: "/api/public/x", credential: false)
                == .allow(Identity(user: "anonymous", subject: "anonymous", credential: "", method: .anonymous, scopes: ["/api/public/"])))
        #expect(reason(try check(keys(model: model), path: "/api/x", credential: false)) == .missingCredential)
        #expect(sink.uses == [secret.id], "anonymous allows record no credential use")
    }

    @Test func theIndexFindsRootAndSlashlessPrefixes() {
        let model = AccessModel(
            resources: [
                Self.resource("root", "/"), Self.resource("api", "/api"),
                Self.resource("v1", "/api/v1/"), Self.resource("other", "/apix/"),
            ],
            memberships: [], grants: [], rolePrivileges: [])
        #expect(model.resource(covering: "/api")?.name == "api")
        #expect(model.resource(covering: "/api/v2/x")?.name == "api")
        #expect(model.resource(covering: "/api/v1")?.name == "v1")
        #expect(model.resource(covering: "/api/v1/x")?.name == "v1")
        #expect(model.resource(covering: "/apix/1")?.name == "other")
        #expect(model.resource(covering: "/apiz")?.name == "root")
        #expect(model.resource(covering: "/")?.name == "root")
        #expect(
            AccessModel(resources: [Self.resource("api", "/api/")], memberships: [], grants: [], rolePrivileges: [])
                .resource(covering: "/") == nil)
    }

    @Test func resourceNetworksApplyWithAndWithoutCredentials() throws {
        let model = AccessModel(
            resources: [Self.resource("intranet", "/intra/", anonymous: true, ips: ["10.0.0.0/8", "2001:db8::/32"])],
            memberships: [], grants: [], rolePrivileges: [])
        #expect(reason(try check(keys(model: model), path: "/intra/x", ip: "10.9.9.9", credential: false)) == nil)
        #expect(reason(try check(keys(model: model), path: "/intra/x", ip: "2001:db8::1", credential: false)) == nil)
        #expect(reason(try check(keys(model: model), path: "/intra/x", ip: "192.0.2.1", credential: false)) == .addressNotAllowed)
        #expect(reason(try check(keys(model: model), path: "/intra/x", ip: "192.0.2.1")) == .addressNotAllowed)
    }

    @Test func explainNamesTheResourceScopeAndGrant() throws {
        let model = AccessModel(
            resources: [Self.resource("billing", "/billing/", audience: ["group:finance"])],
            memberships: [(user: "alice", group: "finance")], grants: [], rolePrivileges: [])
        let a = Authenticator(
            keys: keys(scopes: ["GET:/billing/"], model: model), pepper: pepper, clock: FixedClock(1_000),
            usage: sink, audit: sink, throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        let (decision, steps) = try a.explain(
            credentialId: secret.id, request: CheckRequest(method: "GET", path: .success("/billing/x"), remoteAddress: nil))
        #expect(reason(decision) == nil)
        #expect(steps.contains("path /billing/x is under resource billing (/billing/)"))
        #expect(steps.contains("scope GET:/billing/ allows GET /billing/x"))
        #expect(steps.contains("user alice may call resource billing: audience group:finance of resource billing"))
        let (denied, why) = try a.explain(
            credentialId: secret.id, request: CheckRequest(method: "POST", path: .success("/billing/x"), remoteAddress: nil))
        #expect(reason(denied) == .methodNotAllowed)
        #expect(why.last?.hasPrefix("denied: the scopes covering /billing/x") == true)
        #expect(sink.events.isEmpty && sink.uses.isEmpty, "explain records nothing")
    }

    @Test func forwardedAddressesCountOnlyFromTrustedProxies() {
        let proxies = [CIDR("127.0.0.1")!, CIDR("10.0.0.0/8")!]
        func xff(_ peer: String, _ value: String?, _ trusted: [CIDR] = proxies) -> String? {
            ClientAddress.resolve(peer: peer, header: .forwardedFor, value: value, trustedProxies: trusted)
        }
        func realIP(_ peer: String, _ value: String?) -> String? {
            ClientAddress.resolve(peer: peer, header: .realIP, value: value, trustedProxies: proxies)
        }
        #expect(xff("192.0.2.9", "1.2.3.4") == "192.0.2.9", "an untrusted peer's header is ignored")
        #expect(xff("127.0.0.1", "1.2.3.4", []) == "127.0.0.1", "no trusted proxies: REMOTE_ADDR only")
        #expect(xff("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1") == "1.2.3.4", "the rightmost untrusted hop")
        #expect(xff("127.0.0.1", "10.2.2.2, 10.1.1.1") == "10.2.2.2", "all trusted: the leftmost")
        #expect(xff("127.0.0.1", nil) == "127.0.0.1", "no header: the proxy itself")
        #expect(xff("127.0.0.1", "203.0.113.9:5555") == "203.0.113.9", "IPv4 with a port")
        #expect(xff("127.0.0.1", "[2001:db8::7]:443, 10.0.0.3") == "2001:db8::7", "bracketed IPv6 with a port")
        #expect(xff("127.0.0.1", " 2001:db8::7 ") == "2001:db8::7")
        #expect(xff("127.0.0.1", "1.2.3.4, junk") == ClientAddress.unparseable, "garbled: never the proxy's own address")
        #expect(xff("127.0.0.1", "") == ClientAddress.unparseable)
        #expect(realIP("127.0.0.1", "2001:db8::7") == "2001:db8::7")
        #expect(realIP("127.0.0.1", "junk") == ClientAddress.unparseable)
        #expect(IPAddress(ClientAddress.unparseable) == nil, "no IP rule can admit it")
    }

}
