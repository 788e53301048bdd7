import KeywardCrypto
import Testing

@testable import KeywardCore

@Suite struct OpaqueSecretTests {
    @Test func generatedSecretsHaveTheExactShape() throws {
        for kind in SecretKind.allCases where kind.isOpaque {
            let s = OpaqueSecret.generate(kind)
            let bytes = Array(s.token.utf8)
            #expect(bytes.count == 59)
            #expect(s.token.hasPrefix(kind.rawValue + "_"))
            #expect(bytes[20] == UInt8(ascii: "_"))
            #expect(s.id == String(s.token.prefix(20)))
            #expect(OpaqueSecret.isCredentialId(s.id, kind: kind))
            let body = s.token.prefix(53)
            #expect(s.token.suffix(6) == Base62.encode(UInt64(CRC32.checksum(body)), width: 6))
            #expect(OpaqueSecret(parsing: Substring(s.token)) == s)
        }
    }

    @Test func regenerationKeepsThePublicId() {
        let a = OpaqueSecret.generate(.apiKey)
        let b = OpaqueSecret.generate(.apiKey, publicId: String(a.id.dropFirst(4)))
        #expect(a.id == b.id && a.token != b.token)
    }

    @Test func descriptionNeverShowsTheSecret() {
        let s = OpaqueSecret.generate(.apiKey)
        #expect(!"\(s)".contains(s.token.dropFirst(21)))
        #expect("\(s)".contains(s.id))
    }

    @Test(arguments: [
        "",  // empty
        "kwk_",  // prefix only
        "kwx_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000",  // unknown prefix
        "kwk-AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000",  // wrong separator
        "kwk_AAAAAAAAAAAAAAA!_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000",  // non-base62 id
        "kwk_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA00000",  // one short
        "kwk_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0000000",  // one long
        "kwk_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé00000",  // non-ASCII
        "kwk_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\u{0}00000",  // NUL
    ])
    func hostileShapesAreRefused(_ text: String) {
        #expect(OpaqueSecret(parsing: Substring(text)) == nil)
    }

    @Test func aTypoFailsTheChecksum() {
        let s = OpaqueSecret.generate(.apiKey)
        var bytes = Array(s.token.utf8)
        bytes[30] = bytes[30] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        #expect(OpaqueSecret(parsing: Substring(String(decoding: bytes, as: UTF8.self))) == nil)
    }
}

@Suite struct CredentialExtractorTests {
    let key = OpaqueSecret.generate(.apiKey)
    let limits = Limits()

    func extract(_ auth: String? = nil, _ header: String? = nil, _ query: String? = nil) -> (PresentedCredential, CredentialSource)? {
        CredentialExtractor.extract(authorization: auth, apiKeyHeader: header, queryString: query.map { $0[...] }, limits: limits)
    }

    @Test func everyLocationInPriorityOrder() {
        #expect(extract("Bearer \(key.token)")! == (.opaque(key), .bearer))
        #expect(extract("bearer   \(key.token) ")! == (.opaque(key), .bearer))
        #expect(extract(key.token)! == (.opaque(key), .authorization))
        #expect(extract(nil, key.token)! == (.opaque(key), .apiKeyHeader))
        #expect(extract(nil, nil, "a=1&APIKey=\(key.token)")! == (.opaque(key), .query))
        #expect(extract(nil, nil, "api_key=\(key.token)&b=2")! == (.opaque(key), .query))
        // The first location holding anything wins, even when it is bad.
        #expect(extract("Bearer nonsense", key.token)! == (.malformed, .bearer))
    }

    @Test func foreignSchemesAreNotOurs() {
        #expect(extract("Basic dXNlcjpwYXNz") == nil)
        #expect(extract("Basic dXNlcjpwYXNz", key.token)! == (.opaque(key), .apiKeyHeader))
    }

    @Test func nothingPresented() {
        #expect(extract() == nil)
        #expect(extract("", "", "") == nil)
        #expect(extract(nil, nil, "apikeyx=1&APIKEY=2") == nil)
        #expect(extract(nil, nil, "APIKey=&x=1") == nil)  // present but empty: still nothing presented
    }

    @Test func jwtShapeAndOversize() {
        #expect(extract("Bearer aaa.bbb.ccc")! == (.jwt("aaa.bbb.ccc"), .bearer))
        #expect(extract("aaa.bbb.ccc")! == (.malformed, .authorization))  // a JWT only as a Bearer token
        #expect(extract(nil, "aaa.bbb.ccc")! == (.malformed, .apiKeyHeader))
        #expect(extract(nil, nil, "APIKey=aaa.bbb.ccc")! == (.malformed, .query))
        #expect(extract("Bearer " + String(repeating: "a", count: 5000))! == (.malformed, .bearer))
        #expect(extract(nil, nil, "APIKey=%ZZ")! == (.malformed, .query))
    }
}
