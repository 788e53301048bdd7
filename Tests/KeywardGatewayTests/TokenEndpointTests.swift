import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardGateway

final class OneKeyRing: SigningKeyRing {
    let key: PrivateSigningKey
    init() throws { key = try PrivateSigningKey.generate() }
    func verificationKey(kid: String) throws -> PublicVerificationKey? { kid == key.keyID ? key.publicKey : nil }
    func signingKey() throws -> PrivateSigningKey { key }
    func publishedKeys() throws -> [PublicVerificationKey] { [key.publicKey] }
}

final class RecordingRevoker: TokenRevoker {
    var revoked: [String] = []
    func revoke(tokenId: String, expiresAt: Int64, now: Int64) throws { revoked.append(tokenId) }
    var grants: [String] = []
    func revokeGrant(credentialId: String, now: Int64) throws { grants.append(credentialId) }
}

final class TokenHarness {
    let pepper = HMACKey(Array(repeating: 5, count: 32))
    let client = OpaqueSecret.generate(.clientSecret)
    let apiKey = OpaqueSecret.generate(.apiKey)
    let keys: InMemoryKeys
    let revoker = RecordingRevoker()
    let gateway: Gateway
    let policy = TokenPolicy(issuer: "https://auth.example/keyward", audience: "api")

    init() throws {
        let pepper = self.pepper
        func record(_ s: OpaqueSecret, _ scopes: [String]) -> CredentialRecord {
            CredentialRecord(
                id: s.id, name: "c", userName: "alice", userStatus: .active, status: .active,
                secretHash: s.hash(with: pepper), expiresAt: nil, scopes: scopes.compactMap(PathScope.init), allowedNetworks: [])
        }
        keys = InMemoryKeys([record(client, ["/api/"]), record(apiKey, [])])
        let ring = try OneKeyRing()
        let sink = CollectingSink()
        let auth = Authenticator(
            keys: keys, pepper: pepper, clock: FixedClock(1_800_000_000), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits(),
            tokens: TokenVerifier(keys: ring, policy: policy, limits: Limits()))
        gateway = Gateway(
            config: GatewayConfig(mount: "/keyward"), authenticator: auth,
            tokenService: TokenService(issuer: TokenIssuer(keys: ring, policy: policy), revoker: revoker), log: { _ in })
    }

    func post(
        _ path: String, body: String, type: String? = "application/x-www-form-urlencoded",
        headers: [String: String] = [:]
    ) -> Response {
        var values = ["REQUEST_METHOD": "POST", "REQUEST_URI": "/keyward" + path, "REMOTE_ADDR": "127.0.0.1"]
        if let type { values["CONTENT_TYPE"] = type }
        values.merge(headers) { $1 }
        return gateway.handle(DictionaryParams(values, body: Array(body.utf8)), role: .responder)
    }

    func basic(_ id: String, _ secret: String) -> String { "Basic " + Base64.encode(Array("\(id):\(secret)".utf8)) }
}

extension Response {
    var json: [String: Any] { JSONText.parseObject(body) ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

@Suite struct TokenEndpointTests {
    @Test func clientCredentialsInEveryStyle() throws {
        let h = try TokenHarness()
        let form = h.post(
            "/token", body: "grant_type=client_credentials&client_id=\(h.client.id)&client_secret=\(h.client.token)&scope=%2Fapi%2Fa%2F")
        #expect(form.status == 200 && form.json["token_type"] as? String == "Bearer" && form.json["scope"] as? String == "/api/a/")
        #expect(form.json["expires_in"] as? Int == 900)
        #expect(form.headers.filter { $0.0 == "Cache-Control" }.map(\.1) == ["no-store"])
        let json = h.post(
            "/token", body: #"{"grant_type":"client_credentials","client_id":"\#(h.client.id)","client_secret":"\#(h.client.token)"}"#,
            type: "application/json; charset=utf-8")
        #expect(json.status == 200 && json.json["scope"] as? String == "/api/")
        // Basic wins over (wrong) body credentials.
        let basic = h.post(
            "/token", body: "grant_type=client_credentials&client_id=\(h.client.id)&client_secret=wrong",
            headers: ["HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token)])
        #expect(basic.status == 200)
        let xml = h.post(
            "/token", body: "grant_type=client_credentials",
            headers: [
                "HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token), "HTTP_ACCEPT": "application/xml",
            ])
        #expect(
            xml.status == 200 && xml.header("Content-Type")!.hasPrefix("application/xml")
                && xml.text.contains("<AccessTokenResponse><access_token>"))
    }

    @Test func errorsFollowRFC6749() throws {
        let h = try TokenHarness()
        let bad = h.post("/token", body: "grant_type=client_credentials", headers: ["HTTP_AUTHORIZATION": h.basic(h.client.id, "kwc_nope")])
        #expect(bad.status == 401 && bad.json["error"] as? String == "invalid_client")
        #expect(bad.header("WWW-Authenticate") == "Basic realm=\"keyward\"")
        #expect(!bad.text.contains(h.client.token))
        #expect(h.post("/token", body: "grant_type=client_credentials").status == 401)
        #expect(h.post("/token", body: "grant_type=password&username=a").json["error"] as? String == "unsupported_grant_type")
        #expect(h.post("/token", body: "scope=x").json["error"] as? String == "invalid_request")
        #expect(h.post("/token", body: "grant_type=a&grant_type=b").json["error"] as? String == "invalid_request")
        #expect(h.post("/token", body: "grant_type=client_credentials", type: "text/plain").json["error"] as? String == "invalid_request")
        #expect(h.post("/token", body: "{not json", type: "application/json").json["error"] as? String == "invalid_request")
        #expect(h.post("/token", body: "grant_type=%ZZ").json["error"] as? String == "invalid_request")
        #expect(h.post("/token", body: String(repeating: "a", count: 70_000)).json["error"] as? String == "invalid_request")
        let scope = h.post(
            "/token", body: "grant_type=client_credentials&scope=/other/",
            headers: ["HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token)])
        #expect(scope.status == 400 && scope.json["error"] as? String == "invalid_scope")
        let get = h.gateway.handle(DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/token"]), role: .responder)
        #expect(get.status == 405 && get.header("Allow") == "POST")
    }

    @Test func exchangeIntrospectAndRevoke() throws {
        let h = try TokenHarness()
        let exchanged = h.post(
            "/token",
            body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                + "&subject_token=\(h.apiKey.token)&subject_token_type=urn%3Akeyward%3Aparams%3Aoauth%3Atoken-type%3Aapi-key")
        #expect(exchanged.status == 200)
        #expect(exchanged.json["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
        let compat = h.post(
            "/api/ApiToken/GenerateAccessTokenFromApiToken", body: "", type: nil,
            headers: ["HTTP_AUTHORIZATION": "Bearer \(h.apiKey.token)"])
        #expect(compat.status == 200 && compat.json["scope"] as? String == "*")
        let wrong = h.post(
            "/api/ApiToken/GenerateAccessTokenFromApiToken", body: "", type: nil,
            headers: ["HTTP_AUTHORIZATION": "Bearer kwk_wrong"])
        #expect(wrong.status == 400 && wrong.json["error"] as? String == "invalid_grant")
        let token = try #require(exchanged.json["access_token"] as? String)
        let auth = ["HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token)]
        let active = h.post("/introspect", body: "token=\(token)", headers: auth)
        #expect(active.json["active"] as? Bool == true && active.json["client_id"] as? String == h.apiKey.id)
        #expect(h.post("/introspect", body: "token=garbage", headers: auth).json["active"] as? Bool == false)
        #expect(h.post("/introspect", body: "token=\(token)").status == 401)
        #expect(h.post("/revoke", body: "token=\(token)", headers: auth).status == 200)
        #expect(h.revoker.revoked.count == 1)
        #expect(h.post("/revoke", body: "token=garbage", headers: auth).status == 200)  // RFC 7009 §2.2
        // The client's own secret as the token revokes its whole grant.
        #expect(h.post("/revoke", body: "token=\(h.client.token)", headers: auth).status == 200)
        #expect(h.revoker.grants == [h.client.id])
    }

    @Test func discovery() throws {
        let h = try TokenHarness()
        let jwks = h.gateway.handle(DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/.well-known/jwks.json"]), role: .responder)
        let keys = try #require(jwks.json["keys"] as? [[String: Any]])
        #expect(keys.count == 1 && keys[0]["alg"] as? String == "EdDSA" && keys[0]["d"] == nil)
        let meta = h.gateway.handle(
            DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/.well-known/oauth-authorization-server"]),
            role: .responder)
        #expect(meta.json["issuer"] as? String == "https://auth.example/keyward")
        #expect(meta.json["token_endpoint"] as? String == "https://auth.example/keyward/token")
        let rfc8414 = h.gateway.handle(
            DictionaryParams([
                "REQUEST_METHOD": "GET",
                "REQUEST_URI": "/.well-known/oauth-authorization-server/keyward",
            ]), role: .responder)
        #expect(rfc8414.status == 200 && rfc8414.json["issuer"] as? String == "https://auth.example/keyward")
    }
}
