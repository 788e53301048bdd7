import Testing

@testable import KeywardCrypto

@Suite struct AEADTests {
    struct GCM: Decodable {
        struct Case: Decodable {
            let `case`: Int
            let key, nonce, plaintext, aad, ciphertext, tag: String
        }
        let cases: [Case]
    }

    @Test func gcmSpecAES256KnownAnswers() throws {
        let v = try loadVectors("gcm-spec-aes256", as: GCM.self)
        #expect(v.cases.count == 4)
        for c in v.cases {
            let aead = try AEAD(key: try #require(Hex.decode(c.key)))
            let nonce = try #require(Hex.decode(c.nonce))
            let plaintext = try #require(Hex.decode(c.plaintext))
            let aad = try #require(Hex.decode(c.aad))
            let box = aead.seal(plaintext, nonce: nonce, associatedData: aad)
            #expect(Hex.encode(box) == c.nonce + c.ciphertext + c.tag, "test case \(c.case)")
            #expect(try aead.open(box, associatedData: aad) == plaintext)
        }
    }

    @Test func sealOpenRoundTripWithFreshNonces() throws {
        let aead = try AEAD(key: SecureRandom.bytes(32))
        for count in [0, 1, 15, 16, 17, 1000] {
            let plaintext = SecureRandom.bytes(count)
            let a = aead.seal(plaintext, associatedData: Array("kws_1".utf8))
            let b = aead.seal(plaintext, associatedData: Array("kws_1".utf8))
            #expect(a.count == 12 + count + 16)
            #expect(a.prefix(12) != b.prefix(12))
            #expect(try aead.open(a, associatedData: Array("kws_1".utf8)) == plaintext)
            #expect(try aead.open(b, associatedData: Array("kws_1".utf8)) == plaintext)
        }
        #expect(try aead.open(aead.seal([1, 2, 3])) == [1, 2, 3])
    }

    @Test func anyTamperFailsWithAuthenticationFailed() throws {
        let aead = try AEAD(key: SecureRandom.bytes(32))
        let aad = Array("signing-key:kid".utf8)
        let box = aead.seal(Array("secret".utf8), associatedData: aad)
        // Nonce, ciphertext and tag positions.
        for index in [0, 11, 12, 12 + 5, box.count - 16, box.count - 1] {
            var bad = box
            bad[index] ^= 0x80
            expectAuthenticationFailure { try aead.open(bad, associatedData: aad) }
        }
        expectAuthenticationFailure { try aead.open(box, associatedData: aad + [0]) }
        expectAuthenticationFailure { try aead.open(box, associatedData: []) }
        expectAuthenticationFailure { try aead.open(Array(box.dropLast()), associatedData: aad) }
        expectAuthenticationFailure { try aead.open(box + [0], associatedData: aad) }
        expectAuthenticationFailure { try aead.open(Array(box.prefix(27)), associatedData: aad) }
        expectAuthenticationFailure { try AEAD(key: SecureRandom.bytes(32)).open(box, associatedData: aad) }
        #expect(try aead.open(box, associatedData: aad) == Array("secret".utf8))
    }

    @Test func keysMustBeExactly32Bytes() {
        for count in [0, 16, 24, 31, 33, 64] {
            do {
                _ = try AEAD(key: [UInt8](repeating: 7, count: count))
                Issue.record("a \(count)-byte key was accepted")
            } catch {
                #expect(error.code == .invalidParameter)
            }
        }
        #expect(throws: Never.self) { try AEAD(key: [UInt8](repeating: 7, count: 32)) }
    }

    @Test func descriptionRedactsTheKey() throws {
        let key = [UInt8](repeating: 0xAB, count: 32)
        let aead = try AEAD(key: key)
        #expect(!String(describing: aead).contains("171") && !String(describing: aead).lowercased().contains("abab"))
    }

    private func expectAuthenticationFailure(_ body: () throws -> [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try body()
            Issue.record("a tampered box opened", sourceLocation: sourceLocation)
        } catch {
            #expect((error as? CryptoError)?.code == .authenticationFailed, sourceLocation: sourceLocation)
        }
    }
}
