import Testing

@testable import KeywardCrypto

@Suite struct PasswordHashTests {
    struct RFC7914: Decodable {
        struct Case: Decodable {
            let password, salt: String
            // swift-format-ignore: AlwaysUseLowerCamelCase
            let N, r, p: UInt64
            let dk: String
        }
        let cases: [Case]
    }

    @Test func rfc7914Section12Vectors() throws {
        let v = try loadVectors("rfc7914-scrypt", as: RFC7914.self)
        #expect(v.cases.count == 3)
        for c in v.cases {
            let dk = try Scrypt.derive(password: Array(c.password.utf8), salt: Array(c.salt.utf8), n: c.N, r: c.r, p: c.p, length: 64)
            #expect(Hex.encode(dk) == c.dk, "N=\(c.N)")
        }
    }

    @Test func hashVerifyAndEncodingRoundTrip() throws {
        let hash = PasswordHash(password: "correct horse battery staple")
        #expect(hash.parameters == .default)
        #expect(hash.encoded.hasPrefix("scrypt$32768$8$1$"))
        #expect(hash.verify("correct horse battery staple"))
        #expect(!hash.verify("correct horse battery stapler"))
        #expect(!hash.verify(""))
        let parsed = try PasswordHash(encoded: hash.encoded)
        #expect(parsed == hash)
        #expect(parsed.verify("correct horse battery staple"))
        #expect(!parsed.needsRehash())
        #expect(!hash.description.contains(hash.encoded.split(separator: "$")[5]))
        // Fresh salt each time.
        #expect(PasswordHash(password: "x").encoded != PasswordHash(password: "x").encoded)
    }

    @Test func cheaperParametersVerifyAndAskForRehash() throws {
        let hash = PasswordHash(password: "pw", parameters: try .init(n: 1 << 10, r: 8, p: 1))
        let parsed = try PasswordHash(encoded: hash.encoded)
        #expect(parsed.verify("pw") && !parsed.verify("pW"))
        #expect(parsed.needsRehash())
    }

    @Test func absurdParametersAreRefusedWhenParsing() throws {
        let salt = Base64URL.encode([UInt8](repeating: 1, count: 16))
        let hash = Base64URL.encode([UInt8](repeating: 2, count: 32))
        let refused = [
            "1073741824$8$1",  // N = 2^30: 128 GiB
            "1048576$32$1",  // N = 2^20, r = 32: 4 GiB
            "262144$8$16",  // 256 MiB is allowed, but 128 times the default work is not
            "32769$8$1",  // not a power of two
            "512$8$1",  // too cheap
            "32768$0$1", "32768$33$1", "32768$8$0", "32768$8$17",
            "032768$8$1", "+32768$8$1", "32768$8$1$1", "99999999999999999999$8$1", "$8$1",
        ]
        for params in refused {
            #expect(throws: CryptoError.self, "\(params)") { try PasswordHash(encoded: "scrypt$\(params)$\(salt)$\(hash)") }
        }
        do {
            _ = try PasswordHash(encoded: "scrypt$1073741824$8$1$\(salt)$\(hash)")
        } catch {
            #expect(error.code == .invalidParameter)
        }
        #expect(throws: CryptoError.self) { try PasswordHash.Parameters(n: 1 << 30, r: 8, p: 1) }
        #expect(throws: Never.self) { try PasswordHash(encoded: "scrypt$32768$8$1$\(salt)$\(hash)") }
    }

    @Test func malformedStringsAreRefused() {
        let salt = Base64URL.encode([UInt8](repeating: 1, count: 16))
        let hash = Base64URL.encode([UInt8](repeating: 2, count: 32))
        for bad in [
            "", "scrypt", "bcrypt$32768$8$1$\(salt)$\(hash)", "scrypt$32768$8$1$\(salt)",
            "scrypt$32768$8$1$\(salt)$\(hash)$", "scrypt$32768$8$1$\(salt)=$\(hash)",
            "scrypt$32768$8$1$\(Base64URL.encode([1]))$\(hash)", "scrypt$32768$8$1$\(salt)$\(Base64URL.encode([2, 2]))",
            "scrypt$32768$8$1$\(salt)$\(hash) ",
        ] {
            #expect(throws: CryptoError.self, "\(bad)") { try PasswordHash(encoded: bad) }
        }
    }
}
