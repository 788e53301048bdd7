import Foundation
import Testing

@testable import KeywardCrypto

/// Loads `Vectors/<name>.json` from the test bundle.
func loadVectors<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
    let url = try #require(Bundle.module.url(forResource: "Vectors/\(name)", withExtension: "json"))
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// A JWS example: key material, signing input and signature (RFC 7515 Appendix A, RFC 8037 Appendix A).
struct JWSExample: Decodable {
    let source: String
    let jwk: [String: String]
    let pkcs8: String
    let spki: String
    let thumbprint: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let signing_input: String
    let signature: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    let signature_der: String?

    var publicJWK: [String: String] { jwk.filter { !JSONWebKey.privateMemberNames.contains($0.key) } }
    var signingInput: [UInt8] { Array(signing_input.utf8) }

    func der(_ base64: String) throws -> [UInt8] { try #require(Base64.decode(base64)) }
    func bytes(_ base64url: String) throws -> [UInt8] { try #require(Base64URL.decode(base64url)) }

    /// The public JWK as JSON text.
    var publicJWKJSON: String {
        String(decoding: try! JSONSerialization.data(withJSONObject: publicJWK, options: [.sortedKeys]), as: UTF8.self)
    }
}

extension JSONWebKey {
    /// A JWK from a dictionary, members sorted by name.
    static func from(_ members: [String: String]) throws -> JSONWebKey {
        try JSONWebKey(members.sorted { $0.key < $1.key }.map { JSONWebKey.Member($0.key, $0.value) })
    }
}
