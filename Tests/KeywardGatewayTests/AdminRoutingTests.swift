import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardGateway

/// Records what the gateway hands to the admin endpoint.
final class RecordingAdmin: AdminEndpoint {
    var calls: [(path: String, method: String)] = []
    func respond<P: ParamSource>(_ params: P, path: String, method: String) -> Response {
        calls.append((path, method))
        return Response(status: 299)
    }
}

@Suite struct AdminRoutingTests {
    func gateway(admin: (any AdminEndpoint)?) -> Gateway {
        let authenticator = Authenticator(
            keys: InMemoryKeys(), pepper: HMACKeyFixture.pepper, clock: FixedClock(1_000),
            usage: CollectingSink(), audit: CollectingSink(),
            throttle: FailureThrottle(limit: 0, windowSeconds: 60), limits: Limits())
        return Gateway(config: GatewayConfig(mount: "/keyward"), authenticator: authenticator, admin: admin, log: { _ in })
    }

    @Test func everythingUnderAdminGoesToTheEndpoint() {
        let admin = RecordingAdmin()
        let g = gateway(admin: admin)
        for uri in ["/keyward/admin/api/users?limit=2", "/keyward/admin/reveal/abc", "/keyward/admin/"] {
            let r = g.handle(DictionaryParams(["REQUEST_METHOD": "POST", "REQUEST_URI": uri]), role: .responder)
            #expect(r.status == 299)
        }
        #expect(admin.calls.map(\.path) == ["/admin/api/users", "/admin/reveal/abc", "/admin/"])
        #expect(admin.calls.allSatisfy { $0.method == "POST" })
        // Not below /admin/, and never a check: the endpoint is not consulted.
        #expect(g.handle(DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/administrator"]), role: .responder).status == 404)
        // The address without its slash leads to the pages.
        let bare = g.handle(DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/admin"]), role: .responder)
        #expect(bare.status == 303 && bare.header("Location") == "/keyward/admin/")
        let check = g.handle(
            DictionaryParams(["KEYWARD_CHECK": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/admin/api/me"]),
            role: .responder)
        #expect(check.status == 401)
        #expect(g.handle(DictionaryParams(["REQUEST_URI": "/keyward/admin/api/me"]), role: .authorizer).status == 401)
        #expect(admin.calls.count == 3)
    }

    @Test func withoutAnEndpointAdminPathsAreNotFound() {
        let r = gateway(admin: nil).handle(
            DictionaryParams(["REQUEST_METHOD": "GET", "REQUEST_URI": "/keyward/admin/api/me"]),
            role: .responder)
        #expect(r.status == 404)
    }
}

enum HMACKeyFixture {
    static var pepper: HMACKey { HMACKey(Array(repeating: 7, count: 32)) }
}
