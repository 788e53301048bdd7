import Testing

@testable import KeywardCrypto

/// Known answers from RFC 7515 Appendix A, RFC 8037 Appendix A and RFC 7638 §3.1.
@Suite struct JWSVectorTests {
    struct HS256: Decodable {
        let k: String
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let signing_input: String
        let signature: String
    }

    @Test func rfc7515A1HS256WithHMACKey() throws {
        let v = try loadVectors("rfc7515-a1-hs256", as: HS256.self)
        let mac = HMACKey(try #require(Base64URL.decode(v.k))).authenticationCode(v.signing_input)
        #expect(Base64URL.encode(mac) == v.signature)
    }

    @Test func rfc7515A2RS256SignsExactly() throws {
        let v = try loadVectors("rfc7515-a2-rs256", as: JWSExample.self)
        let key = try PrivateSigningKey(pkcs8: v.der(v.pkcs8), algorithm: .rs256)
        // PKCS #1 v1.5 is deterministic: the RFC's signature, byte for byte.
        #expect(Base64URL.encode(key.sign(v.signingInput)) == v.signature)
        #expect(key.publicKey.verify(signature: try v.bytes(v.signature), message: v.signingInput))
        #expect(key.keyID == v.thumbprint)
        #expect(key.pkcs8() == (try v.der(v.pkcs8)))
        let jwk = key.publicKey.jwk()
        #expect(jwk["n"] == v.jwk["n"] && jwk["e"] == v.jwk["e"])
    }

    @Test func rfc7515A2RS256VerifiesFromJWK() throws {
        let v = try loadVectors("rfc7515-a2-rs256", as: JWSExample.self)
        let key = try PublicVerificationKey(jwk: .from(v.publicJWK), expected: .rs256)
        #expect(key.verify(signature: try v.bytes(v.signature), message: v.signingInput))
        #expect(key.subjectPublicKeyInfo() == (try v.der(v.spki)))
    }

    @Test func rfc7515A3ES256VerifiesTheRFCSignature() throws {
        let v = try loadVectors("rfc7515-a3-es256", as: JWSExample.self)
        let key = try PublicVerificationKey(jwkJSON: v.publicJWKJSON)
        #expect(key.algorithm == .es256)
        #expect(key.verify(signature: try v.bytes(v.signature), message: v.signingInput))
        #expect(key.thumbprint == v.thumbprint)
        #expect(key.subjectPublicKeyInfo() == (try v.der(v.spki)))
    }

    @Test func rfc7515A3ES256SignThenVerify() throws {
        let v = try loadVectors("rfc7515-a3-es256", as: JWSExample.self)
        let key = try PrivateSigningKey(pkcs8: v.der(v.pkcs8), algorithm: .es256)
        let a = key.sign(v.signingInput)
        let b = key.sign(v.signingInput)
        // ECDSA is randomized: two signatures differ, both are R || S and both verify.
        #expect(a.count == 64 && b.count == 64 && a != b)
        #expect(key.publicKey.verify(signature: a, message: v.signingInput))
        #expect(key.publicKey.verify(signature: b, message: v.signingInput))
        #expect(key.publicKey.jwk()["x"] == v.jwk["x"] && key.publicKey.jwk()["y"] == v.jwk["y"])
    }

    @Test func rfc8037Ed25519() throws {
        let v = try loadVectors("rfc8037-a-ed25519", as: JWSExample.self)
        let key = try PrivateSigningKey(pkcs8: v.der(v.pkcs8), algorithm: .edDSA)
        // A.2: the public key; A.3: the thumbprint; A.4: the (deterministic) signature; A.5: it verifies.
        #expect(key.publicKey.jwk()["x"] == v.jwk["x"])
        #expect(key.pkcs8() == (try v.der(v.pkcs8)))
        #expect(key.keyID == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        #expect(key.keyID == v.thumbprint)
        #expect(v.signing_input == "eyJhbGciOiJFZERTQSJ9." + Base64URL.encode("Example of Ed25519 signing"))
        #expect(Base64URL.encode(key.sign(v.signingInput)) == v.signature)
        let verifier = try PublicVerificationKey(jwk: .from(v.publicJWK), expected: .edDSA)
        #expect(verifier.verify(signature: try v.bytes(v.signature), message: v.signingInput))
    }

    struct Thumbprint: Decodable {
        let jwk: [String: String]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let canonical_json: String
        let thumbprint: String
    }

    @Test func rfc7638Section3_1RSAThumbprint() throws {
        let v = try loadVectors("rfc7638-thumbprint", as: Thumbprint.self)
        #expect(v.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(JSONWebKey.thumbprint(of: v.jwk, required: SigningAlgorithm.rs256.requiredPublicMembers) == v.thumbprint)
        // The RFC's key carries alg and kid, which the thumbprint ignores; its kid is not the thumbprint.
        let key = try PublicVerificationKey(jwk: .from(v.jwk))
        #expect(key.thumbprint == v.thumbprint)
        #expect(key.jwk()["kid"] == v.thumbprint)
    }
}
