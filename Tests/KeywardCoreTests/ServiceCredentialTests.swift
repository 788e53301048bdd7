import KeywardCrypto
import Testing

@testable import KeywardCore

/// HS256 JWTs as a service's client mints them (PyJWT's header by default).
enum ServiceJWT {
    static let header = #"{"alg":"HS256","typ":"JWT"}"#

    static func mint(_ claims: String, key: [UInt8], header: String = header) -> String {
        let input = Forge.b64(header) + "." + Forge.b64(claims)
        return input + "." + Base64URL.encode(HMACKey(key).authenticationCode(Array(input.utf8)))
    }
}

/// Service keys and service JWTs at the check, with an in-memory service: every refusal of
/// DESIGN.md "Services", rotation during checks, the cache, and the identity.
@Suite struct ServiceCredentialTests {
    let pepper = HMACKey(Array(repeating: 7, count: 32))
    let now: Int64 = 1_800_000_000
    let clock = MovableClock(1_800_000_000)
    let sink = CollectingSink()
    let serviceKey = OpaqueSecret.generate(.serviceKey)
    let first = ServiceSecret(id: "kwj_AAAAAAAAAAAAAAAA", status: .active, key: Array(repeating: 1, count: 32))
    let second = ServiceSecret(id: "kwj_BBBBBBBBBBBBBBBB", status: .active, key: Array(repeating: 2, count: 32))

    func keys(secrets: [ServiceSecret]? = nil, keyStatus: Status = .active) -> InMemoryKeys {
        let keys = InMemoryKeys([
            CredentialRecord(
                id: serviceKey.id, name: "billing", userName: "alice", userStatus: .active, status: keyStatus,
                secretHash: serviceKey.hash(with: pepper), expiresAt: nil, scopes: [PathScope("/api/")!], allowedNetworks: [],
                service: "billing")
        ])
        keys.services = [
            ServiceRecord(
                name: "billing", owner: "alice", ownerStatus: .active, scopes: [PathScope("/api/")!], allowedNetworks: [],
                jwtSecrets: secrets ?? [first])
        ]
        return keys
    }

    func authenticator(_ keys: InMemoryKeys, limits: Limits = Limits()) -> Authenticator {
        Authenticator(
            keys: keys, pepper: pepper, clock: clock, usage: sink, audit: sink, throttle: FailureThrottle(limit: 0, windowSeconds: 60),
            limits: limits)
    }

    func request(bearer: String? = nil, apiKey: String? = nil, path: String = "/api/x") -> CheckRequest {
        CheckRequest(
            method: "GET", path: .success(path), remoteAddress: "10.0.0.1", authorization: bearer.map { "Bearer " + $0 },
            apiKeyHeader: apiKey)
    }

    func claims(iss: String = "billing", iat: Int64? = nil, exp: Int64?? = .some(nil), extra: String = "") -> String {
        var members = [#""iss":"\#(iss)""#]
        if let iat { members.append(#""iat":\#(iat)"#) }
        if case .some(.some(let exp)) = exp { members.append(#""exp":\#(exp)"#) }
        if !extra.isEmpty { members.append(extra) }
        return "{" + members.joined(separator: ",") + "}"
    }

    func token(_ claims: String? = nil, key: ServiceSecret? = nil, header: String = ServiceJWT.header) -> String {
        ServiceJWT.mint(claims ?? self.claims(iat: now - 10, exp: now + 300), key: (key ?? first).key, header: header)
    }

    func denial(_ d: Decision) -> Denial? {
        if case .deny(let denial) = d { return denial }
        return nil
    }

    @Test func aServiceKeyInEveryKeyLocation() throws {
        let a = authenticator(keys())
        let expected = Identity(
            user: "alice", subject: "service:billing", credential: serviceKey.id, method: .serviceKey, scopes: ["/api/"],
            service: "billing")
        for r in [
            request(bearer: serviceKey.token), request(apiKey: serviceKey.token),
            CheckRequest(method: "GET", path: .success("/api/x"), remoteAddress: "10.0.0.1", authorization: serviceKey.token),
            CheckRequest(method: "GET", path: .success("/api/x"), remoteAddress: "10.0.0.1", query: "APIKey=\(serviceKey.token)"),
        ] {
            #expect(try a.check(r) == .allow(expected))
        }
        #expect(denial(try a.check(request(apiKey: serviceKey.token, path: "/other")))?.reason == .pathNotAllowed)
        #expect(denial(try authenticator(keys(keyStatus: .disabled)).check(request(apiKey: serviceKey.token)))?.reason == .credentialDisabled)
    }

    @Test func aServiceJWTIsAllowedWithTheServiceAndItsOwner() throws {
        let d = try authenticator(keys()).check(request(bearer: token()))
        #expect(
            d
                == .allow(
                    Identity(
                        user: "alice", subject: "service:billing", credential: first.id, method: .serviceJWT, scopes: ["/api/"],
                        service: "billing")))
        #expect(sink.uses == [first.id])
    }

    @Test func issMayNameAnActiveServiceKey() throws {
        #expect(denial(try authenticator(keys()).check(request(bearer: token(claims(iss: serviceKey.id, iat: now))))) == nil)
        // A discarded service key names nothing.
        let d = try authenticator(keys(keyStatus: .disabled)).check(request(bearer: token(claims(iss: serviceKey.id, iat: now))))
        #expect(denial(d)?.reason == .invalidCredential)
    }

    /// RFC 8725 §2.1, §3.1: the secret is an HMAC key; no header may make it anything else.
    @Test(arguments: ["none", "HS384", "HS512", "hs256", "RS256", "ES256", "EdDSA", "PS256"])
    func everyOtherAlgorithmIsRefused(alg: String) throws {
        let forged = token(header: #"{"alg":"\#(alg)","typ":"JWT"}"#)
        #expect(denial(try authenticator(keys()).check(request(bearer: forged)))?.reason == .invalidCredential)
        let unsigned = Forge.b64(#"{"alg":"\#(alg)"}"#) + "." + Forge.b64(claims(iat: now)) + "."
        #expect(denial(try authenticator(keys()).check(request(bearer: unsigned)))?.reason == .invalidCredential)
    }

    @Test func headersThatChangeTheMeaningAreRefused() throws {
        for header in [
            #"{"alg":"HS256","crit":["exp"],"exp":1}"#, #"{"alg":"HS256","b64":false}"#, #"{"alg":"HS256","typ":"JOSE+JSON"}"#,
            #"{"typ":"JWT"}"#, #"{"alg":["HS256"]}"#,
        ] {
            #expect(denial(try authenticator(keys()).check(request(bearer: token(header: header))))?.reason == .invalidCredential, "\(header)")
        }
        // No `typ` is fine.
        #expect(denial(try authenticator(keys()).check(request(bearer: token(header: #"{"alg":"HS256"}"#)))) == nil)
    }

    @Test func claimsOutsideTheRulesAreRefused() throws {
        let cases: [(String, String)] = [
            ("missing iat", claims(exp: now + 60)),
            ("iat not a number", claims(exp: now + 60, extra: #""iat":"\#(now)""#)),
            ("exp equal to iat", claims(iat: now, exp: now)),
            ("exp before iat", claims(iat: now, exp: now - 1)),
            ("lifetime over 60 minutes", claims(iat: now, exp: now + 3_601)),
            ("iat beyond the leeway", claims(iat: now + 31, exp: now + 600)),
            ("unknown iss", claims(iss: "payroll", iat: now)),
            ("iss not a string", #"{"iss":1,"iat":\#(now)}"#),
            ("nbf in the future", claims(iat: now, extra: #""nbf":\#(now + 100)"#)),
        ]
        for (why, claims) in cases {
            #expect(denial(try authenticator(keys()).check(request(bearer: token(claims))))?.reason == .invalidCredential, "\(why)")
        }
        // Within the leeway, and at the limit exactly, it passes.
        #expect(denial(try authenticator(keys()).check(request(bearer: token(claims(iat: now + 30, exp: now + 3_630))))) == nil)
        // Wrong key: the signature does not verify.
        #expect(denial(try authenticator(keys()).check(request(bearer: token(key: second))))?.reason == .invalidCredential)
    }

    @Test func expiryAndTheConfiguredLifetime() throws {
        #expect(denial(try authenticator(keys()).check(request(bearer: token(claims(iat: now - 100, exp: now - 40)))))?.reason == .tokenExpired)
        // Without exp, a token lives the longest lifetime from iat.
        #expect(denial(try authenticator(keys()).check(request(bearer: token(claims(iat: now - 3_500))))) == nil)
        #expect(denial(try authenticator(keys()).check(request(bearer: token(claims(iat: now - 3_700)))))?.reason == .tokenExpired)
        var short = Limits()
        short.maxServiceTokenLifetime = 300
        #expect(
            denial(try authenticator(keys(), limits: short).check(request(bearer: token(claims(iat: now, exp: now + 301)))))?.reason
                == .invalidCredential)
    }

    /// During a rotation both active secrets verify; a discarded one is refused from the next
    /// request on, cached or not, and named in the refusal.
    @Test func rotationDuringChecks() throws {
        let k = keys(secrets: [first, second])
        let a = authenticator(k)
        let old = token(key: first), new = token(claims(iat: now - 5, exp: now + 300), key: second)
        #expect(denial(try a.check(request(bearer: old))) == nil)
        #expect(denial(try a.check(request(bearer: new))) == nil)
        var discarded = first
        discarded.status = .disabled
        k.services[0].jwtSecrets = [discarded, second]
        let refused = try #require(denial(try a.check(request(bearer: old))))
        #expect(refused.reason == .credentialDisabled && refused.credential == first.id && refused.user == "alice")
        let fresh = token(claims(iat: now - 1, exp: now + 200), key: first)
        #expect(denial(try a.check(request(bearer: fresh)))?.reason == .credentialDisabled)
        #expect(denial(try a.check(request(bearer: new))) == nil)
        // Reactivated, the old token works again; deleted, it is unknown.
        k.services[0].jwtSecrets = [first, second]
        #expect(denial(try a.check(request(bearer: old))) == nil)
        k.services[0].jwtSecrets = [second]
        #expect(denial(try a.check(request(bearer: old)))?.reason == .invalidCredential)
        k.services = []
        #expect(denial(try a.check(request(bearer: new)))?.reason == .invalidCredential)
    }

    /// A verified token is kept until it expires: a repeated one is not verified again, and its
    /// expiry still applies.
    @Test func verifiedTokensAreCachedUntilTheyExpire() throws {
        let k = keys()
        let verifier = ServiceTokenVerifier(keys: k, limits: Limits())
        let a = Authenticator(
            keys: k, pepper: pepper, clock: clock, usage: sink, audit: sink, throttle: FailureThrottle(limit: 0, windowSeconds: 60),
            limits: Limits(),
            authenticators: Authenticator.standardChain(keys: k, pepper: pepper, tokens: nil, serviceTokens: verifier))
        let t = token(claims(iat: now, exp: now + 60))
        #expect(denial(try a.check(request(bearer: t))) == nil)
        // The secret's bytes change under the same id: only a cached verification still passes.
        k.services[0].jwtSecrets = [ServiceSecret(id: first.id, status: .active, key: Array(repeating: 9, count: 32))]
        #expect(denial(try a.check(request(bearer: t))) == nil)
        clock.now = now + 60 + 30
        #expect(denial(try a.check(request(bearer: t)))?.reason == .tokenExpired)
        clock.now = now
    }

    /// The JWT decides when a request carries both (it is in the higher-ranked location).
    @Test func theJWTDecidesOverAServiceKey() throws {
        let a = authenticator(keys())
        let both = try a.check(request(bearer: token(), apiKey: serviceKey.token))
        if case .allow(let identity) = both { #expect(identity.method == .serviceJWT) } else { Issue.record("refused: \(both)") }
        let badJWT = try a.check(request(bearer: token(key: second), apiKey: serviceKey.token))
        #expect(denial(badJWT)?.reason == .invalidCredential)
    }

    /// Keyward's own access tokens (typ at+jwt) never reach the service authenticator, and a
    /// service JWT never reaches the access-token one.
    @Test func accessTokensAndServiceJWTsAreToldApartByTyp() throws {
        let verifier = ServiceTokenVerifier(keys: keys(), limits: Limits())
        #expect(verifier.isServiceHeader(Substring(token())))
        #expect(!verifier.isServiceHeader(Substring(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"k"}"#, payload: "{}"))))
        #expect(!verifier.isServiceHeader(Substring(Forge.token(header: #"{"alg":"ES256","typ":"AT+JWT"}"#, payload: "{}"))))
        #expect(verifier.isServiceHeader(Substring(Forge.token(header: "not json", payload: "{}"))))
        // A service-signed token that claims to be an access token is refused by the access-token rules.
        let disguised = token(header: #"{"alg":"HS256","typ":"at+jwt"}"#)
        #expect(denial(try authenticator(keys()).check(request(bearer: disguised)))?.reason == .invalidCredential)
    }

    @Test func theOwnersStandingApplies() throws {
        let k = keys()
        k.services[0].ownerStatus = .disabled
        #expect(denial(try authenticator(k).check(request(bearer: token())))?.reason == .userDisabled)
    }

    @Test func secretsNeverPrint() {
        #expect(!first.description.contains("AQEB"))
        #expect(first.description.contains("redacted"))
    }
}
