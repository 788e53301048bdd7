import Testing
@testable import KeywardCore

@Suite struct PathNormalizerTests {
    let limits = Limits()

    @Test(arguments: [
        ("/api/x", "/api/x"),
        ("/api/x?APIKey=1", "/api/x"),
        ("/api/limited/../secret", "/api/secret"),
        ("/api/limited/%2e%2e/secret", "/api/secret"),
        ("/api/limited/.%2e/secret", "/api/secret"),
        ("/api/./a//b/", "/api/a/b/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a%20b", "/a b"),
        ("/", "/"),
        ("/api/..", "/"),
        ("/api/x/.", "/api/x/"),
        ("/%C3%A9t%C3%A9", "/été"),
        ("/api/x;v=1/y", "/api/x;v=1/y"),
        ("/api/..x;/y", "/api/..x;/y"),
    ])
    func normalises(_ raw: String, _ expected: String) {
        #expect(PathNormalizer.normalize(requestURI: raw, limits: limits) == .success(expected))
    }

    @Test(arguments: [
        ("/api/a%2Fb", PathNormalizer.Refusal.encodedSeparator),
        ("/api/a%2fb", .encodedSeparator),
        ("/api/a%5Cb", .encodedSeparator),
        ("/api/a%00b", .encodedSeparator),
        ("/api\\..\\secret", .backslash),
        ("/api/%zz", .badEscape),
        ("/api/%4", .badEscape),
        ("/api/%ff%fe", .invalidUTF8),
        ("/api/%0a", .controlByte),
        ("/public/..;/secret", .dotSegmentWithParameters),
        ("/public/..;jsessionid=1/secret", .dotSegmentWithParameters),
        ("/public/.;/x", .dotSegmentWithParameters),
        ("/public/%2e%2e;/secret", .dotSegmentWithParameters),
        ("api/x", .notAbsolute),
        ("", .notAbsolute),
    ])
    func refuses(_ raw: String, _ refusal: PathNormalizer.Refusal) {
        #expect(PathNormalizer.normalize(requestURI: raw, limits: limits) == .failure(refusal))
    }

    @Test func serverPathsWithParameterDotSegmentsAreRefusedToo() {
        #expect(PathNormalizer.normalize(serverPath: "/public/..;/secret", limits: limits) == .failure(.dotSegmentWithParameters))
    }

    @Test func refusesOverlongPaths() {
        let long = "/" + String(repeating: "a", count: 5000)
        #expect(PathNormalizer.normalize(requestURI: long, limits: limits) == .failure(.tooLong))
        #expect(PathNormalizer.normalize(serverPath: long, limits: limits) == .failure(.tooLong))
    }

    @Test func serverPathsAreResolvedAgain() {
        #expect(PathNormalizer.normalize(serverPath: "/api/limited/../x", limits: limits) == .success("/api/x"))
        #expect(PathNormalizer.normalize(serverPath: "/a b/c", limits: limits) == .success("/a b/c"))
        #expect(PathNormalizer.normalize(serverPath: "/a\\b", limits: limits) == .failure(.backslash))
    }
}

@Suite struct PathScopeTests {
    @Test func prefixesMatchOnSegmentBoundaries() throws {
        let slash = try #require(PathScope("/api/limited/"))
        #expect(slash.covers(path: "/api/limited/x"))
        #expect(slash.covers(path: "/api/limited/"))
        #expect(slash.covers(path: "/api/limited"))
        #expect(!slash.covers(path: "/api/limitedX"))
        #expect(!slash.covers(path: "/api/"))
        let bare = try #require(PathScope("/api/r"))
        #expect(bare.covers(path: "/api/r") && bare.covers(path: "/api/r/x"))
        #expect(!bare.covers(path: "/api/rx"))
        #expect(try #require(PathScope("/")).covers(path: "/anything"))
    }

    @Test func prefixesCompareBytesNotCanonicalEquivalence() throws {
        let nfc = try #require(PathScope("/caf\u{E9}/"))
        #expect(nfc.covers(path: "/caf\u{E9}/menu"))
        #expect(!nfc.covers(path: "/cafe\u{301}/menu"))  // NFD: equal to Swift's ==, not to a web server
        let bare = try #require(PathScope("/caf\u{E9}"))
        #expect(!bare.covers(path: "/cafe\u{301}"))
    }

    @Test func methods() throws {
        let ro = try #require(PathScope("GET,POST:/api/ro/"))
        #expect(ro.methods == ["GET", "POST"] && ro.prefix == "/api/ro/")
        #expect(ro.allows(method: "GET") && ro.allows(method: "HEAD") && ro.allows(method: "POST"))
        #expect(!ro.allows(method: "DELETE"))
        #expect(ro.description == "GET,POST:/api/ro/")
        #expect(try #require(PathScope("get:/x")).methods == ["GET"])
    }

    @Test(arguments: ["", "api/", "/api/../x", "/a//b", "GET:", ":/x", "G3T:/x", "/a\\b"])
    func invalidScopes(_ text: String) {
        #expect(PathScope(text) == nil)
    }
}

@Suite struct CIDRTests {
    @Test func ipv4() throws {
        let net = try #require(CIDR("10.0.0.0/8"))
        #expect(net.contains(try #require(IPAddress("10.200.3.4"))))
        #expect(!net.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(net.description == "10.0.0.0/8")
        #expect(try #require(CIDR("192.168.1.77/24")).description == "192.168.1.0/24")
        #expect(try #require(CIDR("127.0.0.1")).contains(try #require(IPAddress("127.0.0.1"))))
        #expect(try #require(CIDR("0.0.0.0/0")).contains(try #require(IPAddress("8.8.8.8"))))
    }

    @Test func ipv6() throws {
        let net = try #require(CIDR("2001:db8::/32"))
        #expect(net.contains(try #require(IPAddress("2001:db8:1::5"))))
        #expect(!net.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(try #require(CIDR("::1")).contains(try #require(IPAddress("::1"))))
        #expect(IPAddress("::ffff:10.1.2.3") == IPAddress("10.1.2.3"))
        #expect(try #require(CIDR("10.0.0.0/8")).contains(try #require(IPAddress("::ffff:10.9.9.9"))))
        #expect(try #require(IPAddress("fe80::1:2")).description == "fe80:0:0:0:0:0:1:2")
    }

    @Test(arguments: ["", "10.0.0.0/33", "10.0.0/8", "256.1.1.1", "01.2.3.4", "1.2.3.4/-1", "::1/129", "1:2:3:4:5:6:7:8:9",
                      "1::2::3", "12345::", "10.0.0.0/8x", "g::1", "abc"])
    func invalid(_ text: String) {
        #expect(CIDR(text) == nil)
    }
}

@Suite struct LifetimeTests {
    @Test func parses() {
        #expect(Lifetime("45s") == .seconds(45))
        #expect(Lifetime("30m") == .seconds(1800))
        #expect(Lifetime("12h") == .seconds(43200))
        #expect(Lifetime("30d") == .seconds(2_592_000))
        #expect(Lifetime("never") == .never)
        #expect(Lifetime("30d")?.expiry(from: 100) == 2_592_100)
        #expect(Lifetime("never")?.expiry(from: 100) == nil)
        for bad in ["", "0s", "-1d", "10", "10y", "d", "1.5h", "99999999999999999999d"] { #expect(Lifetime(bad) == nil) }
    }
}
