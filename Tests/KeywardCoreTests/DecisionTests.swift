import KeywardCrypto
import Testing

@testable import KeywardCore

final class MovableClock: Clock, @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
}

/// The decision table: each rule of the check as a plain function of values.
@Suite struct DecisionTests {
    let pepper = HMACKey(Array(repeating: 7, count: 32))
    let secret = OpaqueSecret.generate(.apiKey)
    let clock = MovableClock(1_000_000)
    let sink = CollectingSink()

    func record(_ edit: (inout CredentialRecord) -> Void = { _ in }) -> CredentialRecord {
        var r = CredentialRecord(
            id: secret.id, name: "n1", userName: "alice", userStatus: .active, status: .active,
            secretHash: secret.hash(with: pepper), expiresAt: 1_000_100, scopes: [], allowedNetworks: [])
        edit(&r)
        return r
    }

    func authenticator(_ r: CredentialRecord? = nil, failureLimit: Int = 100) -> Authenticator {
        var limits = Limits()
        limits.failuresPerWindow = failureLimit
        return Authenticator(
            keys: InMemoryKeys([r ?? record()]), pepper: pepper, clock: clock, usage: sink, audit: sink,
            throttle: FailureThrottle(limit: failureLimit, windowSeconds: 60), limits: limits)
    }

    func request(_ auth: String? = nil, path: String = "/api/x", method: String = "GET", ip: String? = "127.0.0.1") -> CheckRequest {
        CheckRequest(
            method: method, path: PathNormalizer.normalize(requestURI: path, limits: Limits()), remoteAddress: ip,
            authorization: auth ?? "Bearer \(secret.token)")
    }

    func reason(_ d: Decision) -> DenyReason? {
        if case .deny(let denial) = d { return denial.reason }
        return nil
    }

    @Test func allowCarriesTheIdentityAndRecordsUse() throws {
        let d = try authenticator().check(request())
        #expect(d == .allow(Identity(user: "alice", subject: "alice", credential: secret.id, method: .apiKey, scopes: ["*"])))
        #expect(sink.uses == [secret.id])
        #expect(sink.events.isEmpty)
    }

    @Test func missingCredential() throws {
        let d = try authenticator().check(CheckRequest(method: "GET", path: .success("/api/x"), remoteAddress: "10.1.1.1"))
        #expect(reason(d) == .missingCredential)
        #expect(DenyReason.missingCredential.kind.status == 401 && DenyReason.missingCredential.oauthError == nil)
        let event = try #require(sink.events.first)
        #expect(event.action == "check.deny" && event.reason == "missing_credential" && event.sourceIP == "10.1.1.1")
        #expect(event.detail == "GET /api/x")
    }

    @Test func invalidCredentials() throws {
        let a = authenticator()
        #expect(reason(try a.check(request("Bearer garbage"))) == .invalidCredential)
        #expect(reason(try a.check(request("Bearer \(OpaqueSecret.generate(.apiKey).token)"))) == .invalidCredential)
        let wrongSecret = OpaqueSecret.generate(.apiKey, publicId: String(secret.id.dropFirst(4)))
        let d = try a.check(request("Bearer \(wrongSecret.token)"))
        #expect(d == .deny(Denial(.invalidCredential, credential: secret.id)))
        let client = OpaqueSecret.generate(.clientSecret)
        #expect(reason(try a.check(request("Bearer \(client.token)"))) == .invalidCredential)
        // The audit names public ids only, never the secret.
        for e in sink.events { #expect(!"\(e)".contains(wrongSecret.token) && !"\(e)".contains(secret.token)) }
    }

    @Test func statusOwnerAndExpiry() throws {
        #expect(reason(try authenticator(record { $0.status = .disabled }).check(request())) == .credentialDisabled)
        #expect(reason(try authenticator(record { $0.userStatus = .disabled }).check(request())) == .userDisabled)
        #expect(reason(try authenticator(record { $0.expiresAt = clock.now }).check(request())) == .credentialExpired)
        #expect(DenyReason.credentialExpired.message == "The API key has expired.")
        #expect(reason(try authenticator(record { $0.expiresAt = nil }).check(request())) == nil)
        #expect(reason(try authenticator(record { $0.expiresAt = clock.now + 1 }).check(request())) == nil)
    }

    @Test func addressRules() throws {
        let r = record { $0.allowedNetworks = [CIDR("10.0.0.0/8")!, CIDR("2001:db8::/32")!] }
        #expect(reason(try authenticator(r).check(request(ip: "127.0.0.1"))) == .addressNotAllowed)
        #expect(reason(try authenticator(r).check(request(ip: nil))) == .addressNotAllowed)
        #expect(reason(try authenticator(r).check(request(ip: "not-an-ip"))) == .addressNotAllowed)
        #expect(reason(try authenticator(r).check(request(ip: "10.2.3.4"))) == nil)
        #expect(reason(try authenticator(r).check(request(ip: "2001:db8::9"))) == nil)
    }

    @Test func pathAndMethodScopes() throws {
        let r = record { $0.scopes = [PathScope("/api/limited/")!, PathScope("GET:/api/ro/")!] }
        let a = authenticator(r)
        #expect(reason(try a.check(request(path: "/api/limited/x"))) == nil)
        #expect(reason(try a.check(request(path: "/api/x"))) == .pathNotAllowed)
        // Dot segments in a raw target: refused outright since backends resolve them differently (issue 8).
        #expect(reason(try a.check(request(path: "/api/limited/../x"))) == .pathRejected)
        #expect(reason(try a.check(request(path: "/api/limited/%2e%2e/x"))) == .pathRejected)
        #expect(reason(try a.check(request(path: "/api/limited%2f..%2fx"))) == .pathRejected)
        #expect(reason(try a.check(request(path: "/api/ro/doc"))) == nil)
        #expect(reason(try a.check(request(path: "/api/ro/doc", method: "POST"))) == .methodNotAllowed)
        if case .allow(let id) = try a.check(request(path: "/api/ro/doc")) {
            #expect(id.scopes == ["/api/limited/", "GET:/api/ro/"])
        } else {
            Issue.record("expected allow")
        }
        #expect(DenyReason.pathNotAllowed.kind.status == 403 && DenyReason.pathNotAllowed.oauthError == "insufficient_scope")
    }

    @Test func tooManyFailuresThrottlesTheAddressForAWindow() throws {
        let a = authenticator(failureLimit: 3)
        for _ in 0..<3 { #expect(reason(try a.check(request("Bearer bad"))) == .invalidCredential) }
        let blocked = try a.check(request("Bearer bad"))
        #expect(blocked == .deny(Denial(.tooManyFailures, retryAfter: 60)))
        #expect(DenyReason.tooManyFailures.kind.status == 429)
        // Issue 8, item 5: a valid key from the throttled address is still served.
        #expect(reason(try a.check(request())) == nil)
        // Another address is not affected; missing credentials do not count.
        #expect(reason(try a.check(request(ip: "127.0.0.2"))) == nil)
        clock.now += 61
        #expect(reason(try a.check(request())) == nil)
        for _ in 0..<10 { _ = try a.check(CheckRequest(method: "GET", path: .success("/"), remoteAddress: "127.0.0.3")) }
        #expect(reason(try a.check(request(ip: "127.0.0.3"))) == nil)
    }

    @Test func auditDetailCutsLongPathsOnCharacterBoundaries() throws {
        // 199 ASCII bytes then a two-byte character across the 200-byte cut: must not trap.
        let path = "/" + String(repeating: "a", count: 198) + "é/x"
        let d = try authenticator().check(CheckRequest(method: "GET", path: .success(path), remoteAddress: "1.2.3.4"))
        #expect(reason(d) == .missingCredential)
        #expect(try #require(sink.events.first?.detail).hasSuffix("..."))
    }

    @Test func throttleCanBeTurnedOff() throws {
        let a = authenticator(failureLimit: 0)
        for _ in 0..<200 { _ = try a.check(request("Bearer bad")) }
        #expect(reason(try a.check(request())) == nil)
    }
}
