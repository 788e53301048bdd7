import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardGateway

/// The token endpoints and the check over a client's failure limit (issue 8, item 5 (a)): valid
/// client credentials and keys are served, failing ones get 429 with `Retry-After`.
final class ThrottledTokenHarness {
    let pepper = HMACKey(Array(repeating: 6, count: 32))
    let client = OpaqueSecret.generate(.clientSecret)
    let apiKey = OpaqueSecret.generate(.apiKey)
    let gateway: Gateway

    init(limit: Int) throws {
        let pepper = self.pepper
        func record(_ s: OpaqueSecret) -> CredentialRecord {
            CredentialRecord(
                id: s.id, name: "c", userName: "alice", userStatus: .active, status: .active,
                secretHash: s.hash(with: pepper), expiresAt: nil, scopes: [], allowedNetworks: [])
        }
        let ring = try OneKeyRing()
        let policy = TokenPolicy(issuer: "https://auth.example/keyward", audience: "api")
        let sink = CollectingSink()
        var limits = Limits()
        limits.failuresPerWindow = limit
        let auth = Authenticator(
            keys: InMemoryKeys([record(client), record(apiKey)]), pepper: pepper, clock: FixedClock(1_800_000_000),
            usage: sink, audit: sink, throttle: FailureThrottle(limit: limit, windowSeconds: 60), limits: limits,
            tokens: TokenVerifier(keys: ring, policy: policy, limits: limits))
        gateway = Gateway(
            config: GatewayConfig(mount: "/keyward", limits: limits), authenticator: auth,
            tokenService: TokenService(issuer: TokenIssuer(keys: ring, policy: policy), revoker: RecordingRevoker()),
            log: { _ in })
    }

    func post(_ path: String, body: String, address: String, headers: [String: String] = [:]) -> Response {
        var values = [
            "REQUEST_METHOD": "POST", "REQUEST_URI": "/keyward" + path, "REMOTE_ADDR": address,
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
        ]
        values.merge(headers) { $1 }
        return gateway.handle(DictionaryParams(values, body: Array(body.utf8)), role: .responder)
    }

    func check(_ key: String, address: String) -> Response {
        gateway.handle(
            DictionaryParams([
                "KEYWARD_CHECK": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/x", "REMOTE_ADDR": address,
                "HTTP_AUTHORIZATION": "Bearer " + key,
            ]), role: .responder)
    }

    func clientBody(_ secret: String) -> String {
        "grant_type=client_credentials&client_id=\(client.id)&client_secret=\(secret)"
    }
}

@Suite struct LockoutGatewayTests {
    @Test func tokenEndpointsAnswer429ToFailingClientsOnly() throws {
        let h = try ThrottledTokenHarness(limit: 3)
        let ip = "2001:db8::7"
        let wrong = OpaqueSecret.generate(.clientSecret, publicId: String(h.client.id.dropFirst(4)))
        for _ in 0..<3 {
            let r = h.post("/token", body: h.clientBody(wrong.token), address: ip)
            #expect(r.status == 401 && r.json["error"] as? String == "invalid_client")
        }
        // Past the limit, from another spelling of the same /64: 429 with Retry-After, not invalid_client.
        let throttled = h.post("/token", body: h.clientBody(wrong.token), address: "2001:DB8:0::8")
        #expect(throttled.status == 429 && throttled.header("Retry-After") == "60")
        #expect(throttled.json["error"] as? String == "too_many_failures" && throttled.header("WWW-Authenticate") == nil)
        #expect(throttled.headers.contains { $0 == ("Cache-Control", "no-store") })
        let xml = h.post("/token", body: h.clientBody(wrong.token), address: ip, headers: ["HTTP_ACCEPT": "application/xml"])
        #expect(xml.status == 429 && xml.text.contains("<error>too_many_failures</error>"))
        // Garbage (bad checksum, broken Basic) and every endpoint taking client credentials: 429 too.
        #expect(h.post("/token", body: h.clientBody("kwc_nope"), address: ip).status == 429)
        #expect(h.post("/token", body: "grant_type=client_credentials", address: ip, headers: ["HTTP_AUTHORIZATION": "Basic %%%"]).status == 429)
        #expect(h.post("/introspect", body: h.clientBody(wrong.token) + "&token=x", address: ip).status == 429)
        #expect(h.post("/revoke", body: h.clientBody(wrong.token) + "&token=x", address: ip).status == 429)
        let exchange = "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token_type=urn:keyward:params:oauth:token-type:api-key"
        #expect(h.post("/token", body: exchange + "&subject_token=kwk_nope", address: ip).status == 429)
        // Valid credentials from the same client are served.
        let ok = h.post("/token", body: h.clientBody(h.client.token), address: ip)
        #expect(ok.status == 200 && ok.json["token_type"] as? String == "Bearer")
        #expect(
            h.post(
                "/token", body: "grant_type=client_credentials", address: ip,
                headers: ["HTTP_AUTHORIZATION": "Basic " + Base64.encode(Array("\(h.client.id):\(h.client.token)".utf8))]
            ).status == 200)
        #expect(h.post("/token", body: exchange + "&subject_token=\(h.apiKey.token)", address: ip).status == 200)
        let token = try #require(ok.json["access_token"] as? String)
        let intro = h.post("/introspect", body: h.clientBody(h.client.token) + "&token=\(token)", address: ip)
        #expect(intro.status == 200 && intro.json["active"] as? Bool == true)
        #expect(h.post("/revoke", body: h.clientBody(h.client.token) + "&token=\(token)", address: ip).status == 200)
        // No credentials at all are no attempt: the usual invalid_client; another client is untouched.
        #expect(h.post("/token", body: "grant_type=client_credentials", address: ip).status == 401)
        #expect(h.post("/token", body: h.clientBody(wrong.token), address: "2001:db8:1::7").status == 401)
    }

    @Test func theCheckServesValidKeysAndTokensFromAThrottledClient() throws {
        let h = try ThrottledTokenHarness(limit: 2)
        let ip = "::ffff:198.51.100.5"
        let token = try #require(h.post("/token", body: h.clientBody(h.client.token), address: ip).json["access_token"] as? String)
        for _ in 0..<2 { #expect(h.check("kwk_nope", address: ip).status == 401) }
        let throttled = h.check("kwk_nope", address: "198.51.100.5")
        #expect(throttled.status == 403 && throttled.header("X-Auth-Status") == "429" && throttled.header("Retry-After") == "60")
        #expect(throttled.header("X-Auth-Error-Code") == "too_many_failures")
        #expect(h.check(h.apiKey.token, address: "198.51.100.5").status == 200)
        #expect(h.check(token, address: "198.51.100.5").status == 200)
        // A forged token is a failing credential like any other.
        var forged = Array(token)
        forged[forged.count - 3] = forged[forged.count - 3] == "A" ? "B" : "A"
        #expect(h.check(String(forged), address: "198.51.100.5").header("X-Auth-Status") == "429")
    }
}
