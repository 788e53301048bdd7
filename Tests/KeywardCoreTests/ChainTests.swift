import KeywardCrypto
import Testing

@testable import KeywardCore

/// A credential kind the chain did not know, added as one authenticator: `Authorization: Test
/// <id>:<hex HMAC over the body and a header>`. It proves possession; the policy does the rest.
struct SignedTestAuthenticator: CredentialAuthenticator {
    let keys: any CredentialLookup
    let secretFor: (String) -> [UInt8]

    func claims(_ candidate: Candidate) -> Bool {
        candidate.scheme.map { $0.lowercased() == "test" } ?? false
    }

    func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        let parts = candidate.value.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let record = try keys.credential(id: String(parts[0])) else {
            return .refused(Denial(.invalidCredential))
        }
        let signed = (request.body(limit: 1_024) ?? []) + Array((request.header("X-Date") ?? "").utf8)
        let expected = HMACKey(secretFor(record.id)).authenticationCode(signed).map { String($0, radix: 16) }.joined()
        guard ConstantTime.equals(Array(expected.utf8), Array(parts[1].utf8)) else {
            return .refused(Denial(.invalidCredential, credential: record.id))
        }
        return .verified(VerifiedCredential(record: record, method: .hmac))
    }
}

/// The rest of a request, from a dictionary of headers and a body.
struct TestSource: RequestSource {
    var headers: [String: String]
    var bodyBytes: [UInt8]
    var target: RequestTarget { RequestTarget(scheme: "https", authority: "api.example.com", raw: "/api/x?y=1") }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
    func body(limit: Int) -> [UInt8]? { bodyBytes.count <= limit ? bodyBytes : nil }
}

@Suite struct ChainTests {
    let pepper = HMACKey(Array(repeating: 7, count: 32))
    let key = OpaqueSecret.generate(.apiKey)
    let sink = CollectingSink()

    func record(scopes: [String] = []) -> CredentialRecord {
        CredentialRecord(
            id: key.id, name: "k", userName: "alice", userStatus: .active, status: .active,
            secretHash: key.hash(with: pepper), expiresAt: nil, scopes: scopes.compactMap(PathScope.init), allowedNetworks: [])
    }

    func checker(_ keys: InMemoryKeys) -> Authenticator {
        let standard = Authenticator.standardChain(keys: keys, pepper: pepper, tokens: nil)
        return Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(1_000), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits(),
            authenticators: standard + [SignedTestAuthenticator(keys: keys, secretFor: { Array($0.utf8) })])
    }

    func signed(_ body: String, date: String, id: String? = nil) -> String {
        let code = HMACKey(Array((id ?? key.id).utf8)).authenticationCode(Array(body.utf8) + Array(date.utf8))
        return "Test \(id ?? key.id):" + code.map { String($0, radix: 16) }.joined()
    }

    func request(_ authorization: String?, body: String = "{}", date: String = "today", path: String = "/api/x") -> CheckRequest {
        CheckRequest(
            method: "POST", path: .success(path), remoteAddress: "10.0.0.1", authorization: authorization,
            source: TestSource(headers: ["x-date": date], bodyBytes: Array(body.utf8)))
    }

    @Test func aNewKindIsOneMoreAuthenticatorAndThePolicyStillApplies() throws {
        let keys = InMemoryKeys([record(scopes: ["/api/"])])
        let a = checker(keys)
        #expect(
            try a.check(request(signed("{}", date: "today")))
                == .allow(Identity(user: "alice", subject: "alice", credential: key.id, method: .hmac, scopes: ["/api/"])))
        // The signature covers the body and the header: change either and it no longer proves anything.
        #expect(try a.check(request(signed("{}", date: "today"), body: "{\"a\":1}")) == .deny(Denial(.invalidCredential, credential: key.id)))
        #expect(try a.check(request(signed("{}", date: "today"), date: "tomorrow")) == .deny(Denial(.invalidCredential, credential: key.id)))
        // What the credential may do is the policy's: out of scope, disabled.
        #expect(
            try a.check(request(signed("{}", date: "today"), path: "/other/x"))
                == .deny(Denial(.pathNotAllowed, credential: key.id, user: "alice")))
        keys.records[key.id]?.status = .disabled
        #expect(try a.check(request(signed("{}", date: "today"))) == .deny(Denial(.credentialDisabled, credential: key.id, user: "alice")))
    }

    @Test func theFirstCandidateDecidesAndForeignSchemesAreSkipped() throws {
        let keys = InMemoryKeys([record()])
        let a = checker(keys)
        let allowed = Decision.allow(Identity(user: "alice", subject: "alice", credential: key.id, method: .apiKey, scopes: ["*"]))
        // Basic is for the backend: the X-API-Key behind it is the credential.
        var r = request("Basic YTpi")
        r.apiKeyHeader = key.token
        #expect(try a.check(r) == allowed)
        // A malformed Bearer is not overridden by a valid key in a lower-ranked location.
        r.authorization = "Bearer garbage"
        #expect(try a.check(r) == .deny(Denial(.invalidCredential)))
        // Without the test authenticator in the chain, its scheme is foreign and skipped.
        let standardOnly = Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(1_000), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        r.authorization = signed("{}", date: "today")
        #expect(try standardOnly.check(r) == allowed)
        #expect(try a.check(r) == .allow(Identity(user: "alice", subject: "alice", credential: key.id, method: .hmac, scopes: ["*"])))
    }

    @Test func candidatesInRankOrder() {
        let found = CredentialExtractor.candidates(authorization: "HMAC abc", apiKeyHeader: key.token, queryString: "APIKey=x&b=1")
        #expect(found.map(\.source) == [.authorization, .apiKeyHeader, .query])
        #expect(found[0].scheme == "HMAC" && found[0].value == "abc" && found[0].isForeignScheme && found[0].secret == nil)
        #expect(found[1].secret == key && !found[1].isForeignScheme)
        #expect(
            CredentialExtractor.candidates(authorization: "bearer  x.y.z ", apiKeyHeader: nil, queryString: nil)
                == [Candidate(source: .bearer, scheme: "bearer", value: "x.y.z")])
    }

    @Test func theRequestReadsHeadersTargetAndBodyOnDemand() {
        let r = request("Bearer t", body: "hello")
        #expect(r.header("Authorization") == "Bearer t" && r.header("X-DATE") == "today" && r.header("X-Missing") == nil)
        #expect(r.target == RequestTarget(scheme: "https", authority: "api.example.com", raw: "/api/x?y=1"))
        #expect(r.body(limit: 5) == Array("hello".utf8) && r.body(limit: 4) == nil)
        let bare = CheckRequest(method: "GET", path: .success("/"), remoteAddress: nil)
        #expect(bare.target == RequestTarget() && bare.body(limit: 10) == nil && bare.header("X-Date") == nil)
    }
}
