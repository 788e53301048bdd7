import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardGateway

/// Params recorded from each server, replayed through the gateway with a real decision behind it.
struct Fixture: Decodable {
    let role: String
    let params: [String: String]

    static func load(_ name: String) throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func params(key: String, uri: String, path: String) -> DictionaryParams {
        DictionaryParams(
            params.mapValues {
                $0.replacingOccurrences(of: "$KEY", with: key).replacingOccurrences(of: "$URI", with: uri)
                    .replacingOccurrences(of: "$PATH", with: path)
            })
    }
}

final class GatewayHarness {
    let pepper = HMACKey(Array(repeating: 9, count: 32))
    let full = OpaqueSecret.generate(.apiKey)
    let limited = OpaqueSecret.generate(.apiKey)
    let sink = CollectingSink()
    let gateway: Gateway

    init(failureLimit: Int = 100) {
        let pepper = self.pepper
        func record(_ s: OpaqueSecret, _ user: String, _ scopes: [String]) -> CredentialRecord {
            CredentialRecord(
                id: s.id, name: "k", userName: user, userStatus: .active, status: .active,
                secretHash: s.hash(with: pepper), expiresAt: nil, scopes: scopes.compactMap(PathScope.init),
                allowedNetworks: [])
        }
        var limits = Limits()
        limits.failuresPerWindow = failureLimit
        let authenticator = Authenticator(
            keys: InMemoryKeys([record(full, "alice", []), record(limited, "bob", ["/api/limited/"])]),
            pepper: pepper, clock: FixedClock(1_000), usage: sink, audit: sink,
            throttle: FailureThrottle(limit: failureLimit, windowSeconds: 60), limits: limits)
        gateway = Gateway(config: GatewayConfig(mount: "/keyward"), authenticator: authenticator, log: { _ in })
    }

    func run(_ fixture: Fixture, key: String, uri: String, path: String? = nil) -> Response {
        var p = fixture.params(key: key, uri: uri, path: path ?? uri)
        if path == nil && fixture.params["AUTH_PATH"] != nil { p.values["AUTH_PATH"] = nil }
        if key.isEmpty { p.values["HTTP_AUTHORIZATION"] = nil }
        return gateway.handle(p, role: Role(fcgiRole: fixture.role))
    }
}

@Suite struct RecordedServerTests {
    @Test(arguments: ["nginx-check", "apache-authorizer", "lighttpd-authorizer"])
    func allowAndDenyPerServer(_ name: String) throws {
        let h = GatewayHarness()
        let f = try Fixture.load(name)
        let authorizer = f.role == "AUTHORIZER"

        let ok = h.run(f, key: h.full.token, uri: "/api/x?q=1", path: f.params["AUTH_PATH"] == nil ? nil : "/api/x")
        #expect(ok.status == 200)
        if authorizer {
            // Only Variable-* headers on an authorizer's 200: Apache would pass anything else on.
            #expect(ok.headers.allSatisfy { $0.0.hasPrefix("Variable-") })
            #expect(ok.header("Variable-REMOTE_USER") == "alice")
            #expect(ok.header("Variable-AUTH_CREDENTIAL") == h.full.id)
            #expect(ok.header("Variable-AUTH_METHOD") == "api-key")
            #expect(ok.header("Variable-AUTH_SCOPES") == "*")
            #expect(ok.body.isEmpty)
        } else {
            #expect(ok.header("X-Auth-User") == "alice" && ok.header("X-Auth-Subject") == "alice")
            #expect(ok.header("X-Auth-Credential") == h.full.id && ok.header("X-Auth-Method") == "api-key")
            #expect(ok.header("X-Auth-Scopes") == "*")
        }

        let missing = h.run(f, key: "", uri: "/api/x")
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Bearer realm=\"keyward\"")
        #expect(missing.header("X-Auth-Error") == "A required header is missing in the request.")
        #expect(missing.header("X-Auth-Error-Code") == "missing_credential")
        // RFC 6750 §3.1: no credential, no error code, in the body as in the challenge.
        #expect(missing.header("X-Auth-Oauth-Error") == nil)
        #expect(
            String(decoding: missing.body, as: UTF8.self)
                == #"{"error_description":"A required header is missing in the request.","code":"missing_credential"}"# + "\n")

        let bad = h.run(f, key: "kwk_nope", uri: "/api/x")
        #expect(bad.status == 401)
        #expect(bad.header("WWW-Authenticate")!.contains("error=\"invalid_token\""))
        #expect(String(decoding: bad.body, as: UTF8.self).contains("The request is authenticated as invalid."))

        // Scope: the spoofed X-Original-URI in the Apache and lighttpd recordings is ignored.
        #expect(h.run(f, key: h.limited.token, uri: "/api/limited/f.txt").status == 200)
        let outside = h.run(f, key: h.limited.token, uri: "/api/data.txt")
        #expect(outside.status == 403)
        #expect(outside.header("X-Auth-Error-Code") == "path_not_allowed")
        #expect(outside.header("WWW-Authenticate")!.contains("error=\"insufficient_scope\""))
        // Traversal out of the scope, raw (lighttpd: Keyward normalises) or already resolved by the server.
        #expect(
            h.run(f, key: h.limited.token, uri: "/api/limited/../data.txt", path: f.params["AUTH_PATH"] == nil ? nil : "/api/data.txt").status == 403)
        #expect(h.run(f, key: h.limited.token, uri: "/api/limited/%2e%2e/data.txt").status == 403)
    }

    @Test func queryKeyFromTheRawRequestURI() throws {
        let h = GatewayHarness()
        let f = try Fixture.load("nginx-check")
        var p = f.params(key: "", uri: "/api/x?APIKey=\(h.full.token)", path: "/api/x")
        p.values["HTTP_AUTHORIZATION"] = nil
        #expect(h.gateway.handle(p, role: .responder).status == 200)
    }

    @Test func throttleIsA403ForNginxAndA429ForAuthorizers() throws {
        let h = GatewayHarness(failureLimit: 1)
        let nginx = try Fixture.load("nginx-check")
        #expect(h.run(nginx, key: "kwk_bad", uri: "/api/x").status == 401)
        let throttled = h.run(nginx, key: "kwk_bad", uri: "/api/x")
        #expect(throttled.status == 403)
        #expect(throttled.header("X-Auth-Status") == "429" && throttled.header("Retry-After") == "60")
        #expect(throttled.header("X-Auth-Error-Code") == "too_many_failures")
        let apache = try Fixture.load("apache-authorizer")
        #expect(h.run(apache, key: "kwk_bad", uri: "/api/x").status == 429)
        // Issue 8, item 5: a valid key from the throttled address is still served.
        #expect(h.run(nginx, key: h.full.token, uri: "/api/x").status == 200)
        #expect(h.run(apache, key: h.full.token, uri: "/api/x").status == 200)
    }
}

@Suite struct ResponderTests {
    @Test func healthAndRouting() {
        let h = GatewayHarness()
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/healthz"]), role: .responder).status == 200)
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "/keyward/healthz?x=1"]), role: .responder).status == 200)
        #expect(h.gateway.handle(DictionaryParams(["PATH_INFO": "/healthz", "REQUEST_URI": "/cgi/keyward/healthz"]), role: .responder).status == 200)
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_METHOD": "POST", "REQUEST_URI": "/healthz"]), role: .responder).status == 405)
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "/nope"]), role: .responder).status == 404)
        // Apache passes an absolute-form target as it came; nginx its origin form. Both route alike.
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "https://127.0.0.1:8443/keyward/healthz?x=1"]), role: .responder).status == 200)
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "HTTP://h/keyward/healthz"]), role: .responder).status == 200)
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "https://h/nope/keyward/healthz"]), role: .responder).status == 404)
        // KEYWARD_CHECK=0 is not a check.
        #expect(h.gateway.handle(DictionaryParams(["REQUEST_URI": "/healthz", "KEYWARD_CHECK": "0"]), role: .responder).status == 200)
    }

    @Test func serializationCannotBeSplitByAHeaderValue() {
        let r = Response(status: 200, headers: [("X-Auth-User", "evil\r\nSet-Cookie: x=1")])
        let text = String(decoding: r.serialized(), as: UTF8.self)
        #expect(text == "Status: 200 OK\r\nX-Auth-User: evil  Set-Cookie: x=1\r\n\r\n")
        let json = Response.json(401, "{}")
        #expect(String(decoding: json.serialized(), as: UTF8.self).contains("Content-Length: 3\r\n"))
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONText.string("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
    }
}

@Suite struct RespondTests {
    @Test func respondMatchesHandleAndFollowsTheIdentity() throws {
        let h = GatewayHarness()
        let f = try Fixture.load("nginx-check")
        let full = f.params(key: h.full.token, uri: "/api/x", path: "/api/x")
        let limited = f.params(key: h.limited.token, uri: "/api/limited/x", path: "/api/limited/x")
        let first = h.gateway.respond(full, role: .responder)
        #expect(first == h.gateway.handle(full, role: .responder).serialized())
        #expect(h.gateway.respond(full, role: .responder) == first)  // from this worker's reply cache
        let other = h.gateway.respond(limited, role: .responder)
        #expect(other != first && String(decoding: other, as: UTF8.self).contains("X-Auth-User: bob"))
        // The same credential through the authorizer role gets the authorizer's reply, not the cached one.
        let apache = try Fixture.load("apache-authorizer").params(key: h.full.token, uri: "/api/x", path: "/api/x")
        let authorizer = String(decoding: h.gateway.respond(apache, role: .authorizer), as: UTF8.self)
        #expect(authorizer.contains("Variable-REMOTE_USER: alice") && !authorizer.contains("X-Auth-User"))
        // A denial is never cached: a wrong key right after a good one is refused.
        let bad = f.params(key: "kwk_bad", uri: "/api/x", path: "/api/x")
        #expect(String(decoding: h.gateway.respond(bad, role: .responder), as: UTF8.self).hasPrefix("Status: 401"))
    }
}

@Suite struct ClientAddressRuleTests {
    let proxies = [CIDR("127.0.0.1")!, CIDR("10.0.0.0/8")!]
    let params = DictionaryParams([
        "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9, 198.51.100.4",
        "HTTP_X_REAL_IP": "203.0.113.9",
    ])

    @Test func onlyTheConfiguredHeaderCounts() {
        #expect(ClientAddressRule().address(params) == "127.0.0.1")
        #expect(ClientAddressRule(trustedProxies: proxies).address(params) == "198.51.100.4")
        #expect(
            ClientAddressRule(trustedProxies: proxies, header: .realIP).address(params) == "203.0.113.9",
            "with X-Real-IP configured, a client's own X-Forwarded-For is ignored")
        #expect(ClientAddressRule(trustedProxies: proxies).address(DictionaryParams(["REMOTE_ADDR": ""])) == nil)
    }
}

/// Params where some names arrive twice, as lighttpd sends a client's `X_Forwarded_For` beside
/// its `X-Forwarded-For` (both become `HTTP_X_FORWARDED_FOR`); `param` answers the first copy.
struct RepeatingParams: ParamSource {
    var base: DictionaryParams
    var repeated: Set<String>
    func param(_ name: StaticString) -> String? { base.param(name) }
    func param(named name: String) -> String? { base.param(named: name) }
    func isRepeated(_ name: StaticString) -> Bool { repeated.contains(name.description) }
    func isRepeated(named name: String) -> Bool { repeated.contains(name) }
    func readBody(limit: Int) -> [UInt8]? { base.readBody(limit: limit) }
}

@Suite struct AmbiguousRequestTests {
    /// The attacker's probe of issue 8: the server judged a clean path while the backend acted on
    /// the raw target. Each server's recording gets the raw target and the path it would pass.
    @Test(arguments: ["nginx-check", "apache-authorizer", "lighttpd-authorizer"])
    func rawTargetsThatBackendsReadDifferentlyAreRefused(_ name: String) throws {
        let h = GatewayHarness()
        let f = try Fixture.load(name)
        let serverPath: String? = f.params["AUTH_PATH"] == nil ? nil : "/api/limited/data.txt"
        for raw in [
            "/api/limited/.;/../data.txt", "/api/limited/;jsessionid=1/../data.txt", "/api/limited/x/.;/../../data.txt",
            "/api/limited/%2e%2e/data.txt", "/api/limited/x%252F..%252F..%252Fdata.txt",
        ] {
            let r = h.run(f, key: h.limited.token, uri: raw, path: serverPath)
            #expect(r.status == 403, "\(name) \(raw)")
            #expect(r.header("X-Auth-Error-Code") == "path_rejected", "\(name) \(raw)")
        }
        #expect(h.run(f, key: h.limited.token, uri: "/api/limited/data.txt", path: serverPath).status == 200)
    }

    @Test func aRepeatedClientAddressHeaderNamesNoClient() {
        let rule = ClientAddressRule(trustedProxies: [CIDR("127.0.0.1")!])
        let base = DictionaryParams(["REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9", "HTTP_X_REAL_IP": "10.9.9.9"])
        #expect(rule.address(base) == "10.9.9.9")
        let address = rule.address(RepeatingParams(base: base, repeated: ["HTTP_X_FORWARDED_FOR"]))
        #expect(address != "10.9.9.9" && address != "127.0.0.1" && address.flatMap(IPAddress.init) == nil)
        let realIP = ClientAddressRule(trustedProxies: [CIDR("127.0.0.1")!], header: .realIP)
        #expect(realIP.address(RepeatingParams(base: base, repeated: ["HTTP_X_REAL_IP"])).flatMap(IPAddress.init) == nil)
    }

    @Test func aRepeatedCredentialIsMalformed() throws {
        let h = GatewayHarness()
        let f = try Fixture.load("nginx-check")
        let p = f.params(key: h.full.token, uri: "/api/x", path: "/api/x")
        #expect(h.gateway.handle(p, role: .responder).status == 200)
        for name in ["HTTP_AUTHORIZATION", "HTTP_X_API_KEY"] {
            var q = p
            q.values["HTTP_X_API_KEY"] = h.full.token
            if name == "HTTP_X_API_KEY" { q.values["HTTP_AUTHORIZATION"] = nil }
            let r = h.gateway.handle(RepeatingParams(base: q, repeated: [name]), role: .responder)
            #expect(r.status == 401 && r.header("X-Auth-Error-Code") == "invalid_credential", "\(name)")
        }
        var query = p
        query.values["HTTP_AUTHORIZATION"] = nil
        query.values["REQUEST_URI"] = "/api/x?APIKey=\(h.full.token)&api_key=\(h.limited.token)"
        #expect(h.gateway.handle(query, role: .responder).header("X-Auth-Error-Code") == "invalid_credential")
    }
}

@Suite struct RequestSourceTests {
    @Test func headersTargetAndBodyComeFromTheParamsWhenAsked() {
        let params = RepeatingParams(
            base: DictionaryParams(
                [
                    "REQUEST_METHOD": "POST", "REQUEST_URI": "/api/x?y=1", "HTTPS": "on", "HTTP_HOST": "api.example.com",
                    "HTTP_SIGNATURE_INPUT": "sig1=()", "CONTENT_TYPE": "application/json", "HTTP_X_TWICE": "a", "REMOTE_ADDR": "10.0.0.1",
                ], body: Array("{}".utf8)), repeated: ["HTTP_X_TWICE"])
        let request = CheckRequest(params: params, limits: Limits(), carriesBody: true)
        #expect(request.header("Signature-Input") == "sig1=()")
        #expect(request.header("content-type") == "application/json")
        #expect(request.header("X-Twice") == "\u{0}")  // passed twice: which one a backend believes is not Keyward's to guess
        #expect(request.header("X-Absent") == nil)
        #expect(request.target == RequestTarget(scheme: "https", authority: "api.example.com", raw: "/api/x?y=1"))
        #expect(request.body(limit: 2) == Array("{}".utf8))
        // A check or an authorizer gets an empty input stream whatever the request carried: no body.
        #expect(CheckRequest(params: params, limits: Limits()).body(limit: 2) == nil)
        // A body shorter or longer than CONTENT_LENGTH declares is not the one that was sent.
        var cut = params
        cut.base.values["CONTENT_LENGTH"] = "3"
        #expect(CheckRequest(params: cut, limits: Limits(), carriesBody: true).body(limit: 10) == nil)
        let plain = CheckRequest(params: DictionaryParams(["REQUEST_SCHEME": "http", "REQUEST_URI": "/"]), limits: Limits())
        #expect(plain.target.scheme == "http" && plain.target.authority == nil)
    }
}
