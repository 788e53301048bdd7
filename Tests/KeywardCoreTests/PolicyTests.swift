import Testing

@testable import KeywardCore

@Suite struct PathNormalizerTests {
    let limits = Limits()

    @Test(arguments: [
        ("/api/x", "/api/x"),
        ("/api/x?APIKey=1", "/api/x"),
        ("/api/x?next=/a/../b;c", "/api/x"),
        ("/api//a///b/", "/api/a/b/"),
        ("/a%20b", "/a b"),
        ("/", "/"),
        ("/%C3%A9t%C3%A9", "/été"),
        ("/api/x.y/..z/.well-known", "/api/x.y/..z/.well-known"),
        ("/a%25b", "/a%b"),
        ("http://api.example.com/api/x?q=1", "/api/x"),
        ("HTTPS://api.example.com:8443/api/x", "/api/x"),
        ("http://api.example.com", "/"),
    ])
    func normalises(_ raw: String, _ expected: String) {
        #expect(PathNormalizer.normalize(requestURI: raw, limits: limits) == .success(expected))
    }

    /// The targets of the attacker's probe (issue 8): backends read each of them differently.
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
        ("/api/%C2%85", .controlByte),
        ("/api/%C2%9B2J", .controlByte),
        ("/api/reports/.;/../other", .pathParameters),
        ("/api/reports/;/../other", .pathParameters),
        ("/api/reports/;jsessionid=1/../other", .pathParameters),
        ("/api/reports/x/.;/../../other", .pathParameters),
        ("http://h/api/reports/.;/../other", .pathParameters),
        ("/x/..;/api/other", .pathParameters),
        ("/;/api/other", .pathParameters),
        ("/api/x;v=1/y", .pathParameters),
        ("/api/x%3Bv=1/y", .pathParameters),
        ("/api/x%3b", .pathParameters),
        ("/api/limited/../secret", .dotSegment),
        ("/api/limited/%2e%2e/secret", .dotSegment),
        ("/api/limited/.%2E/secret", .dotSegment),
        ("/api/./a", .dotSegment),
        ("/api/x/.", .dotSegment),
        ("/api/..", .dotSegment),
        ("/../../etc/passwd", .dotSegment),
        ("/api/reports/x%252F..%252F..%252Fother", .doubleEncoding),
        ("/api/%252e%252e/x", .doubleEncoding),
        ("api/x", .notAbsolute),
        ("*", .notAbsolute),
        ("ftp://h/api/x", .notAbsolute),
        ("", .notAbsolute),
    ])
    func refuses(_ raw: String, _ refusal: PathNormalizer.Refusal) {
        #expect(PathNormalizer.normalize(requestURI: raw, limits: limits) == .failure(refusal))
    }

    @Test func serverPathsWithParametersAreRefusedToo() {
        #expect(PathNormalizer.normalize(serverPath: "/public/..;/secret", limits: limits) == .failure(.pathParameters))
        #expect(PathNormalizer.normalize(serverPath: "/api/x;jsessionid=1", limits: limits) == .failure(.pathParameters))
    }

    @Test func refusesOverlongPaths() {
        let long = "/" + String(repeating: "a", count: 5000)
        #expect(PathNormalizer.normalize(requestURI: long, limits: limits) == .failure(.tooLong))
        #expect(PathNormalizer.normalize(serverPath: long, limits: limits) == .failure(.tooLong))
    }

    @Test func serverPathsAreResolvedAgain() {
        #expect(PathNormalizer.normalize(serverPath: "/api/limited/../x", limits: limits) == .success("/api/x"))
        #expect(PathNormalizer.normalize(serverPath: "/api/limited/./x/.", limits: limits) == .success("/api/limited/x/"))
        #expect(PathNormalizer.normalize(serverPath: "/a b/c", limits: limits) == .success("/a b/c"))
        #expect(PathNormalizer.normalize(serverPath: "/a\\b", limits: limits) == .failure(.backslash))
    }

    /// nginx judged `/api/reports/other` (its `$uri`) while Tomcat served `/api/other` from the
    /// raw target: the server's path is judged only when the raw target reads the same everywhere.
    @Test func theServersPathIsJudgedOnlyWhenTheRawTargetIsUnambiguous() {
        #expect(
            PathNormalizer.checkedPath(
                serverPath: "/api/reports/other", requestURI: "/api/reports/.;/../other",
                limits: limits) == .failure(.pathParameters))
        #expect(
            PathNormalizer.checkedPath(
                serverPath: "/api/other", requestURI: "/api/reports/../other",
                limits: limits) == .failure(.dotSegment))
        #expect(
            PathNormalizer.checkedPath(
                serverPath: "/api/reports/x", requestURI: "/api/reports/x?APIKey=k",
                limits: limits) == .success("/api/reports/x"))
        // An internal redirect or rewrite changes the server's path; the raw target is still clean.
        #expect(
            PathNormalizer.checkedPath(serverPath: "/api/index.html", requestURI: "/api/", limits: limits)
                == .success("/api/index.html"))
        #expect(PathNormalizer.checkedPath(serverPath: nil, requestURI: "/api/a//b", limits: limits) == .success("/api/a/b"))
        #expect(PathNormalizer.checkedPath(serverPath: "/api/x", requestURI: nil, limits: limits) == .success("/api/x"))
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

    /// From "/api/self/ /admin/" on: they would read as two scopes, or hide what they say (issue 8, item 3).
    @Test(arguments: [
        "", "api/", "/api/../x", "/a//b", "GET:", ":/x", "G3T:/x", "/a\\b", "/api/x;y",
        "/api/self/ /admin/", "/api/a,/admin/", "GET:/a\t/b", "/a\u{85}/b", "/a\u{202E}b", "/a\u{A0}b",
        "/a\u{2028}b", "/a\u{9B}b", "/a\nb",
    ])
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

    @Test(arguments: [
        "", "10.0.0.0/33", "10.0.0/8", "256.1.1.1", "01.2.3.4", "1.2.3.4/-1", "::1/129", "1:2:3:4:5:6:7:8:9",
        "1::2::3", "12345::", "10.0.0.0/8x", "g::1", "abc",
    ])
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
