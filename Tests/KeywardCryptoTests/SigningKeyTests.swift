import Foundation
import Synchronization
import Testing

@testable import KeywardCrypto

/// Round trips of generated keys, and the refusals RFC 7518, RFC 8725 and RFC 7517 call for.
@Suite struct SigningKeyTests {
    static let message = Array("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0".utf8)

    static let generated: [SigningAlgorithm: PrivateSigningKey] = {
        var keys: [SigningAlgorithm: PrivateSigningKey] = [:]
        for alg in SigningAlgorithm.allCases { keys[alg] = try! PrivateSigningKey.generate(alg) }
        return keys
    }()

    @Test(arguments: SigningAlgorithm.allCases)
    func generateExportImportSignVerify(_ alg: SigningAlgorithm) throws {
        let key = try #require(Self.generated[alg])
        let restored = try PrivateSigningKey(pkcs8: key.pkcs8(), algorithm: alg)
        #expect(restored.keyID == key.keyID)
        #expect(restored.pkcs8() == key.pkcs8())
        let signature = restored.sign(Self.message)
        #expect(signature.count == (alg == .rs256 ? 256 : 64))
        #expect(key.publicKey.verify(signature: signature, message: Self.message))
        #expect(restored.publicKey.verify(signature: key.sign(Self.message), message: Self.message))
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func jwkExportImportVerify(_ alg: SigningAlgorithm) throws {
        let key = try #require(Self.generated[alg])
        let jwk = key.publicKey.jwk()
        let names = jwk.members.map(\.name)
        switch alg {
        case .ed25519, .edDSA: #expect(names == ["kty", "crv", "x", "kid", "alg", "use"])
        case .es256: #expect(names == ["kty", "crv", "x", "y", "kid", "alg", "use"])
        case .rs256: #expect(names == ["kty", "n", "e", "kid", "alg", "use"])
        }
        #expect(jwk["kid"] == key.keyID && jwk["alg"] == alg.rawValue && jwk["use"] == "sig")
        #expect(!jwk.json.contains(" ") && !jwk.json.contains("\"d\""))
        let imported = try PublicVerificationKey(jwkJSON: jwk.json, expected: alg)
        #expect(imported.thumbprint == key.keyID)
        #expect(imported.verify(signature: key.sign(Self.message), message: Self.message))
        let spki = try PublicVerificationKey(subjectPublicKeyInfo: key.publicKey.subjectPublicKeyInfo(), algorithm: alg)
        #expect(spki.verify(signature: key.sign(Self.message), message: Self.message))
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func oneKeySignsAndVerifiesFromManyThreads(_ alg: SigningAlgorithm) throws {
        let key = try #require(Self.generated[alg])
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let message = Self.message + [UInt8(i)]
            if !key.publicKey.verify(signature: key.sign(message), message: message) {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    @Test func largerRSAModuli() throws {
        let key = try PrivateSigningKey.generate(.rs256, rsaModulus: .bits3072)
        let signature = key.sign(Self.message)
        #expect(signature.count == 384)
        #expect(key.publicKey.verify(signature: signature, message: Self.message))
    }

    @Test func jwksDocument() throws {
        let keys = [try #require(Self.generated[.edDSA]), try #require(Self.generated[.es256])]
        let text = JSONWebKey.set(keys.map { $0.publicKey.jwk() })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [[String: String]]])
        #expect(object["keys"]?.map { $0["kid"] } == keys.map(\.keyID))
    }

    @Test func descriptionsRedactKeyMaterial() throws {
        for key in Self.generated.values {
            let d = Base64URL.encode(key.pkcs8())
            #expect(!key.description.contains(d) && !String(reflecting: key).contains(d))
            #expect(key.description.contains("redacted") && key.description.contains(key.keyID))
        }
    }

    // MARK: - Tampering

    @Test(arguments: SigningAlgorithm.allCases)
    func tamperedMessageOrSignatureFails(_ alg: SigningAlgorithm) throws {
        let key = try #require(Self.generated[alg])
        let signature = key.sign(Self.message)
        var message = Self.message
        message[message.count - 1] ^= 1
        #expect(!key.publicKey.verify(signature: signature, message: message))
        for index in [0, signature.count / 2, signature.count - 1] {
            var bad = signature
            bad[index] ^= 0x01
            #expect(!key.publicKey.verify(signature: bad, message: Self.message), "bit flip at \(index)")
        }
        #expect(!key.publicKey.verify(signature: signature + [0], message: Self.message))
        #expect(!key.publicKey.verify(signature: Array(signature.dropLast()), message: Self.message))
        #expect(!key.publicKey.verify(signature: [], message: Self.message))
        // Another key of the same algorithm does not verify it either.
        let other = try PrivateSigningKey.generate(alg)
        #expect(!other.publicKey.verify(signature: signature, message: Self.message))
    }

    @Test func es256RefusesDERAnd65ByteAndOutOfRangeSignatures() throws {
        let v = try loadVectors("rfc7515-a3-es256", as: JWSExample.self)
        let key = try PublicVerificationKey(jwk: .from(v.publicJWK))
        let raw = try v.bytes(v.signature)
        #expect(key.verify(signature: raw, message: v.signingInput))
        // The same signature, DER-encoded as libcrypto would take it: refused.
        let der = try v.bytes(try #require(v.signature_der))
        #expect(!key.verify(signature: der, message: v.signingInput))
        // 65 bytes: a leading zero on R, or a trailing byte.
        #expect(!key.verify(signature: [0] + raw, message: v.signingInput))
        #expect(!key.verify(signature: raw + [0], message: v.signingInput))
        // r = 0, s = 0, r = n, s = n, s = n + (s mod n)-style overflows.
        let zero = [UInt8](repeating: 0, count: 32)
        let order = ES256Family.order
        let s = Array(raw[32...])
        let r = Array(raw[..<32])
        for bad in [zero + s, r + zero, order + s, r + order, [UInt8](repeating: 0xFF, count: 64)] {
            #expect(!key.verify(signature: bad, message: v.signingInput))
        }
    }

    @Test func rs256RefusesWrongLengthSignatures() throws {
        let v = try loadVectors("rfc7515-a2-rs256", as: JWSExample.self)
        let key = try PublicVerificationKey(jwk: .from(v.publicJWK))
        let signature = try v.bytes(v.signature)
        #expect(key.verify(signature: signature, message: v.signingInput))
        #expect(!key.verify(signature: [0] + signature, message: v.signingInput))
        #expect(!key.verify(signature: Array(signature.dropFirst()), message: v.signingInput))
    }

    // MARK: - Refused keys

    struct RefusedKeys: Decodable {
        struct Key: Decodable {
            let pkcs8: String
            let spki: String
            let jwk: [String: String]
        }
        let rsa1024: Key
        let p384: Key
    }

    @Test func rsa1024IsRefusedEverywhere() throws {
        let v = try loadVectors("generated-refused-keys", as: RefusedKeys.self)
        let pkcs8 = try #require(Base64.decode(v.rsa1024.pkcs8))
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: pkcs8, algorithm: .rs256) }
        do {
            _ = try PrivateSigningKey(pkcs8: pkcs8, algorithm: .rs256)
        } catch {
            #expect(error.code == .invalidKey)
            #expect(error.reason.contains("2048"))
        }
        let spki = try #require(Base64.decode(v.rsa1024.spki))
        #expect(throws: CryptoError.self) { try PublicVerificationKey(subjectPublicKeyInfo: spki, algorithm: .rs256) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(v.rsa1024.jwk)) }
    }

    @Test func wrongCurveAndWrongAlgorithmAreRefused() throws {
        let v = try loadVectors("generated-refused-keys", as: RefusedKeys.self)
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: #require(Base64.decode(v.p384.pkcs8)), algorithm: .es256) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(v.p384.jwk)) }
        let ec = try loadVectors("rfc7515-a3-es256", as: JWSExample.self)
        let ecPKCS8 = try ec.der(ec.pkcs8)
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: ecPKCS8, algorithm: .rs256) }
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: ecPKCS8, algorithm: .edDSA) }
        // A JWK whose alg disagrees with its key type, or an expected algorithm that differs.
        var jwk = ec.publicJWK
        jwk["alg"] = "RS256"
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(jwk)) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(ec.publicJWK), expected: .edDSA) }
        jwk = ec.publicJWK
        jwk["use"] = "enc"
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(jwk)) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(["kty": "oct", "alg": "HS256"])) }
    }

    @Test func publicJWKWithPrivateMembersIsRefused() throws {
        for name in ["rfc7515-a2-rs256", "rfc7515-a3-es256", "rfc8037-a-ed25519"] {
            let v = try loadVectors(name, as: JWSExample.self)
            let privateJSON = String(decoding: try JSONSerialization.data(withJSONObject: v.jwk), as: UTF8.self)
            do {
                _ = try PublicVerificationKey(jwkJSON: privateJSON)
                Issue.record("\(name): a private JWK was accepted as public")
            } catch {
                #expect(error.code == .invalidKey)
                #expect(!error.description.contains(try #require(v.jwk["d"])))
            }
            #expect(throws: CryptoError.self) { try JSONWebKey.from(v.jwk) }
        }
        // A private member is refused whatever its JSON type.
        #expect(throws: CryptoError.self) { try JSONWebKey(json: #"{"kty":"OKP","crv":"Ed25519","x":"AA","d":1}"#) }
    }

    @Test func ecPointNotOnTheCurveIsRefused() throws {
        let v = try loadVectors("rfc7515-a3-es256", as: JWSExample.self)
        var y = try v.bytes(try #require(v.jwk["y"]))
        y[31] ^= 1
        var jwk = v.publicJWK
        jwk["y"] = Base64URL.encode(y)
        do {
            _ = try PublicVerificationKey(jwk: .from(jwk))
            Issue.record("an off-curve point was accepted")
        } catch {
            #expect((error as? CryptoError)?.code == .invalidKey)
        }
        // Short coordinates and the point at infinity's encoding are refused as well.
        jwk = v.publicJWK
        jwk["x"] = Base64URL.encode(Array(try v.bytes(try #require(v.jwk["x"])).dropFirst()))
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(jwk)) }
        jwk["x"] = Base64URL.encode([UInt8](repeating: 0, count: 32))
        jwk["y"] = Base64URL.encode([UInt8](repeating: 0, count: 32))
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(jwk)) }
    }

    @Test func malformedEncodingsAreRefused() throws {
        let v = try loadVectors("rfc8037-a-ed25519", as: JWSExample.self)
        let pkcs8 = try v.der(v.pkcs8)
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: pkcs8 + [0], algorithm: .edDSA) }
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: Array(pkcs8.dropLast()), algorithm: .edDSA) }
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: [], algorithm: .edDSA) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(subjectPublicKeyInfo: try v.der(v.spki) + [0], algorithm: .edDSA) }
        // An SPKI is not a PKCS#8 and the other way round.
        #expect(throws: CryptoError.self) { try PrivateSigningKey(pkcs8: try v.der(v.spki), algorithm: .edDSA) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(subjectPublicKeyInfo: pkcs8, algorithm: .edDSA) }
        var jwk = v.publicJWK
        jwk["x"] = (jwk["x"] ?? "") + "="
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(jwk)) }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwkJSON: "[]") }
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwkJSON: "{") }
        let rsa = try loadVectors("rfc7515-a2-rs256", as: JWSExample.self)
        var padded = rsa.publicJWK
        padded["n"] = Base64URL.encode([0] + (try rsa.bytes(try #require(rsa.jwk["n"]))))
        #expect(throws: CryptoError.self) { try PublicVerificationKey(jwk: .from(padded)) }
    }

    @Test func errorsCarryTheLibraryQueueAndLeaveItEmpty() throws {
        do {
            _ = try PrivateSigningKey(pkcs8: [0x30, 0x03, 0x02, 0x01, 0x00], algorithm: .edDSA)
            Issue.record("garbage accepted")
        } catch {
            #expect(error.code == .invalidEncoding)
            #expect(!error.openSSLErrors.isEmpty)
        }
        // The queue was drained into that error: the next one starts clean.
        #expect(CryptoError.drainQueue().isEmpty)
        let key = try #require(Self.generated[.rs256])
        #expect(!key.publicKey.verify(signature: [UInt8](repeating: 1, count: 256), message: Self.message))
        #expect(CryptoError.drainQueue().isEmpty)
    }
}
