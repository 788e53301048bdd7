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
        let large = h.post("/token", body: String(repeating: "a", count: 70_000))
        #expect(large.status == 413 && large.json["error"] as? String == "invalid_request")
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
        // A token exchanged from an API key of the client's own user is still not the client's (RFC 7009 §2.1).
        let foreign = h.post("/revoke", body: "token=\(token)", headers: auth)
        #expect(foreign.status == 400 && foreign.json["error"] as? String == "unauthorized_client")
        #expect(h.revoker.revoked.isEmpty)
        let own = try #require(h.post("/token", body: "grant_type=client_credentials", headers: auth).json["access_token"] as? String)
        #expect(h.post("/revoke", body: "token=\(own)", headers: auth).status == 200)
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
        #expect(keys.count == 1 && keys[0]["alg"] as? String == "ES256" && keys[0]["d"] == nil)
        let meta = h.gateway.handle(
            DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/.well-known/oauth-authorization-server"]),
            role: .responder)
        #expect(meta.json["issuer"] as? String == "https://auth.example/keyward")
        #expect(meta.json["token_endpoint"] as? String == "https://auth.example/keyward/token")
        // RFC 8414 §2: required and non-empty; `none` issues nothing.
        #expect(meta.json["response_types_supported"] as? [String] == ["none"])
        let rfc8414 = h.gateway.handle(
            DictionaryParams([
                "REQUEST_METHOD": "GET",
                "REQUEST_URI": "/.well-known/oauth-authorization-server/keyward",
            ]), role: .responder)
        #expect(rfc8414.status == 200 && rfc8414.json["issuer"] as? String == "https://auth.example/keyward")
    }

    static let exchange = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
    static let apiKeyType = "&subject_token_type=urn%3Akeyward%3Aparams%3Aoauth%3Atoken-type%3Aapi-key"
    static let accessTokenType = "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"

    /// RFC 8693 §2.2.2: every refusal with its own code and a message saying which rule refused it.
    @Test func exchangeRefusalsArePrecise() throws {
        let h = try TokenHarness()
        func refusal(_ body: String) -> (Int, String?, String) {
            let r = h.post("/token", body: Self.exchange + body)
            return (r.status, r.json["error"] as? String, r.json["error_description"] as? String ?? "")
        }
        let key = "&subject_token=\(h.apiKey.token)"
        #expect(refusal(Self.apiKeyType + "&subject_token=kwk_nope").1 == "invalid_request")
        #expect(refusal(Self.apiKeyType).1 == "invalid_request" && refusal(Self.apiKeyType).2.contains("subject_token"))
        #expect(refusal(key).2.contains("subject_token_type"))
        let unsupported = refusal(key + "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token")
        #expect(unsupported.0 == 400 && unsupported.1 == "invalid_request" && unsupported.2.contains("not supported"))
        let actor = refusal(key + Self.apiKeyType + "&actor_token=x&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token")
        #expect(actor.1 == "invalid_request" && actor.2.contains("actor_token"))
        #expect(
            refusal(key + Self.apiKeyType + "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token").1 == "invalid_request")
        // An access token that is not one of ours, under the access-token type.
        #expect(refusal(Self.accessTokenType + "&subject_token=eyJ.e30.x").1 == "invalid_request")
        // Targets Keyward does not serve.
        #expect(refusal(key + Self.apiKeyType + "&audience=someone-else").1 == "invalid_target")
        #expect(refusal(key + Self.apiKeyType + "&resource=https%3A%2F%2Felsewhere.example%2Fapi%2F").1 == "invalid_target")
        #expect(refusal(key + Self.apiKeyType + "&resource=relative%2Fpath").1 == "invalid_target")
        #expect(refusal(key + Self.apiKeyType + "&resource=https%3A%2F%2Fauth.example%2Fapi%2F%23frag").1 == "invalid_target")
        #expect(refusal(key + Self.apiKeyType + "&resource=https%3A%2F%2Fuser%40auth.example%2Fapi%2F").1 == "invalid_target")
        #expect(refusal(key + Self.apiKeyType + "&resource=https%3A%2F%2Fauth.example%2Fa%2F..%2Fb%2F").1 == "invalid_target")
    }

    /// Keyward's own audience, issuer and origin are targets it serves: the token is for them.
    @Test func exchangeForTargetsKeywardServes() throws {
        let h = try TokenHarness()
        let key = "&subject_token=\(h.apiKey.token)" + Self.apiKeyType
        let own = h.post("/token", body: Self.exchange + key + "&audience=api")
        #expect(own.status == 200 && own.json["scope"] as? String == "*")
        let issuer = h.post("/token", body: Self.exchange + key + "&audience=https%3A%2F%2Fauth.example%2Fkeyward")
        #expect(issuer.status == 200 && issuer.json["scope"] as? String == "*")
        // A resource URI on the issuer's origin narrows the token to its path; two of them to both.
        let path = h.post(
            "/token",
            body: Self.exchange + key
                + "&resource=https%3A%2F%2FAUTH.example%3A443%2Fapi%2Forders%2F&resource=https%3A%2F%2Fauth.example%2Fapi%2Fusers%2F")
        #expect(path.status == 200 && path.json["scope"] as? String == "/api/orders/ /api/users/")
        // A registered resource named as the audience: the token is for its path.
        h.keys.access = AccessModel(
            resources: [Resource(name: "orders", scope: try #require(PathScope("/api/orders/")))], memberships: [], grants: [], rolePrivileges: [])
        let named = h.post("/token", body: Self.exchange + key + "&audience=orders")
        #expect(named.status == 200 && named.json["scope"] as? String == "/api/orders/")
        // The request's own origin (Host) counts too.
        let host = h.post(
            "/token", body: Self.exchange + key + "&resource=http%3A%2F%2Fgateway.local%3A8080%2Fapi%2F",
            headers: ["HTTP_HOST": "gateway.local:8080", "REQUEST_SCHEME": "http"])
        #expect(host.status == 200 && host.json["scope"] as? String == "/api/")
        // A scope outside the named resource.
        let outside = h.post("/token", body: Self.exchange + key + "&resource=https%3A%2F%2Fauth.example%2Fapi%2Forders%2F&scope=%2Fapi%2Fusers%2F")
        #expect(outside.status == 400 && outside.json["error"] as? String == "invalid_scope")
        // A client scoped to /api/ cannot be given a token for /admin/; one for /api/x/ narrows.
        let auth = ["HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token)]
        let unreachable = h.post("/token", body: "grant_type=client_credentials&resource=https%3A%2F%2Fauth.example%2Fadmin%2F", headers: auth)
        #expect(unreachable.status == 400 && unreachable.json["error"] as? String == "invalid_target")
        let wider = h.post("/token", body: "grant_type=client_credentials&resource=https%3A%2F%2Fauth.example%2F", headers: auth)
        #expect(wider.status == 200 && wider.json["scope"] as? String == "/api/")
        // JSON bodies take audience and resource as arrays.
        let json = h.post(
            "/token",
            body: #"{"grant_type":"client_credentials","resource":["https://auth.example/api/a/"],"audience":["api"]}"#,
            type: "application/json", headers: auth)
        #expect(json.status == 200 && json.json["scope"] as? String == "/api/a/")
        // Other parameters still may not repeat.
        #expect(h.post("/token", body: Self.exchange + key + "&scope=%2Fa%2F&scope=%2Fb%2F").json["error"] as? String == "invalid_request")
    }

    /// One of Keyward's access tokens exchanged for a narrower one (down-scoping): never wider,
    /// never longer-lived, and still the parent credential's.
    @Test func accessTokenDownScoping() throws {
        let h = try TokenHarness()
        let auth = ["HTTP_AUTHORIZATION": h.basic(h.client.id, h.client.token)]
        let broad = h.post("/token", body: "grant_type=client_credentials&scope=%2Fapi%2F", headers: auth)
        let token = try #require(broad.json["access_token"] as? String)
        let narrow = h.post("/token", body: Self.exchange + Self.accessTokenType + "&subject_token=\(token)&scope=GET%3A%2Fapi%2Freports%2F")
        #expect(narrow.status == 200 && narrow.json["scope"] as? String == "GET:/api/reports/")
        #expect(narrow.json["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
        let narrowed = try #require(narrow.json["access_token"] as? String)
        let introspected = h.post("/introspect", body: "token=\(narrowed)", headers: auth).json
        #expect(introspected["client_id"] as? String == h.client.id && introspected["scope"] as? String == "GET:/api/reports/")
        #expect((introspected["exp"] as? Int ?? .max) <= (h.post("/introspect", body: "token=\(token)", headers: auth).json["exp"] as? Int ?? 0))
        // Wider than the subject token, though within the client's own scope: refused.
        let narrowOnly = h.post("/token", body: Self.exchange + Self.accessTokenType + "&subject_token=\(narrowed)&scope=%2Fapi%2F")
        #expect(narrowOnly.status == 400 && narrowOnly.json["error"] as? String == "invalid_scope")
        // The JWT token type names the same tokens.
        let jwtType = h.post(
            "/token",
            body: Self.exchange + "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&subject_token=\(narrowed)")
        #expect(jwtType.status == 200 && jwtType.json["scope"] as? String == "GET:/api/reports/")
        // An API key under the access-token type is not an access token.
        let mistyped = h.post("/token", body: Self.exchange + Self.accessTokenType + "&subject_token=\(h.apiKey.token)")
        #expect(mistyped.status == 400 && mistyped.json["error"] as? String == "invalid_request")
        // A revoked subject token cannot be exchanged.
        h.keys.revoked.insert(try #require(JWS.parse(token, limits: Limits()).payload["jti"] as? String))
        let revoked = h.post("/token", body: Self.exchange + Self.accessTokenType + "&subject_token=\(token)")
        #expect(revoked.status == 400 && revoked.json["error"] as? String == "invalid_request")
    }
}
