import Foundation
import KeywardCrypto
import Testing

@testable import KeywardCore

/// A fixed key ring: one signing key, optionally more published keys.
final class FixedRing: SigningKeyRing {
    var signer: PrivateSigningKey
    var others: [PublicVerificationKey] = []
    var unpublished: Set<String> = []
    init(_ signer: PrivateSigningKey) { self.signer = signer }
    func verificationKey(kid: String) throws -> PublicVerificationKey? {
        ([signer.publicKey] + others).first { $0.thumbprint == kid && !unpublished.contains(kid) }
    }
    func signingKey() throws -> PrivateSigningKey { signer }
    func publishedKeys() throws -> [PublicVerificationKey] { [signer.publicKey] + others }
}

/// Compact JWS pieces for hand-made hostile tokens.
enum Forge {
    static func b64(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }
    static func token(header: String, payload: String, signature: [UInt8] = [1, 2, 3]) -> String {
        b64(header) + "." + b64(payload) + "." + Base64URL.encode(signature)
    }
}

@Suite struct TokenTests {
    let policy = TokenPolicy(issuer: "https://auth.example/keyward", audience: "api", lifetime: 900, leeway: 30)
    let now: Int64 = 1_800_000_000

    func parent(scopes: [String] = ["/api/"], expires: Int64? = nil) -> CredentialRecord {
        CredentialRecord(
            id: "kwc_AAAAAAAAAAAAAAAA", name: "c", userName: "alice", userStatus: .active, status: .active,
            secretHash: [], expiresAt: expires, scopes: scopes.compactMap(PathScope.init), allowedNetworks: [])
    }

    /// A fresh install's tokens are ES256, which every common JOSE library verifies by default.
    @Test func theDefaultAlgorithmIsES256() throws {
        #expect(try PrivateSigningKey.generate().algorithm == .es256)
        #expect(SigningAlgorithm.standard == .es256)
    }

    /// Ed25519 under either name: a token issued as `EdDSA` verifies after its key is known as
    /// `Ed25519` (RFC 9864) and the other way round; no other key takes either name.
    @Test func ed25519VerifiesUnderBothNames() throws {
        let legacy = try PrivateSigningKey.generate(.edDSA)
        let renamed = try PrivateSigningKey(pkcs8: legacy.pkcs8(), algorithm: .ed25519)
        #expect(renamed.keyID == legacy.keyID)
        let (old, _) = try TokenIssuer(keys: FixedRing(legacy), policy: policy).issue(for: parent(), requestedScope: nil, now: now)
        let (new, _) = try TokenIssuer(keys: FixedRing(renamed), policy: policy).issue(for: parent(), requestedScope: nil, now: now)
        #expect(try JWS.parse(old, limits: Limits()).algorithm == "EdDSA")
        #expect(try JWS.parse(new, limits: Limits()).algorithm == "Ed25519")
        for (token, key) in [(old, renamed), (new, legacy), (old, legacy), (new, renamed)] {
            let verifier = TokenVerifier(keys: FixedRing(key), policy: policy, limits: Limits())
            #expect(try verifier.verify(token, now: now).get().subject == "alice")
        }
        // An ES256 key refuses a token that claims an Ed25519 name, whoever signed it.
        let es = try PrivateSigningKey.generate(.es256)
        let forged = Forge.token(
            header: #"{"alg":"Ed25519","typ":"at+jwt","kid":"\#(es.keyID)"}"#, payload: "{}", signature: Array(repeating: 0, count: 64))
        #expect(throws: JWS.Failure.algorithmMismatch) { try JWS.verify(JWS.parse(forged, limits: Limits()), with: es.publicKey) }
        #expect(!SigningAlgorithm.es256.accepts("EdDSA") && !SigningAlgorithm.rs256.accepts("ES256"))
        #expect(SigningAlgorithm.ed25519.accepts("EdDSA") && SigningAlgorithm.edDSA.accepts("Ed25519"))
        // A JWK says which name its key goes by.
        #expect(try PublicVerificationKey(jwk: renamed.publicKey.jwk()).algorithm == .ed25519)
        #expect(try PublicVerificationKey(jwk: legacy.publicKey.jwk()).algorithm == .edDSA)
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func issuedTokensVerifyWithEveryAlgorithm(_ alg: SigningAlgorithm) throws {
        let ring = FixedRing(try PrivateSigningKey.generate(alg))
        let (token, claims) = try TokenIssuer(keys: ring, policy: policy).issue(for: parent(), requestedScope: nil, now: now)
        #expect(claims.scope == ["/api/"] && claims.expiresAt == now + 900 && claims.clientId == "kwc_AAAAAAAAAAAAAAAA")
        let verifier = TokenVerifier(keys: ring, policy: policy, limits: Limits())
        #expect(try verifier.verify(token, now: now + 10) == .success(claims))
        #expect(try verifier.verify(token, now: now + 10) == .success(claims))  // from the cache
        #expect(try verifier.verify(token, now: now + 900 + 31) == .failure(.tokenExpired))
        let headerBytes = try #require(Base64URL.decode(token.split(separator: ".")[0]))
        let header = try #require(JSONText.parseObject(headerBytes))
        #expect(
            header["typ"] as? String == "at+jwt" && header["alg"] as? String == alg.rawValue
                && header["kid"] as? String == ring.signer.keyID)
    }

    @Test func aCachedTokenGoesWithItsKey() throws {
        let ring = FixedRing(try PrivateSigningKey.generate())
        let (token, claims) = try TokenIssuer(keys: ring, policy: policy).issue(for: parent(), requestedScope: nil, now: now)
        let verifier = TokenVerifier(keys: ring, policy: policy, limits: Limits())
        #expect(try verifier.verify(token, now: now) == .success(claims))
        ring.unpublished.insert(ring.signer.keyID)  // its rotation window ended
        #expect(try verifier.verify(token, now: now) == .failure(.invalidCredential))
    }

    @Test func lifetimeNeverOutlivesTheParent() throws {
        let ring = FixedRing(try PrivateSigningKey.generate())
        let claims = try TokenIssuer(keys: ring, policy: policy).issue(for: parent(expires: now + 60), requestedScope: nil, now: now).claims
        #expect(claims.expiresAt == now + 60)
        var disabled = parent()
        disabled.status = .disabled
        #expect(throws: IssueRefusal.invalidGrant) { try TokenIssuer(keys: ring, policy: policy).issue(for: disabled, requestedScope: nil, now: now) }
    }

    @Test func scopeNarrowing() throws {
        let api = [PathScope("/api/")!, PathScope("GET:/ro/")!]
        #expect(try TokenIssuer.narrow(api, to: nil) == ["/api/", "GET:/ro/"])
        #expect(try TokenIssuer.narrow(api, to: "/api/reports/ GET:/ro/x") == ["/api/reports/", "GET:/ro/x"])
        #expect(try TokenIssuer.narrow([], to: nil) == ["*"])
        #expect(try TokenIssuer.narrow([], to: "/anything/") == ["/anything/"])
        #expect(throws: IssueRefusal.invalidScope) { try TokenIssuer.narrow(api, to: "/other/") }
        #expect(throws: IssueRefusal.invalidScope) { try TokenIssuer.narrow(api, to: "POST:/ro/") }
        #expect(throws: IssueRefusal.invalidScope) { try TokenIssuer.narrow(api, to: "/ro/") }  // all methods > GET
        #expect(throws: IssueRefusal.invalidScope) { try TokenIssuer.narrow(api, to: "*") }
        #expect(throws: IssueRefusal.invalidScope) { try TokenIssuer.narrow(api, to: "not-a-path") }
    }

    /// RFC 8725 §2 attacks: each must be refused as an invalid credential.
    @Test func hostileTokensAreRefused() throws {
        let key = try PrivateSigningKey.generate(.es256)
        let ring = FixedRing(key)
        let verifier = TokenVerifier(keys: ring, policy: policy, limits: Limits())
        let good = try TokenIssuer(keys: ring, policy: policy).issue(for: parent(), requestedScope: nil, now: now).token
        let parts = good.split(separator: ".").map(String.init)
        let payload = String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
        let kid = key.keyID
        func refused(_ token: String, _ why: Comment) throws {
            #expect(try verifier.verify(token, now: now) == .failure(.invalidCredential), why)
        }
        // §2.1 "none" and algorithm substitution.
        try refused(Forge.b64(#"{"alg":"none","typ":"at+jwt","kid":"\#(kid)"}"#) + "." + parts[1] + ".", "alg none")
        let hs = Forge.b64(#"{"alg":"HS256","typ":"at+jwt","kid":"\#(kid)"}"#) + "." + parts[1]
        let mac = HMACKey(key.publicKey.subjectPublicKeyInfo()).authenticationCode(Array(hs.utf8))
        try refused(hs + "." + Base64URL.encode(mac), "HS256 keyed with the public key")
        try refused(Forge.b64(#"{"alg":"RS256","typ":"at+jwt","kid":"\#(kid)"}"#) + "." + parts[1] + "." + parts[2], "alg differs from the key's")
        // Unknown key, critical extensions, missing or wrong typ (§3.11), unencoded payload.
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"nope"}"#, payload: payload), "unknown kid")
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"\#(kid)","crit":["exp"]}"#, payload: payload), "crit")
        try refused(Forge.token(header: #"{"alg":"ES256","kid":"\#(kid)"}"#, payload: payload), "no typ")
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"JWT","kid":"\#(kid)"}"#, payload: payload), "typ JWT")
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"\#(kid)","b64":false}"#, payload: payload), "b64")
        // Tampering: payload, signature, structure, size.
        let tampered = payload.replacingOccurrences(of: "/api/", with: "/")
        try refused(parts[0] + "." + Forge.b64(tampered) + "." + parts[2], "modified payload")
        var sig = Base64URL.decode(parts[2])!
        sig[5] ^= 1
        try refused(parts[0] + "." + parts[1] + "." + Base64URL.encode(sig), "modified signature")
        try refused(parts[0] + "." + parts[1], "two parts")
        try refused(good + ".x", "four parts")
        try refused(parts[0] + "=." + parts[1] + "." + parts[2], "padding")
        try refused(String(repeating: "a", count: 5000) + "." + parts[1] + "." + parts[2], "oversize")
        try refused("é.é.é", "not base64url")
        // §2.3: a JWE (five parts) is not a JWS.
        try refused(good + ".a.b", "JWE compact serialization")
        // §2.6: one encoding only; a UTF-16 header is a second encoding of the same JSON.
        let utf16 = Base64URL.encode(Array(#"{"alg":"ES256","typ":"at+jwt","kid":"\#(kid)"}"#.data(using: .utf16BigEndian)!))
        try refused(utf16 + "." + parts[1] + "." + parts[2], "UTF-16 header")
        // §2.9: kid is only ever a dictionary key; hostile kid text finds nothing.
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"' OR 1=1 --"}"#, payload: payload), "kid injection")
        try refused(Forge.token(header: #"{"alg":"ES256","typ":"at+jwt","kid":"../../etc/passwd"}"#, payload: payload), "kid path")
        // jku / jwk / x5u are never fetched or trusted: a token signed by an embedded key is refused.
        let attacker = try PrivateSigningKey.generate(.es256)
        let embedded =
            Forge.b64(#"{"alg":"ES256","typ":"at+jwt","kid":"\#(kid)","jwk":\#(attacker.publicKey.jwk().json),"jku":"https://evil/jwks"}"#)
            + "." + parts[1]
        try refused(embedded + "." + Base64URL.encode(attacker.sign(Array(embedded.utf8))), "embedded jwk / jku")
    }

    @Test func claimsMustMatchThePolicy() throws {
        let ring = FixedRing(try PrivateSigningKey.generate())
        let verifier = TokenVerifier(keys: ring, policy: policy, limits: Limits())
        func signed(_ edit: (inout AccessTokenClaims) -> Void) -> String {
            var c = AccessTokenClaims(
                issuer: policy.issuer, subject: "alice", audience: "api", clientId: "kwc_AAAAAAAAAAAAAAAA",
                scope: ["/api/"], issuedAt: now, expiresAt: now + 100, id: "j1")
            edit(&c)
            return JWS.sign(c, with: ring.signer)
        }
        #expect(try verifier.verify(signed { _ in }, now: now).map(\.subject) == .success("alice"))
        #expect(try verifier.verify(signed { $0.issuer = "https://evil" }, now: now) == .failure(.invalidCredential))
        #expect(try verifier.verify(signed { $0.audience = "other" }, now: now) == .failure(.invalidCredential))
        #expect(try verifier.verify(signed { $0.issuedAt = now + 3600 }, now: now) == .failure(.invalidCredential))
        #expect(try verifier.verify(signed { $0.expiresAt = now - 31 }, now: now) == .failure(.tokenExpired))
        #expect(try verifier.verify(signed { $0.expiresAt = now - 10 }, now: now).map(\.id) == .success("j1"))  // leeway
        // A token from another key with the same kid text is refused by the signature.
        let other = FixedRing(try PrivateSigningKey.generate())
        let foreign = JWS.sign(
            AccessTokenClaims(
                issuer: policy.issuer, subject: "alice", audience: "api", clientId: "kwc_AAAAAAAAAAAAAAAA",
                scope: ["*"], issuedAt: now, expiresAt: now + 100, id: "x"), with: other.signer)
        #expect(try verifier.verify(foreign, now: now) == .failure(.invalidCredential))
    }

    /// The check with a token: parent state and revocation every time, scope ∩ the parent's access.
    @Test func checkWithTokens() throws {
        let ring = FixedRing(try PrivateSigningKey.generate())
        let pepper = HMACKey(Array(repeating: 3, count: 32))
        let keys = InMemoryKeys([parent(scopes: ["/api/"])])
        let sink = CollectingSink()
        let auth = Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(now), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits(),
            tokens: TokenVerifier(keys: ring, policy: policy, limits: Limits()))
        let issuer = TokenIssuer(keys: ring, policy: policy)
        let (token, claims) = try issuer.issue(for: parent(), requestedScope: "/api/reports/", now: now)
        func check(_ path: String) throws -> Decision {
            try auth.check(CheckRequest(method: "GET", path: .success(path), remoteAddress: "127.0.0.1", authorization: "Bearer \(token)"))
        }
        #expect(
            try check("/api/reports/1")
                == .allow(
                    Identity(
                        user: "alice", subject: "alice", credential: "kwc_AAAAAAAAAAAAAAAA",
                        method: .jwt, scopes: ["/api/reports/"])))
        guard case .deny(let outside) = try check("/api/other") else {
            Issue.record("allowed outside the token scope")
            return
        }
        #expect(outside.reason == .pathNotAllowed)
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.status = .disabled
        guard case .deny(let disabled) = try check("/api/reports/1") else {
            Issue.record("allowed with a disabled parent")
            return
        }
        #expect(disabled.reason == .credentialDisabled)
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.status = .active
        keys.revoked.insert(claims.id)
        guard case .deny(let revoked) = try check("/api/reports/1") else {
            Issue.record("allowed a revoked token")
            return
        }
        #expect(revoked.reason == .invalidCredential)
        // A revoked grant (or a regenerated secret) revokes the tokens issued before it.
        keys.revoked.removeAll()
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.tokensValidAfter = now  // revoked in the token's own second
        guard case .deny(let grant) = try check("/api/reports/1") else {
            Issue.record("allowed after the grant was revoked")
            return
        }
        #expect(grant.reason == .invalidCredential)
        // A token issued after the revocation, in that same second, works (issue 8, item 10);
        // a second revocation in the same second moves the epoch on and revokes it too.
        let (fresh, _) = try issuer.issue(for: keys.records["kwc_AAAAAAAAAAAAAAAA"]!, requestedScope: "/api/reports/", now: now)
        func allowsFresh() throws -> Bool {
            let d = try auth.check(
                CheckRequest(
                    method: "GET", path: .success("/api/reports/1"), remoteAddress: "127.0.0.1",
                    authorization: "Bearer \(fresh)"))
            if case .allow = d { return true }
            return false
        }
        #expect(try allowsFresh(), "a token issued in the revocation's second, after it")
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.tokensValidAfter = now + 1
        #expect(!(try allowsFresh()))
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.tokensValidAfter = nil
        // A parent that narrowed after issue (scopes are the parent's current ones) narrows the token too.
        keys.revoked.removeAll()
        keys.records["kwc_AAAAAAAAAAAAAAAA"]!.scopes = [PathScope("/api/reports/private/")!]
        guard case .deny(let narrowed) = try check("/api/reports/1") else {
            Issue.record("parent narrowing ignored")
            return
        }
        #expect(narrowed.reason == .pathNotAllowed)
    }
}
