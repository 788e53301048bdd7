import Testing

@testable import KeywardCrypto

@Suite struct Base64URLTests {
    @Test func rfc4648Section10VectorsWithoutPadding() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func urlSafeAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test func refusesPaddingStandardAlphabetAndWhitespace() {
        for bad in ["Zg==", "Zm8=", "+/+/", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\r", "Zm9v\t", "Zm9v.", "Z", "Zm9vY", "é"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad.debugDescription) must be refused")
        }
    }

    @Test func refusesNonCanonicalTrailingBits() {
        // "Zg" is the one spelling of [0x66]; "Zh".."Zv" differ only in bits that carry nothing.
        #expect(Base64URL.decode("Zg") == [0x66])
        #expect(Base64URL.decode("Zh") == nil)
        #expect(Base64URL.decode("Zm8") == [0x66, 0x6F])
        #expect(Base64URL.decode("Zm9") == nil)
    }

    @Test func roundTripsEveryLength() {
        for count in 0..<70 {
            let bytes = SecureRandom.bytes(count)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
            #expect(Base64URL.decode(symbols: Array(text.utf8)) == bytes)
        }
    }
}
