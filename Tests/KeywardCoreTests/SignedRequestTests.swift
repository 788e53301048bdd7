import Foundation
import KeywardCrypto
import Testing

@testable import KeywardCore

/// Signed requests at the check: RFC 9421 signatures and the seed's `Authorization: HMAC`, through
/// the standard chain, each refusal with its own code.
@Suite struct SignedRequestTests {
    static let now: Int64 = 1_700_000_000
    let pepper = HMACKey(Array(repeating: 7, count: 32))
    let secret = Array("a shared secret of thirty-two b.".utf8)
    let hmacId = "kwh_" + "H" + String(repeating: "a", count: 15)
    let edId = "kwh_" + "E" + String(repeating: "b", count: 15)
    let edKey = try! PrivateSigningKey.generate(.ed25519)
    let sink = CollectingSink()

    func record(_ id: String, scopes: [String] = []) -> CredentialRecord {
        CredentialRecord(
            id: id, name: "n", userName: "alice", userStatus: .active, status: .active, secretHash: [], expiresAt: nil,
            scopes: scopes.compactMap(PathScope.init), allowedNetworks: [])
    }

    func keys() -> InMemoryKeys {
        let keys = InMemoryKeys([record(hmacId), record(edId)])
        keys.requestKeys[hmacId] = RequestKeyRecord(record: record(hmacId), algorithm: .hmacSHA256, keys: [.hmac(HMACKey(secret))])
        keys.requestKeys[edId] = RequestKeyRecord(record: record(edId), algorithm: .ed25519, keys: [.ed25519(edKey.publicKey)])
        return keys
    }

    func checker(_ keys: InMemoryKeys, limits: Limits = Limits(), nonces: NonceCache? = nil) -> Authenticator {
        Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(Self.now), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: limits, nonces: nonces)
    }

    /// A request as a client would sign it: its fields, target and body.
    struct Signed {
        var method = "POST"
        var target = RequestTarget(scheme: "https", authority: "api.example.com", raw: "/api/orders?x=1")
        var headers: [String: String] = [:]
        var body = Array(#"{"amount": 10}"#.utf8)
        var carriesBody = true
        var authorization: String? = nil
        var bound: String? = nil

        var request: CheckRequest {
            var r = CheckRequest(
                method: method, path: .success(String(target.raw!.split(separator: "?")[0])), remoteAddress: "192.0.2.7",
                authorization: authorization,
                source: SignedTestSource(headers: headers, bodyBytes: body, target: target, carriesBody: carriesBody))
            r.boundCredential = bound
            return r
        }
    }

    /// Signs `message` as the client would: `components` with `params`, the base built by the
    /// same rules the verifier uses (the RFC vectors pin those), MAC'd or signed.
    func sign(
        _ message: inout Signed, keyId: String, components: [String] = ["@method", "@target-uri", "content-digest"],
        created: Int64 = now, extra: String = "", nonce: String? = "n-1", with key: ((([UInt8]) -> [UInt8]))? = nil
    ) throws {
        if components.contains("content-digest") { message.headers["content-digest"] = ContentDigest.field(for: message.body) }
        message.headers["content-length"] = String(message.body.count)
        var params = ";created=\(created);keyid=\"\(keyId)\"" + extra
        if let nonce { params += ";nonce=\"\(nonce)\"" }
        let input = "sig1=(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ")" + params
        message.headers["signature-input"] = input
        let parsed = try SignatureInput.parse(input)[0]
        let base = try SignatureBase.build(parsed, message: message.request)
        let signature = key?(base) ?? (keyId == edId ? edKey.sign(base) : HMACKey(secret).authenticationCode(base))
        message.headers["signature"] = "sig1=:" + Base64.encode(signature) + ":"
    }

    func denial(_ decision: Decision) -> String? {
        if case .deny(let d) = decision { return d.reason.rawValue }
        return nil
    }

    @Test func anHMACSignatureAndAnEd25519SignaturePass() throws {
        let a = checker(keys())
        var m = Signed()
        try sign(&m, keyId: hmacId)
        #expect(
            try a.check(m.request) == .allow(Identity(user: "alice", subject: "alice", credential: hmacId, method: .httpSignature, scopes: ["*"])))
        var e = Signed()
        try sign(&e, keyId: edId, extra: ";alg=\"ed25519\"")
        #expect(try a.check(e.request) == .allow(Identity(user: "alice", subject: "alice", credential: edId, method: .httpSignature, scopes: ["*"])))
        // A GET without content needs no digest; @path and @query stand for the target.
        var g = Signed(method: "GET", body: [])
        try sign(&g, keyId: hmacId, components: ["@method", "@path", "@query", "@authority"], nonce: nil)
        g.headers["content-length"] = nil
        #expect(try denial(a.check(g.request)) == nil)
    }

    @Test func eachAttackIsRefusedWithItsCode() throws {
        let a = checker(keys())
        var m = Signed()
        try sign(&m, keyId: hmacId, nonce: "once")
        #expect(try denial(a.check(m.request)) == nil)
        #expect(try denial(a.check(m.request)) == "signature_replayed")

        var body = Signed()
        try sign(&body, keyId: hmacId)
        body.body = Array(#"{"amount": 1000}"#.utf8)
        body.headers["content-length"] = String(body.body.count)
        #expect(try denial(a.check(body.request)) == "digest_mismatch")

        var path = Signed()
        try sign(&path, keyId: hmacId, nonce: "p")
        path.target.raw = "/api/admin?x=1"
        #expect(try denial(a.check(path.request)) == "signature_invalid")

        for created in [Self.now - 301, Self.now + 301] {
            var stale = Signed()
            try sign(&stale, keyId: hmacId, created: created, nonce: "s\(created)")
            #expect(try denial(a.check(stale.request)) == "signature_expired")
        }
        var expired = Signed()
        try sign(&expired, keyId: hmacId, extra: ";expires=\(Self.now)", nonce: "e")
        #expect(try denial(a.check(expired.request)) == "signature_expired")

        var wrong = Signed()
        try sign(&wrong, keyId: hmacId, nonce: "w", with: { HMACKey(Array("another secret".utf8)).authenticationCode($0) })
        #expect(try denial(a.check(wrong.request)) == "signature_invalid")

        // alg swaps: the credential decides the algorithm.
        var claimsEd = Signed()
        try sign(&claimsEd, keyId: hmacId, extra: ";alg=\"ed25519\"", nonce: "a1")
        #expect(try denial(a.check(claimsEd.request)) == "algorithm_mismatch")
        var hmacWithPublicKey = Signed()
        let publicKey = edKey.publicKey.subjectPublicKeyInfo()
        try sign(&hmacWithPublicKey, keyId: edId, extra: ";alg=\"hmac-sha256\"", nonce: "a2", with: { HMACKey(publicKey).authenticationCode($0) })
        #expect(try denial(a.check(hmacWithPublicKey.request)) == "algorithm_mismatch")
        var sameWithoutAlg = Signed()
        try sign(&sameWithoutAlg, keyId: edId, nonce: "a3", with: { HMACKey(publicKey).authenticationCode($0) })
        #expect(try denial(a.check(sameWithoutAlg.request)) == "signature_invalid")

        var unknown = Signed()
        try sign(&unknown, keyId: "kwh_" + String(repeating: "z", count: 16), nonce: "u")
        #expect(try a.check(unknown.request) == .deny(Denial(.invalidCredential, credential: "kwh_" + String(repeating: "z", count: 16))))
    }

    @Test func requiredComponentsAndParameters() throws {
        let a = checker(keys())
        let cases: [([String], String, String)] = [
            (["@target-uri", "content-digest"], "", "signature_incomplete"),  // no @method
            (["@method", "content-digest"], "", "signature_incomplete"),  // no target
            (["@method", "@path", "content-digest"], "", "signature_incomplete"),  // @path without @query
            (["@method", "@target-uri"], "", "signature_incomplete"),  // content, no content-digest
            (["@method", "@request-target", "content-digest"], "", "ok"),
            (["@method", "@target-uri", "content-digest"], ";tag=\"t\"", "ok"),
        ]
        for (i, (components, extra, code)) in cases.enumerated() {
            var m = Signed()
            try sign(&m, keyId: hmacId, components: components, extra: extra, nonce: "c\(i)")
            #expect(try denial(a.check(m.request)) ?? "ok" == code, "\(components) \(extra)")
        }
        var unknownParameter = Signed()
        try sign(&unknownParameter, keyId: hmacId, nonce: "up")
        unknownParameter.headers["signature-input"]! += #";foo="t""#
        #expect(try denial(a.check(unknownParameter.request)) == "signature_malformed")
        var noCreated = Signed()
        try sign(&noCreated, keyId: hmacId)
        noCreated.headers["signature-input"] = noCreated.headers["signature-input"]!.replacingOccurrences(of: ";created=\(Self.now)", with: "")
        #expect(try denial(a.check(noCreated.request)) == "signature_incomplete")
        // A POST that declares no length counts as having content.
        var post = Signed(body: [])
        try sign(&post, keyId: hmacId, components: ["@method", "@target-uri"], nonce: "np")
        post.headers["content-length"] = nil
        #expect(try denial(a.check(post.request)) == "signature_incomplete")
        var nonceRequired = Limits()
        nonceRequired.requireSignatureNonce = true
        var bare = Signed()
        try sign(&bare, keyId: hmacId, nonce: nil)
        #expect(try denial(checker(keys(), limits: nonceRequired).check(bare.request)) == "signature_incomplete")
        #expect(try denial(a.check(bare.request)) == nil)
    }

    @Test func withoutTheBodyOnlyBodilessRequestsPass() throws {
        let a = checker(keys())
        var m = Signed()
        try sign(&m, keyId: hmacId)
        m.carriesBody = false
        #expect(try denial(a.check(m.request)) == "body_unavailable")
        var get = Signed(method: "GET", body: [])
        try sign(&get, keyId: hmacId, components: ["@method", "@target-uri"], nonce: "g")
        get.headers["content-length"] = nil
        get.carriesBody = false
        #expect(try denial(a.check(get.request)) == nil)
    }

    @Test func signaturesForSomeoneElseAreLeftAlone() throws {
        let a = checker(keys())
        var m = Signed(method: "GET", body: [])
        m.headers["signature-input"] = #"backend=("@method");created=1;keyid="their-key""#
        m.headers["signature"] = "backend=:AA==:"
        #expect(try a.check(m.request) == .deny(Denial(.missingCredential)))
        // Two naming Keyward credentials: which one counts is not Keyward's to guess.
        try sign(&m, keyId: hmacId, components: ["@method", "@target-uri"])
        m.headers["signature-input"]! += #", sig2=("@method");created=1;keyid="\#(edId)""#
        #expect(try denial(a.check(m.request)) == "signature_malformed")
    }

    /// A repeated Signature-Input (the server's lone NUL) fails closed: it is not passed over for
    /// a key in a lower location, whose holder may not be the signer.
    @Test func aRepeatedSignatureInputIsMalformedNotSkipped() throws {
        let keys = keys()
        let apiKey = OpaqueSecret.generate(.apiKey)
        keys.records[apiKey.id] = CredentialRecord(
            id: apiKey.id, name: "k", userName: "bob", userStatus: .active, status: .active, secretHash: apiKey.hash(with: pepper),
            expiresAt: nil, scopes: [], allowedNetworks: [])
        var m = Signed(method: "GET", body: [])
        m.headers["signature-input"] = "\u{0}"
        m.authorization = "Bearer " + apiKey.token
        #expect(try denial(checker(keys).check(m.request)) == "signature_malformed")
    }

    @Test func theRankingJWTThenSignatureThenKey() throws {
        let keys = keys()
        let apiKey = OpaqueSecret.generate(.apiKey)
        keys.records[apiKey.id] = CredentialRecord(
            id: apiKey.id, name: "k", userName: "bob", userStatus: .active, status: .active, secretHash: apiKey.hash(with: pepper),
            expiresAt: nil, scopes: [], allowedNetworks: [])
        let a = checker(keys)
        var m = Signed(method: "GET", body: [])
        try sign(&m, keyId: hmacId, components: ["@method", "@target-uri"], nonce: nil)
        m.authorization = "Bearer " + apiKey.token
        // The signature ranks above a key in Authorization.
        if case .allow(let id) = try a.check(m.request) { #expect(id.credential == hmacId) } else { Issue.record("denied") }
        // A JWT ranks above the signature (no token verifier here: it is refused as a JWT).
        m.authorization = "Bearer a.b.c"
        #expect(try denial(a.check(m.request)) == "invalid_credential")
        // Without the signature the key decides.
        m.headers["signature-input"] = nil
        m.authorization = "Bearer " + apiKey.token
        if case .allow(let id) = try a.check(m.request) { #expect(id.credential == apiKey.id) } else { Issue.record("denied") }
    }

    @Test func aFullReplayCacheAnswers429() throws {
        let a = checker(keys(), nonces: NonceCache(capacity: 16))
        var refused: Denial? = nil
        for i in 0..<100 {
            var m = Signed(method: "GET", body: [])
            try sign(&m, keyId: hmacId, components: ["@method", "@target-uri"], nonce: "n\(i)")
            if case .deny(let d) = try a.check(m.request) { refused = d }
        }
        #expect(refused?.reason == .replayCacheFull && refused?.retryAfter == 300 && DenyReason.replayCacheFull.kind.status == 429)
    }

    @Test func theSeedsHMACOverTheBody() throws {
        let a = checker(keys())
        let body = Array("<document/>".utf8)
        let mac = Base64.encode(HMACKey(secret).authenticationCode(body))
        var m = Signed(body: body, authorization: "HMAC \(hmacId):\(mac)")
        #expect(try a.check(m.request) == .allow(Identity(user: "alice", subject: "alice", credential: hmacId, method: .hmac, scopes: ["*"])))
        m.authorization = "hmac \(hmacId):\(mac.dropLast())"  // scheme in any case, padding optional
        #expect(try denial(a.check(m.request)) == nil)
        // The bare form on a path the server bound to the credential, and on one it did not.
        m.authorization = "HMAC \(mac)"
        m.bound = hmacId
        #expect(try denial(a.check(m.request)) == nil)
        m.bound = nil
        #expect(try denial(a.check(m.request)) == "invalid_credential")
        m.bound = hmacId
        m.body = Array("<document>changed</document>".utf8)
        #expect(try denial(a.check(m.request)) == "signature_invalid")
        m.carriesBody = false
        #expect(try denial(a.check(m.request)) == "body_unavailable")
        for bad in ["HMAC \(hmacId):not base64!", "HMAC \(hmacId):" + Base64.encode([1, 2, 3]), "HMAC nokey:\(mac)"] {
            m.authorization = bad
            #expect(try denial(a.check(m.request)) == "signature_malformed", "\(bad)")
        }
        m.authorization = "HMAC \(edId):\(mac)"
        m.carriesBody = true
        #expect(try denial(a.check(m.request)) == "algorithm_mismatch")
    }

    @Test func thePolicyStillApplies() throws {
        let keys = keys()
        keys.requestKeys[hmacId]!.record.scopes = [PathScope("/other/")!]
        let a = checker(keys)
        var m = Signed()
        try sign(&m, keyId: hmacId, nonce: nil)
        #expect(try a.check(m.request) == .deny(Denial(.pathNotAllowed, credential: hmacId, user: "alice")))
        keys.requestKeys[hmacId]!.record.status = .disabled
        #expect(try a.check(m.request) == .deny(Denial(.credentialDisabled, credential: hmacId, user: "alice")))
    }
}
