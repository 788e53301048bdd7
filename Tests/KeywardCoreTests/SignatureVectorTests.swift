import Foundation
import KeywardCrypto
import Testing

@testable import KeywardCore

/// An RFC 9421 Appendix B example: the test request, the key, the fields and the signature base.
struct SignatureExample: Decodable {
    struct Request: Decodable {
        let method: String
        let scheme: String
        let authority: String
        let target: String
        let headers: [String: String]
        let body: String
    }
    let source: String
    let request: Request
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let hmac_secret_base64: String?
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let ed25519_spki_base64: String?
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let ed25519_pkcs8_base64: String?
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let signature_input: String
    let signature: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let signature_base: String

    static func load(_ name: String) throws -> SignatureExample {
        let url = try #require(Bundle.module.url(forResource: "Vectors/\(name)", withExtension: "json"))
        return try JSONDecoder().decode(SignatureExample.self, from: Data(contentsOf: url))
    }

    /// The request's fields and body, as a source the check reads.
    var testSource: SignedTestSource {
        SignedTestSource(
            headers: request.headers, bodyBytes: Array(request.body.utf8),
            target: RequestTarget(scheme: request.scheme, authority: request.authority, raw: request.target))
    }

    var checkRequest: CheckRequest {
        CheckRequest(method: request.method, path: .success("/foo"), remoteAddress: "192.0.2.1", source: testSource)
    }
}

/// A request's fields (by lower-case name), target and body; `carriesBody` false plays an
/// `auth_request` subrequest or an authorizer, which get no body.
struct SignedTestSource: RequestSource {
    var headers: [String: String]
    var bodyBytes: [UInt8]
    var target: RequestTarget
    var carriesBody = true
    func header(_ name: String) -> String? { headers[name.lowercased()] }
    func body(limit: Int) -> [UInt8]? { carriesBody && bodyBytes.count <= limit ? bodyBytes : nil }
}

@Suite struct RFC9421VectorTests {
    /// B.2.5: the signature base and the HMAC-SHA256 signature, byte for byte.
    @Test func appendixB25HMACSHA256() throws {
        let v = try SignatureExample.load("rfc9421-b25-hmac-sha256")
        let inputs = try SignatureInput.parse(v.signature_input)
        #expect(inputs.count == 1 && inputs[0].label == "sig-b25")
        #expect(inputs[0].parameters.keyId == "test-shared-secret" && inputs[0].parameters.created == 1_618_884_473)
        let base = try SignatureBase.build(inputs[0], message: v.checkRequest)
        #expect(String(decoding: base, as: UTF8.self) == v.signature_base)
        let secret = try #require(Base64.decode(v.hmac_secret_base64!))
        let signature = try SignatureInput.signature("sig-b25", in: v.signature)
        #expect(HMACKey(secret).authenticationCode(base) == signature)
        #expect(RequestVerificationKey.hmac(HMACKey(secret)).verifies(signature, over: base))
        #expect(!RequestVerificationKey.hmac(HMACKey(secret + [0])).verifies(signature, over: base))
    }

    /// B.2.6: the signature base byte for byte; the Ed25519 signature verifies with the public key,
    /// and signing the base with the private key (deterministic, RFC 8032) gives it exactly.
    @Test func appendixB26Ed25519() throws {
        let v = try SignatureExample.load("rfc9421-b26-ed25519")
        let inputs = try SignatureInput.parse(v.signature_input)
        let base = try SignatureBase.build(inputs[0], message: v.checkRequest)
        #expect(String(decoding: base, as: UTF8.self) == v.signature_base)
        let signature = try SignatureInput.signature("sig-b26", in: v.signature)
        let spki = try #require(Base64.decode(v.ed25519_spki_base64!))
        let key = try PublicVerificationKey(subjectPublicKeyInfo: spki, algorithm: .ed25519)
        #expect(RequestVerificationKey.ed25519(key).verifies(signature, over: base))
        #expect(!RequestVerificationKey.ed25519(key).verifies(signature, over: base + [0x20]))
        let signer = try PrivateSigningKey(pkcs8: try #require(Base64.decode(v.ed25519_pkcs8_base64!)), algorithm: .ed25519)
        #expect(signer.sign(base) == signature)
    }

    /// The @signature-params line is the inner list serialised again (RFC 8941 §4.1): optional
    /// spaces a signer may have written are not part of it.
    @Test func signatureParamsAreSerialisedCanonically() throws {
        let input = try #require(
            try SignatureInput.parse(#"  sig1=( "@method"   "@path" );created=1; keyid="a\"b" , sig2=()"#).first)
        #expect(input.signatureParams == #"("@method" "@path");created=1;keyid="a\"b""#)
        #expect(input.parameters.keyId == #"a"b"#)
    }
}
