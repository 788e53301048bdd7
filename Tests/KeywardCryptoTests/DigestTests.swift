import Foundation
import Testing

@testable import KeywardCrypto

struct RFC4231: Decodable {
    struct Case: Decodable {
        let `case`: Int
        let key: String
        let data: String
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let hmac_sha256: String
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let truncated_bits: Int?
    }
    let cases: [Case]

    static func load() throws -> RFC4231 {
        let url = try #require(Bundle.module.url(forResource: "Vectors/rfc4231-hmac-sha256", withExtension: "json"))
        return try JSONDecoder().decode(RFC4231.self, from: Data(contentsOf: url))
    }
}

@Suite struct DigestTests {
    @Test func hmacMatchesRFC4231() throws {
        let vectors = try RFC4231.load()
        #expect(vectors.cases.count == 7)
        for v in vectors.cases {
            let mac = Digest.hmacSHA256(key: try #require(Hex.decode(v.key)), message: try #require(Hex.decode(v.data)))
            let expected = v.hmac_sha256
            #expect(Hex.encode(mac).hasPrefix(expected), "RFC 4231 case \(v.case)")
            #expect(expected.count == (v.truncated_bits.map { $0 / 4 } ?? 64))
        }
    }

    @Test func sha256KnownAnswers() {
        // FIPS 180-4 examples: "abc" and the empty string.
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(Digest.sha256([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && a != b)
    }
}

@Suite struct EncodingTests {
    @Test func crc32CheckValue() {
        #expect(CRC32.checksum("123456789") == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func base62Encoding() {
        #expect(Base62.encode(0, width: 6) == "000000")
        #expect(Base62.encode(61, width: 1) == "z")
        #expect(Base62.encode(62, width: 2) == "10")
        #expect(Base62.encode(UInt64(UInt32.max), width: 6) == "4gfFC3")
        #expect(Base62.encode(UInt64(UInt32.max), width: 6).count == 6)
    }

    @Test func base62RandomIsInAlphabetAndUnbiasedEnough() {
        let text = Base62.random(count: 62 * 200)
        #expect(text.utf8.allSatisfy(Base62.isSymbol))
        var counts = [UInt8: Int]()
        for c in text.utf8 { counts[c, default: 0] += 1 }
        #expect(counts.count == 62)
        // Each symbol expected 200 times; a modulo bias toward the first symbols would show as > 2x.
        #expect(counts.values.max()! < 400)
    }

    @Test func base64RoundTripsRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.decode("Zm9v!") == nil)
        #expect(Base64.decode("Z") == nil)
    }

    @Test func hexRoundTrip() {
        #expect(Hex.encode([0, 0xAB, 0xFF]) == "00abff")
        #expect(Hex.decode("00ABff") == [0, 0xAB, 0xFF])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}
