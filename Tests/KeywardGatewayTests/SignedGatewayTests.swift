import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardGateway

/// Signed requests through the gateway: what each way of reaching Keyward hands it (the body or
/// not), and the replies nginx needs for `keyward-signed.conf` (`KEYWARD_CHECK=body`).
@Suite struct SignedGatewayTests {
    static let now: Int64 = 1_700_000_000
    let id = "kwh_" + String(repeating: "G", count: 16)
    let secret = Array("gateway test secret, 32 bytes!!!".utf8)
    let sink = CollectingSink()

    func gateway() -> Gateway {
        let record = CredentialRecord(
            id: id, name: "signer", userName: "carol", userStatus: .active, status: .active, secretHash: [], expiresAt: nil,
            scopes: [], allowedNetworks: [])
        let keys = InMemoryKeys([record])
        keys.requestKeys[id] = RequestKeyRecord(record: record, algorithm: .hmacSHA256, keys: [.hmac(HMACKey(secret))])
        var limits = Limits()
        limits.failuresPerWindow = 0
        let authenticator = Authenticator(
            keys: keys, pepper: HMACKey(Array(repeating: 1, count: 32)), clock: FixedClock(Self.now), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: limits)
        return Gateway(config: GatewayConfig(limits: limits), authenticator: authenticator, log: { _ in })
    }

    /// The params nginx sends with keyward-signed.conf, for a POST signed with RFC 9421.
    func signedParams(body: String = #"{"order": 1}"#, nonce: String = "n1", check: String = "body") throws -> DictionaryParams {
        var values = [
            "KEYWARD_CHECK": check, "KEYWARD_NEXT": "@signed_app", "REQUEST_METHOD": "POST", "REQUEST_URI": "/api/orders?x=1",
            "AUTH_PATH": "/api/orders", "REQUEST_SCHEME": "https", "HTTP_HOST": "api.example.com", "REMOTE_ADDR": "192.0.2.9",
            "CONTENT_LENGTH": String(body.utf8.count), "HTTP_CONTENT_LENGTH": String(body.utf8.count),
            "HTTP_CONTENT_DIGEST": ContentDigest.field(for: Array(body.utf8)),
            "HTTP_SIGNATURE_INPUT":
                #"sig1=("@method" "@target-uri" "content-digest");created=\#(Self.now);keyid="\#(id)";nonce="\#(nonce)""#,
        ]
        let request = CheckRequest(params: DictionaryParams(values), limits: Limits())
        let input = try SignatureInput.parse(values["HTTP_SIGNATURE_INPUT"]!)[0]
        let base = try SignatureBase.build(input, message: request)
        values["HTTP_SIGNATURE"] = "sig1=:" + Base64.encode(HMACKey(secret).authenticationCode(base)) + ":"
        return DictionaryParams(values, body: Array(body.utf8))
    }

    @Test func withTheBodyAnAllowedRequestGoesOnToTheNamedLocation() throws {
        let r = gateway().handle(try signedParams(), role: .responder)
        #expect(r.status == 200)
        #expect(r.header("X-Accel-Redirect") == "@signed_app")
        #expect(r.header("X-Auth-User") == "carol" && r.header("X-Auth-Credential") == id && r.header("X-Auth-Method") == "http-signature")
        #expect(r.body.isEmpty)
    }

    @Test func withTheBodyARefusalGoesToTheClientAsIs() throws {
        var p = try signedParams()
        p.body = Array(#"{"order": 2}"#.utf8)
        let tampered = gateway().handle(p, role: .responder)
        #expect(tampered.status == 401 && tampered.header("X-Auth-Error-Code") == "digest_mismatch")
        #expect(tampered.header("X-Accel-Redirect") == nil)
        #expect(String(decoding: tampered.body, as: UTF8.self).contains("digest_mismatch"))
        // A body cut short of CONTENT_LENGTH is not the body that was signed.
        var short = try signedParams()
        short.body.removeLast()
        #expect(gateway().handle(short, role: .responder).header("X-Auth-Error-Code") == "body_unavailable")
    }

    @Test func theCheckAndTheAuthorizerGetNoBody() throws {
        let g = gateway()
        // auth_request (KEYWARD_CHECK=1): the subrequest's input stream is empty, whatever the params say.
        let nginx = g.handle(try signedParams(check: "1"), role: .responder)
        #expect(nginx.status == 401 && nginx.header("X-Auth-Error-Code") == "body_unavailable")
        var authorizer = try signedParams(nonce: "n2")
        authorizer.values["KEYWARD_CHECK"] = nil
        #expect(g.handle(authorizer, role: .authorizer).header("X-Auth-Error-Code") == "body_unavailable")
    }

    @Test func aMisconfiguredNextLocationIsAServerError() throws {
        for next in [nil, "", "/api/", "@", "@a b", "@x;y"] as [String?] {
            var p = try signedParams()
            p.values["KEYWARD_NEXT"] = next
            #expect(gateway().handle(p, role: .responder).status == 500, "\(next ?? "nil")")
        }
    }

    @Test func theBareHMACUsesTheCredentialTheServerBound() throws {
        let body = Array("<pdf-compare/>".utf8)
        let mac = Base64.encode(HMACKey(secret).authenticationCode(body))
        var p = DictionaryParams(
            [
                "KEYWARD_CHECK": "body", "KEYWARD_NEXT": "@pdfc", "REQUEST_METHOD": "POST", "REQUEST_URI": "/pdfc/compare",
                "HTTP_AUTHORIZATION": "HMAC \(mac)", "CONTENT_LENGTH": String(body.count), "REMOTE_ADDR": "192.0.2.9",
            ], body: body)
        #expect(gateway().handle(p, role: .responder).header("X-Auth-Error-Code") == "invalid_credential")
        p.values["KEYWARD_HMAC_CREDENTIAL"] = id
        let ok = gateway().handle(p, role: .responder)
        #expect(ok.header("X-Accel-Redirect") == "@pdfc" && ok.header("X-Auth-Method") == "hmac")
        // A client cannot bind a path itself: its headers arrive as HTTP_*.
        p.values["KEYWARD_HMAC_CREDENTIAL"] = nil
        p.values["HTTP_KEYWARD_HMAC_CREDENTIAL"] = id
        #expect(gateway().handle(p, role: .responder).header("X-Auth-Error-Code") == "invalid_credential")
    }
}
