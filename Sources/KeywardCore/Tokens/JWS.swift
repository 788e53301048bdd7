import KeywardCrypto

/// JWS Compact Serialization (RFC 7515 §7.1) for access tokens: sign, split and verify.
///
/// Verification takes the algorithm from the key named by `kid`, never from the header: a header
/// `alg` that differs is refused, which rules out `none`, HMAC-with-a-public-key and algorithm
/// confusion (RFC 8725 §2.1, §3.1). Any `crit` is refused (no extensions are understood,
/// RFC 7515 §4.1.11), and `typ` must be `at+jwt` (RFC 9068 §2.1, RFC 8725 §3.11).
public enum JWS {
    /// Why a token was refused.
    public enum Failure: Error, Equatable, Sendable {
        case malformed, unsupportedHeader, unknownKey, algorithmMismatch, badSignature
    }

    /// The `typ` of access tokens (RFC 9068 §2.1).
    public static let accessTokenType = "at+jwt"

    /// A signed compact JWS of `claims` under `key`.
    public static func sign(_ claims: AccessTokenClaims, with key: PrivateSigningKey) -> String {
        let header = JSON.object([
            ("alg", .string(key.algorithm.rawValue)), ("typ", .string(accessTokenType)),
            ("kid", .string(key.keyID)),
        ]).text
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(claims.json)
        return signingInput + "." + Base64URL.encode(key.sign(Array(signingInput.utf8)))
    }

    /// The parts of a compact JWS, decoded but not yet verified.
    public struct Parsed {
        /// `kid` from the protected header.
        public let keyId: String
        /// `alg` from the protected header.
        public let algorithm: String
        /// The decoded payload object.
        public let payload: [String: Any]
        let signingInput: [UInt8]
        let signature: [UInt8]
    }

    /// The three parts of a compact JWS (RFC 7515 §7.1), decoded but not yet judged: every kind
    /// of JWT Keyward reads (its access tokens, services' own) is split by this one function.
    struct Compact {
        let header: [String: Any]
        let payload: [String: Any]
        /// The header and payload segments with the dot between them.
        let signingInput: [UInt8]
        let signature: [UInt8]
    }

    /// `token` split into its three segments, each base64url-decoded, the header and payload
    /// UTF-8 JSON objects; nil for anything else, or a token over `limits.maxCredentialBytes`.
    static func compact(_ token: some StringProtocol, limits: Limits) -> Compact? {
        let bytes = Array(token.utf8)
        guard bytes.count <= limits.maxCredentialBytes else { return nil }
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2, let headerBytes = Base64URL.decode(symbols: bytes[0..<dots[0]]),
            let payloadBytes = Base64URL.decode(symbols: bytes[(dots[0] + 1)..<dots[1]]),
            let signature = Base64URL.decode(symbols: bytes[(dots[1] + 1)...]),
            isUTF8Object(headerBytes), isUTF8Object(payloadBytes),
            let header = JSONText.parseObject(headerBytes), let payload = JSONText.parseObject(payloadBytes)
        else { return nil }
        return Compact(header: header, payload: payload, signingInput: Array(bytes[0..<dots[1]]), signature: signature)
    }

    /// Splits and decodes `token`; refuses anything but a three-part compact JWS with a JSON
    /// header and payload, a `kid`, `typ: at+jwt` and no `crit`.
    public static func parse(_ token: String, limits: Limits) throws(Failure) -> Parsed {
        guard let jws = compact(token, limits: limits) else { throw .malformed }
        let header = jws.header
        guard header["crit"] == nil, header["b64"] == nil,
            let typ = header["typ"] as? String,
            typ.lowercased() == accessTokenType || typ.lowercased() == "application/" + accessTokenType
        else { throw .unsupportedHeader }
        guard let kid = header["kid"] as? String, let alg = header["alg"] as? String else { throw .malformed }
        return Parsed(keyId: kid, algorithm: alg, payload: jws.payload, signingInput: jws.signingInput, signature: jws.signature)
    }

    /// JOSE JSON is UTF-8 (RFC 7515 §5.2, RFC 8725 §3.7): Foundation's parser would also take
    /// UTF-16 or UTF-32, a second encoding of the same claims.
    static func isUTF8Object(_ bytes: [UInt8]) -> Bool {
        bytes.first == UInt8(ascii: "{") && String(validating: bytes, as: UTF8.self) != nil
    }

    /// Verifies a parsed token's signature with `key`, whose algorithm must accept the header's
    /// (its own name; either name of Ed25519).
    public static func verify(_ parsed: Parsed, with key: PublicVerificationKey) throws(Failure) {
        guard key.algorithm.accepts(parsed.algorithm) else { throw .algorithmMismatch }
        guard key.verify(signature: parsed.signature, message: parsed.signingInput) else { throw .badSignature }
    }
}
